#pragma once
// Work the web server's I/O thread must not do itself (a scrape, which may wait for a
// collector's deadline; a bcrypt check) runs on a detached worker thread, and its result
// comes back to the I/O thread as a posted handler. Each kind of work has its own limit
// of jobs in flight. Used on the I/O thread only, except Close().

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace kvip::detail {

// The outcome of work done off the I/O thread.
struct WorkResult {
  bool ok = false;
  std::string body;
  bool gzipped = false;
};

class WorkerOffload {
 public:
  enum class Work { kScrape, kBcrypt };

  WorkerOffload(boost::asio::io_context& io, size_t max_scrapes, size_t max_bcrypt);

  // Runs `work` on a new thread, then `then` with its result on the I/O thread. False (and
  // neither runs) when `kind` is at its limit or no thread can be started.
  bool Offload(Work kind, std::function<WorkResult()> work, std::function<void(WorkResult)> then);

  // Once the I/O thread has ended: waits up to `grace` for the workers still running, then
  // shuts the gate so that none hands a result back. False when one was still running.
  bool Close(std::chrono::milliseconds grace);

 private:
  // Shared with the detached workers: they hand results back only while the gate is open,
  // so none touches the server once Close() has given up on it.
  struct Gate {
    std::mutex mutex;
    std::condition_variable finished;
    bool open = true;
    size_t running = 0;
    boost::asio::io_context* io = nullptr;
    WorkerOffload* owner = nullptr;
  };
  struct Waiting {
    Work kind;
    std::function<void(WorkResult)> then;
  };

  void Finish(uint64_t ticket, WorkResult result);
  size_t& InFlight(Work kind) { return kind == Work::kScrape ? scrapes_ : bcrypt_; }

  const size_t max_scrapes_;
  const size_t max_bcrypt_;
  const std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
  std::map<uint64_t, Waiting> waiting_;
  uint64_t next_ticket_ = 0;
  size_t scrapes_ = 0;
  size_t bcrypt_ = 0;
};

}  // namespace kvip::detail
