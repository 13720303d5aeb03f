#pragma once
// A gate for callers on other threads (a scrape inside a collector, say) that a test can
// close to hold them inside, as a source waiting for its deadline would, and count: how
// many have entered so far, how many are inside now.

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace kvip::testing {

class Gate {
 public:
  void Close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  void Open() {
    std::lock_guard lock(mutex_);
    closed_ = false;
    changed_.notify_all();
  }

  // Called by the held code: counts the caller in, waits while closed, counts it out.
  void Pass() {
    std::unique_lock lock(mutex_);
    ++entered_;
    ++inside_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return !closed_; });
    --inside_;
    changed_.notify_all();
  }

  // Wait (10 s at most) until at least `count` callers have entered / exactly `count` are inside.
  bool WaitEntered(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kWait, [&] { return entered_ >= count; });
  }
  bool WaitInside(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kWait, [&] { return inside_ == count; });
  }

 private:
  static constexpr std::chrono::seconds kWait{10};
  std::mutex mutex_;
  std::condition_variable changed_;
  bool closed_ = false;  // guarded by mutex_
  int entered_ = 0;      // guarded by mutex_
  int inside_ = 0;       // guarded by mutex_
};

}  // namespace kvip::testing
