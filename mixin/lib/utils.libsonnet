// Small helpers shared by the rules, alerts and dashboards.
{
  local nonEmpty(xs) = std.filter(function(x) x != '', xs),

  // Matchers for a selector: the exporter's selector, then `extra`
  // (matchers(c, 'arroyo_job_state="Running"') -> 'job="arroyo-exporter", arroyo_job_state="Running"').
  matchers(c, extra=''):: std.join(', ', nonEmpty([c.exporterSelector, extra])),

  // A label list for by/on/without: the cluster label (when configured) first.
  labels(c, names):: std.join(', ', nonEmpty([c.clusterLabel] + names)),

  // The labels that identify one Arroyo job across exporter restarts and replicas.
  jobKey(c):: self.labels(c, ['job_id']),

  // The labels of one scrape target of the exporter.
  targetKey(c):: self.labels(c, c.targetLabels),

  runbookURL(c, alert):: c.runbookURLPattern % std.asciiLower(alert),

  // The printf pipeline of an annotation's `query` lookup of another series of the
  // alerting series' own cluster and scrape target: the cluster label and the target
  // labels, then `names`, each take the alert's value. One exporter can serve several
  // clusters that share job ids, so a lookup by job id alone may read a neighbour's
  // series. An alert without the cluster label looks up "" there, which PromQL matches
  // to series without the label: a single cluster keeps working. `fixed`: more matchers,
  // escaped for the template's string; `suffix`: what follows the selector.
  // lookup(c, 'arroyo_job_state', ['job_id'], suffix=' == 1') ->
  // 'printf "arroyo_job_state{cluster=%q, instance=%q, job=%q, job_id=%q} == 1"
  //   $labels.cluster $labels.instance $labels.job $labels.job_id'
  lookup(c, metric, names=[], fixed='', suffix='')::
    local all = nonEmpty([c.clusterLabel] + c.targetLabels) + names;
    'printf "%s{%s}%s" %s' % [
      metric,
      std.join(', ', ['%s=%%q' % n for n in all] + nonEmpty([fixed])),
      suffix,
      std.join(' ', ['$labels.' + n for n in all]),
    ],

  // '15m' -> '15 minutes', '1h' -> '1 hour', '30s' -> '30 seconds'.
  words(d)::
    local units = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week' };
    local n = std.parseInt(std.substr(d, 0, std.length(d) - 1));
    local u = units[std.substr(d, std.length(d) - 1, 1)];
    '%d %s%s' % [n, u, if n == 1 then '' else 's'],

  // A number as PromQL and people write it (jsonnet's %s prints 0.9 as 0.90000000000000002).
  num(x):: '%g' % x,

  // 120 -> '2 minutes', 7200 -> '2 hours', 45 -> '45 seconds'.
  seconds(n)::
    if n % 3600 == 0 then self.words('%dh' % (n / 3600))
    else if n % 60 == 0 then self.words('%dm' % (n / 60))
    else self.words('%ds' % n),

  // The fields of an alerting rule that come from _config.alerts[name].
  alertRule(c, name, expr, summary, description, severity=null)::
    local a = c.alerts[name];
    {
      alert: name,
      expr: expr,
      'for': a['for'],
    }
    + (if a.keepFiringFor != '' then { keep_firing_for: a.keepFiringFor } else {})
    + {
      labels: { severity: if severity == null then a.severity else severity },
      annotations: {
        summary: summary,
        // one paragraph: the text blocks' line breaks become spaces
        description: std.strReplace(std.rstripChars(description, '\n'), '\n', ' '),
        runbook_url: $.runbookURL(c, name),
      },
    },
}
