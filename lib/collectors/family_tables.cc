#include "collectors/family_tables.h"

#include "collectors/apiserver_livez.h"
#include "collectors/kubevip_log.h"
#include "collectors/kubevip_pod.h"
#include "collectors/kubevip_scrape.h"
#include "collectors/lease_watch.h"
#include "collectors/manifest.h"
#include "collectors/vip_arp_probe.h"
#include "collectors/vip_healthz.h"
#include "collectors/vip_neighbor.h"
#include "collectors/vip_netlink.h"

namespace kvip {

const std::vector<std::span<const FamilySpec>>& CollectorFamilyTables() {
  static const std::vector<std::span<const FamilySpec>> tables = {
      KubeVipScrapeCollector::Families(),  ManifestCollector::Families(),
      VipNetlinkCollector::Families(),     VipNeighborCollector::Families(),
      VipArpProbeCollector::Families(),    LeaseWatchCollector::Families(),
      KubeVipPodCollector::Families(),     VipHealthzCollector::Families(),
      ApiServerLivezCollector::Families(), KubeVipLogCollector::Families(),
  };
  return tables;
}

}  // namespace kvip
