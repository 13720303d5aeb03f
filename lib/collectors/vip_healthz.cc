#include "collectors/vip_healthz.h"

#include "common/metric_family.h"
#include "kubevip/healthz.h"

namespace kvip {
namespace {

constexpr std::string_view kVipLabel[] = {"vip"};
constexpr FamilySpec kFamilies[] = {
    {"kubevip_vip_healthz_up", prometheus::MetricType::Gauge,
     "1 if https://<vip>:<port>/healthz answered ok within the deadline in the last probe.",
     kVipLabel},
    {"kubevip_vip_healthz_duration_seconds", prometheus::MetricType::Gauge,
     "Duration of the last VIP healthz probe.", kVipLabel},
    {"kubevip_vip_healthz_last_probe_timestamp_seconds", prometheus::MetricType::Gauge,
     "When the last VIP healthz probe ended, in Unix seconds.", kVipLabel},
};
constexpr const FamilySpec& kUp = FamilyIn(kFamilies, "kubevip_vip_healthz_up");
constexpr const FamilySpec& kDuration = FamilyIn(kFamilies, "kubevip_vip_healthz_duration_seconds");
constexpr const FamilySpec& kLastProbe =
    FamilyIn(kFamilies, "kubevip_vip_healthz_last_probe_timestamp_seconds");

}  // namespace

std::span<const FamilySpec> VipHealthzCollector::Families() { return kFamilies; }

VipHealthzCollector::VipHealthzCollector(boost::asio::io_context& loop,
                                         const VipHealthzOptions& options,
                                         std::shared_ptr<kube::Client> client)
    : HealthProbeCollector(loop,
                           {.what = "VIP healthz",
                            .url = kubevip::HealthzUrl(options.vip, options.port),
                            .connect_to = {},
                            .tls = ProbeTls(client.get(), options.insecure),
                            .timeout = options.timeout,
                            .interval = options.interval},
                           {.up = kUp, .duration = kDuration, .last_probe = kLastProbe},
                           options.vip) {}

}  // namespace kvip
