// lib/manifest: reading the kube-vip static pod manifest, rewriting its image byte for byte,
// durable writes, the Ansible vars edit, and the pure decisions of `upgrade`.

#include "collectors/manifest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/read_file.h"
#include "fixture_files.h"
#include "kubevip/log_lines.h"
#include "manifest/ansible_vars.h"
#include "manifest/durable_file.h"
#include "manifest/image_ref.h"
#include "manifest/manifest.h"
#include "ops/cluster_state.h"
#include "ops/recover_plan.h"
#include "ops/upgrade_plan.h"

namespace kvip::manifest {
namespace {

// The plans built on the manifest (lib/ops).
using namespace ::kvip::ops;  // NOLINT(google-build-using-namespace)

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kFixtures = std::string(KVIP_FIXTURES) + "/manifest/";
// Written by `kube-vip-v1.0.3 manifest pod --interface eno1 --address 10.10.30.10
// --controlplane --arp --leaderElection --enableLoadBalancer=false`, unedited.
const std::string kGenerated = kFixtures + "kube-vip-generated-v1.0.3.yaml";
const std::string kDigest =
    "sha256:2bacf83ab993990d5a438687e5696eac006e1864e10a0e40b92c6ef5b3ec3030";

std::string ReplaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size())
    text.replace(at, from.size(), to);
  return text;
}

// A fresh directory under $TMPDIR, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "kvip-manifest-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// --- image references ---------------------------------------------------------------

TEST(ImageRef, SplitsRepositoryTagAndDigest) {
  std::string error;
  auto ref = ParseImageRef("ghcr.io/kube-vip/kube-vip:v1.0.3", error);
  ASSERT_TRUE(ref) << error;
  EXPECT_EQ(ref->repository, "ghcr.io/kube-vip/kube-vip");
  EXPECT_EQ(ref->tag, "v1.0.3");
  EXPECT_EQ(ref->digest, "");

  ref = ParseImageRef("ghcr.io/kube-vip/kube-vip:v1.0.4@" + kDigest, error);
  ASSERT_TRUE(ref) << error;
  EXPECT_EQ(ref->tag, "v1.0.4");
  EXPECT_EQ(ref->digest, kDigest);
  EXPECT_EQ(ref->ToString(), "ghcr.io/kube-vip/kube-vip:v1.0.4@" + kDigest);

  ref = ParseImageRef("ghcr.io/kube-vip/kube-vip@" + kDigest, error);
  ASSERT_TRUE(ref) << error;
  EXPECT_EQ(ref->tag, "");
  EXPECT_EQ(ref->repository, "ghcr.io/kube-vip/kube-vip");
}

TEST(ImageRef, RegistryPortIsNotATag) {
  std::string error;
  auto ref = ParseImageRef("registry.local:5000/kube-vip/kube-vip", error);
  ASSERT_TRUE(ref) << error;
  EXPECT_EQ(ref->repository, "registry.local:5000/kube-vip/kube-vip");
  EXPECT_EQ(ref->tag, "");
  ref = ParseImageRef("registry.local:5000/kube-vip:v1.0.4", error);
  ASSERT_TRUE(ref) << error;
  EXPECT_EQ(ref->repository, "registry.local:5000/kube-vip");
  EXPECT_EQ(ref->tag, "v1.0.4");
  EXPECT_EQ(ref->WithVersion("v1.0.5").ToString(), "registry.local:5000/kube-vip:v1.0.5");
}

TEST(ImageRef, RejectsMalformed) {
  std::string error;
  EXPECT_FALSE(ParseImageRef("", error));
  EXPECT_FALSE(ParseImageRef("ghcr.io/kube-vip/kube-vip:", error));
  EXPECT_THAT(error, HasSubstr("tag"));
  EXPECT_FALSE(ParseImageRef("ghcr.io/kube-vip/kube-vip:v1 0", error));
  EXPECT_FALSE(ParseImageRef("ghcr.io/kube-vip/kube-vip@sha256:abc", error));
  EXPECT_THAT(error, HasSubstr("digest"));
  EXPECT_FALSE(ParseImageRef("ghcr.io/kube-vip/kube-vip@sha256:" + std::string(64, 'A'), error));
  EXPECT_FALSE(ParseImageRef("ghcr.io/kube vip:v1", error));
  EXPECT_FALSE(ParseImageRef(":v1", error));
}

// --- reading the manifest -----------------------------------------------------------

TEST(ReadManifest, GeneratedByKubeVip) {
  std::string error;
  auto m = ReadManifest(kGenerated, error);
  ASSERT_TRUE(m) << error;
  EXPECT_EQ(m->pod_name, "kube-vip");
  EXPECT_EQ(m->pod_namespace, "kube-system");
  EXPECT_EQ(m->container_name, "kube-vip");
  EXPECT_EQ(m->image, "ghcr.io/kube-vip/kube-vip:v1.0.3");
  EXPECT_EQ(m->image_ref.tag, "v1.0.3");
  EXPECT_EQ(m->VipAddress(), "10.10.30.10");
  EXPECT_EQ(m->VipInterface(), "eno1");
  EXPECT_EQ(m->LeaseName(), "plndr-cp-lock");
  EXPECT_EQ(m->LeaseNamespace(), "kube-system");
  EXPECT_EQ(m->MetricsPort(), 2112);
  EXPECT_EQ(m->MetricsUrl(), "http://127.0.0.1:2112/metrics");
  EXPECT_EQ(m->ApiServerPort(), 6443);
  EXPECT_EQ(m->LeaseDuration(), std::chrono::seconds(5));
  EXPECT_EQ(m->env.count("vip_nodename"), 0u) << "valueFrom entries have no literal value";
}

TEST(ReadManifest, HandEditedFlowEntriesQuotesAndDeprecatedNames) {
  std::string error;
  auto m = ReadManifest(kFixtures + "kube-vip-hand-edited.yaml", error);
  ASSERT_TRUE(m) << error;
  EXPECT_EQ(m->VipAddress(), "10.10.30.10");
  EXPECT_EQ(m->VipInterface(), "eno1");
  EXPECT_EQ(m->MetricsUrl(), "http://127.0.0.1:2113/metrics");
  EXPECT_EQ(m->ApiServerPort(), 8443);
  EXPECT_EQ(m->LeaseDuration(), std::chrono::seconds(15));
}

TEST(ReadManifest, PicksTheContainerNamedKubeVip) {
  std::string error;
  auto m = ReadManifest(kFixtures + "two-containers.yaml", error);
  ASSERT_TRUE(m) << error;
  EXPECT_EQ(m->container_name, "kube-vip");
  EXPECT_EQ(m->VipAddress(), "10.10.30.10");
}

TEST(ReadManifest, MetricsUrlForSpecificHosts) {
  KubeVipManifest m;
  m.env["prometheus_server"] = "10.10.30.11:9000";
  EXPECT_EQ(m.MetricsUrl(), "http://10.10.30.11:9000/metrics");
  m.env["prometheus_server"] = "[::]:2112";
  EXPECT_EQ(m.MetricsUrl(), "http://127.0.0.1:2112/metrics");
  m.env["prometheus_server"] = "[fd00::11]:2112";
  EXPECT_EQ(m.MetricsUrl(), "http://[fd00::11]:2112/metrics");
  m.env["prometheus_server"] = "2112";
  EXPECT_EQ(m.MetricsUrl(), "");
  EXPECT_EQ(m.MetricsPort(), std::nullopt);
}

TEST(ReadManifest, MalformedYamlNamesFileAndPosition) {
  std::string error;
  const std::string path = kFixtures + "malformed.yaml";
  EXPECT_FALSE(ReadManifest(path, error));
  EXPECT_THAT(error, HasSubstr(path + ": invalid YAML at line 7"));
}

TEST(ReadManifest, StructuralErrorsAreSpecific) {
  std::string error;
  EXPECT_FALSE(ReadManifest(kFixtures + "no-containers.yaml", error));
  EXPECT_THAT(error, HasSubstr("no-containers.yaml: no spec.containers list"));

  EXPECT_FALSE(ParseManifest("", "m.yaml", error));
  EXPECT_EQ(error, "m.yaml: expected one YAML document (a Pod), found 0");

  EXPECT_FALSE(ParseManifest("kind: Deployment\nspec: {}\n", "m.yaml", error));
  EXPECT_EQ(error, "m.yaml: kind is \"Deployment\", expected Pod");

  EXPECT_FALSE(
      ParseManifest("spec:\n  containers:\n  - {name: a, image: x:1}\n  - {name: b, image: y:1}\n",
                    "m.yaml", error));
  EXPECT_EQ(error, "m.yaml: 2 containers in spec.containers and none is named \"kube-vip\"");

  EXPECT_FALSE(ParseManifest("spec:\n  containers:\n  - name: kube-vip\n", "m.yaml", error));
  EXPECT_EQ(error, "m.yaml: container \"kube-vip\" has no image");

  EXPECT_FALSE(ParseManifest("spec:\n  containers:\n  - {name: kube-vip, image: 'a:b:'}\n",
                             "m.yaml", error));
  EXPECT_THAT(error, HasSubstr("m.yaml: image \"a:b:\""));

  EXPECT_FALSE(ParseManifest("spec:\n  containers: {name: kube-vip}\n", "m.yaml", error));
  EXPECT_EQ(error, "m.yaml: no spec.containers list");

  EXPECT_FALSE(ParseManifest("a: 1\n---\nb: 2\n", "m.yaml", error));
  EXPECT_THAT(error, HasSubstr("found 2"));

  EXPECT_FALSE(ReadManifest("/nonexistent/kube-vip.yaml", error));
  EXPECT_EQ(error, "/nonexistent/kube-vip.yaml: cannot read: No such file or directory");
}

// --- rewriting the image ------------------------------------------------------------

// Rewrites `text`'s kube-vip image to v1.0.4: it must succeed and change nothing but `from`,
// which becomes `to`. Returns the rewritten text (nullopt, a failed test, when refused).
std::optional<std::string> RewriteToV104(const std::string& text, const std::string& name,
                                         const std::string& from, const std::string& to) {
  std::string error;
  auto rewritten = RewriteImage(text, name, "ghcr.io/kube-vip/kube-vip:v1.0.4", error);
  EXPECT_TRUE(rewritten) << error;
  if (rewritten) {
    EXPECT_EQ(*rewritten, ReplaceAll(text, from, to));
  }
  return rewritten;
}

TEST(RewriteImage, GeneratedManifestChangesOnlyTheTag) {
  const std::string original = testing::ReadFile(kGenerated);
  auto rewritten = RewriteToV104(original, kGenerated, "kube-vip:v1.0.3", "kube-vip:v1.0.4");
  ASSERT_TRUE(rewritten);
  EXPECT_EQ(rewritten->size(), original.size());
  std::string error;
  auto back = RewriteImage(*rewritten, kGenerated, "ghcr.io/kube-vip/kube-vip:v1.0.3", error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, original);
}

TEST(RewriteImage, KeepsQuotesAndComments) {
  const std::string path = kFixtures + "kube-vip-hand-edited.yaml";
  RewriteToV104(testing::ReadFile(path), path, "\"ghcr.io/kube-vip/kube-vip:v1.0.3\"  # pinned",
                "\"ghcr.io/kube-vip/kube-vip:v1.0.4\"  # pinned");
}

TEST(RewriteImage, TouchesOnlyTheKubeVipContainer) {
  const std::string path = kFixtures + "two-containers.yaml";
  auto rewritten =
      RewriteToV104(testing::ReadFile(path), path, "'ghcr.io/kube-vip/kube-vip:v1.0.3'",
                    "'ghcr.io/kube-vip/kube-vip:v1.0.4'");
  ASSERT_TRUE(rewritten);
  std::string error;
  auto m = ParseManifest(*rewritten, path, error);
  ASSERT_TRUE(m) << error;
  EXPECT_EQ(m->image, "ghcr.io/kube-vip/kube-vip:v1.0.4");
}

TEST(RewriteImage, KeepsCrlfLineEnds) {
  const std::string crlf = ReplaceAll(testing::ReadFile(kGenerated), "\n", "\r\n");
  RewriteToV104(crlf, "crlf.yaml", "kube-vip:v1.0.3", "kube-vip:v1.0.4");
}

TEST(RewriteImage, ByteOrderMarkAndMultiByteCommentsBeforeTheImage) {
  const std::string text =
      "\xEF\xBB\xBF# é ü — comment\nspec:\n  containers:\n  - name: kube-vip  # ñ\n"
      "    image: ghcr.io/kube-vip/kube-vip:v1.0.3 # ☃\n";
  RewriteToV104(text, "bom.yaml", ":v1.0.3", ":v1.0.4");
}

TEST(RewriteImage, PinsAndUnpinsDigests) {
  const std::string original = testing::ReadFile(kGenerated);
  const std::string pinned = "ghcr.io/kube-vip/kube-vip:v1.0.4@" + kDigest;
  std::string error;
  auto rewritten = RewriteImage(original, kGenerated, pinned, error);
  ASSERT_TRUE(rewritten) << error;
  auto m = ParseManifest(*rewritten, kGenerated, error);
  ASSERT_TRUE(m) << error;
  EXPECT_EQ(m->image_ref.digest, kDigest);
  auto back = RewriteImage(*rewritten, kGenerated, "ghcr.io/kube-vip/kube-vip:v1.0.3", error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(*back, original);
}

TEST(RewriteImage, FlowStyleContainers) {
  const std::string text =
      "spec: {containers: [{name: kube-vip, image: ghcr.io/kube-vip/kube-vip:v1.0.3, args: "
      "[manager]}]}\n";
  RewriteToV104(text, "flow.yaml", ":v1.0.3", ":v1.0.4");
}

TEST(RewriteImage, RefusesWhatItCannotEditLiterally) {
  std::string error;
  const std::string folded =
      "spec:\n  containers:\n  - name: kube-vip\n    image: >-\n      "
      "ghcr.io/kube-vip/kube-vip:v1.0.3\n";
  EXPECT_FALSE(RewriteImage(folded, "folded.yaml", "ghcr.io/kube-vip/kube-vip:v1.0.4", error));
  EXPECT_THAT(error, HasSubstr("folded.yaml: the image of container \"kube-vip\""));
  EXPECT_THAT(error, HasSubstr("edit it by hand"));

  const std::string escaped =
      "spec:\n  containers:\n  - name: kube-vip\n    image: "
      "\"ghcr.io\\x2fkube-vip/kube-vip:v1.0.3\"\n";
  EXPECT_FALSE(RewriteImage(escaped, "escaped.yaml", "ghcr.io/kube-vip/kube-vip:v1.0.4", error));

  EXPECT_FALSE(
      RewriteImage(testing::ReadFile(kGenerated), kGenerated, "ghcr.io/kube-vip/kube-vip:", error));
  EXPECT_THAT(error, HasSubstr("new image"));

  EXPECT_FALSE(RewriteImage(testing::ReadFile(kFixtures + "malformed.yaml"), "malformed.yaml",
                            "ghcr.io/kube-vip/kube-vip:v1.0.4", error));
  EXPECT_THAT(error, HasSubstr("malformed.yaml: invalid YAML"));
}

// --- durable files ------------------------------------------------------------------

TEST(DurableFile, AtomicWriteKeepsModeAndLeavesNoTemp) {
  TempDir dir;
  const std::string path = dir / "kube-vip.yaml";
  std::string error;
  ASSERT_TRUE(WriteFileAtomically(path, "one\n", {0600, getuid(), getgid()}, error)) << error;
  ASSERT_TRUE(WriteFileAtomically(path, "two\n", {0640, getuid(), getgid()}, error)) << error;
  EXPECT_EQ(testing::ReadFile(path), "two\n");
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_FALSE(std::filesystem::exists(TempPathFor(path)));
  EXPECT_EQ(TempPathFor(path), dir / ".kube-vip.yaml.kvip-tmp");
}

TEST(DurableFile, CopyKeepsSourceMode) {
  TempDir dir;
  std::string error;
  ASSERT_TRUE(WriteFileAtomically(dir / "a", "content", {0604, getuid(), getgid()}, error));
  ASSERT_TRUE(CopyFileDurably(dir / "a", dir / "b", error)) << error;
  EXPECT_EQ(testing::ReadFile(dir / "b"), "content");
  auto ownership = OwnershipOf(dir / "b", error);
  ASSERT_TRUE(ownership) << error;
  EXPECT_EQ(ownership->mode, 0604u);
  EXPECT_EQ(ownership->uid, getuid());
}

TEST(DurableFile, ErrorsNameThePath) {
  std::string error;
  EXPECT_FALSE(WriteFileAtomically("/nonexistent-dir/x.yaml", "x", {}, error));
  EXPECT_EQ(error, "/nonexistent-dir/.x.yaml.kvip-tmp: cannot create: No such file or directory");
  EXPECT_FALSE(CopyFileDurably("/nonexistent-dir/x.yaml", "/tmp/y", error));
  EXPECT_THAT(error, HasSubstr("/nonexistent-dir/x.yaml: cannot stat"));
  TempDir dir;
  ASSERT_TRUE(
      WriteFileAtomically(dir / "big", std::string(100, 'x'), {0600, getuid(), getgid()}, error));
  std::string out;
  EXPECT_FALSE(ReadFileBounded(dir / "big", out, 10, error));
  EXPECT_EQ(error, dir / "big" + ": larger than 10 bytes");
  EXPECT_TRUE(FreeBytes(dir.path(), error).value_or(0) > 0);
}

// --- the manifest collector ---------------------------------------------------------

std::string InfoLine(ManifestCollector& collector, bool& ok) {
  std::vector<prometheus::MetricFamily> families;
  ok = collector.Collect(families);
  if (families.empty()) return "";
  const auto& family = families.front();
  std::string line = family.name;
  for (const auto& label : family.metric.at(0).label) line += " " + label.name + "=" + label.value;
  return line;
}

TEST(ManifestCollector, FollowsTheFileAsItChanges) {
  TempDir dir;
  const std::string path = dir / "kube-vip.yaml";
  ManifestCollector collector(path);
  bool ok = true;
  EXPECT_EQ(InfoLine(collector, ok), "");
  EXPECT_FALSE(ok) << "no manifest yet";

  std::string error;
  const std::string generated = testing::ReadFile(kGenerated);
  ASSERT_TRUE(WriteFileAtomically(path, generated, {0600, getuid(), getgid()}, error)) << error;
  EXPECT_EQ(InfoLine(collector, ok),
            "kubevip_manifest_info image=ghcr.io/kube-vip/kube-vip:v1.0.3 version=v1.0.3");
  EXPECT_TRUE(ok);

  // Same size, a new inode: the rename of an upgrade.
  ASSERT_TRUE(WriteFileAtomically(path, ReplaceAll(generated, ":v1.0.3", ":v1.0.4"),
                                  {0600, getuid(), getgid()}, error));
  EXPECT_EQ(InfoLine(collector, ok),
            "kubevip_manifest_info image=ghcr.io/kube-vip/kube-vip:v1.0.4 version=v1.0.4");

  ASSERT_TRUE(WriteFileAtomically(path, "spec: [\n", {0600, getuid(), getgid()}, error));
  EXPECT_EQ(InfoLine(collector, ok), "");
  EXPECT_FALSE(ok);
  EXPECT_EQ(InfoLine(collector, ok), "");
  EXPECT_FALSE(ok) << "still broken on the next scrape without re-reading";
}

// --- Ansible group vars -------------------------------------------------------------

TEST(AnsibleVars, SetsTopLevelValueKeepingQuotesAndComments) {
  const std::string path = kFixtures + "group_vars_all.yml";
  const std::string original = testing::ReadFile(path);
  std::string error;
  auto updated = SetAnsibleVar(original, path, "kubevip_version", "v1.0.4", error);
  ASSERT_TRUE(updated) << error;
  EXPECT_EQ(*updated,
            ReplaceAll(original, "kubevip_version: \"v1.0.3\"", "kubevip_version: \"v1.0.4\""));
  EXPECT_THAT(*updated, HasSubstr("kubevip_version: not-this-one"));
}

TEST(AnsibleVars, PlainAndSingleQuotedValuesAndCrlf) {
  std::string error;
  auto plain = SetAnsibleVar("a: 1\nkubevip_version: v1.0.3 # note\n", "f", "kubevip_version",
                             "v1.0.4", error);
  ASSERT_TRUE(plain) << error;
  EXPECT_EQ(*plain, "a: 1\nkubevip_version: v1.0.4 # note\n");
  auto single = SetAnsibleVar("kubevip_version:   'v1.0.3'\r\nb: 2\r\n", "f", "kubevip_version",
                              "v1.0.4", error);
  ASSERT_TRUE(single) << error;
  EXPECT_EQ(*single, "kubevip_version:   'v1.0.4'\r\nb: 2\r\n");
}

TEST(AnsibleVars, RefusesMissingDuplicateAndComplexValues) {
  std::string error;
  EXPECT_FALSE(SetAnsibleVar("a: 1\n", "all.yml", "kubevip_version", "v1.0.4", error));
  EXPECT_EQ(error, "all.yml: no top-level \"kubevip_version\" key");
  EXPECT_FALSE(
      SetAnsibleVar("kubevip_version: [a]\n", "all.yml", "kubevip_version", "v1.0.4", error));
  EXPECT_FALSE(SetAnsibleVar("kubevip_version: v1\nkubevip_version: v2\n", "all.yml",
                             "kubevip_version", "v1.0.4", error));
  EXPECT_FALSE(
      SetAnsibleVar("kubevip_version: |\n  v1\n", "all.yml", "kubevip_version", "v1.0.4", error));
  EXPECT_FALSE(SetAnsibleVar("kubevip_version: v1\n", "all.yml", "kubevip_version", "a\"b", error));
  EXPECT_FALSE(
      SetAnsibleVar("kubevip_version: [\n", "all.yml", "kubevip_version", "v1.0.4", error));
  EXPECT_THAT(error, HasSubstr("all.yml: invalid YAML"));
}

// --- API objects --------------------------------------------------------------------

TEST(ClusterState, ParsesRfc3339) {
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z"), 0.0);
  EXPECT_EQ(ParseRfc3339("2026-11-25T15:42:35Z"), 1795621355.0);
  EXPECT_NEAR(ParseRfc3339("2026-11-25T15:42:35.855619Z").value(), 1795621355.855619, 1e-6);
  EXPECT_EQ(ParseRfc3339("2026-11-25T16:42:35+01:00"), 1795621355.0);
  EXPECT_EQ(ParseRfc3339("2026-11-25 15:42:35"), std::nullopt);
  EXPECT_EQ(ParseRfc3339("2026-11-25T15:42:35"), std::nullopt);
  EXPECT_EQ(ParseRfc3339(""), std::nullopt);
}

TEST(ClusterState, MirrorPodsFromATestbedPodList) {
  std::string error;
  auto pods = ParseKubeVipPods(testing::ReadFile(kFixtures + "podlist-testbed.json"), "kube-vip",
                               "kube-vip", error);
  ASSERT_TRUE(pods) << error;
  ASSERT_EQ(pods->size(), 3u);
  const KubeVipPod& cp1 = (*pods)[0];
  EXPECT_EQ(cp1.node, "k8s-cp1");
  EXPECT_EQ(cp1.name, "kube-vip-k8s-cp1");
  EXPECT_EQ(cp1.config_hash, "d39f6c90c3c27a6bd9d912c435f15416");
  EXPECT_EQ(cp1.host_ip, "10.10.30.11");
  EXPECT_EQ(cp1.image, "ghcr.io/kube-vip/kube-vip:v1.0.3");
  EXPECT_FALSE(cp1.running);
  EXPECT_FALSE(cp1.ready);
  EXPECT_EQ(cp1.restart_count, 3);
  EXPECT_EQ(cp1.waiting_reason, "Terminated: Error");
  EXPECT_EQ(cp1.last_run_started_at, ParseRfc3339("2026-11-25T15:40:40Z"))
      << "the current, ended run";
  EXPECT_EQ(cp1.last_exit_code, 2);
  const KubeVipPod& cp2 = (*pods)[1];
  EXPECT_TRUE(cp2.running);
  EXPECT_TRUE(cp2.ready);
  EXPECT_EQ(cp2.started_at, ParseRfc3339("2026-11-25T15:41:58Z"));
  EXPECT_EQ(cp2.status_image, "ghcr.io/kube-vip/kube-vip:v1.0.3");
  EXPECT_GT(cp2.last_run_started_at, 0) << "lastState.terminated";
  EXPECT_LT(cp2.last_run_started_at, cp2.started_at);

  EXPECT_FALSE(ParseKubeVipPods("{}", "kube-vip", "kube-vip", error));
  EXPECT_THAT(error, HasSubstr("not a Kubernetes PodList"));
  auto none = ParseKubeVipPods(testing::ReadFile(kFixtures + "podlist-testbed.json"), "other",
                               "kube-vip", error);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(ClusterState, LeaseFromTheTestbed) {
  std::string error;
  auto lease = ParseLease(testing::ReadFile(kFixtures + "lease-testbed.json"), error);
  ASSERT_TRUE(lease) << error;
  EXPECT_EQ(lease->holder, "k8s-cp2");
  EXPECT_EQ(lease->duration_seconds, 5);
  EXPECT_EQ(lease->transitions, 9);
  EXPECT_EQ(lease->resource_version, "965");
  EXPECT_TRUE(lease->FreshAt(lease->renew_time + 4.9));
  // One expiry rule with the daemon (kube::LeaseExpiredAt): still held at renew + duration.
  EXPECT_TRUE(lease->FreshAt(lease->renew_time + 5.0));
  EXPECT_FALSE(lease->FreshAt(lease->renew_time + 5.001));
  EXPECT_FALSE(ParseLease("[1]", error));
  EXPECT_FALSE(ParseLease("{\"spec\":{\"renewTime\":\"yesterday\"}}", error));
  EXPECT_THAT(error, HasSubstr("spec.renewTime \"yesterday\" is not an RFC 3339 time"));
}

TEST(ClusterState, CountsBothConflictWordings) {
  const std::string log =
      "2026-11-25T15:00:00.1Z stderr F E1125 15:00:00.1 1 leaderelection.go:429] Failed to update "
      "lock "
      "optimistically: Operation cannot be fulfilled, falling back to slow path\n"
      "2026-11-25T15:00:01.1Z stderr F E1125 15:00:01.1 1 leaderelection.go:436] \"Failed to "
      "update lease "
      "optimistically, falling back to slow path\" err=\"...\"\n"
      "2026-11-25T15:00:02.1Z stderr F I1125 15:00:02.1 1 leaderelection.go:271] successfully "
      "acquired lease\n";
  EXPECT_EQ(kubevip::CountLockConflictLines(log), 2);
  EXPECT_EQ(kubevip::CountLockConflictLines(""), 0);
}

// --- upgrade decisions --------------------------------------------------------------

TEST(UpgradePlan, BackupGoesNextToTheManifestsDirectory) {
  EXPECT_EQ(BackupPathFor("/etc/kubernetes/manifests/kube-vip.yaml", "v1.0.3"),
            "/etc/kubernetes/kube-vip.yaml.v1.0.3.bak");
  EXPECT_EQ(
      BackupPathFor("/srv/node/etc/kubernetes/manifests/kube-vip.yaml", "v1.0.3", "/mnt/backup"),
      "/mnt/backup/kube-vip.yaml.v1.0.3.bak");
  EXPECT_EQ(BackupPathFor("/manifests/kube-vip.yaml", ""), "/kube-vip.yaml.untagged.bak");
}

TEST(UpgradePlan, PullsIntoTheK8sIoNamespaceWithAnArgv) {
  EXPECT_THAT(PullArgv(RuntimeCli::kCtr, "/run/containerd/containerd.sock",
                       "ghcr.io/kube-vip/kube-vip:v1.0.4"),
              ElementsAre("ctr", "--address", "/run/containerd/containerd.sock", "--namespace",
                          "k8s.io", "images", "pull", "ghcr.io/kube-vip/kube-vip:v1.0.4"));
  EXPECT_THAT(
      PullArgv(RuntimeCli::kCrictl, "unix:///run/containerd/containerd.sock", "img:v1"),
      ElementsAre("crictl", "--runtime-endpoint", "unix:///run/containerd/containerd.sock",
                  "--image-endpoint", "unix:///run/containerd/containerd.sock", "pull", "img:v1"));
}

TEST(UpgradePlan, StateFileRoundTrip) {
  UpgradeState state;
  state.manifest_path = "/etc/kubernetes/manifests/kube-vip.yaml";
  state.node = "k8s-cp1";
  state.from_image = "ghcr.io/kube-vip/kube-vip:v1.0.3";
  state.to_image = "ghcr.io/kube-vip/kube-vip:v1.0.4";
  state.backup_path = "/etc/kubernetes/kube-vip.yaml.v1.0.3.bak";
  state.step = UpgradeStep::kWaiting;
  state.was_leader = true;
  state.started_at = 1795621355.5;
  state.updated_at = 1795621360.25;
  state.rewritten_at = 1795621358.125;
  state.failure = "kube-vip's \"metrics\" did not answer";
  std::string error;
  auto parsed = ParseUpgradeState(SerializeUpgradeState(state), "state.json", error);
  ASSERT_TRUE(parsed) << error;
  EXPECT_EQ(*parsed, state);

  EXPECT_FALSE(ParseUpgradeState("{\"version\":1", "state.json", error));
  EXPECT_THAT(error, HasSubstr("state.json: not a JSON object"));
  EXPECT_FALSE(ParseUpgradeState("{\"version\":2}", "state.json", error));
  EXPECT_THAT(error, HasSubstr("unknown state file version"));
  EXPECT_FALSE(ParseUpgradeState("{\"version\":1,\"manifest\":\"m\"}", "state.json", error));
  EXPECT_THAT(error, HasSubstr("missing node, from_image"));
  std::string bad_step = SerializeUpgradeState(state);
  bad_step.replace(bad_step.find("\"waiting\""), 9, "\"sideways\"");
  EXPECT_FALSE(ParseUpgradeState(bad_step, "state.json", error));
  EXPECT_THAT(error, HasSubstr("unknown step \"sideways\""));
}

class ResumeTest : public ::testing::Test {
 protected:
  const std::string manifest_ = "/etc/kubernetes/manifests/kube-vip.yaml";
  const std::string old_ = "ghcr.io/kube-vip/kube-vip:v1.0.3";
  const std::string new_ = "ghcr.io/kube-vip/kube-vip:v1.0.4";

  UpgradeState At(UpgradeStep step) const {
    UpgradeState s;
    s.manifest_path = manifest_;
    s.from_image = old_;
    s.to_image = new_;
    s.backup_path = "/etc/kubernetes/kube-vip.yaml.v1.0.3.bak";
    s.step = step;
    return s;
  }
  ResumeAction Decide(std::optional<UpgradeState> state, const std::string& current,
                      const std::string& target, bool rollback = false) const {
    return DecideResume(state, "/var/lib/kvip-exporter/upgrade-state.json", manifest_, current,
                        target, rollback)
        .action;
  }
};

TEST_F(ResumeTest, FreshWithoutStateOrAfterATerminalOne) {
  using enum ResumeAction;
  EXPECT_EQ(Decide(std::nullopt, old_, new_), kStartFresh);
  EXPECT_EQ(Decide(At(UpgradeStep::kDone), new_, "ghcr.io/kube-vip/kube-vip:v1.0.5"), kStartFresh);
  EXPECT_EQ(Decide(At(UpgradeStep::kRolledBack), old_, new_), kStartFresh);
  EXPECT_EQ(Decide(std::nullopt, old_, "", true), kRefuse);
}

TEST_F(ResumeTest, CrashBeforeTheRewriteResumesAtThePull) {
  using enum ResumeAction;
  EXPECT_EQ(Decide(At(UpgradeStep::kBackedUp), old_, new_), kContinueFromPull);
  EXPECT_EQ(Decide(At(UpgradeStep::kPulled), old_, new_), kContinueFromPull);
  EXPECT_EQ(Decide(At(UpgradeStep::kRewriting), old_, new_), kContinueFromPull);
  // The rename went through just before the crash.
  EXPECT_EQ(Decide(At(UpgradeStep::kRewriting), new_, new_), kContinueWaiting);
  EXPECT_EQ(Decide(At(UpgradeStep::kPulled), old_, ""), kContinueFromPull) << "--to may be omitted";
}

TEST_F(ResumeTest, CrashWhileWaitingResumesTheWaits) {
  using enum ResumeAction;
  EXPECT_EQ(Decide(At(UpgradeStep::kWaiting), new_, new_), kContinueWaiting);
  EXPECT_EQ(Decide(At(UpgradeStep::kWaiting), old_, new_), kRefuse);
  EXPECT_EQ(Decide(At(UpgradeStep::kWaiting), old_, "", true), kRollBack);
}

TEST_F(ResumeTest, RollbackFinishesOrRestores) {
  using enum ResumeAction;
  EXPECT_EQ(Decide(At(UpgradeStep::kRollingBack), new_, new_), kRollBack);
  EXPECT_EQ(Decide(At(UpgradeStep::kRollingBack), old_, new_), kRollBack)
      << "still wait for recovery";
  EXPECT_EQ(Decide(At(UpgradeStep::kWaiting), new_, "", true), kRollBack);
  EXPECT_EQ(Decide(At(UpgradeStep::kPulled), old_, "", true), kMarkRolledBack);
}

// The rollout's --rollback: a finished upgrade is undone from its backup while the manifest
// still runs what it installed; asked again, it is done; anything else is refused.
TEST_F(ResumeTest, RollbackUndoesAFinishedUpgradeOnce) {
  using enum ResumeAction;
  EXPECT_EQ(Decide(At(UpgradeStep::kDone), new_, "", true), kRollBack);
  EXPECT_EQ(Decide(At(UpgradeStep::kRolledBack), old_, "", true), kAlreadyRolledBack);
  EXPECT_EQ(Decide(At(UpgradeStep::kDone), old_, "", true), kRefuse) << "changed by hand since";
  EXPECT_EQ(Decide(At(UpgradeStep::kRolledBack), new_, "", true), kRefuse);
  auto other = At(UpgradeStep::kDone);
  other.manifest_path = "/srv/other/kube-vip.yaml";
  EXPECT_EQ(DecideResume(other, "/state.json", manifest_, new_, "", true).action, kRefuse);
}

TEST_F(ResumeTest, NeverGuesses) {
  using enum ResumeAction;
  EXPECT_EQ(Decide(At(UpgradeStep::kWaiting), "ghcr.io/kube-vip/kube-vip:v0.9.0", new_), kRefuse);
  EXPECT_EQ(Decide(At(UpgradeStep::kPulled), old_, "ghcr.io/kube-vip/kube-vip:v1.0.5"), kRefuse);
  auto other = At(UpgradeStep::kPulled);
  other.manifest_path = "/srv/other/kube-vip.yaml";
  auto decision = DecideResume(other, "/state.json", manifest_, old_, new_, false);
  EXPECT_EQ(decision.action, kRefuse);
  EXPECT_THAT(decision.reason, HasSubstr("--kubevip.manifest /srv/other/kube-vip.yaml"));
  decision = DecideResume(At(UpgradeStep::kPulled), "/state.json", manifest_, old_,
                          "ghcr.io/kube-vip/kube-vip:v1.0.5", false);
  EXPECT_THAT(decision.reason, HasSubstr("recorded in /state.json; re-run with --to for " + new_));
}

TEST(UpgradePlan, LeaderLastGuard) {
  auto pod = [](std::string node, std::string image) {
    KubeVipPod p;
    p.node = std::move(node);
    p.image = std::move(image);
    return p;
  };
  const std::string v3 = "ghcr.io/kube-vip/kube-vip:v1.0.3",
                    v4 = "ghcr.io/kube-vip/kube-vip:v1.0.4";
  std::vector<KubeVipPod> pods{pod("k8s-cp1", v3), pod("k8s-cp2", v3), pod("k8s-cp3", v3)};

  auto follower = CheckLeaderLast("k8s-cp1", "k8s-cp3", pods, v4);
  EXPECT_FALSE(follower.this_node_leads);
  EXPECT_FALSE(follower.Refuses());

  auto leader = CheckLeaderLast("k8s-cp3", "k8s-cp3", pods, v4);
  EXPECT_TRUE(leader.Refuses());
  EXPECT_THAT(leader.nodes_first, ElementsAre("k8s-cp1", "k8s-cp2"));

  pods[0].image = v4;
  pods[1].image = v4;
  EXPECT_FALSE(CheckLeaderLast("k8s-cp3", "k8s-cp3", pods, v4).Refuses());
  EXPECT_TRUE(CheckLeaderLast("k8s-cp3", "k8s-cp3", pods, v4).this_node_leads);
}

// --- recover: the stale-lease guard -------------------------------------------------

// Three nodes, none holding the VIP for 120 s, the lease unrenewed for 100 s.
StaleLeaseFacts StaleAndSafe() {
  StaleLeaseFacts facts;
  facts.now = 1000;
  facts.lease_present = true;
  facts.lease.holder = "k8s-cp3";
  facts.lease.renew_time = 900;
  facts.lease.duration_seconds = 5;
  facts.kube_vip_nodes = {"k8s-cp1", "k8s-cp2", "k8s-cp3"};
  for (const char* node : {"k8s-cp1", "k8s-cp2", "k8s-cp3"}) {
    ExporterView e;
    e.url = std::string("http://") + node + ":9112/metrics";
    e.up = true;
    e.node = node;
    e.vip_bound = false;
    e.vip_last_change = 880;
    facts.exporters.push_back(e);
  }
  return facts;
}

std::vector<std::string> Blocking(const StaleLeaseDecision& d) {
  std::vector<std::string> out;
  for (const auto& f : d.findings)
    if (f.blocks) out.push_back(f.text);
  return out;
}

TEST(StaleLease, DeletesWhenNobodyHasHeldTheVipForLongerThanTheLease) {
  StaleLeaseDecision d = DecideStaleLease(StaleAndSafe());
  EXPECT_TRUE(d.stale);
  EXPECT_TRUE(d.delete_lease);
  EXPECT_TRUE(Blocking(d).empty());
  EXPECT_EQ(d.findings.size(), 5u) << "lease, three exporters, the VIP";
}

TEST(StaleLease, NothingToDoForAFreshOrMissingLease) {
  StaleLeaseFacts facts = StaleAndSafe();
  facts.lease.renew_time = 998;
  StaleLeaseDecision d = DecideStaleLease(facts);
  EXPECT_FALSE(d.stale);
  EXPECT_FALSE(d.delete_lease);
  EXPECT_THAT(d.verdict, HasSubstr("fresh"));
  facts.lease_present = false;
  EXPECT_FALSE(DecideStaleLease(facts).delete_lease);
}

TEST(StaleLease, AReleasedLeaseIsStaleWhateverItsRenewTime) {
  StaleLeaseFacts facts = StaleAndSafe();
  facts.lease.holder = "";
  facts.lease.renew_time = 999;
  EXPECT_TRUE(DecideStaleLease(facts).stale);
}

TEST(StaleLease, RefusesWhenANodeHoldsTheVip) {
  StaleLeaseFacts facts = StaleAndSafe();
  facts.exporters[1].vip_bound = true;
  StaleLeaseDecision d = DecideStaleLease(facts);
  EXPECT_FALSE(d.delete_lease);
  EXPECT_THAT(Blocking(d),
              ElementsAre(HasSubstr("k8s-cp2 (http://k8s-cp2:9112/metrics): holds the VIP")));
}

TEST(StaleLease, RefusesWhenTheVipWasReleasedWithinTheLeaseDuration) {
  StaleLeaseFacts facts = StaleAndSafe();
  facts.exporters[0].vip_last_change = 997;
  EXPECT_THAT(Blocking(DecideStaleLease(facts)),
              ElementsAre(HasSubstr("released the VIP only 3 s ago, within the lease duration")));
}

TEST(StaleLease, RefusesOnAnyUnknown) {
  StaleLeaseFacts facts = StaleAndSafe();
  facts.exporters[2].up = false;
  facts.exporters[2].error = "connection refused";
  EXPECT_THAT(Blocking(DecideStaleLease(facts)),
              ElementsAre(HasSubstr("no answer: connection refused"),
                          "k8s-cp3 runs kube-vip but no exporter answered for it"));

  facts = StaleAndSafe();
  facts.exporters.clear();
  EXPECT_FALSE(DecideStaleLease(facts).delete_lease);

  facts = StaleAndSafe();
  facts.exporters[0].vip_bound.reset();
  EXPECT_FALSE(DecideStaleLease(facts).delete_lease);

  facts = StaleAndSafe();
  facts.vip_answers = true;
  EXPECT_THAT(Blocking(DecideStaleLease(facts)),
              ElementsAre("the VIP answers: some node serves it"));
}

}  // namespace
}  // namespace kvip::manifest
