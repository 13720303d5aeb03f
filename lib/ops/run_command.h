#pragma once
// Runs a program from an argv (never through a shell) with a deadline, for the runtime
// CLIs the upgrade drives (ctr, crictl).

#include <chrono>
#include <string>
#include <vector>

namespace kvip::ops {

struct CommandResult {
  bool started = false;    // false: not found or not executable (see output)
  bool timed_out = false;  // killed at the deadline
  int exit_code = -1;      // 128 + signal when it died from one
  std::string output;      // stdout and stderr interleaved, the last 64 KiB
};

// Looks argv[0] up in $PATH, runs it with stdin from /dev/null and kills it at `timeout`.
CommandResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

}  // namespace kvip::ops
