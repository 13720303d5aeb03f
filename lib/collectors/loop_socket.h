#pragma once
// A socket this process owns (its own class closes the fd), watched for readability on the
// daemon's Asio loop: the netlink event socket of RouteSubscription and the ARP/NDP packet
// socket of VipArpProbeCollector. The stream_descriptor only views the fd, for readiness:
// it is released, never closed, so the fd is closed once, by the socket.

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/system/error_code.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace kvip {

template <typename Socket>
class LoopSocket {
 public:
  explicit LoopSocket(boost::asio::io_context& loop) : watcher_(loop) {}
  ~LoopSocket() { Close(); }
  LoopSocket(const LoopSocket&) = delete;
  LoopSocket& operator=(const LoopSocket&) = delete;

  // Takes the socket `opened` holds (closing the one held before) and registers its fd on
  // the loop. Returns the error `opened` holds, or the registration's as an Error whose
  // `what` starts with `registering` (e.g. "register netlink socket on the event loop").
  template <typename Error>
  std::optional<Error> Attach(std::variant<Socket, Error> opened, std::string_view registering) {
    Close();
    if (auto* error = std::get_if<Error>(&opened)) return std::move(*error);
    socket_.emplace(std::move(std::get<Socket>(opened)));
    boost::system::error_code ec;
    watcher_.assign(socket_->fd(), ec);
    if (!ec) return std::nullopt;
    socket_.reset();
    return Error{ec.value(), std::string(registering) + ": " + ec.message()};
  }

  // Closes the socket; a pending wait ends with operation_aborted.
  void Close() {
    if (watcher_.is_open()) watcher_.release();
    socket_.reset();
  }

  // Calls `on_readable` once, on the loop, when the socket has data; not after Close().
  template <typename Handler>
  void WaitReadable(Handler on_readable) {
    watcher_.async_wait(
        boost::asio::posix::stream_descriptor::wait_read,
        [on_readable = std::move(on_readable)](const boost::system::error_code& ec) {
          if (ec == boost::asio::error::operation_aborted) return;
          on_readable();
        });
  }

  explicit operator bool() const { return socket_.has_value(); }
  Socket* operator->() { return &*socket_; }
  Socket& operator*() { return *socket_; }

 private:
  std::optional<Socket> socket_;
  boost::asio::posix::stream_descriptor watcher_;
};

}  // namespace kvip
