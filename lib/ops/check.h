#pragma once
// One line of a one-shot mode's report: a check that was made or a step that was carried
// out. The decisions in lib/ops produce them; exporter/report renders them.

#include <string>

namespace kvip::ops {

struct Check {
  std::string name;
  bool ok = false;
  std::string detail;
  double seconds = -1;  // how long a step took; negative for checks
};

}  // namespace kvip::ops
