#include "collectors/vip_healthz.h"

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

VipHealthzCollector::VipHealthzCollector(VipHealthzOptions options,
                                         std::shared_ptr<kube::Client> client)
    : options_(std::move(options)),
      client_(std::move(client)),
      url_(HealthzUrl(options_.vip, options_.port)) {}

bool VipHealthzCollector::Collect(std::vector<prometheus::MetricFamily>& out) {
  HttpRequest request;
  request.url = url_;
  request.timeout = options_.timeout;
  request.max_body_bytes = 64 * 1024;
  // CA and client certificate of the kubeconfig, but no bearer token: /healthz is open to
  // anonymous users, and a rejected token (401) would make a healthy VIP look down.
  if (client_) request.tls = client_->config().tls;
  if (options_.insecure) request.tls.insecure_skip_verify = true;

  auto started = std::chrono::steady_clock::now();
  HttpResponse response = HttpFetch(request);
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  bool up = response.ok && response.status == 200 && Trimmed(response.body) == "ok";

  std::string why;
  if (!response.ok) {
    why = response.error;
  } else if (!up) {
    why = url_ + ": HTTP " + std::to_string(response.status) + ": " +
          Trimmed(response.body).substr(0, 200);
  }
  int previous = last_up_.exchange(up ? 1 : 0);
  if (previous != (up ? 1 : 0)) {
    if (up) {
      LogInfo("VIP healthz ok", {{"url", url_}});
    } else {
      LogWarn("VIP healthz failed", {{"url", url_}, {"err", why}});
    }
  }

  const Labels labels{{"vip", options_.vip}};
  out.push_back(GaugeFamily("kubevip_vip_healthz_up",
                            "1 if https://<vip>:<port>/healthz answered ok within the deadline.",
                            up ? 1 : 0, labels));
  out.push_back(GaugeFamily("kubevip_vip_healthz_duration_seconds",
                            "Duration of the VIP healthz probe.", took.count(), labels));
  return up;
}

}  // namespace kvip
