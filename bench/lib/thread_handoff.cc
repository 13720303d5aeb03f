// How long it takes to get a job onto another thread and hear back from it: a new detached
// thread per job (what lib/web does for each /metrics response) against a waiting pooled
// thread. Answers whether a worker pool would shorten /metrics latency (bench/results.md).
//
//   g++ -O2 -std=c++20 -pthread bench/lib/thread_handoff.cc -o /tmp/thread_handoff
//   /tmp/thread_handoff [rounds]
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double Percentile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(q * static_cast<double>(values.size() - 1))];
}

double MicrosSince(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

struct Handoff {
  std::mutex mutex;
  std::condition_variable changed;
  bool job = false;
  bool done = false;
  bool stop = false;

  void WaitDone() {
    std::unique_lock lock(mutex);
    changed.wait(lock, [this] { return done; });
    done = false;
  }
  void MarkDone() {
    {
      std::lock_guard lock(mutex);
      done = true;
    }
    changed.notify_all();
  }
};

std::vector<double> ThreadPerJob(int rounds) {
  Handoff handoff;
  std::vector<double> micros;
  for (int i = 0; i < rounds; ++i) {
    auto start = Clock::now();
    std::thread([&handoff] { handoff.MarkDone(); }).detach();
    handoff.WaitDone();
    micros.push_back(MicrosSince(start));
  }
  return micros;
}

std::vector<double> PooledThread(int rounds) {
  Handoff handoff;
  std::thread worker([&handoff] {
    std::unique_lock lock(handoff.mutex);
    while (true) {
      handoff.changed.wait(lock, [&handoff] { return handoff.job || handoff.stop; });
      if (handoff.stop) return;
      handoff.job = false;
      handoff.done = true;
      handoff.changed.notify_all();
    }
  });
  std::vector<double> micros;
  for (int i = 0; i < rounds; ++i) {
    auto start = Clock::now();
    {
      std::lock_guard lock(handoff.mutex);
      handoff.job = true;
    }
    handoff.changed.notify_all();
    handoff.WaitDone();
    micros.push_back(MicrosSince(start));
  }
  {
    std::lock_guard lock(handoff.mutex);
    handoff.stop = true;
  }
  handoff.changed.notify_all();
  worker.join();
  return micros;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 3000;
  if (rounds < 1) rounds = 3000;
  auto spawned = ThreadPerJob(rounds);
  auto pooled = PooledThread(rounds);
  std::printf("%d hand-offs each, microseconds\n", rounds);
  std::printf("new thread per job: p50 %.1f p99 %.1f\n", Percentile(spawned, 0.5),
              Percentile(spawned, 0.99));
  std::printf("pooled thread:      p50 %.1f p99 %.1f\n", Percentile(pooled, 0.5),
              Percentile(pooled, 0.99));
}
