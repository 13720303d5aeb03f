#include <gtest/gtest.h>

#include "common/logging.h"

namespace kvip {
namespace {

TEST(Logging, LogfmtQuotesOnlyWhenNeeded) {
  EXPECT_EQ(FormatLogRecord(LogFormat::kLogfmt, "T", "info", "watch up",
                            {{"lease", "kube-system/plndr-cp-lock"}, {"err", "a \"b\""}}),
            "ts=T level=info msg=\"watch up\" lease=kube-system/plndr-cp-lock err=\"a \\\"b\\\"\"");
}

TEST(Logging, JsonEscapes) {
  EXPECT_EQ(FormatLogRecord(LogFormat::kJson, "T", "warn", "line\nbreak", {{"k", "v\t"}}),
            "{\"ts\":\"T\",\"level\":\"warn\",\"msg\":\"line\\nbreak\",\"k\":\"v\\t\"}");
}

TEST(Logging, ParsesLevelsAndFormats) {
  spdlog::level::level_enum level;
  LogFormat format;
  EXPECT_TRUE(ParseLogLevel("warn", level));
  EXPECT_EQ(level, spdlog::level::warn);
  EXPECT_FALSE(ParseLogLevel("verbose", level));
  EXPECT_TRUE(ParseLogFormat("json", format));
  EXPECT_EQ(format, LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("xml", format));
}

}  // namespace
}  // namespace kvip
