#include "collectors/process.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "common/metric_family.h"

namespace kvip {
namespace {

double ReadBootTime() {
  std::ifstream stat("/proc/stat");
  std::string key;
  double value = 0;
  while (stat >> key) {
    if (key == "btime") {
      stat >> value;
      return value;
    }
    stat.ignore(1 << 20, '\n');
  }
  return 0;
}

int CountOpenFds(const std::string& proc_self) {
  DIR* dir = opendir((proc_self + "/fd").c_str());
  if (!dir) return -1;
  int count = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // the fd opendir itself holds
}

double ReadMaxFds(const std::string& proc_self) {
  std::ifstream limits(proc_self + "/limits");
  std::string line;
  while (std::getline(limits, line)) {
    if (line.rfind("Max open files", 0) == 0) {
      std::istringstream fields(line.substr(sizeof("Max open files") - 1));
      double soft = 0;
      fields >> soft;
      return soft;
    }
  }
  return 0;
}

}  // namespace

ProcessCollector::ProcessCollector(std::string proc_self)
    : proc_self_(std::move(proc_self)),
      boot_time_seconds_(ReadBootTime()),
      ticks_per_second_(sysconf(_SC_CLK_TCK)),
      page_size_(sysconf(_SC_PAGESIZE)) {}

bool ProcessCollector::Collect(std::vector<prometheus::MetricFamily>& out) {
  std::ifstream stat_file(proc_self_ + "/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may contain spaces.
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(stat.substr(close + 2));
  std::vector<std::string> f;
  for (std::string field; fields >> field;) f.push_back(field);
  // f[0] is field 3 (state); utime=14, stime=15, starttime=22, vsize=23, rss=24.
  if (f.size() < 22) return false;
  double utime = std::stod(f[11]), stime = std::stod(f[12]);
  double start_ticks = std::stod(f[19]);
  double vsize = std::stod(f[20]), rss_pages = std::stod(f[21]);

  double ticks = static_cast<double>(ticks_per_second_);
  out.push_back(CounterFamily("process_cpu_seconds_total",
                              "Total user and system CPU time spent in seconds.",
                              (utime + stime) / ticks));
  out.push_back(GaugeFamily("process_resident_memory_bytes", "Resident memory size in bytes.",
                            rss_pages * static_cast<double>(page_size_)));
  out.push_back(
      GaugeFamily("process_virtual_memory_bytes", "Virtual memory size in bytes.", vsize));
  out.push_back(GaugeFamily("process_start_time_seconds",
                            "Start time of the process since unix epoch in seconds.",
                            boot_time_seconds_ + start_ticks / ticks));
  int fds = CountOpenFds(proc_self_);
  if (fds >= 0) {
    out.push_back(GaugeFamily("process_open_fds", "Number of open file descriptors.", fds));
  }
  out.push_back(GaugeFamily("process_max_fds", "Maximum number of open file descriptors.",
                            ReadMaxFds(proc_self_)));
  return true;
}

}  // namespace kvip
