// Inputs the fuzz targets (fuzz/) found to crash, hang or break an invariant, kept as plain
// unit tests so the fix stays in place without a fuzzing build. Each input lives in
// tests/unit/fixtures/fuzz/<target>/; see fuzz/README.md.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "fixture_files.h"
#include "kube/lease.h"
#include "manifest/manifest.h"
#include "ops/upgrade_plan.h"
#include "web/web_config.h"

namespace kvip {
namespace {

using ::testing::HasSubstr;

std::string Fixture(const std::string& target, const std::string& name) {
  return testing::ReadFixture("fuzz/" + target + "/" + name);
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

// A web config header value holding NUL bytes was accepted and would have gone out in every
// response; only CR and LF were refused. Found by fuzz_web_config.
TEST(FuzzRegressions, HeaderValueWithControlCharactersIsRefused) {
  auto result =
      ParseWebConfig(Fixture("web_config", "header-value-with-nul-bytes"), "/etc/kvip/web.yml");
  EXPECT_THAT(result.error, HasSubstr("must be one line of printable text"));
  std::string with_nul("http_server_config:\n  headers:\n    X-Frame-Options: \"de\0ny\"\n", 60);
  EXPECT_THAT(ParseWebConfig(with_nul, "web.yml").error,
              HasSubstr("must be one line of printable text"));
  EXPECT_EQ(ParseWebConfig("http_server_config:\n  headers:\n    Strict-Transport-Security: "
                           "\"max-age=31536000;\tincludeSubDomains\"\n",
                           "web.yml")
                .error,
            "");
}

// A state file timestamp written with 133 digits read back one ulp off after a write and a
// re-read: RapidJSON's default number parsing is not exact. Found by fuzz_manifest_api_json.
TEST(FuzzRegressions, UpgradeStateSurvivesAWriteAndAReread) {
  std::string error;
  auto state = ops::ParseUpgradeState(
      Fixture("manifest_api_json", "state-timestamp-with-133-digits"), "state.json", error);
  ASSERT_TRUE(state) << error;
  auto reread = ops::ParseUpgradeState(ops::SerializeUpgradeState(*state), "state.json", error);
  ASSERT_TRUE(reread) << error;
  EXPECT_EQ(*reread, *state);
}

}  // namespace
}  // namespace kvip
