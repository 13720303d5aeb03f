#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

#include "fixture_files.h"
#include "promtext/parse.h"

namespace kvip::promtext {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

std::string ReadFixture(const std::string& name) {
  return testing::ReadFixture("promtext/" + name);
}

const MetricFamily* Find(const std::vector<MetricFamily>& families, const std::string& name) {
  for (const auto& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

std::vector<MetricFamily> ParseOk(std::string_view text, const Limits& limits = {}) {
  ParseResult result = Parse(text, limits);
  EXPECT_TRUE(result.ok()) << result.error->ToString();
  return result.families;
}

// prometheus-cpp prints 16 significant digits, so a round trip may move the last bit.
bool SameValue(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (a == b) return true;
  return std::fabs(a - b) <= 1e-15 * std::max(std::fabs(a), std::fabs(b));
}

void ExpectSameFamilies(const std::vector<MetricFamily>& want,
                        const std::vector<MetricFamily>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t f = 0; f < want.size(); ++f) {
    const auto& w = want[f];
    const auto& g = got[f];
    SCOPED_TRACE(w.name);
    EXPECT_EQ(w.name, g.name);
    EXPECT_EQ(w.help, g.help);
    EXPECT_EQ(w.type, g.type);
    ASSERT_EQ(w.metric.size(), g.metric.size());
    for (size_t m = 0; m < w.metric.size(); ++m) {
      const ClientMetric& a = w.metric[m];
      const ClientMetric& b = g.metric[m];
      EXPECT_EQ(a.label, b.label);
      EXPECT_EQ(a.timestamp_ms, b.timestamp_ms);
      EXPECT_TRUE(SameValue(a.counter.value, b.counter.value));
      EXPECT_TRUE(SameValue(a.gauge.value, b.gauge.value));
      EXPECT_TRUE(SameValue(a.untyped.value, b.untyped.value));
      EXPECT_EQ(a.summary.sample_count, b.summary.sample_count);
      EXPECT_TRUE(SameValue(a.summary.sample_sum, b.summary.sample_sum));
      ASSERT_EQ(a.summary.quantile.size(), b.summary.quantile.size());
      for (size_t q = 0; q < a.summary.quantile.size(); ++q) {
        EXPECT_TRUE(SameValue(a.summary.quantile[q].quantile, b.summary.quantile[q].quantile));
        EXPECT_TRUE(SameValue(a.summary.quantile[q].value, b.summary.quantile[q].value));
      }
      EXPECT_EQ(a.histogram.sample_count, b.histogram.sample_count);
      EXPECT_TRUE(SameValue(a.histogram.sample_sum, b.histogram.sample_sum));
      ASSERT_EQ(a.histogram.bucket.size(), b.histogram.bucket.size());
      for (size_t i = 0; i < a.histogram.bucket.size(); ++i) {
        EXPECT_TRUE(
            SameValue(a.histogram.bucket[i].upper_bound, b.histogram.bucket[i].upper_bound));
        EXPECT_EQ(a.histogram.bucket[i].cumulative_count, b.histogram.bucket[i].cumulative_count);
      }
    }
  }
}

std::string Serialize(std::vector<MetricFamily> families) {
  for (auto& family : families) PrepareForTextSerializer(family);
  return prometheus::TextSerializer().Serialize(families);
}

size_t CountTypeLines(const std::string& text) {
  size_t count = 0;
  for (size_t pos = text.find("# TYPE "); pos != std::string::npos;
       pos = text.find("# TYPE ", pos + 1)) {
    ++count;
  }
  return count;
}

// ---- real client_golang output ----

TEST(PromtextFixtures, KubeVip) {
  std::string text = ReadFixture("kube-vip-v1.0.4.txt");
  auto families = ParseOk(text);
  EXPECT_EQ(families.size(), CountTypeLines(text));

  const MetricFamily* gc = Find(families, "go_gc_duration_seconds");
  ASSERT_NE(gc, nullptr);
  EXPECT_EQ(gc->type, MetricType::Summary);
  EXPECT_EQ(gc->help,
            "A summary of the wall-time pause (stop-the-world) duration in garbage "
            "collection cycles.");
  ASSERT_EQ(gc->metric.size(), 1u);
  const auto& summary = gc->metric[0].summary;
  ASSERT_EQ(summary.quantile.size(), 5u);
  EXPECT_EQ(summary.quantile[0].quantile, 0);
  EXPECT_EQ(summary.quantile[4].quantile, 1);
  EXPECT_EQ(summary.sample_count, 2u);
  EXPECT_DOUBLE_EQ(summary.sample_sum, 0.000677667);

  const MetricFamily* start = Find(families, "process_start_time_seconds");
  ASSERT_NE(start, nullptr);
  EXPECT_EQ(start->type, MetricType::Gauge);
  EXPECT_GT(start->metric.at(0).gauge.value, 1.7e9);

  const MetricFamily* requests = Find(families, "promhttp_metric_handler_requests_total");
  ASSERT_NE(requests, nullptr);
  EXPECT_EQ(requests->type, MetricType::Counter);
  ASSERT_EQ(requests->metric.size(), 3u);  // code="200", "500", "503"
  EXPECT_EQ(requests->metric[0].label.at(0).name, "code");

  const MetricFamily* go_info = Find(families, "go_info");
  ASSERT_NE(go_info, nullptr);
  EXPECT_EQ(go_info->metric.at(0).label.at(0).name, "version");
  EXPECT_NE(Find(families, "process_network_receive_bytes_total"), nullptr);
}

TEST(PromtextFixtures, NodeExporterMinimal) {
  std::string text = ReadFixture("node-exporter-1.5-minimal.txt");
  auto families = ParseOk(text);
  EXPECT_EQ(families.size(), CountTypeLines(text));
  const MetricFamily* success = Find(families, "node_scrape_collector_success");
  ASSERT_NE(success, nullptr);
  EXPECT_EQ(success->metric.size(), 2u);  // loadavg, time
}

TEST(PromtextFixtures, PrometheusHistogramsAndLabelledSummaries) {
  std::string text = ReadFixture("prometheus-2.42.txt");
  auto families = ParseOk(text);
  EXPECT_EQ(families.size(), CountTypeLines(text));

  const MetricFamily* chunks = Find(families, "prometheus_tsdb_compaction_chunk_range_seconds");
  ASSERT_NE(chunks, nullptr);
  EXPECT_EQ(chunks->type, MetricType::Histogram);
  const auto& buckets = chunks->metric.at(0).histogram.bucket;
  ASSERT_EQ(buckets.size(), 11u);
  EXPECT_EQ(buckets[0].upper_bound, 100);
  EXPECT_EQ(buckets[7].upper_bound, 1.6384e+06);
  EXPECT_TRUE(std::isinf(buckets[10].upper_bound));

  const MetricFamily* engine = Find(families, "prometheus_engine_query_duration_seconds");
  ASSERT_NE(engine, nullptr);
  EXPECT_EQ(engine->type, MetricType::Summary);
  ASSERT_EQ(engine->metric.size(), 4u);  // one series per slice, quantiles grouped into it
  EXPECT_EQ(engine->metric[0].label.size(), 1u);
  EXPECT_EQ(engine->metric[0].label[0].name, "slice");
  ASSERT_EQ(engine->metric[0].summary.quantile.size(), 3u);
  EXPECT_TRUE(std::isnan(engine->metric[0].summary.quantile[0].value));
}

// What we parse, prometheus-cpp re-emits, and we parse that back to the same model.
TEST(PromtextFixtures, RoundTripThroughTextSerializer) {
  for (const char* name :
       {"kube-vip-v1.0.4.txt", "node-exporter-1.5-minimal.txt", "prometheus-2.42.txt"}) {
    SCOPED_TRACE(name);
    auto families = ParseOk(ReadFixture(name));
    std::string again = Serialize(families);
    ExpectSameFamilies(families, ParseOk(again));
  }
}

// ---- edge cases that are valid ----

TEST(PromtextValid, EmptyBodyAndComments) {
  EXPECT_TRUE(ParseOk("").empty());
  EXPECT_TRUE(ParseOk("\n\n# just a comment\n#HELP not a help line\n# FOO bar\n").empty());
}

TEST(PromtextValid, LabelEscapesAndWhitespace) {
  auto families = ParseOk(
      "  metric_a{path=\"C:\\\\dir\", quote=\"say \\\"hi\\\"\" "
      ",nl=\"a\\nb\",utf8=\"gr\xc3\xbc\xc3\x9f\",} \t 1.5\n"
      "metric_a {path=\"other\"} 2\n"
      "metric_a{} 3\n");
  ASSERT_EQ(families.size(), 1u);
  const auto& metrics = families[0].metric;
  ASSERT_EQ(metrics.size(), 3u);
  ASSERT_EQ(metrics[0].label.size(), 4u);
  EXPECT_EQ(metrics[0].label[0].value, "C:\\dir");
  EXPECT_EQ(metrics[0].label[1].value, "say \"hi\"");
  EXPECT_EQ(metrics[0].label[2].value, "a\nb");
  EXPECT_EQ(metrics[0].label[3].value, "gr\xc3\xbc\xc3\x9f");
  EXPECT_EQ(metrics[0].untyped.value, 1.5);
  EXPECT_EQ(metrics[2].label.size(), 0u);
  EXPECT_EQ(families[0].type, MetricType::Untyped);

  // prometheus-cpp escapes label values itself; the round trip keeps them.
  ExpectSameFamilies(families, ParseOk(Serialize(families)));
}

TEST(PromtextValid, SpecialValuesAndTimestamps) {
  auto families = ParseOk(
      "# TYPE g gauge\n"
      "g{v=\"pinf\"} +Inf\n"
      "g{v=\"inf\"} Inf\n"
      "g{v=\"ninf\"} -Inf 1700000000000\n"
      "g{v=\"nan\"} NaN\n"
      "g{v=\"cpp_nan\"} Nan\n"
      "g{v=\"exp\"} -1.5e-3 -5\n"
      "g{v=\"dot\"} .5\n"
      "g{v=\"max\"} 1.7976931348623157e308\n"
      "g{v=\"subnormal\"} 5e-324\n");
  const auto& m = families.at(0).metric;
  ASSERT_EQ(m.size(), 9u);
  EXPECT_TRUE(std::isinf(m[0].gauge.value) && m[0].gauge.value > 0);
  EXPECT_TRUE(std::isinf(m[1].gauge.value) && m[1].gauge.value > 0);
  EXPECT_TRUE(std::isinf(m[2].gauge.value) && m[2].gauge.value < 0);
  EXPECT_EQ(m[2].timestamp_ms, 1700000000000);
  EXPECT_TRUE(std::isnan(m[3].gauge.value));
  EXPECT_TRUE(std::isnan(m[4].gauge.value));
  EXPECT_EQ(m[5].gauge.value, -1.5e-3);
  EXPECT_EQ(m[5].timestamp_ms, -5);
  EXPECT_EQ(m[6].gauge.value, 0.5);
  EXPECT_GT(m[8].gauge.value, 0);
  // DBL_MAX is clamped by a few ULPs so prometheus-cpp prints a number that parses.
  std::string again = Serialize(families);
  EXPECT_NE(again.find("g{v=\"max\"} 1.797693134862315e+308\n"), std::string::npos) << again;
  ExpectSameFamilies(families, ParseOk(again));
}

TEST(PromtextValid, HelpEscapesAndEmptyFamilies) {
  auto families = ParseOk(
      "# HELP a Line one\\nline two with a \\\\ backslash\n"
      "# TYPE a counter\n"
      "a 1\n"
      "# HELP b\n"
      "# TYPE c gauge\n");
  ASSERT_EQ(families.size(), 3u);
  EXPECT_EQ(families[0].name, "a");
  EXPECT_EQ(families[0].help, "Line one\nline two with a \\ backslash");
  EXPECT_EQ(families[1].name, "b");
  EXPECT_TRUE(families[1].metric.empty());
  EXPECT_EQ(families[2].type, MetricType::Gauge);
  EXPECT_TRUE(families[2].metric.empty());
  EXPECT_EQ(EscapeHelp(families[0].help), "Line one\\nline two with a \\\\ backslash");
  ExpectSameFamilies(families, ParseOk(Serialize(families)));
}

TEST(PromtextValid, HistogramGroupsBucketsPerSeriesAndSortsThem) {
  auto families = ParseOk(
      "# HELP rpc_seconds RPC latency.\n"
      "# TYPE rpc_seconds histogram\n"
      "rpc_seconds_bucket{method=\"get\",le=\"+Inf\"} 5\n"
      "rpc_seconds_bucket{le=\"0.1\",method=\"get\"} 2\n"
      "rpc_seconds_bucket{method=\"get\",le=\"1\"} 4\n"
      "rpc_seconds_sum{method=\"get\"} 2.5\n"
      "rpc_seconds_count{method=\"get\"} 5\n"
      "rpc_seconds_bucket{method=\"put\",le=\"+Inf\"} 0\n"
      "rpc_seconds_sum{method=\"put\"} 0\n"
      "rpc_seconds_count{method=\"put\"} 0\n"
      "other 1\n");
  ASSERT_EQ(families.size(), 2u);
  const auto& h = families[0];
  EXPECT_EQ(h.type, MetricType::Histogram);
  ASSERT_EQ(h.metric.size(), 2u);
  const auto& get = h.metric[0];
  ASSERT_EQ(get.label.size(), 1u);
  EXPECT_EQ(get.label[0].name, "method");
  ASSERT_EQ(get.histogram.bucket.size(), 3u);
  EXPECT_EQ(get.histogram.bucket[0].upper_bound, 0.1);
  EXPECT_EQ(get.histogram.bucket[0].cumulative_count, 2u);
  EXPECT_EQ(get.histogram.bucket[1].upper_bound, 1);
  EXPECT_TRUE(std::isinf(get.histogram.bucket[2].upper_bound));
  EXPECT_EQ(get.histogram.sample_count, 5u);
  EXPECT_EQ(get.histogram.sample_sum, 2.5);

  std::string again = Serialize(families);
  EXPECT_NE(again.find("rpc_seconds_bucket{method=\"get\",le=\"0.1\"} 2\n"), std::string::npos)
      << again;
  EXPECT_NE(again.find("rpc_seconds_bucket{method=\"get\",le=\"+Inf\"} 5\n"), std::string::npos);
  EXPECT_EQ(again.find("le=\"+Inf\"} 5\nrpc_seconds_bucket{method=\"get\",le=\"+Inf\"}"),
            std::string::npos);  // exactly one +Inf bucket per series
  ExpectSameFamilies(families, ParseOk(again));
}

TEST(PromtextValid, SummaryWithoutQuantilesAndLabelOrder) {
  auto families = ParseOk(
      "# TYPE s summary\n"
      "s{a=\"1\",b=\"2\",quantile=\"0.5\"} 3\n"
      "s{quantile=\"0.9\",b=\"2\",a=\"1\"} 4\n"
      "s_sum{b=\"2\",a=\"1\"} 10\n"
      "s_count{a=\"1\",b=\"2\"} 3\n"
      "# TYPE t summary\n"
      "t_sum 0\n"
      "t_count 0\n");
  ASSERT_EQ(families.size(), 2u);
  ASSERT_EQ(families[0].metric.size(), 1u);
  EXPECT_EQ(families[0].metric[0].summary.quantile.size(), 2u);
  EXPECT_EQ(families[0].metric[0].summary.sample_count, 3u);
  EXPECT_TRUE(families[1].metric.at(0).summary.quantile.empty());
  ExpectSameFamilies(families, ParseOk(Serialize(families)));
}

TEST(PromtextValid, SuffixedNamesOfUntypedFamiliesAreTheirOwnFamilies) {
  auto families = ParseOk("x 1\nx_sum 2\nx_count 3\nx_bucket{le=\"1\"} 4\n");
  ASSERT_EQ(families.size(), 4u);
  EXPECT_EQ(families[3].name, "x_bucket");
  EXPECT_EQ(families[3].metric.at(0).label.at(0).name, "le");
}

// ---- malformed input: every one names its line and the reason ----

struct BadCase {
  std::string text;
  size_t line;
  const char* reason;  // a substring of the error
};

class PromtextErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(PromtextErrors, NamesLineAndReason) {
  const BadCase& c = GetParam();
  ParseResult result = Parse(c.text);
  ASSERT_FALSE(result.ok()) << c.text;
  EXPECT_TRUE(result.families.empty());
  EXPECT_EQ(result.error->line, c.line) << result.error->ToString();
  EXPECT_NE(result.error->reason.find(c.reason), std::string::npos) << result.error->ToString();
  EXPECT_EQ(result.error->ToString().rfind("line " + std::to_string(c.line) + ": ", 0), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Syntax, PromtextErrors,
    ::testing::Values(
        BadCase{"a 1\nb 2", 2, "does not end with a newline"},
        BadCase{"a 1\r\n", 1, "carriage return"}, BadCase{"a\n", 1, "has no value"},
        BadCase{"a \n", 1, "invalid value \"\""}, BadCase{"a 1 2 3\n", 1, "after the timestamp"},
        BadCase{"a abc\n", 1, "invalid value \"abc\""}, BadCase{"a 0x10\n", 1, "invalid value"},
        BadCase{"a 1_000\n", 1, "invalid value"}, BadCase{"a infinity\n", 1, "invalid value"},
        BadCase{"a 1e400\n", 1, "invalid value"}, BadCase{"a 1e\n", 1, "invalid value"},
        BadCase{"a .\n", 1, "invalid value"}, BadCase{"a 1 1.5\n", 1, "invalid timestamp"},
        BadCase{"a 1 +5\n", 1, "invalid timestamp"},
        BadCase{"a 1 99999999999999999999\n", 1, "invalid timestamp"},
        BadCase{"9a 1\n", 1, "expected a metric name"},
        BadCase{"a-b 1\n", 1, "after the metric name"},
        BadCase{std::string("a\0 1\n", 5), 1, "after the metric name"},
        BadCase{"a{b=\"c\" 1\n", 1, "expected ',' or '}'"},
        BadCase{"a{b=\"c\\x\"} 1\n", 1, "invalid escape"},
        BadCase{"a{b=\"c} 1\n", 1, "unterminated value"},
        BadCase{"a{b=\"c\"\n", 1, "unterminated label set"},
        BadCase{"a{b=\"1\",b=\"2\"} 1\n", 1, "duplicate label \"b\""},
        BadCase{"a{__name__=\"x\"} 1\n", 1, "reserved"},
        BadCase{"a{1b=\"x\"} 1\n", 1, "invalid label name"},
        BadCase{"a{,} 1\n", 1, "invalid label name"}, BadCase{"a{b=c} 1\n", 1, "no quoted value"},
        BadCase{"a{b} 1\n", 1, "expected '='"}, BadCase{"a{b=\"\xff\"} 1\n", 1, "not valid UTF-8"},
        BadCase{"a{b=\"\xc0\xaf\"} 1\n", 1, "not valid UTF-8"},      // overlong '/'
        BadCase{"a{b=\"\xed\xa0\x80\"} 1\n", 1, "not valid UTF-8"},  // surrogate
        BadCase{"a{b=\"\xe2\x82\"} 1\n", 1, "not valid UTF-8"}));    // truncated

INSTANTIATE_TEST_SUITE_P(
    HelpAndType, PromtextErrors,
    ::testing::Values(BadCase{"# HELP\n", 1, "HELP line without a metric name"},
                      BadCase{"# HELP 9a x\n", 1, "invalid metric name \"9a\""},
                      BadCase{"# TYPE a-b gauge\n", 1, "invalid metric name \"a-b\""},
                      BadCase{"# TYPE a\n", 1, "has no type"},
                      BadCase{"# TYPE a bogus\n", 1, "unknown type \"bogus\""},
                      BadCase{"# TYPE a Gauge\n", 1, "unknown type \"Gauge\""},
                      BadCase{"# TYPE a gauge extra\n", 1, "unexpected text after the type"},
                      BadCase{"# TYPE a gauge\n# TYPE a gauge\n", 2,
                              "second TYPE line for \"a\" (gauge at line 1)"},
                      BadCase{"# TYPE a gauge\n# TYPE a counter\n", 2,
                              "conflicting with gauge at line 1"},
                      BadCase{"# HELP a x\n# HELP a y\n", 2, "second HELP line"},
                      BadCase{"# HELP a bad \\t escape\n", 1, "invalid escape \"\\\\t\""},
                      BadCase{"# HELP a trailing \\\n", 1, "invalid escape"},
                      BadCase{"# HELP a \xff\n", 1, "not valid UTF-8"},
                      BadCase{"a 1\n# TYPE a gauge\n", 2, "after its first sample (line 1)"}));

INSTANTIATE_TEST_SUITE_P(
    Families, PromtextErrors,
    ::testing::Values(
        BadCase{"a 1\nb 1\na 2\n", 3, "appears again after other metrics (first at line 1)"},
        BadCase{"# HELP a x\nb 1\n# TYPE a gauge\n", 3, "appears again"},
        BadCase{"# HELP a x\n# TYPE a counter\na 1\nb 1\na 2\n", 5, "appears again"},
        BadCase{"a 1\na 2\n", 2, "duplicate sample \"a\" (first at line 1)"},
        BadCase{"a{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 1\n", 2, "duplicate sample"},
        BadCase{"# TYPE s summary\ns_sum 1\ns_count 1\nx 1\ns_sum 2\n", 5,
                "\"s_sum\" belongs to summary \"s\" (line 1)"},
        BadCase{"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n"
                "# HELP h_bucket x\n",
                5, "belongs to histogram"},
        BadCase{"a_sum 1\n# TYPE a summary\n", 2, "summary \"a\" clashes with metric \"a_sum\""}));

INSTANTIATE_TEST_SUITE_P(
    HistogramsAndSummaries, PromtextErrors,
    ::testing::Values(
        BadCase{"# TYPE h histogram\nh 1\n", 2, "must end in _bucket, _sum or _count"},
        BadCase{"# TYPE h histogram\nh_bucket 1\n", 2, "has no le label"},
        BadCase{"# TYPE h histogram\nh_bucket{le=\"abc\"} 1\n", 2, "invalid le \"abc\""},
        BadCase{"# TYPE h histogram\nh_bucket{le=\"NaN\"} 1\n", 2, "invalid le"},
        BadCase{"# TYPE h histogram\nh_bucket{le=\"1\"} 1.5\n", 2, "is not a non-negative integer"},
        BadCase{"# TYPE h histogram\nh_bucket{le=\"1\"} -1\n", 2, "is not a non-negative integer"},
        BadCase{"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1.0\"} 1\n", 3,
                "duplicate sample \"h_bucket le=1.0\""},
        BadCase{"# TYPE h histogram\nh_sum{le=\"1\"} 1\n", 2, "label le is not allowed"},
        BadCase{"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_sum 1\n", 4, "duplicate"},
        BadCase{"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n", 2,
                "histogram series \"h\" has no _count sample"},
        BadCase{"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nx 1\n", 2,
                "has no _sum sample"},
        BadCase{"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", 2,
                "has no le=\"+Inf\" bucket"},
        BadCase{"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n", 2,
                "le=\"+Inf\" bucket (2) differs from _count (1)"},
        BadCase{"# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\n"
                "h_count 2\n",
                2, "not cumulative"},
        BadCase{"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1 5\nh_sum 1 6\nh_count 1 5\n", 3,
                "timestamp differs"},
        BadCase{"# TYPE s summary\ns 1\n", 2, "has no quantile label"},
        BadCase{"# TYPE s summary\ns{quantile=\"1.5\"} 1\n", 2, "want a number from 0 to 1"},
        BadCase{"# TYPE s summary\ns{quantile=\"0.5\"} 1\ns{quantile=\"0.50\"} 1\n", 3,
                "duplicate"},
        BadCase{"# TYPE s summary\ns_sum{quantile=\"0.5\"} 1\n", 2,
                "label quantile is not allowed"},
        BadCase{"# TYPE s summary\ns_count 1.5\n", 2, "is not a non-negative integer"},
        BadCase{"# TYPE s summary\ns_count 1\n", 2, "summary series \"s\" has no _sum sample"}));

// ---- limits ----

// Each limit: a body just within it parses (where one exists), one just past it fails
// with the limit named in the error.
struct LimitCase {
  const char* name;
  size_t Limits::*limit;
  size_t value;
  std::string within;  // parses under the limit; empty: no such body to try
  std::string past;
  const char* error;  // the whole error, ToString()
};

class PromtextEachLimit : public ::testing::TestWithParam<LimitCase> {};

TEST_P(PromtextEachLimit, FailsPastTheLimit) {
  const LimitCase& c = GetParam();
  Limits limits;
  limits.*c.limit = c.value;
  if (!c.within.empty()) {
    EXPECT_TRUE(Parse(c.within, limits).ok());
  }
  ParseResult result = Parse(c.past, limits);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error->ToString(), c.error);
}

INSTANTIATE_TEST_SUITE_P(
    Limits, PromtextEachLimit,
    ::testing::Values(
        // Line 0: the body as a whole.
        LimitCase{"BodySize", &Limits::max_body_bytes, 10, "", "a 1\nb 2\nc 3\n",
                  "body is 12 bytes, more than the limit of 10"},
        LimitCase{"LineLength", &Limits::max_line_bytes, 100, "",
                  "a 1\n# " + std::string(200, 'x') + "\n",
                  "line 2: line is longer than the limit of 100 bytes"},
        LimitCase{"SampleCount", &Limits::max_samples, 3, "a 1\nb 1\nc 1\n", "a 1\nb 1\nc 1\nd 1\n",
                  "line 4: more than 3 samples"},
        LimitCase{"Families", &Limits::max_families, 2, "# TYPE a gauge\nb 1\n",
                  "# TYPE a gauge\nb 1\n# HELP c x\n", "line 3: more than 2 metrics"},
        LimitCase{"LabelsPerSample", &Limits::max_labels_per_sample, 2, "a{x=\"1\",y=\"2\"} 1\n",
                  "a{x=\"1\",y=\"2\",z=\"3\"} 1\n", "line 1: sample \"a\" has more than 2 labels"}),
    [](const auto& test) { return std::string(test.param.name); });

// Duplicate checks stay linear: one series with the most buckets the limits allow.
TEST(PromtextLimits, ManyBucketsInOneSeries) {
  std::string text = "# TYPE h histogram\n";
  for (int i = 0; i < 19990; ++i) text += "h_bucket{le=\"" + std::to_string(i) + "\"} 0\n";
  text += "h_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n";
  EXPECT_EQ(ParseOk(text).at(0).metric.at(0).histogram.bucket.size(), 19991u);
}

TEST(PromtextLimits, DefaultsAcceptManySmallSeries) {
  std::string text = "# TYPE many gauge\n";
  for (int i = 0; i < 5000; ++i) text += "many{i=\"" + std::to_string(i) + "\"} 1\n";
  EXPECT_EQ(ParseOk(text).at(0).metric.size(), 5000u);
}

// ---- hostile input ----

bool IsPrintableAscii(const std::string& text) {
  for (char c : text) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// Errors end up in log lines: whatever the input, they hold printable ASCII only.
TEST(PromtextHostile, ErrorsAreSafeToLog) {
  ParseResult result = Parse("a{b=\"\x1b[31m\xff\"} 1\n");
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(IsPrintableAscii(result.error->ToString())) << result.error->ToString();
  result = Parse("\x1b[2J\x07 1\n");
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(IsPrintableAscii(result.error->ToString()));
  EXPECT_LT(Parse("x " + std::string(10000, 'y') + "\n").error->ToString().size(), 200u);
}

TEST(PromtextHostile, GarbageIsRejectedWithALine) {
  for (const std::string& garbage :
       {std::string("<html><body>hello</body></html>\n"), std::string("{\"json\": true}\n"),
        std::string("HTTP/1.1 200 OK\n"), std::string("\x00\x01\x02\n", 4),
        std::string("\n\n\n}\n")}) {
    ParseResult result = Parse(garbage);
    ASSERT_FALSE(result.ok()) << garbage;
    EXPECT_GE(result.error->line, 1u);
  }
}

// Seeded mutations of real output: the parser must return (ok or an error with a line in
// range, printable) and never crash, hang or trip the sanitizers.
TEST(PromtextHostile, MutatedRealOutput) {
  const std::string original = ReadFixture("kube-vip-v1.0.4.txt");
  const std::string alphabet = "{}=\",\\\n #\t_:.+-eE0123456789aZ\xff\x80";
  std::mt19937 rng(20261125);
  size_t accepted = 0;
  for (int round = 0; round < 1000; ++round) {
    std::string text = original;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % (text.size() + 1);
      switch (rng() % 4) {
        case 0:
          if (pos < text.size()) text[pos] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          text.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
        case 2:
          if (pos < text.size()) text.erase(pos, 1 + rng() % 8);
          break;
        case 3:
          text.insert(pos, text.substr(rng() % text.size(), rng() % 64));
          break;
      }
    }
    ParseResult result = Parse(text);
    if (result.ok()) {
      ++accepted;
      // Whatever is accepted must survive prometheus-cpp and parse back the same.
      ExpectSameFamilies(result.families, ParseOk(Serialize(result.families)));
    } else {
      size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
      EXPECT_GE(result.error->line, 1u);
      EXPECT_LE(result.error->line, lines);
      EXPECT_TRUE(IsPrintableAscii(result.error->ToString())) << result.error->ToString();
    }
  }
  EXPECT_GT(accepted, 0u);
  EXPECT_LT(accepted, 1000u);
}

TEST(PromtextHostile, RandomBytes) {
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::string text(rng() % 512, '\0');
    for (char& c : text) c = static_cast<char>(rng() % 256);
    ParseResult result = Parse(text);
    if (!result.ok()) {
      EXPECT_TRUE(IsPrintableAscii(result.error->ToString()));
    }
  }
}

}  // namespace
}  // namespace kvip::promtext
