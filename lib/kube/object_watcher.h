#pragma once
// Keeps the last known state of one object (a Lease, a Pod) with LIST then WATCH of its name
// (fieldSelector=metadata.name=...), the way client-go's reflector
// does: resume from the last resourceVersion, relist on 410 Gone, reconnect with capped,
// jittered backoff after errors, and treat a silent stream (no bytes, not even bookmarks,
// beyond the server's own timeout) as dead.
//
// Runs on the daemon's Asio loop through CurlLoop (libcurl multi-socket), so the state
// machine, its timers and the stream parser never need a lock between them; the only
// hand-off is Status(), a snapshot under a mutex, for scrapes on HTTP threads.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include "kube/client.h"
#include "kube/curl_loop.h"
#include "kube/lease.h"
#include "kube/watch_event.h"

namespace kvip::kube {

struct WatchOptions {
  std::string namespace_name = "kube-system";
  std::string name = "plndr-cp-lock";  // metadata.name of the one object watched
  // timeoutSeconds asked of the server; it ends the stream then and we resume at once.
  std::chrono::seconds watch_timeout{60};
  // Silence beyond watch_timeout + stall_margin means the stream is dead (frozen server,
  // vanished peer): drop it and reconnect.
  std::chrono::seconds stall_margin{10};
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{30000};
  std::chrono::milliseconds list_timeout{10000};
};

// What a scrape sees.
template <class T>
struct WatchStatus {
  bool listed = false;           // a LIST succeeded once, so `object` is knowledge, not a guess
  std::optional<T> object;       // the last known object; nullopt once listed = it does not exist
  bool watch_up = false;         // a watch stream is established now
  std::uint64_t reconnects = 0;  // streams established after a failure (not routine rotation)
  std::map<std::string, std::uint64_t> events;  // by type; every type present from the start
  double last_event_time = 0;  // Unix seconds of the last watch event; 0 = none yet
  std::string last_error;      // why the watch is not up; empty while it is
};

// What ObjectWatcher needs to know of a kind.
template <class T>
struct WatchKind {
  std::string what;             // for logs: "lease", "pod"
  std::string collection_path;  // e.g. "/api/v1/namespaces/kube-system/pods"
  std::optional<ObjectList<T>> (*parse_list)(std::string_view json, std::string& error);
  std::optional<ObjectEvent<T>> (*parse_event)(std::string_view json, std::string& error);
};

// Instantiated for Lease and Pod (object_watcher.cc). T has `name` and `resource_version`.
template <class T>
class ObjectWatcher {
 public:
  ObjectWatcher(boost::asio::io_context& io, std::shared_ptr<Client> client, WatchKind<T> kind,
                WatchOptions options);
  ~ObjectWatcher();
  ObjectWatcher(const ObjectWatcher&) = delete;
  ObjectWatcher& operator=(const ObjectWatcher&) = delete;

  // Begins listing on the loop; call once.
  void Start();

  // Thread safety: callable from any thread.
  WatchStatus<T> Status() const;

  // The API paths used, for messages and tests.
  std::string ListPath() const;
  std::string WatchPath(const std::string& resource_version) const;

 private:
  enum class Step { kList, kWatch };

  void List();
  void OnListDone(const HttpResponse& response);
  void Watch();
  void OnWatchEstablished();
  bool OnWatchBytes(std::string_view chunk);
  void OnWatchLine(std::string_view line);
  void OnWatchDone(const HttpResponse& response);
  void ArmStallTimer();
  void OnStalled();
  void Retry(Step step, const std::string& error);
  void SetWatchUp(bool up);
  void LogFailure(const std::string& error, std::chrono::milliseconds retry_in);

  boost::asio::io_context& io_;
  std::shared_ptr<Client> client_;
  WatchKind<T> kind_;
  WatchOptions options_;
  CurlLoop curl_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer stall_timer_;

  // Loop-thread state.
  CurlLoop::TransferId transfer_ = 0;
  std::string resource_version_;
  LineFramer framer_;
  bool relist_requested_ = false;  // a 410 ERROR event arrived on the stream
  bool relisted_for_410_ = false;  // relisted after a 410 and no event since
  std::string stream_error_;       // why the stream must be dropped, if so
  bool failed_since_established_ = true;
  bool ever_established_ = false;
  std::chrono::steady_clock::time_point established_at_{};
  int failures_in_a_row_ = 0;
  std::minstd_rand jitter_;
  std::string last_logged_error_;
  std::chrono::steady_clock::time_point last_logged_at_{};

  mutable std::mutex mutex_;
  WatchStatus<T> status_;  // guarded by mutex_

  std::shared_ptr<int> life_ = std::make_shared<int>(0);  // timer handlers hold a weak_ptr
};

// The Lease kube-vip holds.
using LeaseWatchOptions = WatchOptions;
using LeaseWatchStatus = WatchStatus<Lease>;
class LeaseWatcher : public ObjectWatcher<Lease> {
 public:
  LeaseWatcher(boost::asio::io_context& io, std::shared_ptr<Client> client,
               LeaseWatchOptions options);
};

// Capped exponential backoff with jitter: uniformly in [d/2, d] for d = min(max,
// initial * 2^failures). Exposed for tests.
std::chrono::milliseconds JitteredBackoff(int failures, std::chrono::milliseconds initial,
                                          std::chrono::milliseconds max, std::minstd_rand& rng);

}  // namespace kvip::kube
