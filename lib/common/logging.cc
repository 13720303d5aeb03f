#include "common/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <vector>

namespace kvip {
namespace {

// Fields travel through spdlog inside the payload, separated by this byte, so that the
// formatter (which knows the format) renders them; callers never see it.
constexpr char kFieldSeparator = '\x1f';

std::vector<std::pair<std::string, std::string>> SplitPayload(std::string_view payload,
                                                              std::string_view& msg) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t end = payload.find(kFieldSeparator, start);
    parts.push_back(payload.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  msg = parts[0];
  std::vector<std::pair<std::string, std::string>> fields;
  for (size_t i = 1; i + 1 < parts.size(); i += 2) {
    fields.emplace_back(std::string(parts[i]), std::string(parts[i + 1]));
  }
  return fields;
}

bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
  }
  return false;
}

// Escapes for both logfmt's and JSON's double-quoted strings.
void AppendQuoted(std::string& out, std::string_view value) {
  out += '"';
  for (char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

std::string_view LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    default:
      return "error";
  }
}

std::string Timestamp(std::chrono::system_clock::time_point when) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

class StructuredFormatter final : public spdlog::formatter {
 public:
  explicit StructuredFormatter(LogFormat format) : format_(format) {}

  void format(const spdlog::details::log_msg& record, spdlog::memory_buf_t& dest) override {
    std::string_view msg;
    auto fields = SplitPayload(std::string_view(record.payload.data(), record.payload.size()), msg);
    std::string line =
        FormatLogRecord(format_, Timestamp(record.time), LevelName(record.level), msg, fields);
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<StructuredFormatter>(format_);
  }

 private:
  LogFormat format_;
};

}  // namespace

std::string FormatLogRecord(LogFormat format, std::string_view timestamp, std::string_view level,
                            std::string_view msg,
                            const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  if (format == LogFormat::kJson) {
    out += "{\"ts\":";
    AppendQuoted(out, timestamp);
    out += ",\"level\":";
    AppendQuoted(out, level);
    out += ",\"msg\":";
    AppendQuoted(out, msg);
    for (const auto& [key, value] : fields) {
      out += ',';
      AppendQuoted(out, key);
      out += ':';
      AppendQuoted(out, value);
    }
    out += '}';
    return out;
  }
  out += "ts=";
  out += timestamp;
  out += " level=";
  out += level;
  out += " msg=";
  AppendQuoted(out, msg);
  for (const auto& [key, value] : fields) {
    out += ' ';
    out += key;
    out += '=';
    if (NeedsQuotes(value)) {
      AppendQuoted(out, value);
    } else {
      out += value;
    }
  }
  return out;
}

bool ParseLogLevel(std::string_view text, spdlog::level::level_enum& level) {
  if (text == "debug")
    level = spdlog::level::debug;
  else if (text == "info")
    level = spdlog::level::info;
  else if (text == "warn")
    level = spdlog::level::warn;
  else if (text == "error")
    level = spdlog::level::err;
  else
    return false;
  return true;
}

bool ParseLogFormat(std::string_view text, LogFormat& format) {
  if (text == "logfmt")
    format = LogFormat::kLogfmt;
  else if (text == "json")
    format = LogFormat::kJson;
  else
    return false;
  return true;
}

void SetupLogging(spdlog::level::level_enum level, LogFormat format) {
  auto logger = spdlog::stderr_logger_mt("kvip");
  logger->set_formatter(std::make_unique<StructuredFormatter>(format));
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);  // one line per event; a crash must not eat the last ones
  spdlog::set_default_logger(std::move(logger));
}

void Log(spdlog::level::level_enum level, std::string_view msg,
         std::initializer_list<LogField> fields) {
  auto* logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  std::string payload(msg);
  for (const auto& field : fields) {
    payload += kFieldSeparator;
    payload += field.key;
    payload += kFieldSeparator;
    for (char c : field.value) payload += (c == kFieldSeparator ? ' ' : c);
  }
  logger->log(level, "{}", payload);
}

}  // namespace kvip
