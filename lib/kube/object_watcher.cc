#include "kube/object_watcher.h"

#include <boost/asio/post.hpp>

#include "common/logging.h"
#include "common/metric_family.h"
#include "kube/pod.h"

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

template <class T>
ObjectWatcher<T>::ObjectWatcher(boost::asio::io_context& io, std::shared_ptr<Client> client,
                                WatchKind<T> kind, WatchOptions options)
    : io_(io),
      client_(std::move(client)),
      kind_(std::move(kind)),
      options_(std::move(options)),
      curl_(io),
      retry_timer_(io),
      stall_timer_(io),
      jitter_(std::random_device{}()) {
  for (const char* type : kEventTypes) status_.events[type] = 0;
  status_.last_error = "not started";
}

template <class T>
ObjectWatcher<T>::~ObjectWatcher() {
  life_.reset();
  if (transfer_) curl_.Cancel(transfer_);
}

template <class T>
void ObjectWatcher<T>::Start() {
  boost::asio::post(io_, [this, life = std::weak_ptr<int>(life_)] {
    if (!life.expired()) List();
  });
}

template <class T>
WatchStatus<T> ObjectWatcher<T>::Status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return status_;
}

template <class T>
std::string ObjectWatcher<T>::ListPath() const {
  return kind_.collection_path + "?fieldSelector=metadata.name%3D" + options_.name;
}

template <class T>
std::string ObjectWatcher<T>::WatchPath(const std::string& resource_version) const {
  return ListPath() + "&watch=1&allowWatchBookmarks=true&resourceVersion=" + resource_version +
         "&timeoutSeconds=" + std::to_string(options_.watch_timeout.count());
}

template <class T>
void ObjectWatcher<T>::List() {
  HttpRequest request = client_->Prepare("GET", ListPath(), "", options_.list_timeout);
  transfer_ = curl_.Start(request, {.on_headers = nullptr,
                                    .on_data = nullptr,
                                    .on_done = [this](HttpResponse r) { OnListDone(r); }});
  if (!transfer_) Retry(Step::kList, "cannot start a request to " + request.url);
}

template <class T>
void ObjectWatcher<T>::OnListDone(const HttpResponse& response) {
  transfer_ = 0;
  if (!response.ok || response.status != 200) {
    Retry(Step::kList, client_->DescribeFailure("list", ListPath(), response));
    return;
  }
  std::string error;
  auto list = kind_.parse_list(response.body, error);
  if (!list) {
    Retry(Step::kList, "list " + client_->config().server + ListPath() + ": " + error);
    return;
  }
  std::optional<T> object;
  for (auto& item : list->items) {
    if (item.name == options_.name) object = std::move(item);
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    status_.listed = true;
    status_.object = std::move(object);
  }
  resource_version_ = list->resource_version;
  Watch();
}

template <class T>
void ObjectWatcher<T>::Watch() {
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

template <class T>
void ObjectWatcher<T>::OnWatchEstablished() {
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
    LogInfo(kind_.what + (ever_established_ ? " watch re-established" : " watch established"),
            {{kind_.what, options_.namespace_name + "/" + options_.name},
             {"server", client_->config().server},
             {"resource_version", resource_version_}});
  }
  failed_since_established_ = false;
  ever_established_ = true;
}

template <class T>
bool ObjectWatcher<T>::OnWatchBytes(std::string_view chunk) {
  ArmStallTimer();
  if (!framer_.Feed(chunk, [this](std::string_view line) { OnWatchLine(line); })) {
    stream_error_ = "a watch event from " + client_->config().server + " exceeds 1 MiB";
  }
  // Returning false makes CurlLoop end the transfer; OnWatchDone decides what follows.
  return !relist_requested_ && stream_error_.empty();
}

template <class T>
void ObjectWatcher<T>::OnWatchLine(std::string_view line) {
  if (relist_requested_ || !stream_error_.empty()) return;  // the rest of a dropped stream
  std::string error;
  auto event = kind_.parse_event(line, error);
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
  resource_version_ = event->object->resource_version;
  relisted_for_410_ = false;  // the stream made progress
  if (event->type == "BOOKMARK" || event->object->name != options_.name) return;
  if (event->type == "DELETED") {
    status_.object.reset();
  } else {
    status_.object = std::move(event->object);
  }
}

template <class T>
void ObjectWatcher<T>::OnWatchDone(const HttpResponse& response) {
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
    LogInfo(kind_.what + " watch resourceVersion expired (410 Gone); relisting",
            {{kind_.what, options_.namespace_name + "/" + options_.name},
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

template <class T>
void ObjectWatcher<T>::ArmStallTimer() {
  stall_timer_.expires_after(options_.watch_timeout + options_.stall_margin);
  stall_timer_.async_wait(
      [this, life = std::weak_ptr<int>(life_)](const boost::system::error_code& ec) {
        if (!ec && !life.expired()) OnStalled();
      });
}

template <class T>
void ObjectWatcher<T>::OnStalled() {
  if (!transfer_) return;
  curl_.Cancel(transfer_);
  transfer_ = 0;
  SetWatchUp(false);
  Retry(Step::kWatch, "watch stream from " + client_->config().server + " stalled: no bytes for " +
                          std::to_string((options_.watch_timeout + options_.stall_margin).count()) +
                          "s");
}

template <class T>
void ObjectWatcher<T>::Retry(Step step, const std::string& error) {
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

template <class T>
void ObjectWatcher<T>::SetWatchUp(bool up) {
  std::lock_guard<std::mutex> lock(mutex_);
  status_.watch_up = up;
}

template <class T>
void ObjectWatcher<T>::LogFailure(const std::string& error, std::chrono::milliseconds retry_in) {
  auto now = std::chrono::steady_clock::now();
  if (error == last_logged_error_ && now - last_logged_at_ < kRepeatLogEvery) return;
  last_logged_error_ = error;
  last_logged_at_ = now;
  LogWarn(kind_.what + " watch failed",
          {{kind_.what, options_.namespace_name + "/" + options_.name},
           {"err", error},
           {"retry_in", Seconds(retry_in)}});
}

LeaseWatcher::LeaseWatcher(boost::asio::io_context& io, std::shared_ptr<Client> client,
                           LeaseWatchOptions options)
    : ObjectWatcher<Lease>(
          io, std::move(client),
          WatchKind<Lease>{.what = "lease",
                           .collection_path = "/apis/coordination.k8s.io/v1/namespaces/" +
                                              options.namespace_name + "/leases",
                           .parse_list = &ParseLeaseList,
                           .parse_event = &ParseLeaseWatchEvent},
          options) {}

template class ObjectWatcher<Lease>;
template class ObjectWatcher<Pod>;

}  // namespace kvip::kube
