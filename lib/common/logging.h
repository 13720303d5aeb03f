#pragma once
// Structured logs in logfmt or JSON on stderr, like Prometheus' own exporters:
//   ts=2026-11-25T15:00:00.123Z level=info msg="watch established" lease=kube-system/plndr-cp-lock
// Configure once at start-up with SetupLogging; then call LogInfo/LogWarn/... from any thread.

#include <spdlog/common.h>

#include <initializer_list>
#include <string>
#include <string_view>

namespace kvip {

enum class LogFormat { kLogfmt, kJson };

struct LogField {
  std::string_view key;
  std::string value;
};

// Parses "debug|info|warn|error" and "logfmt|json"; returns false on an unknown word.
bool ParseLogLevel(std::string_view text, spdlog::level::level_enum& level);
bool ParseLogFormat(std::string_view text, LogFormat& format);

void SetupLogging(spdlog::level::level_enum level, LogFormat format);

void Log(spdlog::level::level_enum level, std::string_view msg,
         std::initializer_list<LogField> fields = {});

inline void LogDebug(std::string_view msg, std::initializer_list<LogField> fields = {}) {
  Log(spdlog::level::debug, msg, fields);
}
inline void LogInfo(std::string_view msg, std::initializer_list<LogField> fields = {}) {
  Log(spdlog::level::info, msg, fields);
}
inline void LogWarn(std::string_view msg, std::initializer_list<LogField> fields = {}) {
  Log(spdlog::level::warn, msg, fields);
}
inline void LogError(std::string_view msg, std::initializer_list<LogField> fields = {}) {
  Log(spdlog::level::err, msg, fields);
}

// Renders one record; exposed for tests.
std::string FormatLogRecord(LogFormat format, std::string_view timestamp, std::string_view level,
                            std::string_view msg,
                            const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace kvip
