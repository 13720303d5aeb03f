// CRI line parsing, partial-line joining, the rotation-aware tail on a real temp directory,
// and kube-vip line classification.

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "collectors/kubevip_log.h"
#include "crilog/cri_line.h"
#include "crilog/cri_tail.h"

namespace kvip::crilog {
namespace {

namespace fs = std::filesystem;

TEST(ParseCriLineTest, FullAndPartialRecords) {
  auto full = ParseCriLine("2026-11-25T15:00:00.123456789Z stderr F hello world");
  ASSERT_TRUE(full.record) << full.error;
  EXPECT_EQ(full.record->timestamp, "2026-11-25T15:00:00.123456789Z");
  EXPECT_EQ(full.record->stream, CriStream::kStderr);
  EXPECT_FALSE(full.record->partial);
  EXPECT_EQ(full.record->content, "hello world");

  auto partial = ParseCriLine("2026-11-25T15:00:00.1+01:00 stdout P part");
  ASSERT_TRUE(partial.record);
  EXPECT_EQ(partial.record->stream, CriStream::kStdout);
  EXPECT_TRUE(partial.record->partial);
  EXPECT_EQ(partial.record->content, "part");
}

TEST(ParseCriLineTest, EdgeCases) {
  // Empty content, with and without the separating space.
  EXPECT_EQ(ParseCriLine("2026-11-25T15:00:00Z stdout F ").record->content, "");
  EXPECT_EQ(ParseCriLine("2026-11-25T15:00:00Z stdout F").record->content, "");
  // Content keeps its own spaces; extra tags after ':' are allowed.
  EXPECT_EQ(ParseCriLine("2026-11-25T15:00:00Z stdout F:x  two  spaces ").record->content,
            " two  spaces ");
}

TEST(ParseCriLineTest, RejectsOtherFormats) {
  EXPECT_FALSE(ParseCriLine("").record);
  EXPECT_FALSE(ParseCriLine("plain text line").record);
  EXPECT_NE(ParseCriLine("E1125 15:00:00.000000 1 x.go:1] msg").error, "");
  EXPECT_FALSE(ParseCriLine("2026-11-25T15:00:00Z stdin F x").record);
  EXPECT_FALSE(ParseCriLine("2026-11-25T15:00:00Z stdout X x").record);
  EXPECT_FALSE(ParseCriLine("2026-11-25T15:00:00Z stdout").record);
  // Docker's json-file format is not CRI.
  EXPECT_FALSE(
      ParseCriLine(R"({"log":"x\n","stream":"stderr","time":"2026-11-25T15:00:00Z"})").record);
}

struct Collected {
  std::vector<std::string> lines;
  std::vector<bool> truncated;
  CriDecoder::Sink sink() {
    return [this](const LogLine& line) {
      lines.emplace_back(line.content);
      truncated.push_back(line.truncated);
    };
  }
};

TEST(CriDecoderTest, JoinsPartialRecordsPerStream) {
  CriDecoder decoder;
  Collected got;
  DecodeStats stats;
  decoder.Feed(
      "2026-11-25T15:00:00Z stderr P Failed to update \n"
      "2026-11-25T15:00:00Z stdout F interleaved\n"
      "2026-11-25T15:00:00Z stderr P lock optim\n"
      "2026-11-25T15:00:00Z stderr F istically: boom\n",
      got.sink(), stats);
  ASSERT_EQ(got.lines.size(), 2u);
  EXPECT_EQ(got.lines[0], "interleaved");
  EXPECT_EQ(got.lines[1], "Failed to update lock optimistically: boom");
  EXPECT_EQ(stats.lines, 2u);
  EXPECT_EQ(stats.malformed, 0u);
}

TEST(CriDecoderTest, WaitsForTheNewlineAcrossFeeds) {
  CriDecoder decoder;
  Collected got;
  DecodeStats stats;
  std::string text = "2026-11-25T15:00:00Z stdout F one\n2026-11-25T15:00:01Z stdout F two\n";
  for (char c : text) decoder.Feed(std::string_view(&c, 1), got.sink(), stats);
  EXPECT_EQ(got.lines, (std::vector<std::string>{"one", "two"}));
  decoder.Feed("2026-11-25T15:00:02Z stdout F thr", got.sink(), stats);
  EXPECT_EQ(got.lines.size(), 2u);
  decoder.Feed("ee\n", got.sink(), stats);
  EXPECT_EQ(got.lines.back(), "three");
}

TEST(CriDecoderTest, CountsMalformedLinesAndGoesOn) {
  CriDecoder decoder;
  Collected got;
  DecodeStats stats;
  decoder.Feed("garbage\n\n2026-11-25T15:00:00Z stdout F ok\n", got.sink(), stats);
  EXPECT_EQ(got.lines, std::vector<std::string>{"ok"});
  EXPECT_EQ(stats.malformed, 2u);
  EXPECT_EQ(stats.first_malformed_error, "no RFC 3339 timestamp");
}

TEST(CriDecoderTest, BoundsLongLines) {
  CriDecoder decoder(64);
  Collected got;
  DecodeStats stats;
  std::string prefix = "2026-11-25T15:00:00Z stdout ";
  decoder.Feed(prefix + "F " + std::string(1000, 'a') + "\n", got.sink(), stats);
  decoder.Feed(
      prefix + "P " + std::string(50, 'b') + "\n" + prefix + "F " + std::string(50, 'c') + "\n",
      got.sink(), stats);
  decoder.Feed(prefix + "F short\n", got.sink(), stats);
  ASSERT_EQ(got.lines.size(), 3u);
  EXPECT_TRUE(got.truncated[0]);
  EXPECT_LE(got.lines[0].size(), 64u);
  EXPECT_TRUE(got.truncated[1]);
  EXPECT_EQ(got.lines[1].size(), 64u);
  EXPECT_EQ(got.lines[2], "short");
  EXPECT_FALSE(got.truncated[2]);
}

TEST(CriDecoderTest, SkipAndReset) {
  CriDecoder decoder;
  Collected got;
  DecodeStats stats;
  decoder.SkipToNextNewline();
  decoder.Feed("tail of a line\n2026-11-25T15:00:00Z stdout F next\n", got.sink(), stats);
  EXPECT_EQ(got.lines, std::vector<std::string>{"next"});
  EXPECT_EQ(stats.malformed, 0u);
  decoder.Feed("2026-11-25T15:00:00Z stdout P dangling", got.sink(), stats);
  decoder.Reset();
  decoder.Feed("2026-11-25T15:00:00Z stdout F fresh\n", got.sink(), stats);
  EXPECT_EQ(got.lines.back(), "fresh");
}

TEST(CriDecoderTest, SurvivesRandomBytes) {
  CriDecoder decoder(256);
  DecodeStats stats;
  size_t longest = 0;
  std::minstd_rand random(42);
  const std::string alphabet = "2026-11-25T15:00:00Z stdout stderr P F \n\0\xff";
  std::string chunk;
  for (int round = 0; round < 2000; ++round) {
    chunk.clear();
    size_t size = random() % 300;
    for (size_t i = 0; i < size; ++i) chunk += alphabet[random() % alphabet.size()];
    decoder.Feed(
        chunk, [&](const LogLine& line) { longest = std::max(longest, line.content.size()); },
        stats);
  }
  EXPECT_LE(longest, 256u);
  EXPECT_GT(stats.malformed, 0u);
}

// A kubelet-style pod log tree in a temp directory.
class CriTailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/kvt-crilog-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
    dir_ = root_ / "kube-system_kube-vip-cp1_0000" / "kube-vip";
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string Glob() const {
    return (root_ / "kube-system_kube-vip-*" / "kube-vip" / "*.log").string();
  }

  void Append(const fs::path& file, const std::string& content) {
    std::ofstream out(file, std::ios::app | std::ios::binary);
    out << content;
  }
  static std::string Line(const std::string& content, const char* tag = "F") {
    return "2026-11-25T15:00:00.000000001Z stderr " + std::string(tag) + " " + content + "\n";
  }
  std::vector<std::string> Poll(CriTail& tail, PollReport* report = nullptr) {
    Collected got;
    PollReport r = tail.Poll(got.sink(), now_);
    if (report) *report = r;
    return got.lines;
  }
  // Poll() with no file descriptors left (RLIMIT_NOFILE 0), the limit restored after it: a
  // real fault root cannot override. Call through ASSERT_NO_FATAL_FAILURE.
  void PollWithoutFileDescriptors(CriTail& tail, std::vector<std::string>& lines,
                                  PollReport& report) {
    rlimit saved{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
    rlimit none = saved;
    none.rlim_cur = 0;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &none), 0);
    lines = Poll(tail, &report);
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  }

  fs::path root_;
  fs::path dir_;
  CriTail::Clock::time_point now_ = CriTail::Clock::now();
};

TEST_F(CriTailTest, StartsAtTheEndOfExistingFiles) {
  Append(dir_ / "0.log",
         Line("history 1") + Line("history 2") + "2026-11-25T15:00:00Z stderr F half");
  CriTail tail({Glob()}, now_);
  Append(dir_ / "0.log", " written\n" + Line("new"));
  EXPECT_EQ(Poll(tail), std::vector<std::string>{"new"});
  EXPECT_TRUE(Poll(tail).empty());
}

TEST_F(CriTailTest, NewFilesAreReadFromTheStart) {
  CriTail tail({Glob()}, now_);
  PollReport report;
  EXPECT_TRUE(Poll(tail, &report).empty());
  EXPECT_EQ(report.files_matched, 0u);
  Append(dir_ / "1.log", Line("after restart"));
  EXPECT_EQ(Poll(tail, &report), std::vector<std::string>{"after restart"});
  EXPECT_EQ(report.files_matched, 1u);
  EXPECT_EQ(report.files_opened, 1u);
}

TEST_F(CriTailTest, FollowsRotationWithoutLossOrRepeats) {
  Append(dir_ / "0.log", Line("before start"));
  CriTail tail({Glob()}, now_);
  Append(dir_ / "0.log", Line("a"));
  EXPECT_EQ(Poll(tail), std::vector<std::string>{"a"});

  // The runtime writes to the old file, the kubelet renames it, the runtime writes a bit
  // more to the renamed file before reopening, then continues in a new 0.log.
  Append(dir_ / "0.log", Line("b"));
  fs::rename(dir_ / "0.log", dir_ / "0.log.20261125-150000");
  Append(dir_ / "0.log.20261125-150000", Line("c"));
  EXPECT_EQ(Poll(tail), (std::vector<std::string>{"b", "c"}));
  Append(dir_ / "0.log.20261125-150000", Line("d"));
  Append(dir_ / "0.log", Line("e"));
  auto lines = Poll(tail);
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"d", "e"}));

  // The rotated file is closed once it has been quiet for the grace period.
  PollReport report;
  now_ += std::chrono::seconds(10);
  EXPECT_TRUE(Poll(tail, &report).empty());
  EXPECT_EQ(report.files_closed, 1u);
  EXPECT_EQ(report.files_open, 1u);
  Append(dir_ / "0.log", Line("f"));
  EXPECT_EQ(Poll(tail), std::vector<std::string>{"f"});
}

TEST_F(CriTailTest, RereadsATruncatedFileFromItsStart) {
  CriTail tail({Glob()}, now_);
  Append(dir_ / "0.log", Line("one") + Line("two"));
  EXPECT_EQ(Poll(tail).size(), 2u);
  fs::resize_file(dir_ / "0.log", 0);
  Append(dir_ / "0.log", Line("three"));
  PollReport report;
  EXPECT_EQ(Poll(tail, &report), std::vector<std::string>{"three"});
  EXPECT_EQ(report.truncations, 1u);
}

TEST_F(CriTailTest, SameFileThroughTwoPathsIsReadOnce) {
  fs::path other = root_ / "kube-system_kube-vip-cp1_1111" / "kube-vip";
  fs::create_directories(other);
  CriTail tail({Glob()}, now_);
  Append(dir_ / "0.log", Line("x"));
  fs::create_hard_link(dir_ / "0.log", other / "0.log");
  EXPECT_EQ(Poll(tail), std::vector<std::string>{"x"});
}

// No file descriptors left to read the tree with.
TEST_F(CriTailTest, ReportsATreeThatCannotBeRead) {
  CriTail tail({Glob()}, now_);
  Append(dir_ / "0.log", Line("later"));
  std::vector<std::string> lines;
  PollReport report;
  ASSERT_NO_FATAL_FAILURE(PollWithoutFileDescriptors(tail, lines, report));
  // glob(3) itself cannot open the directories, and says so.
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_EQ(report.problems[0], "glob " + Glob() + ": a directory on the path cannot be read");
  EXPECT_TRUE(lines.empty());
  // Once it can be opened, it is read from its start: nothing was lost.
  EXPECT_EQ(Poll(tail), std::vector<std::string>{"later"});
}

TEST_F(CriTailTest, ReportsAFileThatCannotBeOpened) {
  // A pattern without wildcards: glob(3) only stats it, so the open is what fails.
  CriTail tail({(dir_ / "0.log").string()}, now_);
  Append(dir_ / "0.log", Line("later"));
  std::vector<std::string> lines;
  PollReport report;
  ASSERT_NO_FATAL_FAILURE(PollWithoutFileDescriptors(tail, lines, report));
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_EQ(report.problems[0], "open " + (dir_ / "0.log").string() + ": Too many open files");
  // Once it can be opened it is read from its start: nothing was lost.
  EXPECT_EQ(Poll(tail), std::vector<std::string>{"later"});
}

TEST_F(CriTailTest, ReadBudgetDefersTheRest) {
  CriTail tail({Glob(), /*read_budget_bytes=*/100}, now_);
  std::string many;
  for (int i = 0; i < 20; ++i) many += Line("line " + std::to_string(i));
  Append(dir_ / "0.log", many);
  size_t total = 0;
  for (int i = 0; i < 100 && total < 20; ++i) total += Poll(tail).size();
  EXPECT_EQ(total, 20u);
}

}  // namespace
}  // namespace kvip::crilog

namespace kvip {
namespace {

TEST(ClassifyKubeVipLogLineTest, LockConflictInBothWordings) {
  // kube-vip v1.0.3 (client-go 0.34, klog printf style).
  auto v103 = ClassifyKubeVipLogLine(
      "E1125 15:00:00.123456       1 leaderelection.go:441] Failed to update lock "
      "optimistically: Put \"https://kubernetes:6443/apis/coordination.k8s.io/v1/namespaces/"
      "kube-system/leases/plndr-cp-lock\": context deadline exceeded, falling back to slow path");
  EXPECT_TRUE(v103.lock_conflict);
  EXPECT_TRUE(v103.error);
  // kube-vip v1.0.4 (client-go 0.35, structured klog).
  auto v104 = ClassifyKubeVipLogLine(
      "E0129 12:00:00.000001       1 leaderelection.go:445] \"Failed to update lease "
      "optimistically, falling back to slow path\" err=\"Put ...: context deadline exceeded\" "
      "lock=\"kube-system/plndr-cp-lock\"");
  EXPECT_TRUE(v104.lock_conflict);
  EXPECT_TRUE(v104.error);
}

TEST(ClassifyKubeVipLogLineTest, ErrorLevels) {
  EXPECT_TRUE(ClassifyKubeVipLogLine("E1125 15:00:00.123456 1 x.go:1] boom").error);
  EXPECT_TRUE(ClassifyKubeVipLogLine("F1125 15:00:00.123456 1 x.go:1] fatal").error);
  EXPECT_FALSE(ClassifyKubeVipLogLine("I1125 15:00:00.123456 1 x.go:1] fine").error);
  EXPECT_FALSE(ClassifyKubeVipLogLine("W1125 15:00:00.123456 1 x.go:1] hmm").error);
  EXPECT_FALSE(ClassifyKubeVipLogLine("Error handling is fine here").error);
  // kube-vip's own log/slog lines through the default handler.
  EXPECT_TRUE(ClassifyKubeVipLogLine("2026/11/25 15:00:00 ERROR new manager err=boom").error);
  EXPECT_FALSE(ClassifyKubeVipLogLine("2026/11/25 15:00:00 INFO deleted address").error);
  // Structured.
  EXPECT_TRUE(ClassifyKubeVipLogLine("time=2026-11-25T15:00:00Z level=ERROR msg=x").error);
  EXPECT_TRUE(ClassifyKubeVipLogLine("level=error msg=\"x\"").error);
  EXPECT_TRUE(ClassifyKubeVipLogLine("time=\"t\" level=\"error\" msg=x").error);
  EXPECT_TRUE(ClassifyKubeVipLogLine(R"({"time":"t","level":"error","msg":"x"})").error);
  EXPECT_FALSE(ClassifyKubeVipLogLine("level=info msg=\"level=error inside a quote\"").error);
  EXPECT_FALSE(ClassifyKubeVipLogLine("sublevel=error msg=x").error);
  EXPECT_FALSE(ClassifyKubeVipLogLine("level=info msg=x").error);
  EXPECT_FALSE(ClassifyKubeVipLogLine("").error);
  EXPECT_FALSE(ClassifyKubeVipLogLine("").lock_conflict);
}

std::map<std::string, double> Collect(Collector& collector, bool& ok) {
  std::vector<prometheus::MetricFamily> families;
  ok = collector.Collect(families);
  std::map<std::string, double> samples;
  for (const auto& family : families) samples[family.name] = family.metric.at(0).counter.value;
  return samples;
}

TEST(KubeVipLogCollectorTest, CountsAppendedLinesOnTheLoop) {
  namespace fs = std::filesystem;
  char pattern[] = "/tmp/kvt-kubevip-log-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  fs::path root = pattern;
  fs::path dir = root / "kube-system_kube-vip-cp1_0000" / "kube-vip";
  fs::create_directories(dir);
  {
    std::ofstream(dir / "0.log") << "2026-11-25T15:00:00Z stderr F E1125 15:00:00.000000 1 "
                                    "x.go:1] Failed to update lock optimistically: old\n";
  }
  boost::asio::io_context loop;
  KubeVipLogCollector collector(loop, (root / "*" / "kube-vip" / "*.log").string(),
                                std::chrono::milliseconds(10));
  EXPECT_EQ(collector.Name(), "kubevip_log");
  bool ok = false;
  auto samples = Collect(collector, ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(samples.at("kubevip_log_lock_conflicts_total"), 0);  // history is not counted

  {
    std::ofstream out(dir / "0.log", std::ios::app);
    out << "2026-11-25T15:00:01Z stderr F E1125 15:00:01.000000 1 x.go:1] \"Failed to update "
           "lease optimistically, falling back to slow path\" err=\"x\"\n"
        << "2026-11-25T15:00:02Z stderr F 2026/11/25 15:00:02 ERROR new manager err=x\n"
        << "2026-11-25T15:00:03Z stderr F 2026/11/25 15:00:03 INFO fine\n";
  }
  for (int i = 0; i < 500; ++i) {
    loop.run_for(std::chrono::milliseconds(10));
    samples = Collect(collector, ok);
    if (samples.at("kubevip_log_errors_total") == 2) break;
  }
  EXPECT_EQ(samples.at("kubevip_log_lock_conflicts_total"), 1);
  EXPECT_EQ(samples.at("kubevip_log_errors_total"), 2);

  fs::remove_all(root);
  for (int i = 0; i < 500 && ok; ++i) {
    loop.run_for(std::chrono::milliseconds(10));
    Collect(collector, ok);
  }
  EXPECT_FALSE(ok);  // nothing matches any more
}

}  // namespace
}  // namespace kvip
