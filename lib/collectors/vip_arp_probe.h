#pragma once
// The VIP as the LAN answers for it (opt-in, --vip.arp-probe, needs CAP_NET_RAW): every
// interval an ARP probe (IPv4) or neighbour solicitation (IPv6) for the VIP; every distinct
// MAC that answers before the next one is a responder. Gratuitous ARPs and unsolicited
// neighbour advertisements for the VIP from other hosts are counted by MAC. One filtered
// packet socket, opened once, on the daemon's Asio loop; Collect only reads a snapshot.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "collectors/collector.h"
#include "collectors/loop_socket.h"
#include "common/metric_family.h"
#include "lanprobe/observations.h"
#include "lanprobe/packet_socket.h"

namespace kvip {

struct VipArpProbeOptions {
  std::string vip;
  std::string interface;
  std::chrono::milliseconds interval{2000};  // also the window in which answers count
};

class VipArpProbeCollector final : public Collector {
 public:
  // Opens the socket and sends the first probe before returning. Without CAP_NET_RAW it
  // logs once why the probe is off and reports kubevip_vip_arp_probe_up 0.
  VipArpProbeCollector(boost::asio::io_context& loop, VipArpProbeOptions options);
  ~VipArpProbeCollector() override;

  std::string_view Name() const override { return "vip_arp_probe"; }
  bool Collect(std::vector<prometheus::MetricFamily>& out) override;

 private:
  // On the loop thread (or in the constructor).
  void Open();
  void Tick();
  void WaitForFrames();
  void OnReadable();
  void Fail(const lanprobe::SocketError& error);
  void ScheduleTick();

  const VipArpProbeOptions options_;
  const std::optional<netlink::IpAddress> vip_;
  LoopSocket<lanprobe::PacketSocket> socket_;
  boost::asio::steady_timer timer_;
  bool permanently_off_ = false;  // no capability: retrying cannot help
  std::string last_error_;

  mutable std::mutex mutex_;
  bool up_ = false;
  lanprobe::Observations observations_;
  std::uint64_t probes_sent_ = 0;
};

}  // namespace kvip
