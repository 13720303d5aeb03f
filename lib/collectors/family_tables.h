#pragma once
// Every collector's family table in one list: the kube-vip scrape's clash list and the
// metric-contract tests read the tables through this, so a new collector is added here once.

#include <span>
#include <vector>

#include "common/metric_family.h"

namespace kvip {

const std::vector<std::span<const FamilySpec>>& CollectorFamilyTables();

}  // namespace kvip
