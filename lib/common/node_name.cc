#include "common/node_name.h"

#include <unistd.h>

#include <cstdlib>

namespace kvip {

std::string ResolveNodeName(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("NODE_NAME"); env && *env) return env;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

}  // namespace kvip
