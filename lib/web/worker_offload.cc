#include "web/worker_offload.h"

#include <boost/asio/post.hpp>
#include <exception>
#include <system_error>
#include <thread>
#include <utility>

#include "common/logging.h"

namespace kvip::detail {

WorkerOffload::WorkerOffload(boost::asio::io_context& io, size_t max_scrapes, size_t max_bcrypt)
    : max_scrapes_(max_scrapes), max_bcrypt_(max_bcrypt) {
  gate_->io = &io;
  gate_->owner = this;
}

bool WorkerOffload::Offload(Work kind, std::function<WorkResult()> work,
                            std::function<void(WorkResult)> then) {
  size_t& in_flight = InFlight(kind);
  if (in_flight >= (kind == Work::kScrape ? max_scrapes_ : max_bcrypt_)) return false;
  uint64_t ticket = next_ticket_++;
  {
    std::lock_guard lock(gate_->mutex);
    ++gate_->running;
  }
  try {
    // Detached so that Stop() can give up on a collector stuck past its deadline; the
    // thread owns everything it touches (gate, collectable) through shared pointers.
    std::thread([gate = gate_, ticket, work = std::move(work)]() mutable {
      WorkResult result;
      try {
        result = work();
      } catch (const std::exception& err) {
        LogError("serving a request failed", {{"err", err.what()}});
      }
      work = nullptr;
      std::lock_guard lock(gate->mutex);
      if (gate->open) {
        boost::asio::post(*gate->io,
                          [owner = gate->owner, ticket, result = std::move(result)]() mutable {
                            owner->Finish(ticket, std::move(result));
                          });
      }
      --gate->running;
      gate->finished.notify_all();
    }).detach();
  } catch (const std::system_error& err) {
    std::lock_guard lock(gate_->mutex);
    --gate_->running;
    LogWarn("cannot start a worker thread", {{"err", err.what()}});
    return false;
  }
  ++in_flight;
  waiting_.emplace(ticket, Waiting{kind, std::move(then)});
  return true;
}

void WorkerOffload::Finish(uint64_t ticket, WorkResult result) {
  auto it = waiting_.find(ticket);
  if (it == waiting_.end()) return;
  Waiting waiting = std::move(it->second);
  waiting_.erase(it);
  --InFlight(waiting.kind);
  waiting.then(std::move(result));
}

bool WorkerOffload::Close(std::chrono::milliseconds grace) {
  bool finished = false;
  {
    std::unique_lock lock(gate_->mutex);
    finished = gate_->finished.wait_for(lock, grace, [this] { return gate_->running == 0; });
    gate_->open = false;
  }
  waiting_.clear();
  return finished;
}

}  // namespace kvip::detail
