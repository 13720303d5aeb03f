#include "kube/health_probe.h"

#include <boost/asio/post.hpp>

#include "common/logging.h"
#include "common/metric_family.h"
#include "kubevip/healthz.h"

namespace kvip::kube {

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
  // The one healthz request and judgement (kubevip/healthz.h): /healthz and /livez answer
  // the same way.
  HttpRequest request =
      kubevip::HealthzRequest(options_.url, options_.timeout, options_.tls, /*insecure=*/false);
  request.connect_to = options_.connect_to;

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
  kubevip::HealthzAnswer answer = kubevip::JudgeHealthz(options_.url, response);
  const bool up = answer.up;
  if (last_up_ != (up ? 1 : 0)) {
    if (up) {
      LogInfo(options_.what + " ok", {{"url", options_.url}});
    } else {
      LogWarn(options_.what + " failed", {{"url", options_.url}, {"err", answer.detail}});
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
