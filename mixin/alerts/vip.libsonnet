// Alert group kube-vip.vip.
local text = import '../lib/text.libsonnet';
local fold = text.fold, strip = text.strip;

{
  prometheusAlerts+:: {
    groups+: [
      {
        name: 'kube-vip.vip',
        rules: [
          // kubevip_vip_bound is kernel truth from netlink. A clean hand-over doubles the VIP
          // for under a second; the 30s "for" ignores that and catches the SIGKILL/frozen
          // leader case, where the old node keeps the VIP until its kube-vip restarts.
          {
            alert: 'KubeVipVIPSplitBrain',
            expr: fold(|||
              kubevip_vip_bound{%(selector)s} == 1
              and on (%(clusterPrefix)svip) count by (%(clusterPrefix)svip) (kubevip_vip_bound{%(selector)s} == 1) > 1
            ||| % $._config),
            'for': $._config.durations.KubeVipVIPSplitBrain,
            labels: { severity: 'critical' },
            annotations: {
              summary: 'VIP {{ $labels.vip }} is bound on {{ $labels.node }} and on another node',
              description: fold(|||
                {{ $labels.vip }} is assigned to {{ $labels.interface }} on {{ $labels.node }} while other nodes
                hold it too ({{ range $i, $s := query "kubevip_vip_bound{%(selectorInQuery)s} == 1" |
                sortByLabel "node" }}{{ if $i }}, {{ end }}{{ $s.Labels.node }}{{ end }}). ARP answers race:
                clients reach a random node.
              |||) % $._config,
            },
          },
          // kube-vip's known failure: the lease says this node leads, the interface lacks the VIP.
          // In ARP mode kube-vip re-adds a missing VIP every 3 s (vip_arpRate), so a lasting gap means
          // its ARP loop stopped, or something on the node keeps deleting the address and the VIP
          // flickers: hence "mostly absent over the last minute", not "absent at this instant".
          // A comparison rather than "unless": no VIP data (collector failing) must not fire this.
          {
            alert: 'KubeVipLeaderWithoutVIP',
            expr: fold(|||
              kubevip_is_leader{%(selector)s} == 1
              and on (%(clusterPrefix)sinstance, job) avg_over_time(kubevip_vip_bound{%(selector)s}[1m]) < 0.5
            ||| % $._config),
            'for': $._config.durations.KubeVipLeaderWithoutVIP,
            labels: { severity: 'critical' },
            annotations: {
              summary: 'kube-vip leader {{ $labels.node }} does not hold the VIP',
              description: fold(|||
                {{ $labels.node }} holds lease {{ $labels.namespace }}/{{ $labels.lease }} but the VIP has been
                off its interface for most of the last minute. In ARP mode kube-vip re-adds it every 3 s: its
                ARP loop is stuck, or something on the node keeps deleting it.
              |||),
            },
          },
          // A VIP left on a follower: after SIGKILL, or when nobody leads any more.
          // KubeVipVIPSplitBrain (same node) inhibits this one in Alertmanager.
          {
            alert: 'KubeVipVIPNotOnLeader',
            expr: fold(|||
              kubevip_vip_bound{%(selector)s} == 1
              and on (%(clusterPrefix)sinstance, job) kubevip_is_leader{%(selector)s} == 0
            ||| % $._config),
            'for': $._config.durations.KubeVipVIPNotOnLeader,
            labels: { severity: 'warning' },
            annotations: {
              summary: 'VIP {{ $labels.vip }} is bound on {{ $labels.node }}, which is not the leader',
              description: fold(|||
                {{ $labels.node }} has {{ $labels.vip }} on {{ $labels.interface }} but does not hold the lease.
                kube-vip only clears stale VIPs when it starts.
              |||),
            },
          },
          // The user-visible outage: the API server does not answer through the VIP from any node.
          {
            alert: 'KubeVipVIPHealthzFailing',
            expr: 'max by (%(clusterPrefix)svip) (kubevip_vip_healthz_up{%(selector)s}) == 0' % $._config,
            'for': $._config.durations.KubeVipVIPHealthzFailing,
            labels: { severity: 'critical' },
            annotations: {
              summary: 'API server unreachable through VIP {{ $labels.vip }}',
              description: fold(|||
                https://{{ $labels.vip }}:6443/healthz fails from every node ({{ range $i, $s := query
                "kubevip_vip_healthz_up{%(selectorInQuery)s} == 0" | sortByLabel "node" }}{{ if $i }}, {{ end
                }}{{ $s.Labels.node }}{{ end }}).
              |||) % $._config,
            },
          },
          // kube-vip#1786 (open): in ARP mode kube-vip keeps the lease and the VIP while its own
          // node's API server is dead, so every client through the VIP fails. KubeVipVIPHealthzFailing
          // sees that symptom; this names the cause and the node. The VIP, not the lease, is what
          // sends clients there, so the rule reads kernel truth and needs no lease watch (which may
          // run through that same dead API server).
          {
            alert: 'KubeVipVIPOnDeadAPIServer',
            expr: fold(|||
              kubevip_vip_bound{%(selector)s} == 1
              and on (%(clusterPrefix)sinstance, job) kubevip_apiserver_livez_up{%(selector)s} == 0
            ||| % $._config),
            'for': $._config.durations.KubeVipVIPOnDeadAPIServer,
            labels: { severity: 'critical' },
            annotations: {
              summary: '{{ $labels.node }} holds VIP {{ $labels.vip }} over a dead local API server',
              description: fold(|||
                {{ $labels.vip }} is bound on {{ $labels.node }}, whose own API server fails /livez (lease
                holder: {{ range $i, $s := query "max by (holder)
                (kubevip_lease_holder_info{%(selectorInQuery)s})" | sortByLabel "holder" }}{{ if $i }}, {{ end
                }}{{ $s.Labels.holder }}{{ end }}). Every client through the VIP reaches a dead API server.
                kube-vip in ARP mode does not give the VIP up for this (kube-vip#1786): move it away by stopping
                kube-vip on {{ $labels.node }}.
              |||) % $._config,
            },
          },
          // Only some nodes fail the probe: a path problem (ARP cache, interface) on those nodes.
          // KubeVipVIPHealthzFailing (same vip) inhibits this one.
          {
            alert: 'KubeVipVIPHealthzDegraded',
            expr: 'kubevip_vip_healthz_up{%(selector)s} == 0' % $._config,
            'for': $._config.durations.KubeVipVIPHealthzDegraded,
            labels: { severity: 'warning' },
            annotations: {
              summary: '{{ $labels.node }} cannot reach the API server through VIP {{ $labels.vip }}',
              description: 'The VIP healthz probe from {{ $labels.node }} has failed for 5 minutes.',
            },
          },
          // Rolling upgrades skew versions for minutes; an hour means one was forgotten or rolled back.
          {
            alert: 'KubeVipVersionSkew',
            expr: 'count%(byCluster)s(count by (%(clusterPrefix)sversion) (kubevip_manifest_info{%(selector)s})) > 1' % $._config,
            'for': $._config.durations.KubeVipVersionSkew,
            labels: { severity: 'warning' },
            annotations: {
              summary: 'Control-plane nodes run {{ $value }} different kube-vip versions',
              description: fold(|||
                kube-vip versions per node: {{ range $i, $s := query
                "kubevip_manifest_info{%(selectorInQuery)s}" | sortByLabel "node" }}{{ if $i }}, {{ end }}{{
                $s.Labels.node }}={{ $s.Labels.version }}{{ end }}. Finish or roll back the upgrade.
              |||) % $._config,
            },
          },
        ],
      },
    ],
  },
}
