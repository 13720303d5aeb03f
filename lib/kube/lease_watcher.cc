#include "kube/lease_watcher.h"

#include <boost/asio/post.hpp>

#include "common/logging.h"
#include "common/metric_family.h"

namespace kvip::kube {
namespace {

constexpr const char* kEventTypes[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};

// A stream that ends on its own sooner than this after opening is not routine rotation.
constexpr std::chrono::seconds kMinHealthyStream{5};

// The same error is logged again at most this often while it persists.
constexpr std::chrono::minutes kRepeatLogEvery{5};

std::string Seconds(std::chrono::milliseconds duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1fs", static_cast<double>(duration.count()) / 1000.0);
  return text;
}

}  // namespace

std::chrono::milliseconds JitteredBackoff(int failures, std::chrono::milliseconds initial,
                                          std::chrono::milliseconds max, std::minstd_rand& rng) {
  auto delay = initial;
  for (int i = 1; i < failures && delay < max; ++i) delay *= 2;
  if (delay > max) delay = max;
  std::uniform_int_distribution<long long> pick(delay.count() / 2, delay.count());
  return std::chrono::milliseconds(pick(rng));
}

LeaseWatcher::LeaseWatcher(boost::asio::io_context& io, std::shared_ptr<Client> client,
                           LeaseWatchOptions options)
    : io_(io),
      client_(std::move(client)),
      options_(std::move(options)),
      curl_(io),
      retry_timer_(io),
      stall_timer_(io),
      jitter_(std::random_device{}()) {
  for (const char* type : kEventTypes) status_.events[type] = 0;
  status_.last_error = "not started";
}

LeaseWatcher::~LeaseWatcher() {
  life_.reset();
  if (transfer_) curl_.Cancel(transfer_);
}

void LeaseWatcher::Start() {
  boost::asio::post(io_, [this, life = std::weak_ptr<int>(life_)] {
    if (!life.expired()) List();
  });
}

LeaseWatchStatus LeaseWatcher::Status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return status_;
}

std::string LeaseWatcher::ListPath() const {
  return "/apis/coordination.k8s.io/v1/namespaces/" + options_.namespace_name +
         "/leases?fieldSelector=metadata.name%3D" + options_.lease_name;
}

std::string LeaseWatcher::WatchPath(const std::string& resource_version) const {
  return ListPath() + "&watch=1&allowWatchBookmarks=true&resourceVersion=" + resource_version +
         "&timeoutSeconds=" + std::to_string(options_.watch_timeout.count());
}

void LeaseWatcher::List() {
  HttpRequest request = client_->Prepare("GET", ListPath(), "", options_.list_timeout);
  transfer_ = curl_.Start(request, {.on_headers = nullptr,
                                    .on_data = nullptr,
                                    .on_done = [this](HttpResponse r) { OnListDone(r); }});
  if (!transfer_) Retry(Step::kList, "cannot start a request to " + request.url);
}

void LeaseWatcher::OnListDone(const HttpResponse& response) {
  transfer_ = 0;
  if (!response.ok || response.status != 200) {
    Retry(Step::kList, client_->DescribeFailure("list", ListPath(), response));
    return;
  }
  std::string error;
  auto list = ParseLeaseList(response.body, error);
  if (!list) {
    Retry(Step::kList, "list " + client_->config().server + ListPath() + ": " + error);
    return;
  }
  std::optional<Lease> lease;
  for (auto& item : list->items) {
    if (item.name == options_.lease_name) lease = std::move(item);
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    status_.listed = true;
    status_.lease = std::move(lease);
  }
  resource_version_ = list->resource_version;
  Watch();
}

void LeaseWatcher::Watch() {
  framer_.Reset();
  relist_requested_ = false;
  stream_error_.clear();
  // No total timeout: the server ends the stream after timeoutSeconds; the stall timer
  // catches a stream that goes silent.
  HttpRequest request =
      client_->Prepare("GET", WatchPath(resource_version_), "", std::chrono::milliseconds(0));
  transfer_ = curl_.Start(
      request, {.on_headers =
                    [this](long status) {
                      if (status == 200) OnWatchEstablished();
                    },
                .on_data = [this](std::string_view chunk) { return OnWatchBytes(chunk); },
                .on_done = [this](HttpResponse r) { OnWatchDone(r); }});
  if (!transfer_) {
    Retry(Step::kWatch, "cannot start a request to " + request.url);
    return;
  }
  ArmStallTimer();
}

void LeaseWatcher::OnWatchEstablished() {
  established_at_ = std::chrono::steady_clock::now();
  failures_in_a_row_ = 0;
  bool after_failure = failed_since_established_;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    status_.watch_up = true;
    status_.last_error.clear();
    if (after_failure && ever_established_) ++status_.reconnects;
  }
  if (after_failure) {
    LogInfo(ever_established_ ? "lease watch re-established" : "lease watch established",
            {{"lease", options_.namespace_name + "/" + options_.lease_name},
             {"server", client_->config().server},
             {"resource_version", resource_version_}});
  }
  failed_since_established_ = false;
  ever_established_ = true;
}

bool LeaseWatcher::OnWatchBytes(std::string_view chunk) {
  ArmStallTimer();
  if (!framer_.Feed(chunk, [this](std::string_view line) { OnWatchLine(line); })) {
    stream_error_ = "a watch event from " + client_->config().server + " exceeds 1 MiB";
  }
  // Returning false makes CurlLoop end the transfer; OnWatchDone decides what follows.
  return !relist_requested_ && stream_error_.empty();
}

void LeaseWatcher::OnWatchLine(std::string_view line) {
  if (relist_requested_ || !stream_error_.empty()) return;  // the rest of a dropped stream
  std::string error;
  auto event = ParseLeaseWatchEvent(line, error);
  if (!event) {
    stream_error_ = "undecodable watch event from " + client_->config().server + ": " + error;
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  ++status_.events[event->type];
  status_.last_event_time = UnixNow();
  if (event->type == "ERROR") {
    if (event->error_code == 410) {
      relist_requested_ = true;  // our resourceVersion was compacted away
    } else {
      stream_error_ = "watch ERROR event (code " + std::to_string(event->error_code) +
                      "): " + event->error_message;
    }
    return;
  }
  resource_version_ = event->lease->resource_version;
  relisted_for_410_ = false;  // the stream made progress
  if (event->type == "BOOKMARK" || event->lease->name != options_.lease_name) return;
  if (event->type == "DELETED") {
    status_.lease.reset();
  } else {
    status_.lease = std::move(event->lease);
  }
}

void LeaseWatcher::OnWatchDone(const HttpResponse& response) {
  transfer_ = 0;
  stall_timer_.cancel();
  SetWatchUp(false);
  if (relist_requested_ || response.status == 410) {
    if (relisted_for_410_) {
      // A fresh list's resourceVersion expired again before any event: do not spin.
      Retry(Step::kList, "watch from a fresh list's resourceVersion " + resource_version_ +
                             " expired again (410 Gone)");
      return;
    }
    relisted_for_410_ = true;
    LogInfo("lease watch resourceVersion expired (410 Gone); relisting",
            {{"lease", options_.namespace_name + "/" + options_.lease_name},
             {"resource_version", resource_version_}});
    failed_since_established_ = true;
    List();
    return;
  }
  if (!stream_error_.empty()) {
    Retry(Step::kWatch, stream_error_);
    return;
  }
  if (!response.ok || response.status != 200) {
    Retry(Step::kWatch, client_->DescribeFailure("watch", WatchPath(resource_version_), response));
    return;
  }
  // The server ended the stream cleanly: routine after timeoutSeconds, suspicious if early.
  auto lived = std::chrono::steady_clock::now() - established_at_;
  if (lived < kMinHealthyStream) {
    Retry(Step::kWatch, "watch stream from " + client_->config().server + " ended after " +
                            Seconds(std::chrono::duration_cast<std::chrono::milliseconds>(lived)));
    return;
  }
  Watch();
}

void LeaseWatcher::ArmStallTimer() {
  stall_timer_.expires_after(options_.watch_timeout + options_.stall_margin);
  stall_timer_.async_wait(
      [this, life = std::weak_ptr<int>(life_)](const boost::system::error_code& ec) {
        if (!ec && !life.expired()) OnStalled();
      });
}

void LeaseWatcher::OnStalled() {
  if (!transfer_) return;
  curl_.Cancel(transfer_);
  transfer_ = 0;
  SetWatchUp(false);
  Retry(Step::kWatch, "watch stream from " + client_->config().server + " stalled: no bytes for " +
                          std::to_string((options_.watch_timeout + options_.stall_margin).count()) +
                          "s");
}

void LeaseWatcher::Retry(Step step, const std::string& error) {
  failed_since_established_ = true;
  ++failures_in_a_row_;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    status_.watch_up = false;
    status_.last_error = error;
  }
  auto delay =
      JitteredBackoff(failures_in_a_row_, options_.backoff_initial, options_.backoff_max, jitter_);
  LogFailure(error, delay);
  retry_timer_.expires_after(delay);
  retry_timer_.async_wait(
      [this, step, life = std::weak_ptr<int>(life_)](const boost::system::error_code& ec) {
        if (ec || life.expired()) return;
        if (step == Step::kList || resource_version_.empty()) {
          List();
        } else {
          Watch();
        }
      });
}

void LeaseWatcher::SetWatchUp(bool up) {
  std::lock_guard<std::mutex> lock(mutex_);
  status_.watch_up = up;
}

void LeaseWatcher::LogFailure(const std::string& error, std::chrono::milliseconds retry_in) {
  auto now = std::chrono::steady_clock::now();
  if (error == last_logged_error_ && now - last_logged_at_ < kRepeatLogEvery) return;
  last_logged_error_ = error;
  last_logged_at_ = now;
  LogWarn("lease watch failed", {{"lease", options_.namespace_name + "/" + options_.lease_name},
                                 {"err", error},
                                 {"retry_in", Seconds(retry_in)}});
}

}  // namespace kvip::kube
