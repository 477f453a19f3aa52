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
