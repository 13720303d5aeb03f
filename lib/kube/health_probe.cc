#include "kube/health_probe.h"

#include <boost/asio/post.hpp>

#include "common/logging.h"
#include "common/metric_family.h"

namespace kvip::kube {
namespace {

std::string Trimmed(const std::string& text) {
  size_t end = text.find_last_not_of(" \r\n");
  return end == std::string::npos ? "" : text.substr(0, end + 1);
}

}  // namespace

HealthProbe::HealthProbe(boost::asio::io_context& loop, HealthProbeOptions options)
    : options_(std::move(options)), curl_(loop), timer_(loop) {
  boost::asio::post(loop, [this, life = std::weak_ptr<int>(life_)] {
    if (!life.expired()) Probe();
  });
}

HealthProbe::~HealthProbe() { life_.reset(); }

HealthProbeResult HealthProbe::Last() const {
  std::lock_guard lock(mutex_);
  return last_;
}

void HealthProbe::Probe() {
  HttpRequest request;
  request.url = options_.url;
  request.timeout = options_.timeout;
  request.max_body_bytes = 64 * 1024;
  request.connect_to = options_.connect_to;
  // CA and client certificate, but no bearer token: the health endpoints are open to
  // anonymous users, and a rejected token (401) would make a healthy server look down.
  request.tls = options_.tls;

  started_ = std::chrono::steady_clock::now();
  CurlLoop::Handlers handlers;
  handlers.on_done = [this](HttpResponse response) { OnProbeDone(response); };
  if (curl_.Start(request, std::move(handlers)) == 0) {
    HttpResponse refused;
    refused.error = options_.url + ": libcurl refused the transfer";
    OnProbeDone(refused);
  }
}

void HealthProbe::OnProbeDone(const HttpResponse& response) {
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - started_;
  bool up = response.ok && response.status == 200 && Trimmed(response.body) == "ok";
  if (last_up_ != (up ? 1 : 0)) {
    if (up) {
      LogInfo(options_.what + " ok", {{"url", options_.url}});
    } else {
      std::string why = !response.ok ? response.error
                                     : options_.url + ": HTTP " + std::to_string(response.status) +
                                           ": " + Trimmed(response.body).substr(0, 200);
      LogWarn(options_.what + " failed", {{"url", options_.url}, {"err", why}});
    }
    last_up_ = up ? 1 : 0;
  }
  {
    std::lock_guard lock(mutex_);
    last_ =
        HealthProbeResult{.known = true, .up = up, .seconds = took.count(), .timestamp = UnixNow()};
  }
  ScheduleNext();
}

void HealthProbe::ScheduleNext() {
  // Start to start, so the probes keep their pace; a probe that took longer than the
  // interval (timeout > interval) is followed by the next one at once.
  timer_.expires_at(started_ + options_.interval);
  timer_.async_wait([this, life = std::weak_ptr<int>(life_)](const boost::system::error_code& ec) {
    if (!ec && !life.expired()) Probe();
  });
}

}  // namespace kvip::kube
