// Kubeconfig and in-cluster loading: the shapes a control-plane node has (kubeadm admin.conf,
// file references, tokens), kubectl's merge rules, and a clear error for each broken file.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

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

TEST(Kubeconfig, ErrorsNameTheFileAndWhatIsWrong) {
  const std::string b = kDir + "/broken/";
  EXPECT_EQ(LoadError(b + "absent.yaml"),
            "kubeconfig " + b + "absent.yaml: cannot read: No such file or directory");
  EXPECT_THAT(LoadError(b + "not-yaml.yaml"),
              HasSubstr("kubeconfig " + b + "not-yaml.yaml: not valid YAML: line "));
  EXPECT_THAT(LoadError(b + "list.yaml"), HasSubstr("list.yaml: not a kubeconfig"));
  EXPECT_EQ(
      LoadError(b + "no-current-context.yaml"),
      "kubeconfig " + b + "no-current-context.yaml: no current-context set (contexts: one, two)");
  EXPECT_EQ(LoadError(b + "unknown-context.yaml"),
            "kubeconfig " + b +
                "unknown-context.yaml: current-context \"prod\" is not among its "
                "contexts (one)");
  EXPECT_EQ(LoadError(b + "unknown-cluster.yaml"),
            "kubeconfig " + b +
                "unknown-cluster.yaml: context \"one\" names cluster \"prod\", "
                "which is not defined (clusters: c)");
  EXPECT_EQ(LoadError(b + "unknown-user.yaml"),
            "kubeconfig " + b +
                "unknown-user.yaml: context \"one\" names user \"admin\", which "
                "is not defined (users: u)");
  EXPECT_EQ(LoadError(b + "no-server.yaml"),
            "kubeconfig " + b + "no-server.yaml: cluster \"c\" has no server");
  EXPECT_EQ(LoadError(b + "bad-base64.yaml"),
            "kubeconfig " + b +
                "bad-base64.yaml: cluster \"c\": certificate-authority-data is "
                "not valid base64");
  EXPECT_EQ(LoadError(b + "not-pem.yaml"),
            "kubeconfig " + b +
                "not-pem.yaml: cluster \"c\": certificate-authority-data does "
                "not contain PEM data (no -----BEGIN line)");
  EXPECT_EQ(LoadError(b + "missing-ca-file.yaml"),
            "kubeconfig " + b +
                "missing-ca-file.yaml: cluster \"c\": certificate-authority "
                "/nonexistent/ca.crt: cannot read: No such file or directory");
  EXPECT_EQ(LoadError(b + "ca-is-a-directory.yaml"),
            "kubeconfig " + b +
                "ca-is-a-directory.yaml: cluster \"c\": certificate-authority "
                "/etc: cannot read: Is a directory");
  EXPECT_EQ(LoadError(b + "ca-is-endless.yaml"),
            "kubeconfig " + b +
                "ca-is-endless.yaml: cluster \"c\": certificate-authority "
                "/dev/zero: larger than 4194304 bytes");
  EXPECT_EQ(LoadError("/dev/zero"), "kubeconfig /dev/zero: larger than 4194304 bytes");
  EXPECT_EQ(LoadError(b + "cert-without-key.yaml"),
            "kubeconfig " + b +
                "cert-without-key.yaml: user \"admin\" has a client certificate "
                "but no client-key");
  EXPECT_THAT(LoadError(b + "exec-user.yaml"),
              HasSubstr("user \"eks\" authenticates with 'exec', which kvip-exporter does not "
                        "support"));
  EXPECT_EQ(LoadError(b + "ftp-server.yaml"),
            "kubeconfig " + b +
                "ftp-server.yaml: cluster \"c\": server \"ftp://1.2.3.4\" is not "
                "an http(s):// URL");
  EXPECT_EQ(LoadError(b + "a.yaml:" + b + "b.yaml"),
            "kubeconfig " + b + "a.yaml:" + b + "b.yaml: none of these files exist");
}

TEST(InCluster, ReadsTheServiceAccountMount) {
  InClusterEnvironment env{"10.96.0.1", "443", kDir + "/serviceaccount"};
  std::string error;
  auto config = LoadInClusterConfig(env, error);
  ASSERT_TRUE(config) << error;
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->token_file, kDir + "/serviceaccount/token");
  EXPECT_EQ(config->tls.ca_file, kDir + "/serviceaccount/ca.crt");
  EXPECT_EQ(config->default_namespace, "monitoring");
  EXPECT_EQ(config->user, "serviceaccount:monitoring/kvip-exporter");
  EXPECT_EQ(config->source, "in-cluster");
}

TEST(InCluster, Ipv6ServiceHostIsBracketed) {
  InClusterEnvironment env{"fd00::1", "443", kDir + "/serviceaccount"};
  std::string error;
  auto config = LoadInClusterConfig(env, error);
  ASSERT_TRUE(config) << error;
  EXPECT_EQ(config->server, "https://[fd00::1]:443");
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
