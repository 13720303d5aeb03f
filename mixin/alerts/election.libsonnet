// Alert group kube-vip.election.
local text = import '../lib/text.libsonnet';
local fold = text.fold, strip = text.strip;

{
  prometheusAlerts+:: {
    groups+: [
      {
        name: 'kube-vip.election',
        rules: [
          // The seed's lease alert. min() over the exporters: each one computes the age from
          // its own watch, and a single broken watch must not page anyone (that is
          // KubeVipLeaseWatchDown). kube-vip renews every second with a 5s lease, so 30s
          // is dozens of missed renewals.
          {
            alert: 'KubeVipLeaseStale',
            expr: 'min by (%(clusterPrefix)snamespace, lease) (kubevip_lease_age_seconds{%(selector)s}) > %(leaseStaleSeconds)s' % $._config,
            labels: { severity: 'critical' },
            annotations: {
              summary: fold(|||
                Lease {{ $labels.namespace }}/{{ $labels.lease }} not renewed for {{ $value | humanizeDuration
                }}
              |||),
              description: fold(|||
                No node has renewed the kube-vip lease for more than %(leaseStaleSeconds)ss. Holder of record: {{ range $i, $s :=
                query "max by (holder) (kubevip_lease_holder_info{%(selectorInQuery)s})" | sortByLabel "holder"
                }}{{ if $i }}, {{ end }}{{ $s.Labels.holder }}{{ end }}. The holder's kube-vip is hung or cannot
                reach its apiserver.
              |||) % $._config,
            },
          },
          // Expired, released (holder "" with a 1s duration expires at once) or deleted:
          // nobody leads, so nobody is meant to hold the VIP.
          {
            alert: 'KubeVipNoLeader',
            expr: fold(|||
              min by (%(clusterPrefix)snamespace, lease) (kubevip_lease_expired{%(selector)s}) == 1
              or min by (%(clusterPrefix)snamespace, lease) (kubevip_lease_present{%(selector)s}) == 0
            ||| % $._config),
            'for': $._config.durations.KubeVipNoLeader,
            labels: { severity: 'critical' },
            annotations: {
              summary: 'No kube-vip leader for lease {{ $labels.namespace }}/{{ $labels.lease }}',
              description: fold(|||
                The lease is expired or missing as seen by every exporter, so no node leads the VIP election.
                Last holder: {{ range $i, $s := query "max by (holder)
                (kubevip_lease_holder_info{%(selectorInQuery)s})" | sortByLabel "holder" }}{{ if $i }}, {{ end
                }}{{ $s.Labels.holder }}{{ end }}.
              |||) % $._config,
            },
          },
          // Each exporter decides "I lead" from its own watch and node name. Two at once
          // means their views disagree (a stale watch) or two exporters share a node name.
          // One series per claiming node, so the description can name it.
          {
            alert: 'KubeVipMultipleLeaders',
            expr: fold(|||
              kubevip_is_leader{%(selector)s} == 1
              and on (%(clusterPrefix)snamespace, lease) sum by (%(clusterPrefix)snamespace, lease) (kubevip_is_leader{%(selector)s}) > 1
            ||| % $._config),
            'for': $._config.durations.KubeVipMultipleLeaders,
            labels: { severity: 'critical' },
            annotations: {
              summary: '{{ $labels.node }} is one of several nodes claiming the kube-vip lease',
              description: fold(|||
                {{ $labels.node }} reports itself leader of {{ $labels.namespace }}/{{ $labels.lease }} while
                another node does too. Check each exporter's --node name and lease watch.
              |||),
            },
          },
          // A fresh lease whose holder no exporter claims: kube-vip's vip_nodename and the
          // exporter's --node-name differ on that node, or a control-plane node runs kube-vip
          // without an exporter. Not while any exporter target is down (KubeVipExporterDown says
          // that, and the holder's exporter may be the one down).
          {
            alert: 'KubeVipLeaseHolderUnknown',
            expr: fold(|||
              max by (%(clusterPrefix)snamespace, lease, holder) (kubevip_lease_holder_info{%(selector)s, holder!=""})
              unless on (%(clusterPrefix)snamespace, lease) (max by (%(clusterPrefix)snamespace, lease) (kubevip_is_leader{%(selector)s}) == 1)
              unless on (%(clusterOnly)s) (count%(byCluster)s(up{%(selector)s} == 0) > 0)
              unless on (%(clusterPrefix)snamespace, lease) (max by (%(clusterPrefix)snamespace, lease) (kubevip_lease_expired{%(selector)s}) == 1)
            ||| % $._config),
            'for': $._config.durations.KubeVipLeaseHolderUnknown,
            labels: { severity: 'warning' },
            annotations: {
              summary: 'kube-vip lease held by {{ $labels.holder }}, which no kvip-exporter claims as its node',
              description: fold(|||
                {{ $labels.holder }} holds {{ $labels.namespace }}/{{ $labels.lease }} and renews it, but no
                exporter reports itself as that node (exporters run as: {{ range $i, $s := query
                "kvip_exporter_node_info{%(selectorInQuery)s}" | sortByLabel "node" }}{{ if $i }}, {{ end }}{{
                $s.Labels.node }}{{ end }}). Either kube-vip's vip_nodename and the exporter's --node-name
                differ on {{ $labels.holder }}, or that node runs kube-vip without an exporter; leader and VIP
                alerts are blind to it.
              |||) % $._config,
            },
          },
          {
            alert: 'KubeVipLeaderFlapping',
            expr: strip(|||
              max by (%(clusterPrefix)snamespace, lease) (
                kubevip_lease_transitions{%(selector)s}
                - kubevip_lease_transitions{%(selector)s} offset 30m
              ) >= %(leaderChangesPer30m)s
            ||| % $._config),
            labels: { severity: 'warning' },
            annotations: {
              summary: 'kube-vip leadership changed {{ $value }} times in 30m',
              description: fold(|||
                Lease {{ $labels.namespace }}/{{ $labels.lease }} changed holder at least %(leaderChangesPer30m)s times in 30 minutes;
                current holder: {{ range $i, $s := query "max by (holder)
                (kubevip_lease_holder_info{%(selectorInQuery)s})" | sortByLabel "holder" }}{{ if $i }}, {{ end
                }}{{ $s.Labels.holder }}{{ end }}. A rolling upgrade moves it once; more means leaders keep
                losing their renewals.
              |||) % $._config,
            },
          },
          // The seed's log spam. v1.0.3 and v1.0.4 word it differently; the exporter counts both.
          // More than one a minute, sustained: a lone conflict during an apiserver stall is normal.
          {
            alert: 'KubeVipLockConflicts',
            expr: 'rate(kubevip_log_lock_conflicts_total{%(selector)s}[5m]) * 60 > %(lockConflictsPerMinute)s' % $._config,
            'for': $._config.durations.KubeVipLockConflicts,
            labels: { severity: 'warning' },
            annotations: {
              summary: 'kube-vip on {{ $labels.node }} logs {{ $value | printf "%.1f" }} lease conflicts a minute',
              description: fold(|||
                kube-vip on {{ $labels.node }} keeps failing to update the lease optimistically (the seed's cp3
                did once a second). The VIP may still work, but renewals are fighting over the lease and it may
                expire under load.
              |||),
            },
          },
        ],
      },
    ],
  },
}
