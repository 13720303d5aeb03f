// Alert group kube-vip.wire.
local text = import '../lib/text.libsonnet';
local fold = text.fold, strip = text.strip;

{
  prometheusAlerts+:: {
    groups+: [
      // The VIP as the LAN sees it (vip_neighbor collector, and the opt-in --vip.arp-probe).
      // One group, so it moves as a unit.
      {
        name: 'kube-vip.wire',
        rules: [
          // More than one MAC answers ARP/NDP for the VIP, across every node's probe: a split
          // brain on the wire (kube-vip#1775, #1579), even when each node's own view looks fine.
          // A clean hand-over answers from two MACs for under a second; 30s ignores that.
          {
            alert: 'KubeVipVIPDuplicateResponders',
            expr: strip(|||
              kubevip_vip_arp_responders{%(selector)s} > 0
              and on (%(clusterPrefix)svip)
              count by (%(clusterPrefix)svip) (count by (%(clusterPrefix)svip, mac) (kubevip_vip_arp_responder_info{%(selector)s})) > 1
            ||| % $._config),
            'for': $._config.durations.KubeVipVIPDuplicateResponders,
            labels: { severity: 'critical' },
            annotations: {
              summary: 'More than one MAC answers for VIP {{ $labels.vip }}, seen from {{ $labels.node }}',
              description: fold(|||
                The ARP/NDP probe on {{ $labels.node }} and the other nodes' probes see {{ range $i, $s := query
                "count by (mac) (kubevip_vip_arp_responder_info{%(selectorInQuery)s})" | sortByLabel "mac" }}{{ if $i }},
                {{ end }}{{ $s.Labels.mac }}{{ end }} answer for {{ $labels.vip }}: clients reach whichever
                answered last.
              |||) % $._config,
            },
          },
          // A MAC that answers for the VIP, or that a node's kernel sends VIP traffic to, is no
          // control-plane node's (kubevip_interface_info, any node seen in the last hour): an IP
          // conflict with a foreign host, e.g. a laptop handed the VIP by DHCP.
          {
            alert: 'KubeVipVIPForeignMAC',
            expr: strip(|||
              max by (%(clusterPrefix)svip, mac, node, instance, job) (
                kubevip_vip_arp_responder_info{%(selector)s, mac!=""}
                or kubevip_vip_neighbor_info{%(selector)s, mac!=""}
              )
              unless on (%(clusterPrefix)smac) last_over_time(kubevip_interface_info{%(selector)s}[1h])
            ||| % $._config),
            'for': $._config.durations.KubeVipVIPForeignMAC,
            labels: { severity: 'critical' },
            annotations: {
              summary: "VIP {{ $labels.vip }} resolves to {{ $labels.mac }}, no node's MAC, on {{ $labels.node }}",
              description: fold(|||
                On {{ $labels.node }}, {{ $labels.vip }} answers from or resolves to {{ $labels.mac }}, which is
                the MAC of no control-plane node: another host on the LAN claims the VIP (an IP conflict).
                Traffic to the VIP may go to that host.
              |||),
            },
          },
          // A follower's kernel still sends VIP traffic to a node that no longer leads: the
          // failover's gratuitous ARP did not reach it (or its entry is pinned). Needs exactly
          // one leader, so a lease-watch outage does not look like a stale entry.
          {
            alert: 'KubeVipVIPStaleNeighbor',
            expr: strip(|||
              max without (state) (kubevip_vip_neighbor_info{%(selector)s, mac!=""})
              and on (%(clusterPrefix)smac) last_over_time(kubevip_interface_info{%(selector)s}[1h])
              unless on (%(clusterPrefix)smac) (
                kubevip_interface_info{%(selector)s}
                and on (%(clusterPrefix)sinstance, job) kubevip_is_leader{%(selector)s} == 1
              )
              and on (%(clusterOnly)s) count%(byCluster)s(kubevip_is_leader{%(selector)s} == 1) == 1
            ||| % $._config),
            'for': $._config.durations.KubeVipVIPStaleNeighbor,
            labels: { severity: 'warning' },
            annotations: {
              summary: fold(|||
                {{ $labels.node }} still sends VIP {{ $labels.vip }} traffic to a former leader ({{ $labels.mac
                }})
              |||),
              description: fold(|||
                {{ $labels.node }}'s neighbour entry for {{ $labels.vip }} has pointed to {{ $labels.mac }}, a
                node that is not the leader, for 2 minutes: the failover did not reach this node's ARP/NDP
                cache, so its clients of the VIP (kubelet, the API server's peers) talk to the old leader.
              |||),
            },
          },
          // A follower whose probe runs has seen no gratuitous ARP for the VIP since the lease
          // last changed hands (kube-vip announces the VIP on taking it, and again every
          // vip_arpRate): the announcement never reached the LAN segment of this node.
          {
            alert: 'KubeVipNoGratuitousARPAfterFailover',
            expr: strip(|||
              (kubevip_lease_acquire_timestamp_seconds{%(selector)s} - 5)
              > on (%(clusterPrefix)sinstance, job) group_left () (
                max by (%(clusterPrefix)sinstance, job) (
                  kubevip_vip_gratuitous_arp_last_timestamp_seconds{%(selector)s}
                )
                or on (%(clusterPrefix)sinstance, job) (0 * kubevip_vip_arp_probe_up{%(selector)s})
              )
              and on (%(clusterPrefix)sinstance, job) kubevip_vip_arp_probe_up{%(selector)s} == 1
              and on (%(clusterPrefix)sinstance, job) kubevip_is_leader{%(selector)s} == 0
            ||| % $._config),
            'for': $._config.durations.KubeVipNoGratuitousARPAfterFailover,
            labels: { severity: 'warning' },
            annotations: {
              summary: '{{ $labels.node }} saw no gratuitous ARP for the VIP after the last leadership change',
              description: fold(|||
                The lease {{ $labels.namespace }}/{{ $labels.lease }} changed hands over a minute ago and the
                ARP probe on {{ $labels.node }} has seen no gratuitous ARP / unsolicited neighbour advertisement
                for the VIP since: the new leader's announcement did not reach this node's segment (switch,
                VLAN, or kube-vip's ARP loop).
              |||),
            },
          },
        ],
      },
    ],
  },
}
