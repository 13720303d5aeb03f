#include "netlink/route_socket.h"

#include <libmnl/libmnl.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace kvip::netlink {
namespace {

// Large enough for any rtnetlink datagram (dumps fill at most a few pages per datagram).
constexpr size_t kDatagramBytes = size_t{64} * 1024;
constexpr int kDumpAttempts = 3;

NetlinkError ErrnoError(int code, const std::string& doing) {
  return {code, doing + ": " + std::strerror(code)};
}

std::variant<UniqueFd, NetlinkError> OpenRouteSocket(uint32_t groups) {
  UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
  if (!fd) return ErrnoError(errno, "open NETLINK_ROUTE socket");
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = groups;
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
    return ErrnoError(errno, "bind NETLINK_ROUTE socket");
  }
  return fd;
}

// One recvfrom: datagram length, or -errno. Only datagrams from the kernel (port 0) count.
ssize_t ReceiveFromKernel(int fd, std::vector<std::byte>& buffer, bool& from_kernel) {
  sockaddr_nl sender{};
  socklen_t sender_length = sizeof sender;
  ssize_t n = recvfrom(fd, buffer.data(), buffer.size(), MSG_TRUNC,
                       reinterpret_cast<sockaddr*>(&sender), &sender_length);
  if (n < 0) return -errno;
  from_kernel = sender.nl_pid == 0;
  return n;
}

using Clock = std::chrono::steady_clock;

// Sends one dump request and collects its replies until NLMSG_DONE.
std::variant<std::vector<RouteEvent>, NetlinkError> DumpOnce(int fd, uint16_t type,
                                                             size_t header_size, uint32_t seq,
                                                             Clock::time_point deadline,
                                                             bool& interrupted) {
  const char* what = type == RTM_GETLINK    ? "dump links"
                     : type == RTM_GETNEIGH ? "dump neighbours"
                                            : "dump addresses";
  alignas(nlmsghdr) std::byte request[256] = {};
  nlmsghdr* header = mnl_nlmsg_put_header(request);
  header->nlmsg_type = type;
  header->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  header->nlmsg_seq = seq;
  // Zeroed ifinfomsg/ifaddrmsg/ndmsg: family AF_UNSPEC, so every family and interface.
  mnl_nlmsg_put_extra_header(header, header_size);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd, request, header->nlmsg_len, 0, reinterpret_cast<const sockaddr*>(&kernel),
             sizeof kernel) < 0) {
    return ErrnoError(errno, std::string(what) + ": send");
  }

  std::vector<RouteEvent> events;
  std::vector<std::byte> buffer(kDatagramBytes);
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return ErrnoError(ETIMEDOUT, what);
    pollfd readable{fd, POLLIN, 0};
    int ready = poll(&readable, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return ErrnoError(errno, std::string(what) + ": poll");
    if (ready == 0) return ErrnoError(ETIMEDOUT, what);

    bool from_kernel = false;
    ssize_t n = ReceiveFromKernel(fd, buffer, from_kernel);
    if (n == -EAGAIN || n == -EINTR) continue;
    if (n < 0) return ErrnoError(static_cast<int>(-n), std::string(what) + ": receive");
    if (static_cast<size_t>(n) > buffer.size()) {
      return NetlinkError{EMSGSIZE, std::string(what) + ": datagram larger than " +
                                        std::to_string(buffer.size()) + " bytes"};
    }
    if (!from_kernel) continue;
    ParsedDatagram parsed = ParseRouteDatagram({buffer.data(), static_cast<size_t>(n)});
    if (!parsed.malformed.empty())
      return NetlinkError{EBADMSG, std::string(what) + ": " + parsed.malformed};
    if (parsed.error != 0) return ErrnoError(parsed.error, what);
    interrupted = interrupted || parsed.interrupted;
    for (auto& event : parsed.events) events.push_back(std::move(event));
    if (parsed.done) return events;
  }
}

struct DumpRequest {
  uint16_t type;
  size_t header_size;
};

// Dumps every table of `requests` in order (links first) on one fresh socket.
std::variant<std::vector<RouteEvent>, NetlinkError> DumpTables(
    std::initializer_list<DumpRequest> requests, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (int attempt = 1;; ++attempt) {
    auto fd = OpenRouteSocket(0);
    if (auto* error = std::get_if<NetlinkError>(&fd)) return std::move(*error);
    int socket_fd = std::get<UniqueFd>(fd).get();
    bool interrupted = false;
    std::vector<RouteEvent> events;
    uint32_t seq = 0;
    for (const DumpRequest& request : requests) {
      auto table =
          DumpOnce(socket_fd, request.type, request.header_size, ++seq, deadline, interrupted);
      if (auto* error = std::get_if<NetlinkError>(&table)) return std::move(*error);
      for (auto& event : std::get<std::vector<RouteEvent>>(table))
        events.push_back(std::move(event));
    }
    // An interrupted dump raced with a change. The caller subscribes before dumping, so
    // that change's event follows and heals it; a clean dump is still nicer, so retry a bit.
    if (interrupted && attempt < kDumpAttempts) continue;
    return events;
  }
}

}  // namespace

RouteEventSocket::RouteEventSocket(UniqueFd fd) : fd_(std::move(fd)), buffer_(kDatagramBytes) {}

std::variant<RouteEventSocket, NetlinkError> RouteEventSocket::Open(Subscription subscription) {
  uint32_t groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (subscription == Subscription::kLinksAddressesAndNeighbors) groups |= RTMGRP_NEIGH;
  auto fd = OpenRouteSocket(groups);
  if (auto* error = std::get_if<NetlinkError>(&fd)) return std::move(*error);
  return RouteEventSocket(std::move(std::get<UniqueFd>(fd)));
}

Received RouteEventSocket::Receive() {
  while (true) {
    bool from_kernel = false;
    ssize_t n = ReceiveFromKernel(fd_.get(), buffer_, from_kernel);
    if (n == -EINTR) continue;
    if (n == -EAGAIN || n == -EWOULDBLOCK) return {ReceiveStatus::kWouldBlock, {}, {}};
    if (n == -ENOBUFS) return {ReceiveStatus::kOverrun, {}, {}};
    if (n < 0) {
      return {ReceiveStatus::kError, {}, ErrnoError(static_cast<int>(-n), "receive netlink event")};
    }
    // A truncated datagram lost events just as an overrun does.
    if (static_cast<size_t>(n) > buffer_.size()) return {ReceiveStatus::kOverrun, {}, {}};
    if (!from_kernel) continue;
    return {ReceiveStatus::kDatagram, {buffer_.data(), static_cast<size_t>(n)}, {}};
  }
}

std::variant<std::vector<RouteEvent>, NetlinkError> DumpLinksAndAddresses(
    std::chrono::milliseconds timeout) {
  return DumpTables({{RTM_GETLINK, sizeof(ifinfomsg)}, {RTM_GETADDR, sizeof(ifaddrmsg)}}, timeout);
}

std::variant<std::vector<RouteEvent>, NetlinkError> DumpLinksAddressesAndNeighbors(
    std::chrono::milliseconds timeout) {
  return DumpTables({{RTM_GETLINK, sizeof(ifinfomsg)},
                     {RTM_GETADDR, sizeof(ifaddrmsg)},
                     {RTM_GETNEIGH, sizeof(ndmsg)}},
                    timeout);
}

}  // namespace kvip::netlink
