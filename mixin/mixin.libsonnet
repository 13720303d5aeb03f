// kvip-exporter monitoring mixin: the kube-vip alerts and the Grafana dashboard.
//
//   single cluster:  import 'mixin/mixin.libsonnet'
//   many clusters:   (import 'mixin/mixin.libsonnet') + {_config+:: {clusterLabel: 'cluster'}}
//
// Exposes prometheusAlerts ({groups: [...]}) and grafanaDashboards ({'kube-vip.json': {...}}).
// tools/render-monitoring renders the files under rules/ and dashboards/ from it.
(import 'config.libsonnet') +
(import 'alerts/alerts.libsonnet') +
(import 'dashboards/dashboards.libsonnet')
