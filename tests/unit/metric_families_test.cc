// The metric contract, declared once: the metric catalogue (common/metric_catalog.h) against
// docs/metrics.md and the README's copy, in both directions (name, type, labels, and the
// collector whose section documents it), the kube-vip clash list against the catalogue, and
// a golden /metrics page built from fixtures.

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "collectors/collector_set.h"
#include "collectors/kubevip_log.h"
#include "collectors/kubevip_scrape.h"
#include "collectors/lease_watch.h"
#include "collectors/manifest.h"
#include "common/metric_catalog.h"
#include "lease_fixture.h"
#include "promtext/parse.h"

namespace kvip {
namespace {

const std::string kRepo = std::string(KVIP_FIXTURES) + "/../../..";

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Row {
  std::string type;
  std::set<std::string> labels;
  std::string source;  // the collector whose section documents it; "exporter" for its own
  bool operator==(const Row&) const = default;
};

// Every row of the catalogue. docs/metrics.md documents the daemon's own ("exporter") and
// the web server's families in one section.
std::map<std::string, Row> CatalogRows() {
  std::map<std::string, Row> rows;
  for (const FamilySpec& spec : kMetricCatalog) {
    Row row{std::string(promtext::TypeName(spec.type)),
            {},
            spec.source == "web" ? "exporter" : std::string(spec.source)};
    for (std::string_view label : spec.labels) row.labels.emplace(label);
    EXPECT_TRUE(rows.emplace(std::string(spec.name), row).second)
        << spec.name << " is declared twice";
  }
  return rows;
}

// The rows of a metrics table in markdown: | `name` | type | `a`, `b` | meaning |, each under
// a section "## ... (`collector` collector, ...)" or "## The exporter itself".
std::map<std::string, Row> DocumentRows(const std::string& text) {
  std::map<std::string, Row> rows;
  std::regex row_re(R"(^\| `((?:kubevip|kvip_exporter)_[a-z0-9_]+)` \| ([a-z]+) \|([^|]*)\|)");
  std::regex label_re("`([a-z_]+)`");
  std::regex section_re(R"(^## .*\(`([a-z_]+)` collector)");
  std::string section;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (line.starts_with("## ")) {
      section = std::regex_search(line, match, section_re) ? match[1].str()
                : line == "## The exporter itself"         ? "exporter"
                                                           : "";
      continue;
    }
    if (!std::regex_search(line, match, row_re)) continue;
    Row row{match[2].str(), {}, section};
    std::string labels = match[3].str();
    for (std::sregex_iterator it(labels.begin(), labels.end(), label_re), end; it != end; ++it)
      row.labels.insert((*it)[1].str());
    rows.emplace(match[1].str(), row);
  }
  return rows;
}

void ExpectSameContract(const std::map<std::string, Row>& tables,
                        const std::map<std::string, Row>& document, const std::string& where) {
  for (const auto& [name, row] : tables) {
    auto documented = document.find(name);
    if (documented == document.end()) {
      ADD_FAILURE() << name << " is in the metric catalogue but not in " << where;
      continue;
    }
    EXPECT_EQ(documented->second.type, row.type) << name << ": type in " << where;
    EXPECT_EQ(documented->second.labels, row.labels) << name << ": labels in " << where;
    EXPECT_EQ(documented->second.source, row.source) << name << ": section in " << where;
  }
  for (const auto& [name, row] : document)
    EXPECT_TRUE(tables.count(name))
        << name << " is in " << where << " but not in the metric catalogue";
}

TEST(MetricFamilies, CatalogMatchesDocsMetricsMdBothWays) {
  auto document = DocumentRows(ReadText(kRepo + "/docs/metrics.md"));
  EXPECT_GE(document.size(), 35u);
  ExpectSameContract(CatalogRows(), document, "docs/metrics.md");
}

TEST(MetricFamilies, CatalogMatchesTheReadmeCopyBothWays) {
  std::string readme = ReadText(kRepo + "/README.md");
  size_t begin = readme.find("<!-- metrics:begin -->");
  size_t end = readme.find("<!-- metrics:end -->");
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  ExpectSameContract(CatalogRows(), DocumentRows(readme.substr(begin, end - begin)), "README.md");
}

TEST(MetricFamilies, TheClashListIsEveryKubevipNameOfTheCatalog) {
  size_t own = 0;
  for (const auto& [name, row] : CatalogRows()) {
    if (name.rfind("kubevip_", 0) != 0) continue;
    ++own;
    EXPECT_TRUE(IsOwnMetricName(name)) << name;
  }
  EXPECT_EQ(own, 47u);
  // ... and nothing else: upstream names re-export freely.
  for (const char* upstream : {"kubevip_go_goroutines", "kubevip_process_cpu_seconds_total",
                               "kvip_exporter_build_info", "kubevip_"})
    EXPECT_FALSE(IsOwnMetricName(upstream)) << upstream;
}

// Families a test fixes: the Lease watch's, from a fixed status at a fixed instant.
class FixedLeaseCollector final : public Collector {
 public:
  std::string_view Name() const override { return "lease_watch"; }
  bool Collect(std::vector<prometheus::MetricFamily>& out) override {
    kube::LeaseWatchStatus status = testing::WatchingLease("k8s-cp1", 1764590000);
    for (auto& family :
         LeaseFamilies(status, "kube-system", "plndr-cp-lock", "k8s-cp1", 1764590002.25))
      out.push_back(std::move(family));
    return true;
  }
};

// The whole page the daemon serves for these inputs (CollectorSet, TextSerializer), with
// the one value no fixture fixes, each collector's duration, set to 0.
std::string GoldenPage() {
  std::vector<CollectorPtr> collectors;
  collectors.push_back(std::make_unique<ManifestCollector>(
      std::string(KVIP_FIXTURES) + "/manifest/kube-vip-generated-v1.0.3.yaml"));
  collectors.push_back(std::make_unique<FixedLeaseCollector>());
  CollectorSet set(std::move(collectors));
  set.AddStatic(MakeFamily(Spec("kvip_exporter_build_info"), 1, {"0.1.0", "golden", "g++"}));
  set.AddStatic(MakeFamily(Spec("kvip_exporter_node_info"), 1, {"k8s-cp1"}));
  std::vector<prometheus::MetricFamily> families = set.Collect();
  for (auto& family : families)
    if (family.name == "kvip_exporter_collector_duration_seconds")
      for (auto& metric : family.metric) metric.gauge.value = 0;
  return prometheus::TextSerializer().Serialize(families);
}

TEST(MetricFamilies, GoldenMetricsPage) {
  const std::string golden_path = std::string(KVIP_FIXTURES) + "/golden/metrics.txt";
  const std::string page = GoldenPage();
  if (std::getenv("KVIP_UPDATE_GOLDEN")) {
    std::ofstream(golden_path) << page;
    GTEST_SKIP() << "wrote " << golden_path;
  }
  EXPECT_EQ(page, ReadText(golden_path))
      << "the /metrics page changed; if that is intended, re-run with KVIP_UPDATE_GOLDEN=1 "
         "and review the diff of tests/unit/fixtures/golden/metrics.txt";
}

}  // namespace
}  // namespace kvip
