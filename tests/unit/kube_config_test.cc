// Kubeconfig and in-cluster loading: the shapes a control-plane node has (kubeadm admin.conf,
// file references, tokens), kubectl's merge rules, and a clear error for each broken file.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

#include "common/base64.h"
#include "kube/config.h"

namespace kvip::kube {
namespace {

using ::testing::HasSubstr;

const std::string kDir = std::string(KVIP_FIXTURES) + "/kube";

ClientConfig MustLoad(const std::string& paths) {
  std::string error;
  auto config = LoadKubeconfig(paths, error);
  EXPECT_TRUE(config.has_value()) << error;
  return config.value_or(ClientConfig{});
}

std::string LoadError(const std::string& paths) {
  std::string error;
  auto config = LoadKubeconfig(paths, error);
  EXPECT_FALSE(config.has_value()) << paths << " loaded unexpectedly";
  return error;
}

TEST(Base64, DecodesStandardAndUrlSafeWithOrWithoutPadding) {
  EXPECT_EQ(DecodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(DecodeBase64("aGVsbG8"), "hello");
  EXPECT_EQ(DecodeBase64("aGVs\nbG8=\n"), "hello");
  EXPECT_EQ(DecodeBase64("-_8"), std::string("\xfb\xff"));
  EXPECT_EQ(DecodeBase64(""), "");
  EXPECT_FALSE(DecodeBase64("a*b"));
  EXPECT_FALSE(DecodeBase64("aGVsbG8=x"));  // data after padding
  EXPECT_FALSE(DecodeBase64("a"));          // 6 bits make no byte
}

TEST(Kubeconfig, KubeadmAdminConfWithEmbeddedCertificates) {
  ClientConfig config = MustLoad(kDir + "/admin.conf");
  EXPECT_EQ(config.server, "https://10.10.30.10:6443");
  EXPECT_EQ(config.user, "kubernetes-admin");
  EXPECT_EQ(config.context, "kubernetes-admin@kubernetes");
  EXPECT_EQ(config.source, kDir + "/admin.conf");
  EXPECT_THAT(config.tls.ca_pem, HasSubstr("-----BEGIN CERTIFICATE-----"));
  EXPECT_THAT(config.tls.client_cert_pem, HasSubstr("-----BEGIN CERTIFICATE-----"));
  EXPECT_THAT(config.tls.client_key_pem, HasSubstr("PRIVATE KEY-----"));
  EXPECT_TRUE(config.HasClientCertificate());
  EXPECT_FALSE(config.tls.insecure_skip_verify);
  EXPECT_TRUE(config.token.empty());
}

TEST(Kubeconfig, RelativeFilesResolveAgainstTheKubeconfigDirectory) {
  ClientConfig config = MustLoad(kDir + "/files.yaml");
  EXPECT_EQ(config.server, "https://127.0.0.1:6443");  // trailing slash dropped
  EXPECT_EQ(config.tls.ca_file, kDir + "/pki/ca.crt");
  EXPECT_EQ(config.tls.client_cert_file, kDir + "/pki/client.crt");
  EXPECT_EQ(config.tls.client_key_file, kDir + "/pki/client.key");
  EXPECT_EQ(config.default_namespace, "kube-system");
}

TEST(Kubeconfig, TokenAndInsecureOnlyWhenTheFileSaysSo) {
  ClientConfig config = MustLoad(kDir + "/token-insecure.yaml");
  EXPECT_EQ(config.token, "abc.def.ghi");
  EXPECT_TRUE(config.tls.insecure_skip_verify);
  EXPECT_FALSE(config.HasClientCertificate());
}

TEST(Kubeconfig, TokenFileIsResolvedAndKept) {
  ClientConfig config = MustLoad(kDir + "/tokenfile.yaml");
  EXPECT_EQ(config.token_file, kDir + "/token");
  EXPECT_TRUE(config.token.empty());
}

TEST(Kubeconfig, ListMergesFirstDefinitionWinsAndSkipsMissingFiles) {
  ClientConfig config =
      MustLoad(kDir + "/missing.yaml:" + kDir + "/merge-a.yaml:" + kDir + "/merge-b.yaml");
  EXPECT_EQ(config.context, "second");
  EXPECT_EQ(config.server, "https://10.0.0.2:6443");
  EXPECT_EQ(config.token, "from-a");
}

// A broken kubeconfig: the error names the file(s) and says what is wrong.
struct BrokenCase {
  const char* paths;   // relative ones (each of a ':' list) are under fixtures/kube/broken/
  const char* reason;  // what follows "kubeconfig <paths>: "
  bool whole = true;   // the whole error; false: a part of it (the rest comes from a library)
};

std::string BrokenPaths(std::string_view paths) {
  std::string resolved;
  for (size_t start = 0; start <= paths.size();) {
    size_t end = std::min(paths.find(':', start), paths.size());
    std::string_view path = paths.substr(start, end - start);
    if (!resolved.empty()) resolved += ':';
    resolved += (path.starts_with('/') ? "" : kDir + "/broken/") + std::string(path);
    start = end + 1;
  }
  return resolved;
}

class BrokenKubeconfig : public ::testing::TestWithParam<BrokenCase> {};

TEST_P(BrokenKubeconfig, ErrorNamesTheFileAndWhatIsWrong) {
  const std::string paths = BrokenPaths(GetParam().paths);
  const std::string expected = "kubeconfig " + paths + ": " + GetParam().reason;
  if (GetParam().whole) {
    EXPECT_EQ(LoadError(paths), expected);
  } else {
    EXPECT_THAT(LoadError(paths), HasSubstr(expected));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Kubeconfig, BrokenKubeconfig,
    ::testing::Values(
        BrokenCase{"absent.yaml", "cannot read: No such file or directory"},
        BrokenCase{"not-yaml.yaml", "not valid YAML: line ", false},
        BrokenCase{"list.yaml", "not a kubeconfig", false},
        BrokenCase{"no-current-context.yaml", "no current-context set (contexts: one, two)"},
        BrokenCase{"unknown-context.yaml",
                   "current-context \"prod\" is not among its contexts (one)"},
        BrokenCase{"unknown-cluster.yaml",
                   "context \"one\" names cluster \"prod\", which is not defined (clusters: c)"},
        BrokenCase{"unknown-user.yaml",
                   "context \"one\" names user \"admin\", which is not defined (users: u)"},
        BrokenCase{"no-server.yaml", "cluster \"c\" has no server"},
        BrokenCase{"bad-base64.yaml",
                   "cluster \"c\": certificate-authority-data is not valid base64"},
        BrokenCase{"not-pem.yaml",
                   "cluster \"c\": certificate-authority-data does not contain PEM data (no "
                   "-----BEGIN line)"},
        BrokenCase{"missing-ca-file.yaml",
                   "cluster \"c\": certificate-authority /nonexistent/ca.crt: cannot read: No "
                   "such file or directory"},
        BrokenCase{"ca-is-a-directory.yaml",
                   "cluster \"c\": certificate-authority /etc: cannot read: Is a directory"},
        BrokenCase{"ca-is-endless.yaml",
                   "cluster \"c\": certificate-authority /dev/zero: larger than 4194304 bytes"},
        BrokenCase{"/dev/zero", "larger than 4194304 bytes"},
        BrokenCase{"cert-without-key.yaml",
                   "user \"admin\" has a client certificate but no client-key"},
        BrokenCase{"exec-user.yaml",
                   "user \"eks\" authenticates with 'exec', which kvip-exporter does not support",
                   false},
        BrokenCase{"ftp-server.yaml",
                   "cluster \"c\": server \"ftp://1.2.3.4\" is not an http(s):// URL"},
        BrokenCase{"a.yaml:b.yaml", "none of these files exist"}),
    [](const auto& test) {
      std::string name = test.param.paths;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

ClientConfig MustLoadInCluster(const char* host) {
  std::string error;
  auto config = LoadInClusterConfig({host, "443", kDir + "/serviceaccount"}, error);
  EXPECT_TRUE(config.has_value()) << error;
  return config.value_or(ClientConfig{});
}

TEST(InCluster, ReadsTheServiceAccountMount) {
  ClientConfig config = MustLoadInCluster("10.96.0.1");
  EXPECT_EQ(config.server, "https://10.96.0.1:443");
  EXPECT_EQ(config.token_file, kDir + "/serviceaccount/token");
  EXPECT_EQ(config.tls.ca_file, kDir + "/serviceaccount/ca.crt");
  EXPECT_EQ(config.default_namespace, "monitoring");
  EXPECT_EQ(config.user, "serviceaccount:monitoring/kvip-exporter");
  EXPECT_EQ(config.source, "in-cluster");
}

TEST(InCluster, Ipv6ServiceHostIsBracketed) {
  EXPECT_EQ(MustLoadInCluster("fd00::1").server, "https://[fd00::1]:443");
}

TEST(InCluster, ClearErrors) {
  std::string error;
  EXPECT_FALSE(LoadInClusterConfig({"", "", kDir + "/serviceaccount"}, error));
  EXPECT_THAT(error, HasSubstr("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set"));
  EXPECT_FALSE(LoadInClusterConfig({"10.96.0.1", "443", kDir + "/nowhere"}, error));
  EXPECT_EQ(error, "in-cluster: service-account token " + kDir +
                       "/nowhere/token: cannot read: No such file or directory");
}

TEST(LoadClientConfig, FlagThenEnvironmentThenInCluster) {
  std::string error;
  setenv("KUBECONFIG", (kDir + "/token-insecure.yaml").c_str(), 1);
  auto from_flag = LoadClientConfig(kDir + "/files.yaml", error);
  ASSERT_TRUE(from_flag) << error;
  EXPECT_EQ(from_flag->source, kDir + "/files.yaml");
  auto from_env = LoadClientConfig("", error);
  ASSERT_TRUE(from_env) << error;
  EXPECT_EQ(from_env->source, kDir + "/token-insecure.yaml");

  setenv("KUBECONFIG", (kDir + "/broken/no-server.yaml").c_str(), 1);
  EXPECT_FALSE(LoadClientConfig("", error));
  EXPECT_THAT(error, HasSubstr("$KUBECONFIG: kubeconfig "));

  unsetenv("KUBECONFIG");
  unsetenv("KUBERNETES_SERVICE_HOST");
  EXPECT_FALSE(LoadClientConfig("", error));
  EXPECT_THAT(error, HasSubstr("no Kubernetes credentials: --kubeconfig and $KUBECONFIG are not "
                               "set, and in-cluster: "));
}

}  // namespace
}  // namespace kvip::kube
