#include "collectors/vip_healthz.h"

#include <boost/asio/post.hpp>

#include "common/logging.h"
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
VipHealthzCollector::VipHealthzCollector(boost::asio::io_context& loop, VipHealthzOptions options,
                                         std::shared_ptr<kube::Client> client)
    : io_(loop),
      options_(std::move(options)),
      client_(std::move(client)),
      url_(kubevip::HealthzUrl(options_.vip, options_.port)),
      curl_(loop),
      timer_(loop) {
  boost::asio::post(io_, [this, life = std::weak_ptr<int>(life_)] {
    if (!life.expired()) Probe();
  });
}

VipHealthzCollector::~VipHealthzCollector() { life_.reset(); }

void VipHealthzCollector::Probe() {
  HttpRequest request = kubevip::HealthzRequest(
      url_, options_.timeout, client_ ? client_->config().tls : TlsOptions{}, options_.insecure);

  started_ = std::chrono::steady_clock::now();
  kube::CurlLoop::Handlers handlers;
  handlers.on_done = [this](HttpResponse response) { OnProbeDone(response); };
  if (curl_.Start(request, std::move(handlers)) == 0) {
    HttpResponse refused;
    refused.error = url_ + ": libcurl refused the transfer";
    OnProbeDone(refused);
  }
}

void VipHealthzCollector::OnProbeDone(const HttpResponse& response) {
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - started_;
  kubevip::HealthzAnswer answer = kubevip::JudgeHealthz(url_, response);
  const bool up = answer.up;
  if (last_up_ != (up ? 1 : 0)) {
    if (up) {
      LogInfo("VIP healthz ok", {{"url", url_}});
    } else {
      LogWarn("VIP healthz failed", {{"url", url_}, {"err", answer.detail}});
    }
    last_up_ = up ? 1 : 0;
  }
  {
    std::lock_guard lock(mutex_);
    last_ = Result{.known = true, .up = up, .seconds = took.count(), .timestamp = UnixNow()};
  }
  ScheduleNext();
}

void VipHealthzCollector::ScheduleNext() {
  // Start to start, so the probes keep their pace; a probe that took longer than the
  // interval (timeout > interval) is followed by the next one at once.
  timer_.expires_at(started_ + options_.interval);
  timer_.async_wait([this, life = std::weak_ptr<int>(life_)](const boost::system::error_code& ec) {
    if (!ec && !life.expired()) Probe();
  });
}

bool VipHealthzCollector::Collect(std::vector<prometheus::MetricFamily>& out) {
  Result last;
  {
    std::lock_guard lock(mutex_);
    last = last_;
  }
  if (!last.known) return false;
  out.push_back(MakeFamily(kUp, last.up ? 1 : 0, {options_.vip}));
  out.push_back(MakeFamily(kDuration, last.seconds, {options_.vip}));
  out.push_back(MakeFamily(kLastProbe, last.timestamp, {options_.vip}));
  return last.up;
}

}  // namespace kvip
