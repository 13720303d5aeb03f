// Alert group kube-vip.exporter.
local text = import '../lib/text.libsonnet';
local fold = text.fold, strip = text.strip;

{
  prometheusAlerts+:: {
    groups+: [
      {
        name: 'kube-vip.exporter',
        rules: [
          {
            alert: 'KubeVipExporterDown',
            expr: 'up{%(selector)s} == 0' % $._config,
            'for': $._config.durations.KubeVipExporterDown,
            labels: { severity: 'warning' },
            annotations: {
              summary: 'kvip-exporter on {{ $labels.node }} is down',
              description: fold(|||
                Prometheus cannot scrape the exporter on {{ $labels.node }} ({{ $labels.instance }}). Every
                other kube-vip alert is blind for that node.
              |||),
            },
          },
          // The moment the whole control plane is gone (power cut, switch failure, Prometheus cut
          // off from the nodes) every exporter series vanishes, and with it every alert above: the
          // one time alerting must not go quiet. Every target down, or none discovered at all
          // (max(absent()) keeps one label set, so the for: clock survives the targets vanishing
          // from discovery after they went down). 1m + a scrape interval + an evaluation: a page
          // within 2 minutes, as the seed's AllDown promised.
          {
            alert: 'KubeVipExportersAllDown',
            // With a cluster label: every target of one cluster down, or one cluster's targets gone
            // from discovery (they answered within the hour, none is discovered now; absent() cannot
            // name a cluster), or nothing discovered anywhere.
            expr: fold(
              if $._config.clusterLabel == '' then |||
                sum(up{%(selector)s}) == 0
                or max(absent(up{%(selector)s}))
              ||| else |||
                sum by (%(clusterLabel)s) (up{%(selector)s}) == 0
                or (group by (%(clusterLabel)s) (last_over_time(up{%(selector)s}[1h])) unless on (%(clusterLabel)s) group by (%(clusterLabel)s) (up{%(selector)s}))
                or max(absent(up{%(selector)s}))
              |||
            ) % $._config,
            'for': $._config.durations.KubeVipExportersAllDown,
            labels: { severity: 'critical' },
            annotations: {
              summary: "No kvip-exporter answers; kube-vip's state is unknown",
              description: fold(|||
                Prometheus reaches no kvip-exporter ({{ with query "count(up{%(selectorInQuery)s})" }}{{ . |
                first | value | printf "%%.0f" }} targets, all down{{ else }}no target discovered at all{{ end
                }}). Whether the VIP is held, by whom, and whether the API answers through it is unknown: the
                control-plane nodes, their network, or Prometheus' path to them is gone.
              |||) % $._config,
            },
          },
          {
            alert: 'KubeVipLeaseWatchDown',
            expr: 'kubevip_lease_watch_up{%(selector)s} == 0' % $._config,
            'for': $._config.durations.KubeVipLeaseWatchDown,
            labels: { severity: 'warning' },
            annotations: {
              summary: 'kvip-exporter on {{ $labels.node }} lost its watch on the kube-vip lease',
              description: fold(|||
                The exporter on {{ $labels.node }} has had no watch on {{ $labels.namespace }}/{{ $labels.lease
                }} for 5 minutes; its leader and lease figures are stale. Check its RBAC and the node's
                apiserver.
              |||),
            },
          },
          {
            alert: 'KubeVipExporterCollectorFailing',
            expr: 'kvip_exporter_collector_success{%(selector)s} == 0' % $._config,
            'for': $._config.durations.KubeVipExporterCollectorFailing,
            labels: { severity: 'warning' },
            annotations: {
              summary: 'kvip-exporter collector {{ $labels.collector }} fails on {{ $labels.node }}',
              description: fold(|||
                Collector {{ $labels.collector }} on {{ $labels.node }} has failed every scrape for 15 minutes;
                the alerts built on its metrics cannot fire for that node.
              |||),
            },
          },
        ],
      },
    ],
  },
}
