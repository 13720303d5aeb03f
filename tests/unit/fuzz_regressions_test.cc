// Inputs the fuzz targets (fuzz/) found to crash, hang or break an invariant, kept as plain
// unit tests so the fix stays in place without a fuzzing build. Each input lives in
// tests/unit/fixtures/fuzz/<target>/; see fuzz/README.md.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "kube/lease.h"
#include "manifest/manifest.h"

namespace kvip {
namespace {

using ::testing::HasSubstr;

std::string Fixture(const std::string& target, const std::string& name) {
  std::ifstream in(std::string(KVIP_FIXTURES) + "/fuzz/" + target + "/" + name, std::ios::binary);
  EXPECT_TRUE(in) << "missing fixture " << target << "/" << name;
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// yaml-cpp 0.7's LoadAll never returned on "&/," (and longer inputs holding it): the parser
// reported one more empty document per turn and LoadAll collected them until memory ran
// out, so a malformed manifest hung the manifest collector and `upgrade`. Found by
// fuzz_manifest_parse and fuzz_manifest_rewrite.
TEST(FuzzRegressions, ManifestThatYamlCppLoopsOnIsAnError) {
  for (const char* name : {"loadall-endless-documents-minimal", "loadall-endless-documents"}) {
    std::string text = Fixture("manifest_parse", name);
    std::string error;
    EXPECT_FALSE(manifest::ParseManifest(text, "/etc/kubernetes/manifests/kube-vip.yaml", error))
        << name;
    EXPECT_THAT(error, HasSubstr("/etc/kubernetes/manifests/kube-vip.yaml: ")) << name;

    error.clear();
    EXPECT_FALSE(
        manifest::RewriteImage(text, "kube-vip.yaml", "ghcr.io/kube-vip/kube-vip:v1.0.4", error))
        << name;
    EXPECT_FALSE(error.empty()) << name;
  }
}

// A watch ERROR event whose Status code does not fit an int (2054444…4, read as a double)
// was cast to int: undefined behaviour. Found by fuzz_kube_watch_stream.
TEST(FuzzRegressions, WatchErrorWithAHugeStatusCodeReadsAsNoCode) {
  std::string stream = Fixture("kube_watch_stream", "error-status-code-out-of-int-range");
  size_t events = 0;
  for (size_t start = 0; start < stream.size();) {
    size_t end = stream.find('\n', start);
    if (end == std::string::npos) end = stream.size();
    std::string error;
    auto event =
        kube::ParseLeaseWatchEvent(std::string_view(stream).substr(start, end - start), error);
    if (event && event->type == "ERROR") {
      EXPECT_EQ(event->error_code, 0);
    }
    events += event.has_value();
    start = end + 1;
  }
  EXPECT_GT(events, 0U);

  std::string error;
  auto event = kube::ParseLeaseWatchEvent(
      R"({"type":"ERROR","object":{"kind":"Status","code":1e300,"message":"too old"}})", error);
  ASSERT_TRUE(event) << error;
  EXPECT_EQ(event->error_code, 0);
  EXPECT_EQ(event->error_message, "too old");
}

}  // namespace
}  // namespace kvip
