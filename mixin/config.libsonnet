// Everything a user may override:
//   (import 'mixin/mixin.libsonnet') + {_config+:: {clusterLabel: 'cluster'}}
{
  _config+:: {
    // Selects the kvip-exporter targets in every rule and dashboard query.
    selector: 'job="kvip-exporter"',

    // The label that tells clusters apart when one Prometheus (or Thanos/Mimir) holds several.
    // Empty: one cluster, and the rules aggregate over everything, as a single-cluster
    // install wants. Set (e.g. 'cluster'): every aggregation and join in the rules keeps it, and
    // the dashboard gets a variable of that name that every query selects on.
    clusterLabel: '',

    // Where each alert's runbook_url points: <runbookURL>#<alertname in lower case>.
    runbookURL: 'https://github.com/rommelporras/kvip-exporter/blob/main/docs/runbook.md',

    // Every alert carries this label; the Alertmanager route tree matches on it.
    componentLabel: 'kube-vip',

    // Thresholds (the descriptions quote them).
    leaseStaleSeconds: 30,
    restartsPerHour: 3,
    leaderChangesPer30m: 3,
    lockConflictsPerMinute: 1,

    // for: of each alert that has one (the others fire on their first true evaluation).
    durations: {
      KubeVipInstanceDown: '2m',
      KubeVipAllDown: '1m',
      KubeVipNoLeader: '30s',
      KubeVipMultipleLeaders: '1m',
      KubeVipLeaseHolderUnknown: '2m',
      KubeVipLockConflicts: '10m',
      KubeVipVIPSplitBrain: '30s',
      KubeVipLeaderWithoutVIP: '1m',
      KubeVipVIPNotOnLeader: '1m',
      KubeVipVIPHealthzFailing: '1m',
      KubeVipVIPOnDeadAPIServer: '30s',
      KubeVipVIPHealthzDegraded: '5m',
      KubeVipVersionSkew: '1h',
      KubeVipExporterDown: '5m',
      KubeVipExportersAllDown: '1m',
      KubeVipLeaseWatchDown: '5m',
      KubeVipExporterCollectorFailing: '15m',
      KubeVipVIPDuplicateResponders: '30s',
      KubeVipVIPForeignMAC: '1m',
      KubeVipVIPStaleNeighbor: '2m',
      KubeVipNoGratuitousARPAfterFailover: '1m',
    },

    // Derived from the above for the PromQL templates (%(name)s); not meant to be set.
    // clusterPrefix goes first in a label list: by (%(clusterPrefix)svip) -> by (vip) or by (cluster, vip).
    clusterPrefix: if self.clusterLabel == '' then '' else self.clusterLabel + ', ',
    // byCluster follows an aggregation operator: sum%(byCluster)s(x) -> sum(x) or sum by (cluster) (x).
    byCluster: if self.clusterLabel == '' then '' else ' by (%s) ' % self.clusterLabel,
    // clusterOnly fills an otherwise empty list: on (%(clusterOnly)s) -> on () or on (cluster).
    clusterOnly: self.clusterLabel,
    // The selector inside a query "..." of an annotation template.
    selectorInQuery: std.strReplace(self.selector, '"', '\\"'),
  },
}
