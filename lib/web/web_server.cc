#include "web/web_server.h"

#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "common/logging.h"
#include "web/config_reload.h"
#include "web/connection_table.h"
#include "web/http_session.h"
#include "web/listen_address.h"
#include "web/request_handler.h"
#include "web/web_stats.h"
#include "web/worker_offload.h"

namespace kvip {
namespace detail {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

bool IsTooManyFiles(const boost::system::error_code& error) {
  return error == asio::error::no_descriptors || error.value() == ENFILE ||
         error == asio::error::no_buffer_space || error == asio::error::no_memory;
}

}  // namespace

// The server itself: listening, the accept loop, the connection limit, the I/O thread and
// shutdown; the parts it wires together are in their own files.
class WebServerCore {
 public:
  WebServerCore(const WebOptions& options, std::shared_ptr<prometheus::Collectable> metrics);
  ~WebServerCore();

  std::vector<int> ListeningPorts() const { return {port_}; }
  bool ReloadConfig();
  bool Stop(std::chrono::milliseconds grace);

 private:
  void Listen(const ListenAddress& address);
  void Accept();
  void OnAccept(const boost::system::error_code& error, tcp::socket socket);
  void Admit(tcp::socket socket);

  // Set at construction, read-only after.
  const WebOptions options_;
  const std::shared_ptr<WebStats> stats_ = std::make_shared<WebStats>();
  size_t max_connections_ = 0;  // options_.max_connections, within the open-file limit
  int port_ = 0;

  // I/O thread only (and the constructor before it starts, Stop() after it ends).
  ConnectionTable connections_;
  std::chrono::steady_clock::time_point last_accept_error_log_{};

  // Declared after the state above: sessions still queued in it are destroyed with it and
  // deregister from connections_ on the way out.
  asio::io_context io_{1};
  ConfigReload config_{io_, options_, *stats_};
  WorkerOffload offload_{io_, options_.max_concurrent_scrapes, options_.max_concurrent_bcrypt};
  RequestHandler handler_;
  const SessionContext sessions_{options_, connections_, *stats_, handler_};
  tcp::acceptor acceptor_{io_};
  asio::steady_timer accept_retry_timer_{io_};
  std::thread thread_;

  std::mutex stop_mutex_;
  bool stopped_ = false;
  bool stopped_cleanly_ = true;
};

WebServerCore::WebServerCore(const WebOptions& options,
                             std::shared_ptr<prometheus::Collectable> metrics)
    : options_(options), handler_(options_, std::move(metrics), stats_, config_, offload_) {
  auto address = ParseListenAddress(options_.listen_address);
  if (!address) {
    throw std::runtime_error("invalid --web.listen-address \"" + options_.listen_address +
                             "\": want [host]:port, e.g. :9112 or [::1]:9112");
  }
  config_.LoadAtStart();
  Listen(*address);
  Accept();
  config_.Watch();
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
  StartSession(sessions_, std::move(socket), config_.current());
}

bool WebServerCore::ReloadConfig() {
  if (options_.web_config_file.empty()) return true;
  auto done = std::make_shared<std::promise<bool>>();
  auto result = done->get_future();
  asio::post(io_, [this, done] { done->set_value(config_.Reload("SIGHUP")); });
  // Only a stopped server leaves this unanswered.
  if (result.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return false;
  return result.get();
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
  stopped_cleanly_ = offload_.Close(grace);
  return stopped_cleanly_;
}

}  // namespace detail

WebServer::WebServer(const WebOptions& options, std::shared_ptr<prometheus::Collectable> metrics)
    : core_(std::make_unique<detail::WebServerCore>(options, std::move(metrics))) {}

WebServer::~WebServer() = default;

std::vector<int> WebServer::ListeningPorts() const { return core_->ListeningPorts(); }

bool WebServer::ReloadConfig() { return core_->ReloadConfig(); }

bool WebServer::Stop(std::chrono::milliseconds grace) { return core_->Stop(grace); }

}  // namespace kvip
