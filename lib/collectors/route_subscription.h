#pragma once
// An rtnetlink subscription kept in sync on the daemon's Asio loop: subscribe, then a full
// dump; then events as they come; a fresh socket and dump whenever the kernel reports lost
// events (ENOBUFS) or sends something malformed; a retry every few seconds while netlink
// cannot be opened. Shared by the collectors that fold rtnetlink state (vip_netlink,
// vip_neighbor); they own the state machine, this owns the socket and its life cycle.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "collectors/loop_socket.h"
#include "netlink/ip_address.h"
#include "netlink/route_socket.h"

namespace kvip {

class RouteSubscription {
 public:
  using Dump = std::variant<std::vector<netlink::RouteEvent>, netlink::NetlinkError> (*)(
      std::chrono::milliseconds);

  struct Handlers {
    // A complete dump: forget everything and rebuild from it.
    std::function<void(const std::vector<netlink::RouteEvent>&)> reset;
    std::function<void(const netlink::RouteEvent&)> apply;
    // After a dump or a batch of events: the state is consistent, expose it.
    std::function<void()> publish;
  };

  // Handlers that fold the kernel's state into `tracker` (its Reset(dump) and
  // Apply(event)), then call `publish`.
  template <typename Tracker>
  static Handlers FoldInto(Tracker& tracker, std::function<void()> publish) {
    return {.reset = [&tracker](const auto& dump) { tracker.Reset(dump); },
            .apply = [&tracker](const auto& event) { tracker.Apply(event); },
            .publish = std::move(publish)};
  }

  // `unavailable` is logged (once per distinct error) when netlink fails, with `interface`.
  RouteSubscription(boost::asio::io_context& loop, netlink::Subscription subscription, Dump dump,
                    std::string interface, std::string unavailable, Handlers handlers);
  ~RouteSubscription();

  // Subscribes and takes the first dump before returning (so the first scrape already has
  // kernel truth); a failure is logged and retried on the loop.
  void Start();

  // Whether the state is backed by a live subscription and a complete dump (false until
  // the first dump and after a failure, until a resync). Any thread.
  bool synced() const { return synced_.load(); }

 private:
  void WaitForEvents();
  void OnReadable();
  void Fail(const netlink::NetlinkError& error);
  bool Resync();

  const netlink::Subscription subscription_;
  const Dump dump_;
  const std::string interface_;
  const std::string unavailable_;
  Handlers handlers_;
  LoopSocket<netlink::RouteEventSocket> events_;
  boost::asio::steady_timer retry_timer_;
  std::uint64_t resyncs_ = 0;
  std::string last_error_;  // logged once until it changes or netlink recovers
  std::atomic<bool> synced_{false};
};

// The VIP and interface a netlink collector follows (vip_netlink, vip_neighbor), and the
// tracker that folds the kernel's state about them, fed by one RouteSubscription: a dump,
// then events, `publish` after each. The tracker is read and written on the loop only.
template <typename Tracker>
class TrackedVip {
 public:
  // `vip` as configured: empty, or an address without prefix length (invalid: vip() unset).
  TrackedVip(boost::asio::io_context& loop, std::string vip, std::string interface,
             netlink::Subscription subscription, RouteSubscription::Dump dump,
             std::string unavailable, std::function<void()> publish)
      : vip_text_(std::move(vip)),
        interface_(std::move(interface)),
        vip_(netlink::IpAddress::Parse(vip_text_)),
        tracker_(interface_, vip_),
        subscription_(loop, subscription, dump, interface_, std::move(unavailable),
                      RouteSubscription::FoldInto(tracker_, std::move(publish))) {}

  // Subscribes and takes the first dump (RouteSubscription::Start).
  void Start() { subscription_.Start(); }
  bool synced() const { return subscription_.synced(); }

  const std::string& vip_text() const { return vip_text_; }  // the `vip` label value
  const std::string& interface() const { return interface_; }
  const std::optional<netlink::IpAddress>& vip() const { return vip_; }
  const Tracker& tracker() const { return tracker_; }

 private:
  const std::string vip_text_;
  const std::string interface_;
  const std::optional<netlink::IpAddress> vip_;
  Tracker tracker_;
  // Last: its handlers use the tracker.
  RouteSubscription subscription_;
};

}  // namespace kvip
