#include "collectors/vip_arp_probe.h"

#include <cerrno>

#include "common/logging.h"
#include "common/metric_catalog.h"

namespace kvip {
namespace {

constexpr auto kRetryDelay = std::chrono::seconds(5);
constexpr int kFramesPerWake = 64;

}  // namespace

VipArpProbeCollector::VipArpProbeCollector(boost::asio::io_context& loop,
                                           VipArpProbeOptions options)
    : options_(std::move(options)),
      vip_(netlink::IpAddress::Parse(options_.vip)),
      socket_(loop),
      timer_(loop) {
  if (!vip_) {
    LogError("ARP/NDP probe off: no valid VIP address", {{"vip", options_.vip}});
    permanently_off_ = true;
    return;
  }
  Open();
}

VipArpProbeCollector::~VipArpProbeCollector() = default;

void VipArpProbeCollector::Open() {
  socket_.Close();
  if (auto error = socket_.Attach(lanprobe::PacketSocket::Open(options_.interface, *vip_),
                                  "register packet socket on the event loop")) {
    Fail(*error);
    return;
  }
  if (!last_error_.empty()) LogInfo("ARP/NDP probe running again", {{"vip", options_.vip}});
  last_error_.clear();
  {
    std::lock_guard lock(mutex_);
    up_ = true;
  }
  WaitForFrames();
  Tick();
}

void VipArpProbeCollector::Tick() {
  const auto* link_local = socket_->link_local() ? &*socket_->link_local() : nullptr;
  auto frame = lanprobe::BuildProbe(*vip_, socket_->mac(), link_local);
  auto error = socket_->Send(frame);
  {
    std::lock_guard lock(mutex_);
    // The previous probe's window ends as the next probe goes out.
    if (probes_sent_ > 0) observations_.CloseWindow();
    if (!error) ++probes_sent_;
  }
  if (error) {
    Fail(*error);
    return;
  }
  ScheduleTick();
}

void VipArpProbeCollector::ScheduleTick() {
  timer_.expires_after(options_.interval);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted) return;
    if (socket_) Tick();
  });
}

void VipArpProbeCollector::WaitForFrames() {
  socket_.WaitReadable([this] { OnReadable(); });
}

void VipArpProbeCollector::OnReadable() {
  if (!socket_) return;
  for (int i = 0; i < kFramesPerWake; ++i) {
    auto received = socket_->Receive();
    if (received.status == lanprobe::PacketSocket::Status::kWouldBlock) break;
    if (received.status == lanprobe::PacketSocket::Status::kError) {
      Fail(received.error);
      return;
    }
    // What this host sends itself is not the LAN's answer.
    if (received.outgoing) continue;
    lanprobe::Frame frame = lanprobe::ParseFrame(received.bytes, *vip_);
    // A reply counts only when addressed to us: one flooded by a bridge that has not yet
    // learned another prober's port answers that prober, within its own window.
    if (frame.kind == lanprobe::FrameKind::kReply && !received.to_this_host) continue;
    if (frame.kind == lanprobe::FrameKind::kMalformed) {
      LogDebug("malformed ARP/NDP frame dropped", {{"error", frame.malformed}});
    }
    std::lock_guard lock(mutex_);
    observations_.Record(frame, UnixNow());
  }
  WaitForFrames();
}

void VipArpProbeCollector::Fail(const lanprobe::SocketError& error) {
  {
    std::lock_guard lock(mutex_);
    up_ = false;
  }
  socket_.Close();
  if (error.code == EPERM || error.code == EACCES) {
    LogWarn(
        "ARP/NDP probe off: opening a raw packet socket needs CAP_NET_RAW; add NET_RAW to the "
        "exporter's capabilities (deploy/kubernetes/components/arp-probe) or drop "
        "--vip.arp-probe",
        {{"vip", options_.vip}, {"interface", options_.interface}, {"error", error.what}});
    permanently_off_ = true;
    return;
  }
  if (error.what != last_error_) {
    LogError("ARP/NDP probe failed; retrying",
             {{"vip", options_.vip},
              {"interface", options_.interface},
              {"error", error.what},
              {"retry_in", std::to_string(kRetryDelay.count()) + "s"}});
    last_error_ = error.what;
  }
  timer_.expires_after(kRetryDelay);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted) return;
    Open();
  });
}

bool VipArpProbeCollector::Collect(std::vector<prometheus::MetricFamily>& out) {
  const std::string_view vip = options_.vip, interface = options_.interface;
  std::lock_guard lock(mutex_);
  out.push_back(MakeFamily(Spec("kubevip_vip_arp_probe_up"), up_ ? 1 : 0, {vip, interface}));
  if (!vip_) return false;
  out.push_back(MakeFamily(Spec("kubevip_vip_arp_probes_total"), static_cast<double>(probes_sent_),
                           {vip, interface}));
  out.push_back(MakeFamily(Spec("kubevip_vip_arp_malformed_frames_total"),
                           static_cast<double>(observations_.malformed()), {vip, interface}));
  if (const auto& responders = observations_.responders(); responders && up_) {
    out.push_back(MakeFamily(Spec("kubevip_vip_arp_responders"),
                             static_cast<double>(responders->size()), {vip, interface}));
    FamilyBuilder info(Spec("kubevip_vip_arp_responder_info"));
    for (const auto& mac : *responders) info.Add(1, {vip, interface, mac});
    if (!info.empty()) out.push_back(std::move(info).Take());
  }
  if (!observations_.gratuitous().empty()) {
    FamilyBuilder count(Spec("kubevip_vip_gratuitous_arps_total"));
    FamilyBuilder last(Spec("kubevip_vip_gratuitous_arp_last_timestamp_seconds"));
    for (const auto& [mac, seen] : observations_.gratuitous()) {
      count.Add(static_cast<double>(seen.count), {vip, interface, mac});
      last.Add(seen.last_seen_seconds, {vip, interface, mac});
    }
    out.push_back(std::move(count).Take());
    out.push_back(std::move(last).Take());
  }
  return up_;
}

}  // namespace kvip
