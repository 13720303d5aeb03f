#pragma once

#include "options.h"

namespace kvip {

// Runs the daemon until SIGINT/SIGTERM; returns the process exit code.
int Serve(const ServeOptions& options, const char* version_string);

}  // namespace kvip
