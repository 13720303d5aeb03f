#pragma once
// The web server's own counters (requests by code, dropped connections by reason, open
// connections, the web config's last reload) and their families, kvip_exporter_web_*.
// The I/O thread bumps them, scrape workers read them: atomics only.

#include <prometheus/metric_family.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/metric_family.h"

namespace kvip::detail {

class WebStats {
 public:
  static constexpr std::array<int, 9> kCodes = {200, 400, 401, 404, 405, 413, 431, 500, 503};
  enum Drop { kEvicted, kRefused, kRequestTimeout, kWriteTimeout, kTlsHandshake, kDropCount };

  void Request(unsigned code);
  void Dropped(Drop reason) { drops_[reason]++; }
  void Opened() { open_++; }
  void Closed() { open_--; }
  void Reloaded(bool ok);

  void AppendFamilies(std::vector<prometheus::MetricFamily>& out) const;

 private:
  std::array<std::atomic<uint64_t>, kCodes.size()> requests_{};
  std::array<std::atomic<uint64_t>, kDropCount> drops_{};
  std::atomic<int64_t> open_{0};
  std::atomic<bool> reload_ok_{true};
  std::atomic<double> reload_success_time_{UnixNow()};
};

}  // namespace kvip::detail
