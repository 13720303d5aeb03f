#include "web/http_session.h"

#include <array>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "common/logging.h"
#include "web/config_reload.h"
#include "web/connection_table.h"
#include "web/gzip.h"
#include "web/request_handler.h"
#include "web/web_server.h"
#include "web/web_stats.h"

namespace kvip::detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// What Go's net/http answers to plain HTTP on a TLS port, so curl shows the same hint.
constexpr std::string_view kPlainHttpToTlsPort =
    "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Connection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

// Boost 1.74's Beast speaks boost::string_view.
std::string_view View(beast::string_view text) { return {text.data(), text.size()}; }

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

// One connection, plain (Stream = tcp_stream) or TLS (ssl_stream<tcp_stream>). Its
// lifetime is carried by the handler of its pending operation (shared_from_this).
template <typename Stream>
class Session final : public TrackedConnection,
                      public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Session(const SessionContext& server, tcp::socket socket,
          std::shared_ptr<const ServingConfig> config)
      : server_(server),
        config_(std::move(config)),
        stream_(MakeStream(std::move(socket), *config_)),
        buffer_(server.options.max_request_header_bytes + 4096) {
    server_.connections.Add(*this);
    server_.stats.Opened();
  }

  ~Session() override {
    server_.connections.Remove(*this);
    server_.stats.Closed();
  }

  void Start() {
    Lowest().expires_after(server_.options.request_timeout);  // covers the handshake too
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
    server_.connections.Remove(*this);
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
      server_.stats.Request(400);
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
        server_.stats.Dropped(WebStats::kTlsHandshake);
        LogDebug("TLS handshake failed", {{"remote", Remote()}, {"err", error.message()}});
      }
      return EndOnError(error);
    }
    buffer_.consume(used);
    server_.connections.Progressed(*this);
    ReadRequest(true);
  }

  // fresh: the deadline set at accept still runs. Otherwise wait for the next keep-alive
  // request under the idle timeout, then give it the request timeout.
  void ReadRequest(bool fresh) {
    parser_.emplace();
    parser_->header_limit(server_.options.max_request_header_bytes);
    if (fresh) return ReadHeader();
    if (buffer_.size() > 0) {  // pipelined
      Lowest().expires_after(server_.options.request_timeout);
      return ReadHeader();
    }
    Lowest().expires_after(server_.options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(1024),
                            [self = this->shared_from_this()](beast::error_code error, size_t n) {
                              self->buffer_.commit(n);
                              if (error) return self->Close();  // idle end: nothing to count
                              self->Lowest().expires_after(self->server_.options.request_timeout);
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

    server_.connections.Progressed(*this);
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
    server_.connections.Pin(*this, true);
    server_.handler.Respond(
        std::move(request),
        [self = this->shared_from_this()](Response response) { self->Write(std::move(response)); });
  }

  void WriteError(http::status status, std::string_view text) {
    Write(server_.handler.ErrorResponse(status, text));
  }

  void Write(Response response) {
    server_.connections.Pin(*this, false);
    server_.stats.Request(response.result_int());
    response_.emplace(std::move(response));
    Lowest().expires_after(server_.options.write_timeout);
    http::async_write(stream_, *response_,
                      [self = this->shared_from_this()](beast::error_code error, size_t) {
                        self->OnWrite(error);
                      });
  }

  void OnWrite(beast::error_code error) {
    if (error) {
      if (error == beast::error::timeout) server_.stats.Dropped(WebStats::kWriteTimeout);
      return Close();
    }
    server_.connections.Progressed(*this);
    bool keep_alive = response_->keep_alive();
    response_.reset();
    if (!keep_alive) return CloseGracefully();
    ReadRequest(false);
  }

  void EndOnError(beast::error_code error) {
    if (error == beast::error::timeout) server_.stats.Dropped(WebStats::kRequestTimeout);
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
    server_.connections.Remove(*this);
    Lowest().close();
  }

  std::string Remote() {
    beast::error_code error;
    auto endpoint = Lowest().socket().remote_endpoint(error);
    if (error) return "?";
    return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  }

  const SessionContext server_;
  const std::shared_ptr<const ServingConfig> config_;  // owns the TLS context stream_ uses
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  std::optional<Response> response_;
  std::array<char, 512> discard_;
};

}  // namespace

void StartSession(const SessionContext& server, tcp::socket socket,
                  std::shared_ptr<const ServingConfig> config) {
  if (config->tls) {
    std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(server, std::move(socket),
                                                                    std::move(config))
        ->Start();
  } else {
    std::make_shared<Session<beast::tcp_stream>>(server, std::move(socket), std::move(config))
        ->Start();
  }
}

}  // namespace kvip::detail
