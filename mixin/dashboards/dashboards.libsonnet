// The kube-vip dashboard. kube-vip.json is its source, as Grafana exports it (edit it there or in
// Grafana, then run tools/render-monitoring). Its queries select on job=~"$job"; this file
// applies the mixin's _config: with a clusterLabel, a cluster variable comes first (after the
// data source) and every query, and every variable query, also selects cluster="$cluster".
local source = import 'kube-vip.json';

local withCluster(cfg, dashboard) =
  local label = cfg.clusterLabel;
  local scoped(q) = std.strReplace(q, 'job=~"$job"', '%s="$%s", job=~"$job"' % [label, label]);
  local scopePanel(p) = p + (
    if std.objectHas(p, 'targets') then { targets: [t { expr: scoped(t.expr) } for t in p.targets] } else {}
  ) + (
    if std.objectHas(p, 'panels') then { panels: [scopePanel(c) for c in p.panels] } else {}
  );
  local variable = {
    type: 'query',
    name: label,
    label: 'Cluster',
    datasource: { type: 'prometheus', uid: '${datasource}' },
    definition: 'label_values(kvip_exporter_build_info, %s)' % label,
    query: {
      query: 'label_values(kvip_exporter_build_info, %s)' % label,
      refId: 'PrometheusVariableQueryEditor-VariableQuery',
      qryType: 1,
    },
    current: {},
    refresh: 2,
    sort: 1,
    hide: 0,
    includeAll: false,
    multi: false,
    options: [],
    regex: '',
  };
  local scopeVariable(v) =
    if v.type != 'query' then v
    else if v.name == 'job' then
      local jobs = 'label_values(kvip_exporter_build_info{%s="$%s"}, job)' % [label, label];
      v { definition: jobs, query+: { query: jobs } }
    else v { definition: scoped(v.definition), query+: { query: scoped(v.query.query) } };
  local list = dashboard.templating.list;
  dashboard {
    templating+: { list: [list[0], variable] + [scopeVariable(v) for v in list[1:]] },
    panels: [scopePanel(p) for p in dashboard.panels],
  };

{
  grafanaDashboards+:: {
    'kube-vip.json':
      if $._config.clusterLabel == '' then source else withCluster($._config, source),
  },
}
