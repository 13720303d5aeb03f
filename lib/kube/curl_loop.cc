#include "kube/curl_loop.h"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <string>

namespace kvip::kube {

struct CurlLoop::Transfer {
  TransferId id = 0;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  curl_slist* connect_to = nullptr;  // CURLOPT_CONNECT_TO entries
  Handlers handlers;
  HttpResponse response;
  std::string url;
  size_t max_body_bytes = 0;
  bool added = false;         // curl_multi_add_handle succeeded
  bool headers_done = false;  // the final (non-1xx) header block has ended
  bool streaming = false;     // 2xx with on_data: body goes to the handler
  bool aborted = false;       // on_data asked to stop
  bool overflow = false;      // collected body hit max_body_bytes
  bool cancelled = false;     // Cancel() while libcurl was running: drop silently
  bool finished = false;      // libcurl reported CURLMSG_DONE
  CURLcode result = CURLE_OK;
  char error[CURL_ERROR_SIZE] = {};
};

struct CurlLoop::Socket {
  Socket(boost::asio::io_context& io, curl_socket_t native) : descriptor(io, native), fd(native) {}
  // Does not own the fd: libcurl closes it, after telling us CURL_POLL_REMOVE.
  boost::asio::posix::stream_descriptor descriptor;
  curl_socket_t fd;
  int wanted = 0;                         // CURL_POLL_IN / CURL_POLL_OUT bits
  bool reading = false, writing = false;  // an async_wait is pending
  bool closed = false;
};

namespace {

constexpr long kDefaultConnectTimeoutMs = 10000;

}  // namespace

CurlLoop::CurlLoop(boost::asio::io_context& io) : io_(io), multi_(curl_multi_init()), timer_(io) {
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlLoop::OnSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlLoop::OnTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
}

CurlLoop::~CurlLoop() {
  life_.reset();  // queued handlers see this and return without touching *this
  for (auto& [id, transfer] : transfers_) {
    if (transfer->added) curl_multi_remove_handle(multi_, transfer->easy);
    curl_easy_cleanup(transfer->easy);
    curl_slist_free_all(transfer->headers);
    curl_slist_free_all(transfer->connect_to);
  }
  transfers_.clear();
  for (auto& [fd, socket] : sockets_) {
    socket->closed = true;
    socket->descriptor.release();
  }
  sockets_.clear();
  curl_multi_cleanup(multi_);
}

CurlLoop::TransferId CurlLoop::Start(const HttpRequest& request, Handlers handlers) {
  if (!multi_) return 0;
  auto transfer = std::make_unique<Transfer>();
  CURL* c = curl_easy_init();
  if (!c) return 0;
  transfer->id = next_id_++;
  transfer->easy = c;
  transfer->handlers = std::move(handlers);
  transfer->url = request.url;
  transfer->max_body_bytes = request.max_body_bytes;

  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PRIVATE, transfer.get());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  long total_ms = static_cast<long>(request.timeout.count());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total_ms);  // 0: a stream, bounded by its reader
  curl_easy_setopt(
      c, CURLOPT_CONNECTTIMEOUT_MS,
      total_ms > 0 && total_ms < kDefaultConnectTimeoutMs ? total_ms : kDefaultConnectTimeoutMs);
  // A peer that vanishes without a FIN or RST is noticed by the reader's stall timer; keepalive
  // helps the kernel notice too.
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  // Each transfer gets its own connection and leaves none behind: a stalled or half-dead
  // connection must never carry the next attempt. A watch opens one a minute; reuse would
  // save nothing.
  curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 10L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &CurlLoop::OnWrite);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, transfer.get());
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &CurlLoop::OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, transfer.get());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, transfer->error);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "kvip-exporter");
  if (request.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
    curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, request.body.c_str());
  }
  for (const auto& header : request.headers) {
    transfer->headers = curl_slist_append(transfer->headers, header.c_str());
  }
  if (!request.bearer_token.empty()) {
    transfer->headers = curl_slist_append(
        transfer->headers, ("Authorization: Bearer " + request.bearer_token).c_str());
  }
  if (transfer->headers) curl_easy_setopt(c, CURLOPT_HTTPHEADER, transfer->headers);
  for (const auto& entry : request.connect_to) {
    transfer->connect_to = curl_slist_append(transfer->connect_to, entry.c_str());
  }
  if (transfer->connect_to) curl_easy_setopt(c, CURLOPT_CONNECT_TO, transfer->connect_to);
  ApplyTls(c, request.tls);

  TransferId id = transfer->id;
  Transfer& t = *transfer;
  transfers_.emplace(id, std::move(transfer));
  if (curl_depth_ == 0) {
    if (curl_multi_add_handle(multi_, t.easy) == CURLM_OK) {
      t.added = true;
      return id;
    }
    Remove(t);
    return 0;
  }
  // libcurl does not allow adding handles from inside its callbacks: add on the next turn.
  boost::asio::post(io_, [this, life = std::weak_ptr<int>(life_), id] {
    if (life.expired()) return;
    auto it = transfers_.find(id);
    if (it == transfers_.end()) return;
    Transfer& deferred = *it->second;
    if (!deferred.cancelled && curl_multi_add_handle(multi_, deferred.easy) == CURLM_OK) {
      deferred.added = true;
      return;
    }
    auto on_done = deferred.cancelled ? nullptr : std::move(deferred.handlers.on_done);
    HttpResponse refused;
    refused.error = deferred.url + ": libcurl refused the transfer";
    Remove(deferred);
    if (on_done) on_done(std::move(refused));
  });
  return id;
}

void CurlLoop::Cancel(TransferId id) {
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return;
  if (curl_depth_ > 0 || !it->second->added) {
    // Inside libcurl (or not added yet): mark it; ReapFinished or the deferred add removes it.
    it->second->cancelled = true;
    return;
  }
  Remove(*it->second);
}

void CurlLoop::Remove(Transfer& transfer) {
  TransferId id = transfer.id;
  if (transfer.added) curl_multi_remove_handle(multi_, transfer.easy);
  curl_easy_cleanup(transfer.easy);
  curl_slist_free_all(transfer.headers);
  curl_slist_free_all(transfer.connect_to);
  transfers_.erase(id);
}

size_t CurlLoop::OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t bytes = size * count;
  if (transfer->cancelled) return 0;
  bool blank = bytes <= 2 && (bytes == 0 || data[0] == '\r' || data[0] == '\n');
  if (!blank || transfer->headers_done) return bytes;
  long status = 0;
  curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 100 && status < 200) return bytes;  // 100 Continue: the real block follows
  transfer->headers_done = true;
  transfer->response.status = status;
  transfer->streaming = status >= 200 && status < 300 && transfer->handlers.on_data;
  if (transfer->handlers.on_headers) transfer->handlers.on_headers(status);
  return transfer->cancelled ? 0 : bytes;
}

size_t CurlLoop::OnWrite(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t bytes = size * count;
  if (transfer->cancelled) return 0;
  if (transfer->streaming) {
    if (!transfer->handlers.on_data(std::string_view(data, bytes))) {
      transfer->aborted = true;
      return 0;
    }
    return transfer->cancelled ? 0 : bytes;
  }
  std::string& body = transfer->response.body;
  if (body.size() + bytes > transfer->max_body_bytes) {
    transfer->overflow = true;
    return 0;
  }
  body.append(data, bytes);
  return bytes;
}

int CurlLoop::OnSocket(CURL*, curl_socket_t fd, int what, void* self, void*) {
  auto* loop = static_cast<CurlLoop*>(self);
  auto it = loop->sockets_.find(fd);
  if (what == CURL_POLL_REMOVE) {
    if (it != loop->sockets_.end()) {
      it->second->closed = true;
      it->second->descriptor.release();  // pending waits finish with operation_aborted
      loop->sockets_.erase(it);
    }
    return 0;
  }
  if (it == loop->sockets_.end()) {
    try {
      it = loop->sockets_.emplace(fd, std::make_shared<Socket>(loop->io_, fd)).first;
    } catch (const std::exception&) {
      return -1;  // the reactor refused the fd; libcurl fails the transfer
    }
  }
  std::shared_ptr<Socket> socket = it->second;
  socket->wanted = what;
  if (what & CURL_POLL_IN) loop->Wait(socket, false);
  if (what & CURL_POLL_OUT) loop->Wait(socket, true);
  return 0;
}

void CurlLoop::Wait(const std::shared_ptr<Socket>& socket, bool for_write) {
  bool& pending = for_write ? socket->writing : socket->reading;
  if (pending) return;
  pending = true;
  using Descriptor = boost::asio::posix::stream_descriptor;
  socket->descriptor.async_wait(
      for_write ? Descriptor::wait_write : Descriptor::wait_read,
      [this, life = std::weak_ptr<int>(life_), socket,
       for_write](const boost::system::error_code& ec) {
        (for_write ? socket->writing : socket->reading) = false;
        if (socket->closed || life.expired() || ec == boost::asio::error::operation_aborted) return;
        int mask = for_write ? CURL_POLL_OUT : CURL_POLL_IN;
        if (!(socket->wanted & mask)) return;
        Act(socket->fd, ec ? CURL_CSELECT_ERR : (for_write ? CURL_CSELECT_OUT : CURL_CSELECT_IN));
        if (!life.expired() && !socket->closed && (socket->wanted & mask)) Wait(socket, for_write);
      });
}

int CurlLoop::OnTimer(CURLM*, long timeout_ms, void* self) {
  auto* loop = static_cast<CurlLoop*>(self);
  if (timeout_ms < 0) {
    loop->timer_.cancel();
    return 0;
  }
  // Never call back into libcurl from here: even a 0 ms timeout goes through the loop.
  loop->timer_.expires_after(std::chrono::milliseconds(timeout_ms));
  loop->timer_.async_wait(
      [loop, life = std::weak_ptr<int>(loop->life_)](const boost::system::error_code& ec) {
        if (ec || life.expired()) return;
        loop->Act(CURL_SOCKET_TIMEOUT, 0);
      });
  return 0;
}

void CurlLoop::Act(curl_socket_t fd, int events) {
  int running = 0;
  ++curl_depth_;
  curl_multi_socket_action(multi_, fd, events, &running);
  --curl_depth_;
  ReapFinished();
}

void CurlLoop::ReapFinished() {
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &queued)) {
    if (message->msg != CURLMSG_DONE) continue;
    Transfer* transfer = nullptr;
    curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &transfer);
    if (!transfer) continue;
    transfer->finished = true;
    transfer->result = message->data.result;
  }
  std::vector<TransferId> ended;
  for (const auto& [id, transfer] : transfers_) {
    if (transfer->added && (transfer->finished || transfer->cancelled)) ended.push_back(id);
  }
  for (TransferId id : ended) {
    auto it = transfers_.find(id);
    if (it == transfers_.end()) continue;  // an earlier on_done cancelled it
    Transfer& t = *it->second;
    if (t.cancelled) {
      Remove(t);
      continue;
    }
    HttpResponse response = std::move(t.response);
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &response.status);
    double total = 0;
    curl_easy_getinfo(t.easy, CURLINFO_TOTAL_TIME, &total);
    response.elapsed = std::chrono::duration<double>(total);
    char* content_type = nullptr;
    if (curl_easy_getinfo(t.easy, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK &&
        content_type) {
      response.content_type = content_type;
    }
    if (t.aborted) {
      response.error = t.url + ": stream closed by its reader";
    } else if (t.overflow) {
      response.error =
          t.url + ": response body larger than " + std::to_string(t.max_body_bytes) + " bytes";
    } else if (t.result != CURLE_OK) {
      response.error = t.url + ": " + (t.error[0] ? t.error : curl_easy_strerror(t.result));
    } else {
      response.ok = true;
    }
    auto on_done = std::move(t.handlers.on_done);
    Remove(t);
    if (on_done) on_done(std::move(response));
  }
}

}  // namespace kvip::kube
