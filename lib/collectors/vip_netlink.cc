#include "collectors/vip_netlink.h"

#include "common/logging.h"
#include "common/metric_family.h"

namespace kvip {
namespace {

// A dump is a few kernel round trips (well under a millisecond on a node); the bound only
// keeps a wedged kernel from stalling the shared loop.
constexpr auto kDumpTimeout = std::chrono::seconds(2);
constexpr auto kRetryDelay = std::chrono::seconds(5);
// Datagrams handled per wake-up before yielding the loop to other sources.
constexpr int kDatagramsPerWake = 256;

constexpr std::string_view kInterfaceLabel[] = {"interface"};
constexpr std::string_view kVipLabels[] = {"vip", "interface"};
constexpr FamilySpec kFamilies[] = {
    {"kubevip_vip_bound", prometheus::MetricType::Gauge,
     "1 if the VIP is assigned to the interface (kernel truth).", kVipLabels},
    {"kubevip_interface_up", prometheus::MetricType::Gauge, "1 if the interface exists and is up.",
     kInterfaceLabel},
    {"kubevip_vip_last_change_timestamp_seconds", prometheus::MetricType::Gauge,
     "When kubevip_vip_bound last changed (or the exporter started).", kVipLabels},
};
constexpr const FamilySpec& kVipBound = FamilyIn(kFamilies, "kubevip_vip_bound");
constexpr const FamilySpec& kInterfaceUp = FamilyIn(kFamilies, "kubevip_interface_up");
constexpr const FamilySpec& kLastChange =
    FamilyIn(kFamilies, "kubevip_vip_last_change_timestamp_seconds");

}  // namespace

std::span<const FamilySpec> VipNetlinkCollector::Families() { return kFamilies; }

VipNetlinkCollector::VipNetlinkCollector(boost::asio::io_context& loop, std::string vip,
                                         std::string interface)
    : vip_text_(std::move(vip)),
      interface_(std::move(interface)),
      vip_(netlink::IpAddress::Parse(vip_text_)),
      tracker_(interface_, vip_),
      watcher_(loop),
      retry_timer_(loop) {
  snapshot_.last_change_seconds = UnixNow();
  if (vip_text_.empty()) {
    LogInfo("no VIP configured; exporting kubevip_interface_up only", {{"interface", interface_}});
  } else if (!vip_) {
    LogError("invalid VIP address: expected an IPv4 or IPv6 address without prefix length",
             {{"vip", vip_text_}});
  }
  Subscribe();
}

VipNetlinkCollector::~VipNetlinkCollector() {
  // The timer cancels its own wait when destroyed; the watcher must not close events_'s fd.
  if (watcher_.is_open()) watcher_.release();
}

void VipNetlinkCollector::Subscribe() {
  if (watcher_.is_open()) watcher_.release();
  events_.reset();
  // Subscribe before dumping: every change after the dump's snapshot arrives as an event.
  auto opened = netlink::RouteEventSocket::Open();
  if (auto* error = std::get_if<netlink::NetlinkError>(&opened)) {
    Fail(*error);
    return;
  }
  events_.emplace(std::move(std::get<netlink::RouteEventSocket>(opened)));
  boost::system::error_code ec;
  watcher_.assign(events_->fd(), ec);
  if (ec) {
    Fail({ec.value(), "register netlink socket on the event loop: " + ec.message()});
    return;
  }
  if (Resync()) WaitForEvents();
}

bool VipNetlinkCollector::Resync() {
  const auto started = std::chrono::steady_clock::now();
  auto dump = netlink::DumpLinksAndAddresses(kDumpTimeout);
  if (auto* error = std::get_if<netlink::NetlinkError>(&dump)) {
    Fail(*error);
    return false;
  }
  const auto& events = std::get<std::vector<netlink::RouteEvent>>(dump);
  tracker_.Reset(events);
  const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - started;
  LogDebug("netlink dump", {{"entries", std::to_string(events.size())},
                            {"duration_ms", std::to_string(took.count())}});
  if (!last_error_.empty()) {
    LogInfo("netlink recovered", {{"interface", interface_}});
    last_error_.clear();
  }
  {
    std::lock_guard lock(mutex_);
    snapshot_.synced = true;
  }
  Publish();
  return true;
}

void VipNetlinkCollector::WaitForEvents() {
  watcher_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                      [this](const boost::system::error_code& ec) {
                        if (ec == boost::asio::error::operation_aborted) return;
                        OnReadable();
                      });
}

void VipNetlinkCollector::OnReadable() {
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
      Subscribe();
      return;
    }
    for (const auto& event : parsed.events) tracker_.Apply(event);
  }
  Publish();
  WaitForEvents();
}

void VipNetlinkCollector::Fail(const netlink::NetlinkError& error) {
  if (error.what != last_error_) {
    LogError("netlink unavailable; VIP and interface state unknown, retrying",
             {{"interface", interface_},
              {"error", error.what},
              {"retry_in", std::to_string(kRetryDelay.count()) + "s"}});
    last_error_ = error.what;
  }
  {
    std::lock_guard lock(mutex_);
    snapshot_.synced = false;
  }
  if (watcher_.is_open()) watcher_.release();
  events_.reset();
  retry_timer_.expires_after(kRetryDelay);
  retry_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted) return;
    Subscribe();
  });
}

void VipNetlinkCollector::Publish() {
  const bool present = tracker_.interface_present();
  const bool bound = tracker_.vip_bound();
  Snapshot before;
  {
    std::lock_guard lock(mutex_);
    before = snapshot_;
    snapshot_.interface_present = present;
    snapshot_.interface_up = tracker_.interface_up();
    snapshot_.vip_bound = bound;
    if (bound != before.vip_bound) snapshot_.last_change_seconds = UnixNow();
  }
  // Log transitions only, so a missing interface is reported once, not on every event.
  if (!present && (before.interface_present || !published_)) {
    LogWarn("VIP interface not found; reporting it down and the VIP unbound until it appears",
            {{"interface", interface_}});
  } else if (present && !before.interface_present && published_) {
    LogInfo("VIP interface appeared", {{"interface", interface_}});
  }
  if (vip_ && bound != before.vip_bound) {
    LogDebug(bound ? "VIP bound" : "VIP unbound", {{"vip", vip_text_}, {"interface", interface_}});
  }
  published_ = true;
}

bool VipNetlinkCollector::Collect(std::vector<prometheus::MetricFamily>& out) {
  Snapshot snapshot;
  {
    std::lock_guard lock(mutex_);
    snapshot = snapshot_;
  }
  if (!snapshot.synced) return false;  // no kernel truth to report
  out.push_back(MakeFamily(kInterfaceUp, snapshot.interface_up ? 1 : 0, {interface_}));
  if (!vip_) return vip_text_.empty();
  out.push_back(MakeFamily(kVipBound, snapshot.vip_bound ? 1 : 0, {vip_text_, interface_}));
  out.push_back(MakeFamily(kLastChange, snapshot.last_change_seconds, {vip_text_, interface_}));
  return true;
}

}  // namespace kvip
