#pragma once
// One HTTP connection, plain or TLS: the TLS handshake (a plain request on a TLS port gets
// Go's hint), reading each request under the request and idle timeouts and the header
// limit, handing it to the RequestHandler, writing the response under the write timeout,
// keep-alive, and a close that does not reset a response in flight. Each connection is in
// the ConnectionTable while open. Used on the I/O thread only.

#include <boost/asio/ip/tcp.hpp>
#include <memory>

namespace kvip {
struct WebOptions;
class ConnectionTable;
}  // namespace kvip

namespace kvip::detail {

class RequestHandler;
class WebStats;
struct ServingConfig;

// What a connection uses of the server; all of it outlives every connection.
struct SessionContext {
  const WebOptions& options;
  ConnectionTable& connections;
  WebStats& stats;
  RequestHandler& handler;
};

// Serves one accepted connection under `config` (TLS when it has a TLS context) until it
// ends; the connection owns itself.
void StartSession(const SessionContext& server, boost::asio::ip::tcp::socket socket,
                  std::shared_ptr<const ServingConfig> config);

}  // namespace kvip::detail
