// The synchronous client without a server: request shape, token-file rotation, and the
// failure messages the operator reads.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "kube/client.h"

namespace kvip::kube {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

ClientConfig TokenConfig() {
  ClientConfig config;
  config.server = "https://10.10.30.11:6443";
  config.token = "static-token";
  config.user = "watcher";
  config.source = "/etc/kvip/kubeconfig";
  config.tls.ca_file = "/etc/kubernetes/pki/ca.crt";
  return config;
}

HttpResponse Status(long code, const std::string& message) {
  HttpResponse r;
  r.ok = true;
  r.status = code;
  r.body = R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":")" +
           message + R"(","code":)" + std::to_string(code) + "}";
  return r;
}

// No answer at all: libcurl's error, as HttpClient reports it.
HttpResponse TransportError(std::string error) {
  HttpResponse r;
  r.error = std::move(error);
  return r;
}

TEST(Client, PrepareAddsServerAuthAndContentType) {
  Client client(TokenConfig());
  HttpRequest get = client.Prepare("GET", "/api/v1/nodes");
  EXPECT_EQ(get.url, "https://10.10.30.11:6443/api/v1/nodes");
  EXPECT_EQ(get.bearer_token, "static-token");
  EXPECT_EQ(get.tls.ca_file, "/etc/kubernetes/pki/ca.crt");
  EXPECT_THAT(get.headers, Contains("Accept: application/json"));
  EXPECT_EQ(get.timeout, std::chrono::seconds(5));

  HttpRequest patch = client.Prepare("PATCH", "/api/v1/nodes/x", "{}");
  EXPECT_THAT(patch.headers, Contains("Content-Type: application/merge-patch+json"));
  HttpRequest put = client.Prepare("PUT", "/api/v1/nodes/x", "{}");
  EXPECT_THAT(put.headers, Contains("Content-Type: application/json"));
  HttpRequest apply = client.Prepare("PATCH", "/api/v1/nodes/x", "{}", std::chrono::seconds(1),
                                     "application/apply-patch+yaml");
  EXPECT_THAT(apply.headers, Contains("Content-Type: application/apply-patch+yaml"));
}

TEST(Client, TokenFileIsReReadWhenItChanges) {
  auto dir = std::filesystem::temp_directory_path() / ("kvip-token-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
  };
  // The kubelet's projected volume swaps a symlink; do the same.
  write("token.1", "first-token\n");
  std::filesystem::create_symlink(dir / "token.1", dir / "token");
  ClientConfig config = TokenConfig();
  config.token.clear();
  config.token_file = (dir / "token").string();
  Client client(config);
  EXPECT_EQ(client.BearerToken(), "first-token");
  EXPECT_EQ(client.Prepare("GET", "/").bearer_token, "first-token");

  write("token.2", "second-token");
  std::filesystem::create_symlink(dir / "token.2", dir / "token.new");
  std::filesystem::rename(dir / "token.new", dir / "token");
  EXPECT_EQ(client.BearerToken(), "second-token");

  std::filesystem::remove(dir / "token");  // a missing file keeps the last good token
  EXPECT_EQ(client.BearerToken(), "second-token");
  std::filesystem::remove_all(dir);
}

TEST(Client, DescribeFailureIsSpecific) {
  Client client(TokenConfig());
  const std::string watch =
      "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases?fieldSelector=metadata.name%3D"
      "plndr-cp-lock&watch=1";
  EXPECT_EQ(client.DescribeFailure(
                "watch", watch,
                Status(403,
                       "leases.coordination.k8s.io is forbidden: User \\\"watcher\\\" cannot "
                       "watch resource \\\"leases\\\"")),
            "user \"watcher\" (/etc/kvip/kubeconfig) may not watch leases in namespace "
            "kube-system (403 Forbidden): leases.coordination.k8s.io is forbidden: User "
            "\"watcher\" cannot watch resource \"leases\"");
  EXPECT_EQ(client.DescribeFailure("list", watch, Status(401, "Unauthorized")),
            "API server https://10.10.30.11:6443 rejected the credentials of user \"watcher\" "
            "from /etc/kvip/kubeconfig (401 Unauthorized) to list leases in namespace "
            "kube-system: its token is expired or invalid: Unauthorized");
  EXPECT_EQ(client.DescribeFailure(
                "get", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/plndr-cp-lock",
                Status(404, "leases.coordination.k8s.io \\\"plndr-cp-lock\\\" not found")),
            "get leases \"plndr-cp-lock\" in namespace kube-system: not found (404): "
            "leases.coordination.k8s.io \"plndr-cp-lock\" not found");
  EXPECT_EQ(client.DescribeFailure("get", "/api/v1/nodes/k8s-cp1/status", Status(500, "etcd")),
            "API server https://10.10.30.11:6443 failed to get nodes \"k8s-cp1\" (status) "
            "(HTTP 500): etcd");

  const std::string refused =
      "https://10.10.30.11:6443/api: Failed to connect to 10.10.30.11 port 6443 "
      "after 0 ms: Couldn't connect to server";
  EXPECT_EQ(client.DescribeFailure("list", watch, TransportError(refused)),
            "cannot reach the API server at https://10.10.30.11:6443 to list leases in "
            "namespace kube-system: " +
                refused);
  const std::string bad_ca =
      "https://10.10.30.11:6443/api: SSL certificate problem: unable to get local "
      "issuer certificate";
  EXPECT_EQ(client.DescribeFailure("list", watch, TransportError(bad_ca)),
            "TLS with the API server failed: its certificate does not verify against CA "
            "/etc/kubernetes/pki/ca.crt (/etc/kvip/kubeconfig), or the handshake failed: " +
                bad_ca);
}

TEST(StatusMessage, OnlyFromAStatusObject) {
  EXPECT_EQ(StatusMessage(R"({"kind":"Status","message":"nope"})"), "nope");
  EXPECT_EQ(StatusMessage("<html>"), "");
  EXPECT_EQ(StatusMessage(R"({"message":3})"), "");
}

}  // namespace
}  // namespace kvip::kube
