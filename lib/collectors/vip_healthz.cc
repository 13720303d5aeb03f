#include "collectors/vip_healthz.h"

#include <boost/asio/post.hpp>

#include "common/logging.h"
#include "common/metric_family.h"

namespace kvip {
namespace {

std::string HealthzUrl(const std::string& vip, int port) {
  bool ipv6 = vip.find(':') != std::string::npos;
  return "https://" + (ipv6 ? "[" + vip + "]" : vip) + ":" + std::to_string(port) + "/healthz";
}

std::string Trimmed(const std::string& text) {
  size_t end = text.find_last_not_of(" \r\n");
  return end == std::string::npos ? "" : text.substr(0, end + 1);
}

}  // namespace

VipHealthzCollector::VipHealthzCollector(boost::asio::io_context& loop, VipHealthzOptions options,
                                         std::shared_ptr<kube::Client> client)
    : io_(loop),
      options_(std::move(options)),
      client_(std::move(client)),
      url_(HealthzUrl(options_.vip, options_.port)),
      curl_(loop),
      timer_(loop) {
  boost::asio::post(io_, [this, life = std::weak_ptr<int>(life_)] {
    if (!life.expired()) Probe();
  });
}

VipHealthzCollector::~VipHealthzCollector() { life_.reset(); }

void VipHealthzCollector::Probe() {
  HttpRequest request;
  request.url = url_;
  request.timeout = options_.timeout;
  request.max_body_bytes = 64 * 1024;
  // CA and client certificate of the kubeconfig, but no bearer token: /healthz is open to
  // anonymous users, and a rejected token (401) would make a healthy VIP look down.
  if (client_) request.tls = client_->config().tls;
  if (options_.insecure) request.tls.insecure_skip_verify = true;

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
  bool up = response.ok && response.status == 200 && Trimmed(response.body) == "ok";
  if (last_up_ != (up ? 1 : 0)) {
    if (up) {
      LogInfo("VIP healthz ok", {{"url", url_}});
    } else {
      std::string why = !response.ok ? response.error
                                     : url_ + ": HTTP " + std::to_string(response.status) + ": " +
                                           Trimmed(response.body).substr(0, 200);
      LogWarn("VIP healthz failed", {{"url", url_}, {"err", why}});
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
  const Labels labels{{"vip", options_.vip}};
  out.push_back(GaugeFamily("kubevip_vip_healthz_up",
                            "1 if https://<vip>:<port>/healthz answered ok within the deadline "
                            "in the last probe.",
                            last.up ? 1 : 0, labels));
  out.push_back(GaugeFamily("kubevip_vip_healthz_duration_seconds",
                            "Duration of the last VIP healthz probe.", last.seconds, labels));
  out.push_back(GaugeFamily("kubevip_vip_healthz_last_probe_timestamp_seconds",
                            "When the last VIP healthz probe ended, in Unix seconds.",
                            last.timestamp, labels));
  return last.up;
}

}  // namespace kvip
