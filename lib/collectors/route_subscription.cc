#include "collectors/route_subscription.h"

#include "common/logging.h"

namespace kvip {
namespace {

// A dump is a few kernel round trips (well under a millisecond on a node); the bound only
// keeps a wedged kernel from stalling the shared loop.
constexpr auto kDumpTimeout = std::chrono::seconds(2);
constexpr auto kRetryDelay = std::chrono::seconds(5);
// Datagrams handled per wake-up before yielding the loop to other sources.
constexpr int kDatagramsPerWake = 256;

}  // namespace

RouteSubscription::RouteSubscription(boost::asio::io_context& loop,
                                     netlink::Subscription subscription, Dump dump,
                                     std::string interface, std::string unavailable,
                                     Handlers handlers)
    : subscription_(subscription),
      dump_(dump),
      interface_(std::move(interface)),
      unavailable_(std::move(unavailable)),
      handlers_(std::move(handlers)),
      events_(loop),
      retry_timer_(loop) {}

RouteSubscription::~RouteSubscription() = default;

void RouteSubscription::Start() {
  events_.Close();
  // Subscribe before dumping: every change after the dump's snapshot arrives as an event.
  if (auto error = events_.Attach(netlink::RouteEventSocket::Open(subscription_),
                                  "register netlink socket on the event loop")) {
    Fail(*error);
    return;
  }
  if (Resync()) WaitForEvents();
}

bool RouteSubscription::Resync() {
  const auto started = std::chrono::steady_clock::now();
  auto dump = dump_(kDumpTimeout);
  if (auto* error = std::get_if<netlink::NetlinkError>(&dump)) {
    Fail(*error);
    return false;
  }
  const auto& events = std::get<std::vector<netlink::RouteEvent>>(dump);
  handlers_.reset(events);
  const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - started;
  LogDebug("netlink dump", {{"entries", std::to_string(events.size())},
                            {"duration_ms", std::to_string(took.count())}});
  if (!last_error_.empty()) {
    LogInfo("netlink recovered", {{"interface", interface_}});
    last_error_.clear();
  }
  synced_ = true;
  handlers_.publish();
  return true;
}

void RouteSubscription::WaitForEvents() {
  events_.WaitReadable([this] { OnReadable(); });
}

void RouteSubscription::OnReadable() {
  for (int i = 0; i < kDatagramsPerWake; ++i) {
    netlink::Received received = events_->Receive();
    if (received.status == netlink::ReceiveStatus::kWouldBlock) break;
    if (received.status == netlink::ReceiveStatus::kError) {
      Fail(received.error);
      return;
    }
    netlink::ParsedDatagram parsed;
    if (received.status == netlink::ReceiveStatus::kDatagram) {
      parsed = netlink::ParseRouteDatagram(received.bytes);
      if (!parsed.malformed.empty()) {
        LogWarn("malformed netlink event; resyncing", {{"error", parsed.malformed}});
      }
    }
    if (received.status == netlink::ReceiveStatus::kOverrun || !parsed.malformed.empty()) {
      // Events were lost, and what is still queued predates the loss: replaying it after a
      // dump could undo newer state. So start over on a fresh socket, then dump.
      ++resyncs_;
      LogDebug("netlink events lost; resyncing from a fresh dump",
               {{"interface", interface_}, {"resyncs", std::to_string(resyncs_)}});
      Start();
      return;
    }
    for (const auto& event : parsed.events) handlers_.apply(event);
  }
  handlers_.publish();
  WaitForEvents();
}

void RouteSubscription::Fail(const netlink::NetlinkError& error) {
  if (error.what != last_error_) {
    LogError(unavailable_, {{"interface", interface_},
                            {"error", error.what},
                            {"retry_in", std::to_string(kRetryDelay.count()) + "s"}});
    last_error_ = error.what;
  }
  synced_ = false;
  events_.Close();
  retry_timer_.expires_after(kRetryDelay);
  retry_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted) return;
    Start();
  });
}

}  // namespace kvip
