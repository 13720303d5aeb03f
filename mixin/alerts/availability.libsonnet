// Alert group kube-vip.availability.
local text = import '../lib/text.libsonnet';
local fold = text.fold, strip = text.strip;

{
  prometheusAlerts+:: {
    groups+: [
      {
        name: 'kube-vip.availability',
        rules: [
          // The seed's first alert. kubevip_up is the exporter's scrape of kube-vip's :2112,
          // so "exporter up, kube-vip not answering" means kube-vip itself is down or hung.
          {
            alert: 'KubeVipInstanceDown',
            expr: 'kubevip_up{%(selector)s} == 0' % $._config,
            'for': $._config.durations.KubeVipInstanceDown,
            labels: { severity: 'warning' },
            annotations: {
              summary: 'kube-vip on {{ $labels.node }} is not answering',
              description: fold(|||
                The exporter on {{ $labels.node }} has not reached kube-vip's metrics endpoint for 2 minutes.
                The node no longer takes part in the VIP election; if it was the leader, the VIP has moved (or
                is stuck on it).
              |||),
            },
          },
          // Every exporter that answers sees its kube-vip down. sum() over no series is
          // empty, so this stays silent when no exporter answers at all: that case is
          // KubeVipExportersAllDown, because then we simply do not know.
          {
            alert: 'KubeVipAllDown',
            expr: 'sum%(byCluster)s(kubevip_up{%(selector)s}) == 0' % $._config,
            'for': $._config.durations.KubeVipAllDown,
            labels: { severity: 'critical' },
            annotations: {
              summary: 'kube-vip is down on every control-plane node',
              description: fold(|||
                No kube-vip instance answers on any node whose exporter is up ({{ range $i, $s := query
                "kubevip_up{%(selectorInQuery)s} == 0" | sortByLabel "node" }}{{ if $i }}, {{ end }}{{
                $s.Labels.node }}{{ end }}). Nothing holds or defends the API server VIP: expect kubectl through
                the VIP to fail.
              |||) % $._config,
            },
          },
          // The kubelet's restartCount (kube-vip's mirror pod), like the seed's "cp3: 19 restarts"
          // from kubectl get pods: it counts restarts inside one scrape interval too, which the
          // exporter's own start-time count cannot.
          {
            alert: 'KubeVipHighRestarts',
            expr: 'increase(kubevip_container_restarts_total{%(selector)s}[1h]) >= %(restartsPerHour)s' % $._config,
            labels: { severity: 'warning' },
            annotations: {
              summary: 'kube-vip on {{ $labels.node }} restarted {{ $value | printf "%.0f" }} times in 1h',
              description: fold(|||
                The kubelet restarted kube-vip on {{ $labels.node }} at least %(restartsPerHour)s times in the last hour (the
                seed's cp3 reached 19). Last run ended: {{ range printf
                "kubevip_container_last_terminated_reason{node=%%q}" $labels.node | query }}{{ .Labels.reason
                }}{{ end }}, exit code {{ range printf "kubevip_container_last_terminated_exit_code{node=%%q}"
                $labels.node | query }}{{ .Value }}{{ end }}. Exit 2 (v1.0.3) follows each lost lease: compare
                with the lease transitions; OOMKilled or a CrashLoopBackOff is something else.
              |||) % $._config,
            },
          },
        ],
      },
    ],
  },
}
