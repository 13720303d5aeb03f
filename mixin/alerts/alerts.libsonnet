// The alert groups, in the order Prometheus evaluates them. Adding a group: a new file
// here, one import line below, its "### Alert" headings in docs/runbook.md, its unit tests.
// With a cluster label, the queries inside annotation templates read the alert's own cluster only:
//   query "up{job=\"x\"}"  ->  query (printf "up{job=\"x\", cluster=%q}" $labels.cluster)
// and printf "m{node=%q}" $labels.node | query  gains the cluster matcher the same way.
local scopeTemplateQueries(label, text) =
  local closingQuote(s) =
    local find(i) = if s[i] == '"' && (i == 0 || s[i - 1] != '\\') then i else find(i + 1);
    find(0);
  local scoped(literal) =
    local escaped = std.strReplace(literal, '%', '%%');
    std.strReplace(escaped, '}', ', %s=%%q}' % label);
  local quoted(piece) =
    local end = closingQuote(piece);
    local literal = piece[0:end];
    local selectors = std.length(std.findSubstr('}', literal));
    'query (printf "%s"%s)%s' % [
      scoped(literal),
      std.join('', [' $labels.%s' % label for _ in std.range(1, selectors)]),
      piece[end + 1:],
    ];
  // std.split takes one character: mark each 'query "' with one that templates never contain.
  local pieces = std.split(std.strReplace(text, 'query "', '\u0001'), '\u0001');
  local withQueries = pieces[0] + std.join('', [quoted(p) for p in pieces[1:]]);
  std.strReplace(withQueries,
                 '{node=%q}" $labels.node',
                 '{node=%%q, %s=%%q}" $labels.node $labels.%s' % [label, label]);

local withRunbookAndComponent(cfg, rule) =
  if std.objectHas(rule, 'alert') then rule {
    labels+: { component: cfg.componentLabel },
    annotations: {
      [k]: if cfg.clusterLabel == '' then rule.annotations[k]
      else scopeTemplateQueries(cfg.clusterLabel, rule.annotations[k])
      for k in std.objectFields(rule.annotations)
    } + { runbook_url: '%s#%s' % [cfg.runbookURL, std.asciiLower(rule.alert)] },
  } else rule;

local groups =
  (import 'availability.libsonnet') +
  (import 'election.libsonnet') +
  (import 'vip.libsonnet') +
  (import 'exporter.libsonnet') +
  (import 'wire.libsonnet');

groups {
  prometheusAlerts+:: {
    groups: [
      g { rules: [withRunbookAndComponent($._config, r) for r in g.rules] }
      for g in super.groups
    ],
  },
}
