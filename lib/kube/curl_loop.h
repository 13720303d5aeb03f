#pragma once
// Runs libcurl transfers on a Boost.Asio io_context through libcurl's multi-socket API:
// libcurl tells us which sockets to wait on and when its next timeout is; Asio waits and
// calls back. No extra thread, so the Lease watch's state machine, its timers and the stream
// parser all run on the daemon's one event loop.
//
// Thread safety: none; every member must be called on the io_context's thread (or before
// it runs). Handlers are called on that thread, never after Cancel() or destruction.

#include <curl/curl.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string_view>

#include "http/http_client.h"

namespace kvip::kube {

class CurlLoop {
 public:
  using TransferId = std::uint64_t;

  struct Handlers {
    // The response headers are complete (status known). Optional.
    std::function<void(long status)> on_headers;
    // Body bytes of a 2xx response as they arrive; return false to abort the transfer
    // (on_done then reports it with error "aborted"). When unset, the body is collected into
    // HttpResponse::body. A non-2xx body is always collected (bounded), for its Status.
    std::function<bool(std::string_view chunk)> on_data;
    // The transfer ended (completed, failed or aborted). Called once, unless cancelled.
    std::function<void(HttpResponse response)> on_done;
  };

  explicit CurlLoop(boost::asio::io_context& io);
  ~CurlLoop();
  CurlLoop(const CurlLoop&) = delete;
  CurlLoop& operator=(const CurlLoop&) = delete;

  // Starts `request` (its timeout bounds the whole transfer; 0 = no total limit, for
  // streams). Returns 0 when libcurl refused it; on_done is then not called.
  TransferId Start(const HttpRequest& request, Handlers handlers);

  // Stops a transfer; its handlers are dropped without being called. Safe from inside a
  // handler of this loop, and for ids that already ended.
  void Cancel(TransferId id);

  size_t active_transfers() const { return transfers_.size(); }

 private:
  struct Transfer;
  struct Socket;

  static int OnSocket(CURL* easy, curl_socket_t fd, int what, void* self, void* socket_data);
  static int OnTimer(CURLM* multi, long timeout_ms, void* self);
  static size_t OnWrite(char* data, size_t size, size_t count, void* transfer);
  static size_t OnHeader(char* data, size_t size, size_t count, void* transfer);

  void Wait(const std::shared_ptr<Socket>& socket, bool for_write);
  void Act(curl_socket_t fd, int events);
  void ReapFinished();
  void Remove(Transfer& transfer);

  boost::asio::io_context& io_;
  CURLM* multi_;
  boost::asio::steady_timer timer_;
  std::map<curl_socket_t, std::shared_ptr<Socket>> sockets_;
  std::map<TransferId, std::unique_ptr<Transfer>> transfers_;
  TransferId next_id_ = 1;
  int curl_depth_ = 0;  // > 0 while inside curl_multi_socket_action: removal must wait
  std::shared_ptr<int> life_ = std::make_shared<int>(0);  // handlers hold a weak_ptr
};

}  // namespace kvip::kube
