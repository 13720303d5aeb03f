#include "collectors/kubevip_scrape.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <regex>
#include <sstream>
#include <thread>

#include "fixture_files.h"
#include "web_test_util.h"

namespace kvip {
namespace {

using testing::WaitFor;

namespace asio = boost::asio;
using asio::ip::tcp;
using prometheus::MetricFamily;

std::string KubeVipOutput() { return testing::ReadFixture("promtext/kube-vip-v1.0.4.txt"); }

// An HTTP peer on 127.0.0.1:<free port> that answers every request with whatever the
// test scripted last: a response, raw bytes, or nothing at all (a stalled peer).
class ScriptedHttpServer {
 public:
  ScriptedHttpServer() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ScriptedHttpServer() {
    io_.stop();
    thread_.join();
  }

  std::string Url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/metrics";
  }

  void Respond(int status, const std::string& content_type, const std::string& body) {
    bool keep_alive = false;
    {
      std::lock_guard lock(mu_);
      keep_alive = keep_alive_;
    }
    std::string response = "HTTP/1.1 " + std::to_string(status) +
                           " X\r\nContent-Type: " + content_type +
                           "\r\nContent-Length: " + std::to_string(body.size()) +
                           (keep_alive ? "" : "\r\nConnection: close") + "\r\n\r\n" + body;
    RespondRaw(response);
  }
  // From now on answers without "Connection: close"; `serve_more` keeps reading requests on
  // the connection afterwards, as Go's net/http does. Without it the connection is closed
  // after the answer although the client was told it may reuse it.
  void KeepAlive(bool serve_more) {
    std::lock_guard lock(mu_);
    keep_alive_ = true;
    serve_more_ = serve_more;
  }
  void RespondMetrics(const std::string& body) {
    Respond(200, "text/plain; version=0.0.4; charset=utf-8", body);
  }
  void RespondRaw(std::string bytes) {
    std::lock_guard lock(mu_);
    response_ = std::move(bytes);
    stall_ = false;
  }
  void Stall() {
    std::lock_guard lock(mu_);
    stall_ = true;
  }
  // Requests wait unanswered until Release(), which answers them with the scripted response.
  void Hold() {
    std::lock_guard lock(mu_);
    hold_ = true;
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      hold_ = false;
    }
    asio::post(io_, [this] {
      std::vector<std::shared_ptr<tcp::socket>> held;
      {
        std::lock_guard lock(mu_);
        held.swap(held_);
      }
      for (auto& peer : held) Answer(peer);
    });
  }
  std::string LastRequest() {
    std::lock_guard lock(mu_);
    return last_request_;
  }
  // Requests received so far (complete request headers).
  size_t Requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // Connections accepted so far.
  size_t Connections() {
    std::lock_guard lock(mu_);
    return connections_;
  }

  // A URL on a port this server has bound but never listens on: connections to it are
  // refused, and no other process can take the port meanwhile.
  std::string RefusingUrl() {
    refusing_.open(tcp::v4());
    refusing_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return "http://127.0.0.1:" + std::to_string(refusing_.local_endpoint().port()) + "/metrics";
  }

 private:
  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code error, tcp::socket socket) {
      if (error) return;
      {
        std::lock_guard lock(mu_);
        ++connections_;
      }
      ReadRequest(std::make_shared<tcp::socket>(std::move(socket)));
      Accept();
    });
  }

  void ReadRequest(const std::shared_ptr<tcp::socket>& peer) {
    auto request = std::make_shared<std::string>();
    asio::async_read_until(*peer, asio::dynamic_buffer(*request), "\r\n\r\n",
                           [this, peer, request](boost::system::error_code read_error, size_t) {
                             if (read_error) return;
                             std::unique_lock lock(mu_);
                             ++requests_;
                             last_request_ = *request;
                             if (stall_) {
                               stalled_.push_back(peer);  // keep it open, never answer
                               return;
                             }
                             if (hold_) {
                               held_.push_back(peer);  // answered by Release()
                               return;
                             }
                             lock.unlock();
                             Answer(peer);
                           });
  }

  void Answer(const std::shared_ptr<tcp::socket>& peer) {
    std::shared_ptr<std::string> bytes;
    bool serve_more = false;
    {
      std::lock_guard lock(mu_);
      bytes = std::make_shared<std::string>(response_);
      serve_more = serve_more_;
    }
    asio::async_write(*peer, asio::buffer(*bytes),
                      [this, peer, bytes, serve_more](boost::system::error_code error, size_t) {
                        if (!error && serve_more) return ReadRequest(peer);
                        boost::system::error_code ignored;
                        peer->shutdown(tcp::socket::shutdown_both, ignored);
                      });
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::mutex mu_;
  std::string response_;                               // guarded by mu_
  bool stall_ = false;                                 // guarded by mu_
  bool hold_ = false;                                  // guarded by mu_
  bool keep_alive_ = false;                            // guarded by mu_
  bool serve_more_ = false;                            // guarded by mu_
  size_t requests_ = 0;                                // guarded by mu_
  size_t connections_ = 0;                             // guarded by mu_
  std::string last_request_;                           // guarded by mu_
  std::vector<std::shared_ptr<tcp::socket>> held_;     // guarded by mu_
  std::vector<std::shared_ptr<tcp::socket>> stalled_;  // only touched on the io thread
  tcp::socket refusing_{io_};                          // only touched by the test
};

const MetricFamily* Find(const std::vector<MetricFamily>& families, const std::string& name) {
  const MetricFamily* found = nullptr;
  for (const auto& family : families) {
    if (family.name != name) continue;
    EXPECT_EQ(found, nullptr) << "two families named " << name;
    found = &family;
  }
  return found;
}

double Value(const std::vector<MetricFamily>& families, const std::string& name) {
  const MetricFamily* family = Find(families, name);
  if (!family || family->metric.size() != 1) {
    ADD_FAILURE() << "no single sample for " << name;
    return -1;
  }
  const auto& metric = family->metric[0];
  return family->type == prometheus::MetricType::Counter ? metric.counter.value
                                                         : metric.gauge.value;
}

std::string WithStartTime(double start_time) {
  return "# HELP process_start_time_seconds Start time of the process since unix epoch in "
         "seconds.\n# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds " +
         std::to_string(start_time) + "\n";
}

class KubeVipScrapeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  static void TearDownTestSuite() { curl_global_cleanup(); }

  void SetUp() override {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    auto logger = std::make_shared<spdlog::logger>("test", sink);
    logger->set_pattern("%l %v");
    spdlog::set_default_logger(logger);
  }

  KubeVipScrapeOptions Options() const {
    KubeVipScrapeOptions options;
    options.metrics_url = server_.Url();
    options.timeout = std::chrono::milliseconds(2000);
    return options;
  }

  size_t LogCount(const std::string& text) const {
    std::string log = log_.str();
    size_t count = 0;
    for (size_t pos = log.find(text); pos != std::string::npos; pos = log.find(text, pos + 1)) {
      ++count;
    }
    return count;
  }

  ScriptedHttpServer server_;
  std::ostringstream log_;
};

TEST_F(KubeVipScrapeTest, UpWithReexportedFamilies) {
  server_.RespondMetrics(KubeVipOutput());
  KubeVipScrapeCollector collector(Options());
  EXPECT_EQ(collector.Name(), "kubevip_scrape");
  std::vector<MetricFamily> out;
  ASSERT_TRUE(collector.Collect(out));

  EXPECT_EQ(Value(out, "kubevip_up"), 1);
  EXPECT_GE(Value(out, "kubevip_scrape_duration_seconds"), 0);
  EXPECT_EQ(Value(out, "kubevip_process_restarts_total"), 0);
  EXPECT_DOUBLE_EQ(Value(out, "kubevip_process_start_time_seconds"), 1.7956211373e+09);
  EXPECT_EQ(Find(out, "kubevip_process_start_time_seconds")->type,
            prometheus::MetricType::Gauge);  // ours, not the re-exported copy

  EXPECT_EQ(Value(out, "kubevip_go_goroutines"), 13);
  EXPECT_EQ(Value(out, "kubevip_process_resident_memory_bytes"), 4.4490752e+07);
  const MetricFamily* gc = Find(out, "kubevip_go_gc_duration_seconds");
  ASSERT_NE(gc, nullptr);
  EXPECT_EQ(gc->type, prometheus::MetricType::Summary);
  const MetricFamily* requests = Find(out, "kubevip_promhttp_metric_handler_requests_total");
  ASSERT_NE(requests, nullptr);
  EXPECT_EQ(requests->metric.size(), 3u);
  for (const auto& family : out) EXPECT_EQ(family.name.rfind("kubevip_", 0), 0u) << family.name;

  // The whole output is valid text format again: no duplicate families, escapes intact.
  std::string text = prometheus::TextSerializer().Serialize(out);
  promtext::ParseResult again = promtext::Parse(text);
  ASSERT_TRUE(again.ok()) << again.error->ToString() << "\n" << text;
  EXPECT_EQ(again.families.size(), out.size());
  EXPECT_EQ(LogCount("kube-vip scrape ok"), 1u);

  // The text format, uncompressed: kube-vip is on this node.
  std::string request = server_.LastRequest();
  EXPECT_NE(request.find("Accept: text/plain; version=0.0.4\r\n"), std::string::npos) << request;
  EXPECT_EQ(request.find("Accept-Encoding"), std::string::npos) << request;
}

// Scrapes `times` in a row, each a success with kubevip_up 1.
void ScrapeUpTimes(KubeVipScrapeCollector& collector, int times) {
  for (int i = 0; i < times; ++i) {
    std::vector<MetricFamily> out;
    ASSERT_TRUE(collector.Collect(out)) << "scrape " << i;
    EXPECT_EQ(Value(out, "kubevip_up"), 1) << "scrape " << i;
  }
}

TEST_F(KubeVipScrapeTest, ReusesTheConnectionToKubeVip) {
  server_.KeepAlive(/*serve_more=*/true);
  server_.RespondMetrics(KubeVipOutput());
  KubeVipScrapeCollector collector(Options());
  ASSERT_NO_FATAL_FAILURE(ScrapeUpTimes(collector, 3));
  EXPECT_EQ(server_.Requests(), 3u);
  EXPECT_EQ(server_.Connections(), 1u);
}

TEST_F(KubeVipScrapeTest, AKeptConnectionThePeerClosedIsReplaced) {
  // As when kube-vip restarts or closes an idle connection between two scrapes.
  server_.KeepAlive(/*serve_more=*/false);
  server_.RespondMetrics(KubeVipOutput());
  KubeVipScrapeCollector collector(Options());
  ASSERT_NO_FATAL_FAILURE(ScrapeUpTimes(collector, 3));
  EXPECT_EQ(server_.Requests(), 3u);
  EXPECT_EQ(server_.Connections(), 3u);
  EXPECT_EQ(LogCount("kube-vip scrape failed"), 0u);
}

TEST_F(KubeVipScrapeTest, NoReexport) {
  server_.RespondMetrics(KubeVipOutput());
  KubeVipScrapeOptions options = Options();
  options.reexport = false;
  KubeVipScrapeCollector collector(options);
  std::vector<MetricFamily> out;
  ASSERT_TRUE(collector.Collect(out));
  std::vector<std::string> names;
  for (const auto& family : out) names.push_back(family.name);
  EXPECT_EQ(names, (std::vector<std::string>{"kubevip_up", "kubevip_scrape_duration_seconds",
                                             "kubevip_process_start_time_seconds",
                                             "kubevip_process_restarts_total"}));
}

TEST_F(KubeVipScrapeTest, UpstreamNamesThatClashWithOursAreNotReexported) {
  server_.RespondMetrics(
      "# TYPE up gauge\nup 0\n"
      "# TYPE vip_bound gauge\nvip_bound{vip=\"x\",interface=\"y\"} 1\n"
      "# TYPE lease_events_total counter\nlease_events_total{type=\"ADDED\"} 3\n"
      "# HELP only_declared nothing follows\n"
      "# HELP odd_help Two\\nlines and a \\\\.\n# TYPE odd_help gauge\nodd_help 1\n");
  KubeVipScrapeCollector collector(Options());
  std::vector<MetricFamily> out;
  ASSERT_TRUE(collector.Collect(out));
  EXPECT_EQ(Value(out, "kubevip_up"), 1);
  EXPECT_EQ(Find(out, "kubevip_vip_bound"), nullptr);
  EXPECT_EQ(Find(out, "kubevip_lease_events_total"), nullptr);
  EXPECT_EQ(Find(out, "kubevip_only_declared"), nullptr);
  ASSERT_NE(Find(out, "kubevip_odd_help"), nullptr);
  EXPECT_EQ(Find(out, "kubevip_odd_help")->help, "Two\\nlines and a \\\\.");  // re-escaped
  std::string text = prometheus::TextSerializer().Serialize(out);
  EXPECT_TRUE(promtext::Parse(text).ok()) << text;
}

TEST_F(KubeVipScrapeTest, CountsRestartsFromStartTimeChanges) {
  KubeVipScrapeCollector collector(Options());
  auto scrape = [&](std::vector<MetricFamily>& out) {
    out.clear();
    return collector.Collect(out);
  };
  std::vector<MetricFamily> out;
  server_.RespondMetrics(WithStartTime(1000.5));
  ASSERT_TRUE(scrape(out));
  EXPECT_EQ(Value(out, "kubevip_process_restarts_total"), 0);  // first sight is no restart
  ASSERT_TRUE(scrape(out));
  EXPECT_EQ(Value(out, "kubevip_process_restarts_total"), 0);

  server_.Respond(503, "text/plain", "down\n");
  ASSERT_FALSE(scrape(out));
  EXPECT_EQ(Value(out, "kubevip_up"), 0);
  EXPECT_EQ(Find(out, "kubevip_process_start_time_seconds"), nullptr);
  EXPECT_EQ(Value(out, "kubevip_process_restarts_total"), 0);

  server_.RespondMetrics(WithStartTime(2000.25));
  ASSERT_TRUE(scrape(out));
  EXPECT_EQ(Value(out, "kubevip_process_restarts_total"), 1);
  EXPECT_EQ(Value(out, "kubevip_process_start_time_seconds"), 2000.25);
  EXPECT_EQ(LogCount("kube-vip restarted"), 1u);

  // An older start time is a late answer from a concurrent scrape, not a restart.
  server_.RespondMetrics(WithStartTime(1000.5));
  ASSERT_TRUE(scrape(out));
  EXPECT_EQ(Value(out, "kubevip_process_restarts_total"), 1);

  server_.RespondMetrics(WithStartTime(3000));
  ASSERT_TRUE(scrape(out));
  EXPECT_EQ(Value(out, "kubevip_process_restarts_total"), 2);
}

TEST_F(KubeVipScrapeTest, ConcurrentScrapesCountOneRestartOnce) {
  KubeVipScrapeCollector collector(Options());
  auto scrape_in_parallel = [&collector] {
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
      threads.emplace_back([&collector] {
        for (int i = 0; i < 5; ++i) {
          std::vector<MetricFamily> out;
          EXPECT_TRUE(collector.Collect(out));
        }
      });
    }
    for (auto& thread : threads) thread.join();
  };
  server_.RespondMetrics(KubeVipOutput());
  scrape_in_parallel();
  server_.RespondMetrics(WithStartTime(2e9));
  scrape_in_parallel();
  std::vector<MetricFamily> out;
  ASSERT_TRUE(collector.Collect(out));
  EXPECT_EQ(Value(out, "kubevip_process_restarts_total"), 1);
  EXPECT_EQ(LogCount("kube-vip scrape ok"), 1u);
}

TEST_F(KubeVipScrapeTest, ConcurrentScrapesShareOneRequest) {
  server_.RespondMetrics(KubeVipOutput());
  KubeVipScrapeCollector collector(Options());
  EXPECT_TRUE(collector.Blocking());
  server_.Hold();
  constexpr int kScrapes = 5;
  std::vector<std::vector<MetricFamily>> outs(kScrapes);
  std::vector<int> ups(kScrapes, -1);
  std::vector<std::thread> threads;
  auto scrape = [&](int i) { ups[i] = collector.Collect(outs[i]) ? 1 : 0; };
  threads.emplace_back(scrape, 0);
  ASSERT_TRUE(WaitFor([&] { return server_.Requests() == 1; }));
  for (int i = 1; i < kScrapes; ++i) threads.emplace_back(scrape, i);
  // Every later scrape waits for the request in flight instead of making its own.
  ASSERT_TRUE(WaitFor([&] { return collector.sharing() == kScrapes - 1; }));
  EXPECT_EQ(server_.Requests(), 1u);
  server_.Release();
  for (auto& thread : threads) thread.join();

  EXPECT_EQ(server_.Requests(), 1u);
  EXPECT_EQ(collector.sharing(), 0u);
  std::string first = prometheus::TextSerializer().Serialize(outs[0]);
  for (int i = 0; i < kScrapes; ++i) {
    EXPECT_EQ(ups[i], 1) << i;
    EXPECT_EQ(Value(outs[i], "kubevip_up"), 1) << i;
    EXPECT_EQ(Value(outs[i], "kubevip_go_goroutines"), 13) << i;
    EXPECT_EQ(Value(outs[i], "kubevip_scrape_duration_seconds"),
              Value(outs[0], "kubevip_scrape_duration_seconds"))
        << i;  // the one request's duration
    EXPECT_EQ(prometheus::TextSerializer().Serialize(outs[i]), first) << i;
  }
  EXPECT_EQ(LogCount("kube-vip scrape ok"), 1u);

  // An answer is shared only while it is awaited, never cached: the next scrape asks again.
  std::vector<MetricFamily> out;
  EXPECT_TRUE(collector.Collect(out));
  EXPECT_EQ(server_.Requests(), 2u);
}

TEST_F(KubeVipScrapeTest, ScrapesSharingAStalledRequestFailWithinTheDeadline) {
  server_.Stall();
  KubeVipScrapeOptions options = Options();
  options.timeout = std::chrono::milliseconds(300);
  KubeVipScrapeCollector collector(options);
  std::vector<std::vector<MetricFamily>> outs(3);
  std::vector<std::thread> threads;
  auto begin = std::chrono::steady_clock::now();
  threads.emplace_back([&] { EXPECT_FALSE(collector.Collect(outs[0])); });
  ASSERT_TRUE(WaitFor([&] { return server_.Requests() == 1; }));
  for (int i = 1; i < 3; ++i)
    threads.emplace_back([&, i] { EXPECT_FALSE(collector.Collect(outs[i])); });
  for (auto& thread : threads) thread.join();
  // Each within its own deadline (300 ms after it began), plus scheduling slack.
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::milliseconds(1500));
  for (const auto& out : outs) EXPECT_EQ(Value(out, "kubevip_up"), 0);
  EXPECT_LE(server_.Requests(), 3u);
  EXPECT_EQ(LogCount("kube-vip scrape failed"), 1u) << log_.str();
}

struct FailureCase {
  const char* name;
  std::function<void(ScriptedHttpServer&, KubeVipScrapeOptions&)> setup;
  const char* reason;  // in the log line
};

class KubeVipScrapeFailures : public KubeVipScrapeTest,
                              public ::testing::WithParamInterface<FailureCase> {};

TEST_P(KubeVipScrapeFailures, DownWithOneClearLogLine) {
  KubeVipScrapeOptions options = Options();
  GetParam().setup(server_, options);
  KubeVipScrapeCollector collector(options);
  for (int i = 0; i < 3; ++i) {
    std::vector<MetricFamily> out;
    EXPECT_FALSE(collector.Collect(out));
    EXPECT_EQ(Value(out, "kubevip_up"), 0);
    EXPECT_EQ(Value(out, "kubevip_process_restarts_total"), 0);
    EXPECT_EQ(out.size(), 3u);  // up, duration, restarts: nothing re-exported
  }
  EXPECT_EQ(LogCount("kube-vip scrape failed"), 1u) << log_.str();  // on change, not per scrape
  EXPECT_EQ(LogCount(options.metrics_url), 1u) << log_.str();
  EXPECT_EQ(LogCount(GetParam().reason), 1u) << log_.str();

  if (options.metrics_url != server_.Url()) return;
  server_.RespondMetrics(WithStartTime(1));  // the peer heals
  std::vector<MetricFamily> out;
  EXPECT_TRUE(collector.Collect(out));
  EXPECT_EQ(LogCount("kube-vip scrape recovered"), 1u) << log_.str();
}

INSTANTIATE_TEST_SUITE_P(
    Peers, KubeVipScrapeFailures,
    ::testing::Values(FailureCase{"refused",
                                  [](ScriptedHttpServer& s, KubeVipScrapeOptions& o) {
                                    o.metrics_url = s.RefusingUrl();
                                  },
                                  "connection failed"},
                      FailureCase{"stalled",
                                  [](ScriptedHttpServer& s, KubeVipScrapeOptions& o) {
                                    s.Stall();
                                    o.timeout = std::chrono::milliseconds(200);
                                  },
                                  "timed out"},
                      FailureCase{"status",
                                  [](ScriptedHttpServer& s, KubeVipScrapeOptions&) {
                                    s.Respond(500, "text/plain", "oops\n");
                                  },
                                  "HTTP status 500 (want 200)"},
                      FailureCase{"html",
                                  [](ScriptedHttpServer& s, KubeVipScrapeOptions&) {
                                    s.Respond(200, "text/html", "<html></html>\n");
                                  },
                                  "Content-Type \"text/html\" is not the text format"},
                      FailureCase{"garbage_body",
                                  [](ScriptedHttpServer& s, KubeVipScrapeOptions&) {
                                    s.RespondMetrics("go_goroutines 13\n\x01\x02 garbage\n");
                                  },
                                  "parse error at line 2: expected a metric name or '#'"},
                      FailureCase{"garbage_bytes",
                                  [](ScriptedHttpServer& s, KubeVipScrapeOptions&) {
                                    s.RespondRaw("\x16\x03\x01 not http at all\r\n\r\n");
                                  },
                                  "transport error"},
                      FailureCase{"too_large",
                                  [](ScriptedHttpServer& s, KubeVipScrapeOptions& o) {
                                    s.RespondMetrics(KubeVipOutput());
                                    o.limits.max_body_bytes = 1000;
                                  },
                                  "larger than 1000 bytes"}),
    [](const ::testing::TestParamInfo<FailureCase>& param_info) { return param_info.param.name; });

// The clash list is checked against the collectors' tables and docs/metrics.md in
// metric_families_test.cc.

}  // namespace
}  // namespace kvip
