// The web server end to end over loopback: routes, limits, TLS, client certificates,
// basic auth, reloads and shutdown. Clients: libcurl (lib/http) and raw sockets.

#include "web/web_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>

#include "common/metric_family.h"
#include "gate.h"
#include "http/http_client.h"
#include "web_test_util.h"

namespace kvip {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::RawConnection;
using testing::WaitFor;

// Metrics whose collection the test can hold up, as a collector waiting for its deadline.
class HoldableMetrics final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    gate_.Pass();
    return {GaugeFamily("test_metric", "A test gauge.", 42)};
  }
  testing::Gate& gate() const { return gate_; }

 private:
  mutable testing::Gate gate_;
};

class WebServerTest : public ::testing::Test {
 protected:
  void TearDown() override {
    metrics_->gate().Open();
    metrics_->gate().WaitInside(0);
    server_.reset();
  }

  static WebOptions Options() {
    WebOptions options;
    options.listen_address = "127.0.0.1:0";
    options.version = "1.2.3-test";
    options.config_check_interval = std::chrono::milliseconds(50);
    return options;
  }

  void Start(WebOptions options = Options()) {
    server_ = std::make_unique<WebServer>(options, metrics_);
    port_ = server_->ListeningPorts().at(0);
  }

  std::string Url(const std::string& path, bool https = false) const {
    return (https ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_) + path;
  }

  HttpResponse Get(const std::string& path, std::vector<std::string> headers = {}) const {
    HttpRequest request;
    request.url = Url(path);
    request.headers = std::move(headers);
    return HttpFetch(request);
  }

  HttpResponse GetTls(const std::string& path, const std::string& cert = "",
                      const std::string& key = "", std::vector<std::string> headers = {}) const {
    HttpRequest request;
    request.url = Url(path, true);
    request.tls.ca_file = pki_.ca();
    request.tls.client_cert_file = cert;
    request.tls.client_key_file = key;
    request.headers = std::move(headers);
    return HttpFetch(request);
  }

  std::string TlsConfig(const std::string& client_auth = "", bool with_ca = false) const {
    std::string yaml = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
    if (!client_auth.empty()) yaml += "  client_auth_type: " + client_auth + "\n";
    if (with_ca) yaml += "  client_ca_file: ca.crt\n";
    return yaml;
  }

  static std::string Basic(const std::string& user, const std::string& password) {
    // Test credentials are ASCII; std::string -> base64 by hand keeps the test standalone.
    static const char* kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string in = user + ":" + password, out;
    unsigned bits = 0;
    int count = 0;
    for (unsigned char c : in) {
      bits = (bits << 8) | c;
      count += 8;
      while (count >= 6) out += kAlphabet[(bits >> (count -= 6)) & 63];
    }
    if (count > 0) out += kAlphabet[(bits << (6 - count)) & 63];
    while (out.size() % 4) out += '=';
    return "Authorization: Basic " + out;
  }

  std::shared_ptr<HoldableMetrics> metrics_ = std::make_shared<HoldableMetrics>();
  testing::TempDir dir_;
  testing::TestPki pki_{dir_};
  std::unique_ptr<WebServer> server_;
  int port_ = 0;
};

TEST_F(WebServerTest, ServesLandingPageHealthzMetricsAnd404) {
  Start();
  auto landing = Get("/");
  EXPECT_EQ(landing.status, 200);
  EXPECT_EQ(landing.content_type, "text/html; charset=utf-8");
  EXPECT_THAT(landing.body, HasSubstr("<a href=\"/metrics\">"));
  EXPECT_THAT(landing.body, HasSubstr("/healthz"));
  EXPECT_THAT(landing.body, HasSubstr("1.2.3-test"));

  auto health = Get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");

  auto metrics = Get("/metrics?x=1");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(metrics.body, HasSubstr("\ntest_metric 42\n"));
  EXPECT_THAT(metrics.body, HasSubstr("kvip_exporter_web_requests_total{code=\"200\"} 2\n"));
  EXPECT_THAT(metrics.body, HasSubstr("\nkvip_exporter_web_connections "));
  EXPECT_THAT(metrics.body, HasSubstr("kvip_exporter_web_config_last_reload_successful 1\n"));

  EXPECT_EQ(Get("/metricsx").status, 404);
  EXPECT_EQ(Get("/favicon.ico").body, "404 page not found\n");

  HttpRequest post;
  post.url = Url("/metrics");
  post.method = "DELETE";
  EXPECT_EQ(HttpFetch(post).status, 405);
}

TEST_F(WebServerTest, KeepAliveAndPipelining) {
  Start();
  RawConnection connection(port_);
  for (int i = 0; i < 3; ++i) {
    connection.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_THAT(connection.ReadResponse(), HasSubstr("HTTP/1.1 200 OK")) << i;
  }
  connection.Send(
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(connection.ReadResponse(), HasSubstr("\r\n\r\nok\n"));
  EXPECT_THAT(connection.ReadResponse(), HasSubstr("test_metric 42"));

  connection.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_THAT(connection.ReadResponse(), HasSubstr("200 OK"));
  EXPECT_TRUE(WaitFor([&] { return connection.ClosedByPeer(); }));
}

TEST_F(WebServerTest, HeadAndGzip) {
  Start();
  RawConnection connection(port_);
  connection.Send("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string head = connection.ReadResponse(/*expect_body=*/false);
  EXPECT_THAT(head, HasSubstr("Content-Type: text/plain; version=0.0.4; charset=utf-8"));
  EXPECT_THAT(head, Not(HasSubstr("Content-Length: 0\r\n")));

  connection.Send("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n");
  std::string gzipped = connection.ReadResponse();
  EXPECT_THAT(gzipped, HasSubstr("Content-Encoding: gzip\r\n"));
  EXPECT_THAT(gzipped, HasSubstr("Vary: Accept-Encoding\r\n"));
  EXPECT_THAT(gzipped, HasSubstr("\r\n\r\n\x1f\x8b"));

  // libcurl decompresses: the text comes back whole.
  EXPECT_THAT(Get("/metrics", {"Accept-Encoding: gzip"}).body, HasSubstr("test_metric 42"));
}

TEST_F(WebServerTest, RejectsOversizedHeadersBodiesAndGarbage) {
  WebOptions options = Options();
  options.max_request_header_bytes = 1024;
  Start(options);
  {
    RawConnection connection(port_);
    connection.Send("GET / HTTP/1.1\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n");
    EXPECT_THAT(connection.ReadResponse(),
                HasSubstr("HTTP/1.1 431 Request Header Fields Too Large"));
    EXPECT_TRUE(WaitFor([&] { return connection.ClosedByPeer(); }));
  }
  {
    RawConnection connection(port_);
    connection.Send("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    EXPECT_THAT(connection.ReadResponse(), HasSubstr("HTTP/1.1 413 Payload Too Large"));
  }
  {
    RawConnection connection(port_);
    connection.Send("\x16\x03\x01 not http at all\r\n\r\n");
    EXPECT_THAT(connection.ReadResponse(), HasSubstr("HTTP/1.1 400 Bad Request"));
  }
  EXPECT_EQ(Get("/healthz").status, 200);  // and still serving
}

TEST_F(WebServerTest, SlowClientIsCutOffAtTheRequestTimeout) {
  WebOptions options = Options();
  options.request_timeout = std::chrono::milliseconds(300);
  Start(options);
  RawConnection silent(port_);
  RawConnection trickling(port_);
  std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(1000, 'a');
  size_t sent = 0;
  // A byte every 20 ms would take 20 s; the server must not wait for it.
  bool cut = WaitFor(
      [&] {
        if (sent < request.size()) trickling.Send(std::string(1, request[sent++]));
        return trickling.ClosedByPeer();
      },
      std::chrono::seconds(10));
  EXPECT_TRUE(cut);
  EXPECT_TRUE(WaitFor([&] { return silent.ClosedByPeer(); }));
  EXPECT_THAT(
      Get("/metrics").body,
      HasSubstr("kvip_exporter_web_connections_dropped_total{reason=\"request_timeout\"} 2\n"));
}

TEST_F(WebServerTest, AtTheConnectionLimitTheMostStalledConnectionMakesRoom) {
  WebOptions options = Options();
  options.max_connections = 3;
  Start(options);
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 3; ++i) idle.push_back(std::make_unique<RawConnection>(port_));
  // Make sure all three are accepted before the scrape arrives.
  for (auto& connection : idle) {
    connection->Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_THAT(connection->ReadResponse(), HasSubstr("200 OK"));
  }
  auto scrape = Get("/metrics");
  EXPECT_EQ(scrape.status, 200);
  EXPECT_THAT(
      scrape.body,
      HasSubstr("kvip_exporter_web_connections_dropped_total{reason=\"limit_evicted\"} 1\n"));
  EXPECT_TRUE(WaitFor([&] { return idle[0]->ClosedByPeer(); }));
  EXPECT_FALSE(idle[2]->ClosedByPeer());
}

TEST_F(WebServerTest, SlowScrapeBlocksNeitherOtherRequestsNorAcceptingAndIsNeverEvicted) {
  WebOptions options = Options();
  options.max_concurrent_scrapes = 1;
  options.max_connections = 2;
  Start(options);
  metrics_->gate().Close();
  RawConnection scrape(port_);
  scrape.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(metrics_->gate().WaitInside(1));

  EXPECT_EQ(Get("/healthz").status, 200);  // evicts nothing: the scrape is pinned
  auto second = Get("/metrics");
  EXPECT_EQ(second.status, 503);
  EXPECT_EQ(second.body, "too many concurrent scrapes; retry\n");
  EXPECT_FALSE(scrape.ClosedByPeer());

  metrics_->gate().Open();
  EXPECT_THAT(scrape.ReadResponse(), HasSubstr("test_metric 42"));
}

TEST_F(WebServerTest, ConnectionsBeyondTheLimitAreRefusedWhenAllAreBusy) {
  WebOptions options = Options();
  options.max_connections = 1;
  Start(options);
  metrics_->gate().Close();
  RawConnection scrape(port_);
  scrape.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(metrics_->gate().WaitInside(1));
  EXPECT_FALSE(Get("/healthz").ok);
  metrics_->gate().Open();
  EXPECT_THAT(scrape.ReadResponse(), HasSubstr("test_metric 42"));
  EXPECT_THAT(
      Get("/metrics").body,
      HasSubstr("kvip_exporter_web_connections_dropped_total{reason=\"limit_refused\"} 1\n"));
}

TEST_F(WebServerTest, StopDoesNotWaitForAStuckScrape) {
  Start();
  metrics_->gate().Close();
  RawConnection scrape(port_);
  scrape.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(metrics_->gate().WaitInside(1));
  // The collection is held until after Stop() returns: Stop must give up on it.
  EXPECT_FALSE(server_->Stop(std::chrono::milliseconds(50)));
  EXPECT_TRUE(WaitFor([&] { return scrape.ClosedByPeer(); }));
  EXPECT_FALSE(server_->Stop(std::chrono::milliseconds(50)));  // idempotent
  metrics_->gate().Open();
  EXPECT_TRUE(metrics_->gate().WaitInside(0));
}

TEST_F(WebServerTest, StopWithNothingRunningIsClean) {
  Start();
  EXPECT_EQ(Get("/metrics").status, 200);
  EXPECT_TRUE(server_->Stop(std::chrono::milliseconds(1000)));
  EXPECT_FALSE(Get("/healthz").ok);
}

TEST_F(WebServerTest, StartErrorsAreClear) {
  WebOptions options = Options();
  options.listen_address = "127.0.0.1:http";
  try {
    WebServer server(options, metrics_);
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& err) {
    EXPECT_THAT(err.what(), HasSubstr("invalid --web.listen-address \"127.0.0.1:http\""));
  }

  Start();
  options.listen_address = "127.0.0.1:" + std::to_string(port_);
  try {
    WebServer server(options, metrics_);
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& err) {
    EXPECT_THAT(err.what(), HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(port_) +
                                      ": Address already in use"));
  }

  options = Options();
  options.web_config_file = dir_.Write("bad.yml", "tls_server_config:\n  cert_file: server.crt\n");
  try {
    WebServer server(options, metrics_);
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& err) {
    EXPECT_EQ(std::string(err.what()),
              "web config " + options.web_config_file + ": tls_server_config.key_file is missing");
  }

  options.web_config_file =
      dir_.Write("bad.yml", "tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n");
  try {
    WebServer server(options, metrics_);
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& err) {
    EXPECT_EQ(std::string(err.what()), "web config " + options.web_config_file +
                                           ": tls_server_config.cert_file " +
                                           dir_.File("nope.crt") + ": No such file or directory");
  }
}

TEST_F(WebServerTest, TlsOnlyAndPlainHttpGetsAClearAnswer) {
  WebOptions options = Options();
  options.web_config_file = dir_.Write("web.yml", TlsConfig());
  Start(options);
  auto tls = GetTls("/metrics");
  ASSERT_TRUE(tls.ok) << tls.error;
  EXPECT_EQ(tls.status, 200);
  EXPECT_THAT(tls.body, HasSubstr("test_metric 42"));

  auto plain = Get("/metrics");
  EXPECT_EQ(plain.status, 400);
  EXPECT_EQ(plain.body, "Client sent an HTTP request to an HTTPS server.\n");
}

TEST_F(WebServerTest, RequireAndVerifyClientCert) {
  WebOptions options = Options();
  options.web_config_file = dir_.Write("web.yml", TlsConfig("RequireAndVerifyClientCert", true));
  Start(options);
  EXPECT_FALSE(GetTls("/metrics").ok);
  EXPECT_FALSE(GetTls("/metrics", pki_.stranger_cert(), pki_.stranger_key()).ok);
  auto trusted = GetTls("/metrics", pki_.client_cert(), pki_.client_key());
  ASSERT_TRUE(trusted.ok) << trusted.error;
  EXPECT_EQ(trusted.status, 200);
  EXPECT_THAT(Get("/metrics").body, HasSubstr("HTTPS"));  // still refuses plain HTTP
  EXPECT_TRUE(WaitFor([&] {
    return GetTls("/metrics", pki_.client_cert(), pki_.client_key())
               .body.find(
                   "kvip_exporter_web_connections_dropped_total{reason=\"tls_handshake\"} 2\n") !=
           std::string::npos;
  }));
}

TEST_F(WebServerTest, OtherClientAuthTypes) {
  WebOptions options = Options();
  options.web_config_file = dir_.Write("web.yml", TlsConfig("RequireAnyClientCert"));
  Start(options);
  EXPECT_FALSE(GetTls("/healthz").ok);
  EXPECT_EQ(GetTls("/healthz", pki_.stranger_cert(), pki_.stranger_key()).status, 200);
  server_.reset();

  options.web_config_file = dir_.Write("web.yml", TlsConfig("VerifyClientCertIfGiven", true));
  Start(options);
  EXPECT_EQ(GetTls("/healthz").status, 200);
  EXPECT_EQ(GetTls("/healthz", pki_.client_cert(), pki_.client_key()).status, 200);
  EXPECT_FALSE(GetTls("/healthz", pki_.stranger_cert(), pki_.stranger_key()).ok);
  server_.reset();

  options.web_config_file = dir_.Write("web.yml", TlsConfig("RequestClientCert"));
  Start(options);
  EXPECT_EQ(GetTls("/healthz").status, 200);
  EXPECT_EQ(GetTls("/healthz", pki_.stranger_cert(), pki_.stranger_key()).status, 200);
}

TEST_F(WebServerTest, BasicAuth) {
  WebOptions options = Options();
  options.web_config_file = dir_.Write(
      "web.yml", "basic_auth_users:\n  prometheus: " + testing::BcryptHashForTest("s3cret") +
                     "\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n");
  Start(options);
  RawConnection connection(port_);
  connection.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string denied = connection.ReadResponse();
  EXPECT_THAT(denied, HasSubstr("HTTP/1.1 401 Unauthorized\r\n"));
  EXPECT_THAT(denied, HasSubstr("WWW-Authenticate: Basic\r\n"));
  EXPECT_THAT(denied, HasSubstr("X-Frame-Options: deny\r\n"));

  EXPECT_EQ(Get("/healthz").status, 401);
  EXPECT_EQ(Get("/metrics", {Basic("prometheus", "wrong")}).status, 401);
  EXPECT_EQ(Get("/metrics", {Basic("mallory", "s3cret")}).status, 401);
  EXPECT_EQ(Get("/metrics", {"Authorization: Basic !!!"}).status, 401);
  for (int i = 0; i < 3; ++i) {  // the first pays bcrypt, the others hit the cache
    auto ok = Get("/metrics", {Basic("prometheus", "s3cret")});
    EXPECT_EQ(ok.status, 200);
    EXPECT_THAT(ok.body, HasSubstr("kvip_exporter_web_requests_total{code=\"401\"} 5\n"));
  }
  EXPECT_EQ(Get("/nope", {Basic("prometheus", "s3cret")}).status, 404);
}

TEST_F(WebServerTest, ReloadsWhenTheFileChangesAndKeepsTheOldConfigWhenTheNewIsBad) {
  WebOptions options = Options();
  options.web_config_file = dir_.Write(
      "web.yml", "basic_auth_users:\n  alice: " + testing::BcryptHashForTest("a") + "\n");
  Start(options);
  EXPECT_EQ(Get("/healthz", {Basic("alice", "a")}).status, 200);

  dir_.Write("web.yml", "basic_auth_users:\n  bob: " + testing::BcryptHashForTest("b") + "\n");
  EXPECT_TRUE(WaitFor([&] { return Get("/healthz", {Basic("bob", "b")}).status == 200; }));
  EXPECT_EQ(Get("/healthz", {Basic("alice", "a")}).status, 401);

  dir_.Write("web.yml", "basic_auth_users:\n  carol: plaintext\n");
  EXPECT_TRUE(WaitFor([&] {
    return Get("/metrics", {Basic("bob", "b")})
               .body.find("kvip_exporter_web_config_last_reload_successful 0\n") !=
           std::string::npos;
  }));
  EXPECT_EQ(Get("/healthz", {Basic("bob", "b")}).status, 200);

  // From no auth to TLS, without a restart.
  dir_.Write("web.yml", TlsConfig());
  EXPECT_TRUE(WaitFor([&] { return GetTls("/healthz").status == 200; }));
  EXPECT_EQ(Get("/healthz").status, 400);
}

TEST_F(WebServerTest, ReloadsWhenACertificateFileIsReplaced) {
  WebOptions options = Options();
  options.web_config_file = dir_.Write("web.yml", TlsConfig());
  Start(options);
  auto reload_time = [&] {
    std::string body = GetTls("/metrics").body;
    std::string key = "\nkvip_exporter_web_config_last_reload_success_timestamp_seconds ";
    size_t at = body.find(key);
    return at == std::string::npos ? 0.0 : std::stod(body.substr(at + key.size()));
  };
  double before = reload_time();
  ASSERT_GT(before, 0);
  std::filesystem::copy_file(pki_.server_key(), dir_.File("server.key.new"));
  std::filesystem::rename(dir_.File("server.key.new"), pki_.server_key());
  EXPECT_TRUE(WaitFor([&] { return reload_time() > before; }));
}

TEST_F(WebServerTest, ReloadConfigIsTheSighupPath) {
  WebOptions options = Options();
  options.config_check_interval = std::chrono::hours(1);  // only explicit reloads
  options.web_config_file = dir_.Write("web.yml", "");
  Start(options);
  EXPECT_EQ(Get("/healthz").status, 200);
  dir_.Write("web.yml", "basic_auth_users:\n  bob: " + testing::BcryptHashForTest("b") + "\n");
  EXPECT_TRUE(server_->ReloadConfig());
  EXPECT_EQ(Get("/healthz").status, 401);
  dir_.Write("web.yml", "basic_auth_users: [\n");
  EXPECT_FALSE(server_->ReloadConfig());
  EXPECT_EQ(Get("/healthz", {Basic("bob", "b")}).status, 200);
}

}  // namespace
}  // namespace kvip
