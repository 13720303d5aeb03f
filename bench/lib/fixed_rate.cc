// fixed_rate: an open-loop HTTP load generator at a fixed request rate, bounded in time.
//
// Debian's wrk 4.1 has no fixed-rate mode (wrk -R is wrk2), and a closed-loop client hides
// queueing: when the server stalls, it simply sends less. Here request i is due at
// start + i/rate whatever happened before, and its latency is counted from that due time
// (as wrk2 does), so a stall shows up in the percentiles instead of vanishing.
//
// Usage: fixed_rate URL RATE SECONDS CONNECTIONS OUT_FILE [GRACE_SECONDS]
// GRACE_SECONDS (default 10): how long after SECONDS requests still due may finish; a very
// high RATE with a long grace turns it into a closed loop of CONNECTIONS clients.
// OUT_FILE gets one line per request: "<due offset us> <latency us> <ok 0|1> <bytes>".
// A one-line JSON summary goes to stdout. FIXED_RATE_ACCEPT_ENCODING, when set, is sent as
// Accept-Encoding (e.g. "gzip", what kvip-exporter's kube-vip scrape asks for).
#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Slot {
  CURL* easy = nullptr;
  Clock::time_point due;
  size_t bytes = 0;
  bool busy = false;
};

struct Sample {
  double due_us;
  double latency_us;
  bool ok;
  size_t bytes;
};

size_t CountBody(char*, size_t size, size_t count, void* user) {
  static_cast<Slot*>(user)->bytes += size * count;
  return size * count;
}

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6 && argc != 7) {
    std::fprintf(stderr, "usage: %s URL RATE SECONDS CONNECTIONS OUT_FILE [GRACE_SECONDS]\n",
                 argv[0]);
    return 2;
  }
  const std::string url = argv[1];
  const double rate = std::atof(argv[2]);
  const double seconds = std::atof(argv[3]);
  const int connections = std::atoi(argv[4]);
  const double grace = argc == 7 ? std::atof(argv[6]) : 10.0;
  if (rate <= 0 || seconds <= 0 || connections <= 0 || rate * seconds > 1e6) {
    std::fprintf(stderr,
                 "fixed_rate: need RATE > 0, SECONDS > 0, CONNECTIONS > 0, RATE*SECONDS <= 1e6\n");
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLM* multi = curl_multi_init();
  const char* accept_encoding = std::getenv("FIXED_RATE_ACCEPT_ENCODING");
  std::vector<Slot> slots(static_cast<size_t>(connections));
  for (auto& slot : slots) {
    slot.easy = curl_easy_init();
    curl_easy_setopt(slot.easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(slot.easy, CURLOPT_WRITEFUNCTION, CountBody);
    curl_easy_setopt(slot.easy, CURLOPT_WRITEDATA, &slot);
    curl_easy_setopt(slot.easy, CURLOPT_PRIVATE, &slot);
    curl_easy_setopt(slot.easy, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(slot.easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(slot.easy, CURLOPT_TCP_NODELAY, 1L);
    if (accept_encoding) curl_easy_setopt(slot.easy, CURLOPT_ACCEPT_ENCODING, accept_encoding);
  }

  const auto total = static_cast<size_t>(std::llround(rate * seconds));
  const auto interval =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate));
  std::vector<Sample> samples;
  samples.reserve(total);
  std::deque<Clock::time_point> waiting;  // due but no free connection yet
  const auto start = Clock::now();
  const auto hard_stop = start + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(seconds + grace));
  size_t scheduled = 0;
  int running = 0;
  auto first_done = start;
  auto last_done = start;

  while ((scheduled < total || !waiting.empty() || running > 0) && Clock::now() < hard_stop) {
    auto now = Clock::now();
    while (scheduled < total && start + interval * static_cast<long>(scheduled) <= now) {
      waiting.push_back(start + interval * static_cast<long>(scheduled));
      ++scheduled;
    }
    for (auto& slot : slots) {
      if (waiting.empty()) break;
      if (slot.busy) continue;
      slot.busy = true;
      slot.bytes = 0;
      slot.due = waiting.front();
      waiting.pop_front();
      curl_multi_add_handle(multi, slot.easy);
    }
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Slot* slot = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &slot);
      long status = 0;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
      auto done = Clock::now();
      if (samples.empty()) first_done = done;
      last_done = done;
      bool ok = msg->data.result == CURLE_OK && status == 200;
      samples.push_back({Micros(slot->due - start), Micros(done - slot->due), ok, slot->bytes});
      curl_multi_remove_handle(multi, msg->easy_handle);
      slot->busy = false;
    }
    // Sleep until the next due time or socket activity, whichever comes first.
    int wait_ms = 100;
    if (!waiting.empty()) {
      wait_ms = 0;
    } else if (scheduled < total) {
      auto next = start + interval * static_cast<long>(scheduled);
      wait_ms = static_cast<int>(std::max<long>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count()));
    }
    if (wait_ms > 0 || running > 0) curl_multi_poll(multi, nullptr, 0, wait_ms, nullptr);
  }

  FILE* out = std::fopen(argv[5], "w");
  if (!out) {
    std::perror(argv[5]);
    return 1;
  }
  size_t ok = 0;
  for (const auto& s : samples) {
    std::fprintf(out, "%.1f %.1f %d %zu\n", s.due_us, s.latency_us, s.ok ? 1 : 0, s.bytes);
    ok += s.ok ? 1 : 0;
  }
  std::fclose(out);
  // Throughput between the first and the last completion: the offered rate while the server
  // keeps up, the server's capacity when it falls behind.
  double elapsed = std::chrono::duration<double>(last_done - start).count();
  double span = std::chrono::duration<double>(last_done - first_done).count();
  std::printf(
      "{\"scheduled\": %zu, \"completed\": %zu, \"ok\": %zu, \"elapsed_s\": %.3f, "
      "\"span_s\": %.3f, \"achieved_rps\": %.1f, \"unsent\": %zu}\n",
      total, samples.size(), ok, elapsed, span,
      span > 0 && ok > 1 ? static_cast<double>(ok - 1) / span : 0.0, total - samples.size());
  for (auto& slot : slots) curl_easy_cleanup(slot.easy);
  curl_multi_cleanup(multi);
  curl_global_cleanup();
  return 0;
}
