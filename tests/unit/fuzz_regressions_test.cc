// Inputs the fuzz targets (fuzz/) found to crash, hang or break an invariant, kept as plain
// unit tests so the fix stays in place without a fuzzing build. Each input lives in
// tests/unit/fixtures/fuzz/<target>/; see fuzz/README.md.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

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

}  // namespace
}  // namespace kvip
