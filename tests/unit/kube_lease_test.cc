// The Lease watch stream without I/O: framing across any chunking, event and list parsing,
// RFC 3339 times, backoff, and robustness against garbage.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "kube/lease.h"
#include "kube/object_watcher.h"

namespace kvip::kube {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// As kube-apiserver v1.35 writes them (one JSON object per line).
const std::string kAdded =
    R"({"type":"ADDED","object":{"kind":"Lease","apiVersion":"coordination.k8s.io/v1",)"
    R"("metadata":{"name":"plndr-cp-lock","namespace":"kube-system","uid":"5f1c",)"
    R"("resourceVersion":"1042","creationTimestamp":"2026-11-25T15:00:00Z"},)"
    R"("spec":{"holderIdentity":"k8s-cp3","leaseDurationSeconds":5,)"
    R"("acquireTime":"2026-11-25T15:00:00.250000Z","renewTime":"2026-11-25T15:02:03.500000Z",)"
    R"("leaseTransitions":3}}})";
const std::string kBookmark =
    R"({"type":"BOOKMARK","object":{"kind":"Lease","apiVersion":"coordination.k8s.io/v1",)"
    R"("metadata":{"resourceVersion":"1100","creationTimestamp":null,)"
    R"("annotations":{"k8s.io/initial-events-end":"true"}},"spec":{}}})";
const std::string kGone =
    R"({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},)"
    R"j("status":"Failure","message":"too old resource version: 1042 (1200)",)j"
    R"("reason":"Expired","code":410}})";

TEST(Rfc3339, KubernetesTimeAndMicroTime) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), 0.0);
  EXPECT_EQ(ParseRfc3339("2026-11-25T15:00:00Z"), 1795618800.0);
  EXPECT_DOUBLE_EQ(*ParseRfc3339("2026-11-25T15:00:00.250000Z"), 1795618800.25);
  EXPECT_EQ(ParseRfc3339("2026-11-25T16:00:00+01:00"), 1795618800.0);
  EXPECT_EQ(ParseRfc3339("2026-11-25T14:30:00-00:30"), 1795618800.0);
  EXPECT_EQ(ParseRfc3339("2024-02-29T00:00:00Z"), 1709164800.0);
  for (const char* bad :
       {"", "2026-11-25", "2026-11-25 15:00:00Z", "2026-11-25T15:00:00", "2026-13-25T15:00:00Z",
        "2026-11-25T15:00:00.Z", "2026-11-25T15:00:00Zjunk", "2026-11-25T15:00:00+0100"}) {
    EXPECT_FALSE(ParseRfc3339(bad)) << bad;
  }
}

TEST(ParseLeaseWatchEvent, AddedCarriesTheWholeSpec) {
  std::string error;
  auto event = ParseLeaseWatchEvent(kAdded, error);
  ASSERT_TRUE(event) << error;
  EXPECT_EQ(event->type, "ADDED");
  ASSERT_TRUE(event->object);
  const Lease& lease = *event->object;
  EXPECT_EQ(lease.name, "plndr-cp-lock");
  EXPECT_EQ(lease.namespace_name, "kube-system");
  EXPECT_EQ(lease.resource_version, "1042");
  EXPECT_EQ(lease.holder, "k8s-cp3");
  EXPECT_EQ(lease.duration_seconds, 5);
  EXPECT_EQ(lease.transitions, 3);
  EXPECT_DOUBLE_EQ(*lease.acquire_time, 1795618800.25);
  EXPECT_DOUBLE_EQ(*lease.renew_time, 1795618923.5);
}

TEST(ParseLeaseWatchEvent, BookmarkCarriesOnlyAResourceVersion) {
  std::string error;
  auto event = ParseLeaseWatchEvent(kBookmark, error);
  ASSERT_TRUE(event) << error;
  EXPECT_EQ(event->type, "BOOKMARK");
  EXPECT_EQ(event->object->resource_version, "1100");
  EXPECT_EQ(event->object->holder, "");
  EXPECT_FALSE(event->object->renew_time);
}

TEST(ParseLeaseWatchEvent, ErrorCarriesTheStatus) {
  std::string error;
  auto event = ParseLeaseWatchEvent(kGone, error);
  ASSERT_TRUE(event) << error;
  EXPECT_EQ(event->type, "ERROR");
  EXPECT_EQ(event->error_code, 410);
  EXPECT_EQ(event->error_message, "too old resource version: 1042 (1200)");
  EXPECT_FALSE(event->object);
}

TEST(ParseLeaseWatchEvent, RejectsWhatIsNotAnEvent) {
  std::string error;
  EXPECT_FALSE(ParseLeaseWatchEvent("{\"type\":\"ADDED\"", error));
  EXPECT_THAT(error, HasSubstr("invalid JSON at offset"));
  EXPECT_FALSE(ParseLeaseWatchEvent("[]", error));
  EXPECT_EQ(error, "expected a JSON object");
  EXPECT_FALSE(ParseLeaseWatchEvent(R"({"type":"ADDED"})", error));
  EXPECT_EQ(error, "a watch event needs a type and an object");
  EXPECT_FALSE(ParseLeaseWatchEvent(R"({"type":"RENAMED","object":{}})", error));
  EXPECT_EQ(error, "unknown watch event type \"RENAMED\"");
  EXPECT_FALSE(ParseLeaseWatchEvent(R"({"type":"MODIFIED","object":{"metadata":{}}})", error));
  EXPECT_EQ(error, "MODIFIED event without metadata.resourceVersion");
  EXPECT_FALSE(ParseLeaseWatchEvent(
      R"({"type":"MODIFIED","object":{"metadata":{"resourceVersion":"1"},"spec":{"renewTime":"soon"}}})",
      error));
  EXPECT_EQ(error, "spec.renewTime \"soon\" is not an RFC 3339 time");
}

TEST(ParseLeaseList, ItemsAndTheListResourceVersion) {
  std::string error;
  auto list = ParseLeaseList(
      R"({"kind":"LeaseList","apiVersion":"coordination.k8s.io/v1","metadata":{"resourceVersion":"2000"},)"
      R"("items":[{"metadata":{"name":"plndr-cp-lock","namespace":"kube-system","resourceVersion":"1990"},)"
      R"("spec":{"holderIdentity":"k8s-cp1","leaseDurationSeconds":5}}]})",
      error);
  ASSERT_TRUE(list) << error;
  EXPECT_EQ(list->resource_version, "2000");
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(list->items[0].holder, "k8s-cp1");

  auto empty = ParseLeaseList(R"({"metadata":{"resourceVersion":"7"},"items":[]})", error);
  ASSERT_TRUE(empty) << error;
  EXPECT_TRUE(empty->items.empty());
  EXPECT_FALSE(ParseLeaseList(R"({"metadata":{},"items":[]})", error));
  EXPECT_EQ(error, "the list has no metadata.resourceVersion");
}

std::vector<std::string> FeedAll(LineFramer& framer, const std::vector<std::string>& chunks) {
  std::vector<std::string> lines;
  for (const auto& chunk : chunks) {
    EXPECT_TRUE(framer.Feed(chunk, [&](std::string_view line) { lines.emplace_back(line); }));
  }
  return lines;
}

TEST(LineFramer, SplitsAcrossChunkBoundaries) {
  LineFramer framer;
  EXPECT_THAT(FeedAll(framer, {"{\"a\":", "1}\n{\"b\"", ":2}\n\n", "{\"c\":3}\r\n{\"d\""}),
              ElementsAre("{\"a\":1}", "{\"b\":2}", "{\"c\":3}"));
  EXPECT_EQ(framer.buffered_bytes(), 4u);
  framer.Reset();
  EXPECT_EQ(framer.buffered_bytes(), 0u);
}

TEST(LineFramer, RefusesAnOversizedLine) {
  LineFramer framer(16);
  int lines = 0;
  auto count = [&](std::string_view) { ++lines; };
  EXPECT_TRUE(framer.Feed("0123456789\n", count));
  EXPECT_TRUE(framer.Feed("0123456789", count));
  EXPECT_FALSE(framer.Feed("0123456789", count));
  LineFramer single(16);
  EXPECT_FALSE(single.Feed("01234567890123456789\n", count));
  EXPECT_EQ(lines, 1);
}

// Every chunking of a real stream yields the same events; random bytes never crash the
// framer or the parser (a deterministic cousin of a fuzz run; the sanitizers watch).
TEST(LineFramer, AnyChunkingGivesTheSameEventsAndGarbageIsSafe) {
  const std::string stream = kAdded + "\n" + kBookmark + "\n" + kGone + "\n";
  std::mt19937 rng(42);
  for (int round = 0; round < 500; ++round) {
    LineFramer framer;
    std::vector<std::string> types;
    size_t at = 0;
    while (at < stream.size()) {
      size_t size = std::uniform_int_distribution<size_t>(1, 64)(rng);
      std::string chunk = stream.substr(at, size);
      at += chunk.size();
      ASSERT_TRUE(framer.Feed(chunk, [&](std::string_view line) {
        std::string error;
        auto event = ParseLeaseWatchEvent(line, error);
        ASSERT_TRUE(event) << error;
        types.push_back(event->type);
      }));
    }
    ASSERT_THAT(types, ElementsAre("ADDED", "BOOKMARK", "ERROR"));
  }
  for (int round = 0; round < 2000; ++round) {
    std::string garbage = stream;
    for (int flips = 0; flips < 8; ++flips) {
      size_t at = std::uniform_int_distribution<size_t>(0, garbage.size() - 1)(rng);
      garbage[at] = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
    }
    LineFramer framer(4096);
    framer.Feed(garbage, [](std::string_view line) {
      std::string error;
      (void)ParseLeaseWatchEvent(line, error);
      (void)ParseLeaseList(line, error);
    });
  }
}

TEST(JitteredBackoff, GrowsDoublesAndStaysWithinTheCap) {
  std::minstd_rand rng(7);
  using std::chrono::milliseconds;
  for (int failures = 1; failures <= 20; ++failures) {
    long long full = std::min<long long>(500LL << std::min(failures - 1, 20), 30000);
    for (int i = 0; i < 50; ++i) {
      auto delay = JitteredBackoff(failures, milliseconds(500), milliseconds(30000), rng);
      EXPECT_GE(delay.count(), full / 2) << failures;
      EXPECT_LE(delay.count(), full) << failures;
    }
  }
}

}  // namespace
}  // namespace kvip::kube
