// vip_healthz probes in the background on an Asio loop; scrapes read the last result.
// The API server is played by this project's own WebServer over TLS: its /healthz answers
// "ok" like kube-apiserver's.

#include "collectors/vip_healthz.h"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <thread>

#include "collectors/apiserver_livez.h"
#include "common/metric_family.h"
#include "web/web_server.h"
#include "web_test_util.h"

namespace kvip {
namespace {

namespace asio = boost::asio;
using prometheus::MetricFamily;
using testing::WaitFor;

class NoMetrics final : public prometheus::Collectable {
 public:
  std::vector<MetricFamily> Collect() const override { return {}; }
};

std::optional<double> Sample(const std::vector<MetricFamily>& out, const std::string& name) {
  for (const auto& family : out) {
    if (family.name != name) continue;
    EXPECT_EQ(family.metric.size(), 1u);
    EXPECT_EQ(family.metric.at(0).label.at(0).name, "vip");
    EXPECT_EQ(family.metric.at(0).label.at(0).value, "127.0.0.1");
    return family.metric.at(0).gauge.value;
  }
  return std::nullopt;
}

class VipHealthzTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  static void TearDownTestSuite() { curl_global_cleanup(); }

  void TearDown() override {
    StopLoop();
    collectors_.clear();
    probes_.clear();
  }

  // Owned by the fixture, so that they are destroyed after the loop stopped, whatever the
  // test's outcome.
  HealthProbeCollector& Make(VipHealthzOptions options, std::shared_ptr<kube::Client> client) {
    return Own(MakeVipHealthzCollector(loop_, options, std::move(client)));
  }
  template <class T>
  T& Own(std::unique_ptr<T> collector) {
    T& kept = *collector;
    collectors_.push_back(std::move(collector));
    return kept;
  }

  // A TLS server whose /healthz says "ok", with the test PKI's server certificate.
  int StartApiServer() {
    WebOptions web;
    web.listen_address = "127.0.0.1:0";
    web.web_config_file = dir_.Write(
        "web.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n");
    api_ = std::make_unique<WebServer>(web, std::make_shared<NoMetrics>());
    return api_->ListeningPorts().at(0);
  }

  VipHealthzOptions Options(int port) const {
    VipHealthzOptions options;
    options.vip = "127.0.0.1";
    options.port = port;
    options.timeout = std::chrono::milliseconds(2000);
    options.interval = std::chrono::milliseconds(100);
    return options;
  }

  std::shared_ptr<kube::Client> ClientTrustingTheTestCa() const {
    kube::ClientConfig config;
    config.server = "https://127.0.0.1:1";
    config.tls.ca_file = pki_.ca();
    return std::make_shared<kube::Client>(std::move(config));
  }

  void StartLoop() {
    loop_thread_ = std::thread([this] { loop_.run(); });
  }
  // Collectors are destroyed after this: CurlLoop wants its own thread or a stopped loop.
  void StopLoop() {
    loop_.stop();
    if (loop_thread_.joinable()) loop_thread_.join();
  }

  static std::vector<MetricFamily> Scrape(Collector& collector, bool* success = nullptr) {
    std::vector<MetricFamily> out;
    bool ok = collector.Collect(out);
    if (success) *success = ok;
    return out;
  }

  testing::TempDir dir_;
  testing::TestPki pki_{dir_};
  std::unique_ptr<WebServer> api_;
  asio::io_context loop_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{loop_.get_executor()};
  std::thread loop_thread_;
  std::vector<std::unique_ptr<Collector>> collectors_;
  std::vector<std::unique_ptr<kube::HealthProbe>> probes_;  // destroyed with the collectors
};

TEST_F(VipHealthzTest, NothingIsExposedBeforeTheFirstProbe) {
  HealthProbeCollector& collector = Make(Options(StartApiServer()), ClientTrustingTheTestCa());
  EXPECT_EQ(collector.Name(), "vip_healthz");
  EXPECT_FALSE(collector.Blocking());
  bool success = true;
  EXPECT_TRUE(Scrape(collector, &success).empty());  // the loop has not run: unknown
  EXPECT_FALSE(success);
}

TEST_F(VipHealthzTest, ProbesInTheBackgroundAndExposesTheLastResult) {
  int port = StartApiServer();
  HealthProbeCollector& collector = Make(Options(port), ClientTrustingTheTestCa());
  EXPECT_EQ(collector.url(), "https://127.0.0.1:" + std::to_string(port) + "/healthz");
  StartLoop();
  ASSERT_TRUE(WaitFor([&] { return Sample(Scrape(collector), "kubevip_vip_healthz_up") == 1; }));
  bool success = false;
  auto out = Scrape(collector, &success);
  EXPECT_TRUE(success);
  double duration = Sample(out, "kubevip_vip_healthz_duration_seconds").value_or(-1);
  EXPECT_GT(duration, 0);
  EXPECT_LT(duration, 2);
  double first = Sample(out, "kubevip_vip_healthz_last_probe_timestamp_seconds").value_or(0);
  EXPECT_NEAR(first, UnixNow(), 10);

  // Probes keep coming every interval without any scrape asking for them.
  ASSERT_TRUE(WaitFor([&] {
    auto later = Sample(Scrape(collector), "kubevip_vip_healthz_last_probe_timestamp_seconds");
    return later && *later > first;
  }));
}

TEST_F(VipHealthzTest, AnUntrustedServerIsDownUnlessInsecure) {
  int port = StartApiServer();
  HealthProbeCollector& strict = Make(Options(port), nullptr);  // system CA: did not sign it
  VipHealthzOptions insecure_options = Options(port);
  insecure_options.insecure = true;
  HealthProbeCollector& insecure = Make(insecure_options, nullptr);
  StartLoop();
  ASSERT_TRUE(WaitFor([&] { return Sample(Scrape(strict), "kubevip_vip_healthz_up") == 0; }));
  bool success = true;
  Scrape(strict, &success);
  EXPECT_FALSE(success);
  ASSERT_TRUE(WaitFor([&] { return Sample(Scrape(insecure), "kubevip_vip_healthz_up") == 1; }));
}

// Speed is not asserted here: bench/run failover measures full-config scrapes (the healthz
// probe in the background) while the VIP moves between nodes.
TEST_F(VipHealthzTest, AStalledPeerNeverDelaysAScrape) {
  // Accepts TCP connections (the kernel completes the handshake) but never answers.
  asio::io_context peer_io;
  asio::ip::tcp::acceptor stalled(peer_io, {asio::ip::make_address("127.0.0.1"), 0});
  VipHealthzOptions options = Options(stalled.local_endpoint().port());
  options.timeout = std::chrono::milliseconds(2000);
  options.interval = std::chrono::milliseconds(5000);
  HealthProbeCollector& collector = Make(options, nullptr);
  StartLoop();

  // The first probe has connected and now waits on the peer, which holds the connection
  // open without a byte until the probe's deadline.
  asio::ip::tcp::socket held(peer_io);
  bool connected = false;
  stalled.async_accept(held, [&](boost::system::error_code error) { connected = !error; });
  peer_io.run_for(std::chrono::seconds(10));
  ASSERT_TRUE(connected) << "the probe never connected";

  // Scrapes meanwhile complete from memory: each reports that no probe has ended yet (no
  // samples, not a success), so none of them waited for the probe in flight.
  for (int i = 0; i < 20; ++i) {
    bool success = true;
    EXPECT_TRUE(Scrape(collector, &success).empty()) << "scrape " << i;
    EXPECT_FALSE(success) << "scrape " << i;
  }

  // Then the probe's deadline ends it, and scrapes report that last state.
  ASSERT_TRUE(WaitFor([&] { return Sample(Scrape(collector), "kubevip_vip_healthz_up") == 0; }));
  double duration = Sample(Scrape(collector), "kubevip_vip_healthz_duration_seconds").value_or(-1);
  EXPECT_GE(duration, 1.95);  // the probe's deadline, measured by the loop
  EXPECT_LT(duration, 5.0);
}

// The local API server probe shares the machinery; its own parts are the default URL (the
// name kube-vip dials, connected to loopback) and its unlabelled families.
double Unlabelled(const std::vector<MetricFamily>& out, const std::string& name) {
  for (const auto& family : out) {
    if (family.name == name && family.metric.size() == 1 && family.metric[0].label.empty())
      return family.metric[0].gauge.value;
  }
  return -1;
}

TEST_F(VipHealthzTest, LocalApiServerProbeDefaultsToTheNameKubeVipDials) {
  ApiServerLivezOptions options;
  options.port = 16443;
  auto& livez = Own(MakeApiServerLivezCollector(loop_, options, nullptr));
  EXPECT_EQ(livez.Name(), "apiserver_livez");
  EXPECT_EQ(livez.url(), "https://kubernetes:16443/livez");
  EXPECT_TRUE(Scrape(livez).empty());  // unknown until the first probe ends
}

TEST_F(VipHealthzTest, LocalApiServerProbeExposesUpAndDown) {
  int port = StartApiServer();
  ApiServerLivezOptions options;
  options.url = "https://127.0.0.1:" + std::to_string(port) + "/healthz";
  options.interval = std::chrono::milliseconds(100);
  auto& up = Own(MakeApiServerLivezCollector(loop_, options, ClientTrustingTheTestCa()));
  options.url = "https://127.0.0.1:" + std::to_string(port) + "/no-such-endpoint";
  auto& down = Own(MakeApiServerLivezCollector(loop_, options, ClientTrustingTheTestCa()));
  StartLoop();
  ASSERT_TRUE(WaitFor([&] { return Unlabelled(Scrape(up), "kubevip_apiserver_livez_up") == 1; }));
  ASSERT_TRUE(WaitFor([&] { return Unlabelled(Scrape(down), "kubevip_apiserver_livez_up") == 0; }));
  bool success = true;
  auto out = Scrape(down, &success);
  EXPECT_FALSE(success);
  EXPECT_GE(Unlabelled(out, "kubevip_apiserver_livez_duration_seconds"), 0);
  EXPECT_NEAR(Unlabelled(out, "kubevip_apiserver_livez_last_probe_timestamp_seconds"), UnixNow(),
              10);
}

TEST_F(VipHealthzTest, ConnectToReachesTheNameThroughAnotherAddress) {
  // "localhost:1" has no listener; connect_to sends the connection to the test server, and
  // TLS still verifies the name in the URL (the test certificate carries DNS:localhost).
  int port = StartApiServer();
  kube::HealthProbeOptions options{.what = "test",
                                   .url = "https://localhost:1/healthz",
                                   .connect_to = {"localhost:1:127.0.0.1:" + std::to_string(port)},
                                   .tls = ProbeTls(ClientTrustingTheTestCa().get(), false),
                                   .timeout = std::chrono::milliseconds(2000),
                                   .interval = std::chrono::milliseconds(100)};
  probes_.push_back(std::make_unique<kube::HealthProbe>(loop_, options));
  kube::HealthProbe& probe = *probes_.back();
  StartLoop();
  ASSERT_TRUE(WaitFor([&] { return probe.Last().known; }));
  EXPECT_TRUE(probe.Last().up);
}

}  // namespace
}  // namespace kvip
