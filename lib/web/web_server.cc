#include "web/web_server.h"

#include <prometheus/text_serializer.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "common/file_stamp.h"
#include "common/logging.h"
#include "common/metric_family.h"
#include "web/basic_auth.h"
#include "web/connection_table.h"
#include "web/gzip.h"
#include "web/listen_address.h"
#include "web/tls_context.h"
#include "web/web_config.h"

namespace kvip {
namespace detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Response = http::response<http::string_body>;

constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kTextContentType = "text/plain; charset=utf-8";
// What Go's net/http answers to plain HTTP on a TLS port, so curl shows the same hint.
constexpr std::string_view kPlainHttpToTlsPort =
    "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Connection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

// One generation of --web.config.file, immutable once built; connections keep the one they
// started with, so a reload never pulls a TLS context from under a handshake.
struct ServingConfig {
  WebConfig web;
  std::shared_ptr<asio::ssl::context> tls;  // null: plain HTTP
};

constexpr std::string_view kCodeLabel[] = {"code"};
constexpr std::string_view kReasonLabel[] = {"reason"};
constexpr FamilySpec kFamilies[] = {
    {"kvip_exporter_web_requests_total", prometheus::MetricType::Counter,
     "HTTP requests answered, by status code.", kCodeLabel},
    {"kvip_exporter_web_connections", prometheus::MetricType::Gauge, "Open HTTP connections."},
    {"kvip_exporter_web_connections_dropped_total", prometheus::MetricType::Counter,
     "Connections the server closed before answering, by reason.", kReasonLabel},
    {"kvip_exporter_web_config_last_reload_successful", prometheus::MetricType::Gauge,
     "1 if the last (re)load of --web.config.file succeeded."},
    {"kvip_exporter_web_config_last_reload_success_timestamp_seconds",
     prometheus::MetricType::Gauge, "When --web.config.file was last loaded successfully."},
};
constexpr const FamilySpec& kRequests = FamilyIn(kFamilies, "kvip_exporter_web_requests_total");
constexpr const FamilySpec& kConnections = FamilyIn(kFamilies, "kvip_exporter_web_connections");
constexpr const FamilySpec& kDropped =
    FamilyIn(kFamilies, "kvip_exporter_web_connections_dropped_total");
constexpr const FamilySpec& kReloadOk =
    FamilyIn(kFamilies, "kvip_exporter_web_config_last_reload_successful");
constexpr const FamilySpec& kReloadTime =
    FamilyIn(kFamilies, "kvip_exporter_web_config_last_reload_success_timestamp_seconds");

// What a file looked like when last read (nullopt: missing); any difference means "reload".
using MaybeStamp = std::optional<FileStamp>;

// Boost 1.74's Beast speaks boost::string_view.
std::string_view View(beast::string_view text) { return {text.data(), text.size()}; }
beast::string_view BeastView(std::string_view text) { return {text.data(), text.size()}; }

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

// Counters the I/O thread bumps and scrape workers read: atomics only.
class WebStats {
 public:
  static constexpr std::array<int, 9> kCodes = {200, 400, 401, 404, 405, 413, 431, 500, 503};
  enum Drop { kEvicted, kRefused, kRequestTimeout, kWriteTimeout, kTlsHandshake, kDropCount };

  void Request(unsigned code) {
    for (size_t i = 0; i < kCodes.size(); ++i) {
      if (static_cast<unsigned>(kCodes[i]) == code) requests_[i]++;
    }
  }
  void Dropped(Drop reason) { drops_[reason]++; }
  void Opened() { open_++; }
  void Closed() { open_--; }
  void Reloaded(bool ok) {
    reload_ok_ = ok;
    if (ok) reload_success_time_ = UnixNow();
  }

  void AppendFamilies(std::vector<prometheus::MetricFamily>& out) const {
    static constexpr std::array<std::string_view, kDropCount> kDropNames = {
        "limit_evicted", "limit_refused", "request_timeout", "write_timeout", "tls_handshake"};
    auto requests = MakeFamily(kRequests);
    for (size_t i = 0; i < kCodes.size(); ++i) {
      AddSample(requests, kRequests, static_cast<double>(requests_[i].load()),
                {std::to_string(kCodes[i])});
    }
    auto drops = MakeFamily(kDropped);
    for (size_t i = 0; i < kDropNames.size(); ++i)
      AddSample(drops, kDropped, static_cast<double>(drops_[i].load()), {kDropNames[i]});
    out.push_back(std::move(requests));
    out.push_back(std::move(drops));
    out.push_back(MakeFamily(kConnections, static_cast<double>(open_.load())));
    out.push_back(MakeFamily(kReloadOk, reload_ok_.load() ? 1 : 0));
    out.push_back(MakeFamily(kReloadTime, reload_success_time_.load()));
  }

 private:
  std::array<std::atomic<uint64_t>, kCodes.size()> requests_{};
  std::array<std::atomic<uint64_t>, kDropCount> drops_{};
  std::atomic<int64_t> open_{0};
  std::atomic<bool> reload_ok_{true};
  std::atomic<double> reload_success_time_{UnixNow()};
};

// What a request handler needs from a parsed request.
struct Request {
  http::verb method = http::verb::get;
  std::string path;
  unsigned version = 11;
  bool keep_alive = true;
  std::string authorization;
  bool accepts_gzip = false;
};

using Reply = std::function<void(Response)>;

// The outcome of work done off the I/O thread (a scrape or a bcrypt check).
struct WorkResult {
  bool ok = false;
  std::string body;
  bool gzipped = false;
};

// Shared between the server and its detached worker threads: workers hand results back
// only while the gate is open, so none touches the server once Stop() has given up on it.
template <typename Server>
struct WorkerGate {
  std::mutex mutex;
  std::condition_variable finished;
  bool open = true;
  size_t running = 0;
  asio::io_context* io = nullptr;
  Server* server = nullptr;
};

}  // namespace

class WebServerCore {
 public:
  WebServerCore(const WebOptions& options, std::shared_ptr<prometheus::Collectable> metrics);
  ~WebServerCore();

  std::vector<int> ListeningPorts() const { return {port_}; }
  bool ReloadConfig();
  bool Stop(std::chrono::milliseconds grace);

  // For sessions, on the I/O thread.
  const WebOptions& options() const { return options_; }
  ConnectionTable& connections() { return connections_; }
  WebStats& stats() { return *stats_; }
  void Respond(Request request, Reply reply);
  Response ErrorResponse(http::status status, std::string_view text) const;

 private:
  enum class Work { kScrape, kBcrypt };
  struct Waiting {
    Work kind;
    std::function<void(WorkResult)> then;
  };
  struct Loaded {
    std::shared_ptr<const ServingConfig> config;
    std::string error;
  };

  void Listen(const ListenAddress& address);
  void Accept();
  void OnAccept(const boost::system::error_code& error, tcp::socket socket);
  void Admit(tcp::socket socket);
  template <typename Stream>
  void StartSession(tcp::socket socket, std::shared_ptr<const ServingConfig> config);
  void ScheduleConfigCheck();
  bool ConfigFilesChanged() const;
  std::vector<MaybeStamp> StampWatchedFiles() const;
  Loaded Load();
  bool Reload(std::string_view trigger);
  void Route(Request request, std::shared_ptr<const ServingConfig> config, Reply reply);
  Response MakeResponse(const Request& request, const ServingConfig& config, http::status status,
                        std::string_view content_type, std::string body) const;
  bool Offload(Work kind, std::function<WorkResult()> work, std::function<void(WorkResult)> then);
  void Finish(uint64_t ticket, WorkResult result);

  // Set at construction, read-only after.
  const WebOptions options_;
  const std::shared_ptr<prometheus::Collectable> metrics_;
  const std::string landing_page_;
  const std::shared_ptr<WebStats> stats_ = std::make_shared<WebStats>();
  size_t max_connections_ = 0;  // options_.max_connections, within the open-file limit
  int port_ = 0;

  // I/O thread only (and the constructor before it starts, Stop() after it ends).
  std::shared_ptr<const ServingConfig> config_;
  std::vector<std::string> watched_files_;  // the config file, then the files it names
  std::vector<MaybeStamp> loaded_stamps_;   // watched_files_ as they were when last read
  VerifiedCredentials verified_;
  ConnectionTable connections_;
  std::map<uint64_t, Waiting> waiting_;
  uint64_t next_ticket_ = 0;
  size_t scrapes_in_flight_ = 0;
  size_t bcrypt_in_flight_ = 0;
  std::chrono::steady_clock::time_point last_accept_error_log_{};

  const std::shared_ptr<WorkerGate<WebServerCore>> gate_ =
      std::make_shared<WorkerGate<WebServerCore>>();

  // Declared after the state above: sessions still queued in it are destroyed with it and
  // deregister from connections_ on the way out.
  asio::io_context io_{1};
  tcp::acceptor acceptor_{io_};
  asio::steady_timer accept_retry_timer_{io_};
  asio::steady_timer config_timer_{io_};
  std::thread thread_;

  std::mutex stop_mutex_;
  bool stopped_ = false;
  bool stopped_cleanly_ = true;
};

namespace {

// One connection, plain (Stream = tcp_stream) or TLS (ssl_stream<tcp_stream>). Its
// lifetime is carried by the handler of its pending operation (shared_from_this).
template <typename Stream>
class Session final : public TrackedConnection,
                      public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Session(WebServerCore& server, tcp::socket socket, std::shared_ptr<const ServingConfig> config)
      : server_(server),
        config_(std::move(config)),
        stream_(MakeStream(std::move(socket), *config_)),
        buffer_(server.options().max_request_header_bytes + 4096) {
    server_.connections().Add(*this);
    server_.stats().Opened();
  }

  ~Session() override {
    server_.connections().Remove(*this);
    server_.stats().Closed();
  }

  void Start() {
    Lowest().expires_after(server_.options().request_timeout);  // covers the handshake too
    if constexpr (kTls) {
      beast::async_detect_ssl(Lowest(), buffer_,
                              [self = this->shared_from_this()](beast::error_code error, bool tls) {
                                self->OnDetect(error, tls);
                              });
    } else {
      ReadRequest(true);
    }
  }

  void Drop() override {
    server_.connections().Remove(*this);
    Lowest().close();
  }

 private:
  static Stream MakeStream(tcp::socket socket, const ServingConfig& config) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *config.tls);
    } else {
      return Stream(std::move(socket));
    }
  }

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void OnDetect(beast::error_code error, bool tls) {
    if (error) return EndOnError(error);
    if (!tls) {
      server_.stats().Request(400);
      asio::async_write(Lowest(),
                        asio::buffer(kPlainHttpToTlsPort.data(), kPlainHttpToTlsPort.size()),
                        [self = this->shared_from_this()](beast::error_code write_error, size_t) {
                          if (write_error) return self->Close();
                          self->DrainThenClose();
                        });
      return;
    }
    if constexpr (kTls) {
      stream_.async_handshake(
          asio::ssl::stream_base::server, buffer_.data(),
          [self = this->shared_from_this()](beast::error_code handshake_error, size_t used) {
            self->OnHandshake(handshake_error, used);
          });
    }
  }

  void OnHandshake(beast::error_code error, size_t used) {
    if (error) {
      if (error != beast::error::timeout && error != asio::error::operation_aborted) {
        server_.stats().Dropped(WebStats::kTlsHandshake);
        LogDebug("TLS handshake failed", {{"remote", Remote()}, {"err", error.message()}});
      }
      return EndOnError(error);
    }
    buffer_.consume(used);
    server_.connections().Progressed(*this);
    ReadRequest(true);
  }

  // fresh: the deadline set at accept still runs. Otherwise wait for the next keep-alive
  // request under the idle timeout, then give it the request timeout.
  void ReadRequest(bool fresh) {
    parser_.emplace();
    parser_->header_limit(server_.options().max_request_header_bytes);
    if (fresh) return ReadHeader();
    if (buffer_.size() > 0) {  // pipelined
      Lowest().expires_after(server_.options().request_timeout);
      return ReadHeader();
    }
    Lowest().expires_after(server_.options().idle_timeout);
    stream_.async_read_some(buffer_.prepare(1024),
                            [self = this->shared_from_this()](beast::error_code error, size_t n) {
                              self->buffer_.commit(n);
                              if (error) return self->Close();  // idle end: nothing to count
                              self->Lowest().expires_after(self->server_.options().request_timeout);
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code error, size_t) {
                       self->OnRead(error);
                     });
  }

  void OnRead(beast::error_code error) {
    if (error == http::error::end_of_stream) return Close();
    if (error == http::error::header_limit || error == http::error::buffer_overflow) {
      return WriteError(http::status::request_header_fields_too_large,
                        "request header too large\n");
    }
    if (error == http::error::unexpected_body || error == http::error::body_limit) {
      return WriteError(http::status::payload_too_large, "request bodies are not accepted\n");
    }
    if (error.category() == http::make_error_code(http::error::bad_method).category()) {
      return WriteError(http::status::bad_request, "malformed request\n");  // any parse error
    }
    if (error) return EndOnError(error);

    server_.connections().Progressed(*this);
    const auto& message = parser_->get();
    Request request;
    request.method = message.method();
    request.path = std::string(PathOf(View(message.target())));
    request.version = message.version();
    request.keep_alive = message.keep_alive();
    if (auto it = message.find(http::field::authorization); it != message.end()) {
      request.authorization = std::string(View(it->value()));
    }
    if (auto it = message.find(http::field::accept_encoding); it != message.end()) {
      request.accepts_gzip = AcceptsGzip(View(it->value()));
    }
    // Pinned while collecting: a scrape in progress is never the connection to drop.
    server_.connections().Pin(*this, true);
    server_.Respond(std::move(request), [self = this->shared_from_this()](Response response) {
      self->Write(std::move(response));
    });
  }

  void WriteError(http::status status, std::string_view text) {
    Write(server_.ErrorResponse(status, text));
  }

  void Write(Response response) {
    server_.connections().Pin(*this, false);
    server_.stats().Request(response.result_int());
    response_.emplace(std::move(response));
    Lowest().expires_after(server_.options().write_timeout);
    http::async_write(stream_, *response_,
                      [self = this->shared_from_this()](beast::error_code error, size_t) {
                        self->OnWrite(error);
                      });
  }

  void OnWrite(beast::error_code error) {
    if (error) {
      if (error == beast::error::timeout) server_.stats().Dropped(WebStats::kWriteTimeout);
      return Close();
    }
    server_.connections().Progressed(*this);
    bool keep_alive = response_->keep_alive();
    response_.reset();
    if (!keep_alive) return CloseGracefully();
    ReadRequest(false);
  }

  void EndOnError(beast::error_code error) {
    if (error == beast::error::timeout) server_.stats().Dropped(WebStats::kRequestTimeout);
    Close();
  }

  void CloseGracefully() {
    if constexpr (kTls) {
      // close_notify, bounded: a peer that never answers it is cut off after a second.
      Lowest().expires_after(std::chrono::seconds(1));
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->Close(); });
    } else {
      DrainThenClose();
    }
  }

  // Closing with unread request bytes would send a reset that can destroy the response in
  // flight; so send FIN, then read and discard until the peer closes (at most a second).
  void DrainThenClose() {
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    Lowest().expires_after(std::chrono::seconds(1));
    Discard();
  }

  void Discard() {
    Lowest().async_read_some(asio::buffer(discard_),
                             [self = this->shared_from_this()](beast::error_code error, size_t) {
                               if (error) return self->Close();
                               self->Discard();
                             });
  }

  void Close() {
    server_.connections().Remove(*this);
    Lowest().close();
  }

  std::string Remote() {
    beast::error_code error;
    auto endpoint = Lowest().socket().remote_endpoint(error);
    if (error) return "?";
    return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  }

  WebServerCore& server_;
  const std::shared_ptr<const ServingConfig> config_;  // owns the TLS context stream_ uses
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  std::optional<Response> response_;
  std::array<char, 512> discard_;
};

std::string LandingPage(const WebOptions& options) {
  return "<!DOCTYPE html>\n<html><head><title>kvip-exporter</title></head><body>\n"
         "<h1>kvip-exporter</h1>\n<p>Prometheus exporter for kube-vip: leader, VIP binding, "
         "lease health. Version " +
         options.version +
         ".</p>\n<ul>\n"
         "<li><a href=\"" +
         options.telemetry_path + "\">" + options.telemetry_path +
         "</a>: metrics</li>\n<li><a href=\"/healthz\">/healthz</a>: liveness</li>\n"
         "</ul>\n</body></html>\n";
}

bool IsTooManyFiles(const boost::system::error_code& error) {
  return error == asio::error::no_descriptors || error.value() == ENFILE ||
         error == asio::error::no_buffer_space || error == asio::error::no_memory;
}

}  // namespace

WebServerCore::WebServerCore(const WebOptions& options,
                             std::shared_ptr<prometheus::Collectable> metrics)
    : options_(options), metrics_(std::move(metrics)), landing_page_(LandingPage(options)) {
  auto address = ParseListenAddress(options_.listen_address);
  if (!address) {
    throw std::runtime_error("invalid --web.listen-address \"" + options_.listen_address +
                             "\": want [host]:port, e.g. :9112 or [::1]:9112");
  }
  if (options_.web_config_file.empty()) {
    config_ = std::make_shared<ServingConfig>();
  } else {
    Loaded loaded = Load();
    if (!loaded.config) throw std::runtime_error(loaded.error);
    config_ = loaded.config;
    const auto& web = config_->web;
    LogInfo("web config loaded",
            {{"file", options_.web_config_file},
             {"tls", web.tls ? "on" : "off"},
             {"client_auth", web.tls ? std::string(ClientAuthName(web.tls->client_auth)) : "none"},
             {"basic_auth_users", std::to_string(web.basic_auth_users.size())}});
  }
  Listen(*address);
  gate_->io = &io_;
  gate_->server = this;
  Accept();
  if (!options_.web_config_file.empty()) ScheduleConfigCheck();
  thread_ = std::thread([this] {
    // A handler that throws is a bug; keep serving rather than take the daemon down.
    while (true) {
      try {
        io_.run();
        return;
      } catch (const std::exception& err) {
        LogError("web server handler failed", {{"err", err.what()}});
      }
    }
  });
}

WebServerCore::~WebServerCore() { Stop(options_.shutdown_grace); }

void WebServerCore::Listen(const ListenAddress& address) {
  boost::system::error_code error;
  auto try_bind = [&](const tcp::endpoint& endpoint, bool dual_stack) {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    if (acceptor_.open(endpoint.protocol(), error)) return false;
    if (dual_stack) acceptor_.set_option(asio::ip::v6_only(false), ignored);
    acceptor_.set_option(asio::socket_base::reuse_address(true), ignored);
    if (acceptor_.bind(endpoint, error)) return false;
    if (acceptor_.listen(asio::socket_base::max_listen_connections, error)) return false;
    return true;
  };
  bool listening = false;
  if (address.host.empty()) {
    // As Go's ":port": IPv6 and IPv4 on one socket, or IPv4 alone where IPv6 is off.
    listening = try_bind(tcp::endpoint(asio::ip::address_v6::any(), address.port), true) ||
                try_bind(tcp::endpoint(asio::ip::address_v4::any(), address.port), false);
  } else {
    auto ip = asio::ip::make_address(address.host, error);
    if (error) {
      tcp::resolver resolver(io_);
      auto results = resolver.resolve(address.host, std::to_string(address.port), error);
      if (!error && !results.empty()) {
        listening = try_bind(results.begin()->endpoint(), false);
      }
    } else {
      listening = try_bind(tcp::endpoint(ip, address.port), false);
    }
  }
  if (!listening) {
    throw std::runtime_error("cannot listen on " + options_.listen_address + ": " +
                             error.message());
  }
  acceptor_.non_blocking(true, error);
  port_ = acceptor_.local_endpoint().port();

  // Each connection is a descriptor: keep the limit where accept() cannot run out of them.
  max_connections_ = options_.max_connections;
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
    constexpr rlim_t kReserve = 128;  // collectors, logs, netlink, the API server
    size_t budget = files.rlim_cur > 2 * kReserve ? files.rlim_cur - kReserve : files.rlim_cur / 2;
    if (budget < max_connections_) {
      LogWarn("connection limit lowered to fit the open-file limit",
              {{"max_connections", std::to_string(budget)},
               {"open_file_limit", std::to_string(files.rlim_cur)}});
      max_connections_ = budget;
    }
  }
}

void WebServerCore::Accept() {
  acceptor_.async_accept([this](const boost::system::error_code& error, tcp::socket socket) {
    OnAccept(error, std::move(socket));
  });
}

void WebServerCore::OnAccept(const boost::system::error_code& error, tcp::socket socket) {
  if (error == asio::error::operation_aborted) return;
  if (error) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_accept_error_log_ > std::chrono::seconds(10)) {
      last_accept_error_log_ = now;
      LogWarn("accepting a connection failed", {{"err", error.message()}});
    }
    if (error == asio::error::connection_aborted) return Accept();
    // Out of descriptors: free one by dropping the most stalled connection, and back off
    // rather than spin on the same error.
    if (IsTooManyFiles(error)) {
      if (TrackedConnection* victim = connections_.MostStalled()) {
        victim->Drop();
        stats_->Dropped(WebStats::kEvicted);
      }
    }
    accept_retry_timer_.expires_after(std::chrono::milliseconds(50));
    accept_retry_timer_.async_wait([this](const boost::system::error_code& timer_error) {
      if (!timer_error) Accept();
    });
    return;
  }
  Admit(std::move(socket));
  // Take what else waits in the backlog now: one accept per turn of the event loop falls
  // behind a flood of handshakes, and the kernel then drops new SYNs, a scrape's included.
  for (int batch = 0; batch < 64; ++batch) {
    tcp::socket next(io_);
    boost::system::error_code next_error;
    acceptor_.accept(next, next_error);  // non-blocking: see Listen()
    if (next_error) break;               // would_block, or an error the async path reports
    Admit(std::move(next));
  }
  Accept();
}

void WebServerCore::Admit(tcp::socket socket) {
  if (connections_.size() >= max_connections_) {
    if (TrackedConnection* victim = connections_.MostStalled()) {
      victim->Drop();
      stats_->Dropped(WebStats::kEvicted);
    } else {
      boost::system::error_code ignored;
      socket.close(ignored);
      stats_->Dropped(WebStats::kRefused);
      return;
    }
  }
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  if (config_->tls) {
    StartSession<beast::ssl_stream<beast::tcp_stream>>(std::move(socket), config_);
  } else {
    StartSession<beast::tcp_stream>(std::move(socket), config_);
  }
}

template <typename Stream>
void WebServerCore::StartSession(tcp::socket socket, std::shared_ptr<const ServingConfig> config) {
  std::make_shared<Session<Stream>>(*this, std::move(socket), std::move(config))->Start();
}

std::vector<MaybeStamp> WebServerCore::StampWatchedFiles() const {
  std::vector<MaybeStamp> stamps;
  for (const auto& path : watched_files_) stamps.push_back(StampOf(path));
  return stamps;
}

bool WebServerCore::ConfigFilesChanged() const { return StampWatchedFiles() != loaded_stamps_; }

WebServerCore::Loaded WebServerCore::Load() {
  const std::string& path = options_.web_config_file;
  // Stamp before reading: a change racing with the read shows up at the next check.
  MaybeStamp config_stamp = StampOf(path);
  WebConfigResult parsed = LoadWebConfig(path);
  if (parsed.ok() || watched_files_.empty()) {
    watched_files_ = {path};
    for (auto& file : parsed.config.ReferencedFiles()) watched_files_.push_back(std::move(file));
  }
  loaded_stamps_ = StampWatchedFiles();
  loaded_stamps_[0] = config_stamp;
  if (!parsed.ok()) return {nullptr, parsed.error};
  auto serving = std::make_shared<ServingConfig>();
  serving->web = std::move(parsed.config);
  if (serving->web.tls) {
    TlsContextResult tls = MakeTlsContext(*serving->web.tls);
    if (!tls.ok()) return {nullptr, "web config " + path + ": " + tls.error};
    serving->tls = std::move(tls.context);
  }
  return {std::move(serving), ""};
}

bool WebServerCore::Reload(std::string_view trigger) {
  Loaded loaded = Load();
  stats_->Reloaded(loaded.config != nullptr);
  if (!loaded.config) {
    LogError("web config reload failed; keeping the previous configuration",
             {{"trigger", std::string(trigger)}, {"err", loaded.error}});
    return false;
  }
  config_ = std::move(loaded.config);
  const auto& web = config_->web;
  LogInfo("web config reloaded",
          {{"file", options_.web_config_file},
           {"trigger", std::string(trigger)},
           {"tls", web.tls ? "on" : "off"},
           {"client_auth", web.tls ? std::string(ClientAuthName(web.tls->client_auth)) : "none"},
           {"basic_auth_users", std::to_string(web.basic_auth_users.size())}});
  return true;
}

void WebServerCore::ScheduleConfigCheck() {
  config_timer_.expires_after(options_.config_check_interval);
  config_timer_.async_wait([this](const boost::system::error_code& error) {
    if (error) return;
    if (ConfigFilesChanged()) Reload("file changed");
    ScheduleConfigCheck();
  });
}

bool WebServerCore::ReloadConfig() {
  if (options_.web_config_file.empty()) return true;
  auto done = std::make_shared<std::promise<bool>>();
  auto result = done->get_future();
  asio::post(io_, [this, done] { done->set_value(Reload("SIGHUP")); });
  // Only a stopped server leaves this unanswered.
  if (result.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return false;
  return result.get();
}

Response WebServerCore::MakeResponse(const Request& request, const ServingConfig& config,
                                     http::status status, std::string_view content_type,
                                     std::string body) const {
  Response response(status, request.version);
  response.set(http::field::content_type, BeastView(content_type));
  for (const auto& [name, value] : config.web.headers) response.set(name, value);
  response.keep_alive(request.keep_alive);
  response.body() = std::move(body);
  response.prepare_payload();
  if (request.method == http::verb::head) {
    size_t length = response.body().size();
    response.body().clear();
    response.content_length(length);
  }
  return response;
}

Response WebServerCore::ErrorResponse(http::status status, std::string_view text) const {
  Request request;
  request.keep_alive = false;
  return MakeResponse(request, *config_, status, kTextContentType, std::string(text));
}

void WebServerCore::Respond(Request request, Reply reply) {
  std::shared_ptr<const ServingConfig> config = config_;
  if (config->web.basic_auth_users.empty())
    return Route(std::move(request), config, std::move(reply));

  auto unauthorized = [this, config](const Request& req) {
    Response response =
        MakeResponse(req, *config, http::status::unauthorized, kTextContentType, "Unauthorized\n");
    response.set(http::field::www_authenticate, "Basic");
    return response;
  };
  auto credentials = ParseBasicAuthorization(request.authorization);
  if (!credentials) return reply(unauthorized(request));
  const std::string* user_hash = config->web.FindUserHash(credentials->user);
  const std::string hash = user_hash ? *user_hash : DecoyBcryptHash();
  if (user_hash && verified_.Contains(credentials->user, hash, credentials->password)) {
    return Route(std::move(request), config, std::move(reply));
  }
  auto check = [password = credentials->password, hash] {
    WorkResult result;
    result.ok = BcryptMatches(password, hash);
    return result;
  };
  auto then = [this, request, reply, config, credentials = *credentials, hash,
               known = user_hash != nullptr, unauthorized](WorkResult result) mutable {
    if (!result.ok || !known) return reply(unauthorized(request));
    verified_.Add(credentials.user, hash, credentials.password);
    Route(std::move(request), config, std::move(reply));
  };
  if (!Offload(Work::kBcrypt, std::move(check), std::move(then))) {
    reply(MakeResponse(request, *config, http::status::service_unavailable, kTextContentType,
                       "too many password checks in flight; retry\n"));
  }
}

void WebServerCore::Route(Request request, std::shared_ptr<const ServingConfig> config,
                          Reply reply) {
  const bool metrics = request.path == options_.telemetry_path;
  if (!metrics && request.path != "/" && request.path != "/healthz") {
    return reply(MakeResponse(request, *config, http::status::not_found, kTextContentType,
                              "404 page not found\n"));
  }
  if (request.method != http::verb::get && request.method != http::verb::head) {
    Response response = MakeResponse(request, *config, http::status::method_not_allowed,
                                     kTextContentType, "method not allowed\n");
    response.set(http::field::allow, "GET, HEAD");
    return reply(std::move(response));
  }
  if (request.path == "/healthz") {
    return reply(MakeResponse(request, *config, http::status::ok, kTextContentType, "ok\n"));
  }
  if (!metrics) {
    return reply(MakeResponse(request, *config, http::status::ok, "text/html; charset=utf-8",
                              landing_page_));
  }
  // Collect (which may wait for a collector's deadline), serialize and compress on a worker.
  auto scrape = [metrics = metrics_, stats = stats_, gzip = request.accepts_gzip] {
    WorkResult result;
    std::vector<prometheus::MetricFamily> families = metrics->Collect();
    stats->AppendFamilies(families);
    result.body = prometheus::TextSerializer().Serialize(families);
    if (gzip) {
      if (auto compressed = Gzip(result.body)) {
        result.body = std::move(*compressed);
        result.gzipped = true;
      }
    }
    result.ok = true;
    return result;
  };
  auto then = [this, request, config, reply](WorkResult result) {
    if (!result.ok) {
      return reply(MakeResponse(request, *config, http::status::internal_server_error,
                                kTextContentType, "collecting metrics failed\n"));
    }
    Response response = MakeResponse(request, *config, http::status::ok, kMetricsContentType,
                                     std::move(result.body));
    if (result.gzipped) response.set(http::field::content_encoding, "gzip");
    response.set(http::field::vary, "Accept-Encoding");
    reply(std::move(response));
  };
  if (!Offload(Work::kScrape, std::move(scrape), std::move(then))) {
    reply(MakeResponse(request, *config, http::status::service_unavailable, kTextContentType,
                       "too many concurrent scrapes; retry\n"));
  }
}

bool WebServerCore::Offload(Work kind, std::function<WorkResult()> work,
                            std::function<void(WorkResult)> then) {
  size_t& in_flight = kind == Work::kScrape ? scrapes_in_flight_ : bcrypt_in_flight_;
  size_t limit =
      kind == Work::kScrape ? options_.max_concurrent_scrapes : options_.max_concurrent_bcrypt;
  if (in_flight >= limit) return false;
  uint64_t ticket = next_ticket_++;
  {
    std::lock_guard lock(gate_->mutex);
    ++gate_->running;
  }
  try {
    // Detached so that Stop() can give up on a collector stuck past its deadline; the
    // thread owns everything it touches (gate, collectable) through shared pointers.
    std::thread([gate = gate_, ticket, work = std::move(work)]() mutable {
      WorkResult result;
      try {
        result = work();
      } catch (const std::exception& err) {
        LogError("serving a request failed", {{"err", err.what()}});
      }
      work = nullptr;
      std::lock_guard lock(gate->mutex);
      if (gate->open) {
        asio::post(*gate->io,
                   [server = gate->server, ticket, result = std::move(result)]() mutable {
                     server->Finish(ticket, std::move(result));
                   });
      }
      --gate->running;
      gate->finished.notify_all();
    }).detach();
  } catch (const std::system_error& err) {
    std::lock_guard lock(gate_->mutex);
    --gate_->running;
    LogWarn("cannot start a worker thread", {{"err", err.what()}});
    return false;
  }
  ++in_flight;
  waiting_.emplace(ticket, Waiting{kind, std::move(then)});
  return true;
}

void WebServerCore::Finish(uint64_t ticket, WorkResult result) {
  auto it = waiting_.find(ticket);
  if (it == waiting_.end()) return;
  Waiting waiting = std::move(it->second);
  waiting_.erase(it);
  --(waiting.kind == Work::kScrape ? scrapes_in_flight_ : bcrypt_in_flight_);
  waiting.then(std::move(result));
}

bool WebServerCore::Stop(std::chrono::milliseconds grace) {
  std::lock_guard stop_lock(stop_mutex_);
  if (stopped_) return stopped_cleanly_;
  stopped_ = true;
  io_.stop();
  if (thread_.joinable()) thread_.join();
  // The I/O thread is gone: its state is ours now.
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  connections_.DropAll();
  {
    std::unique_lock lock(gate_->mutex);
    stopped_cleanly_ =
        gate_->finished.wait_for(lock, grace, [this] { return gate_->running == 0; });
    gate_->open = false;
  }
  waiting_.clear();
  return stopped_cleanly_;
}

}  // namespace detail

std::span<const FamilySpec> WebServer::Families() { return detail::kFamilies; }

WebServer::WebServer(const WebOptions& options, std::shared_ptr<prometheus::Collectable> metrics)
    : core_(std::make_unique<detail::WebServerCore>(options, std::move(metrics))) {}

WebServer::~WebServer() = default;

std::vector<int> WebServer::ListeningPorts() const { return core_->ListeningPorts(); }

bool WebServer::ReloadConfig() { return core_->ReloadConfig(); }

bool WebServer::Stop(std::chrono::milliseconds grace) { return core_->Stop(grace); }

}  // namespace kvip
