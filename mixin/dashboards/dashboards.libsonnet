// The three dashboards, by file name. Every dashboard has a `datasource` variable (no
// hard-coded data source), a cluster variable from _config.clusterLabel before the
// pipeline and job variables, links to the other two with the same variables and time
// range, and annotations for job restarts, job state changes and firing Arroyo alerts.
local g = import 'lib.libsonnet';

{
  _dashboardCommon:: {
    local c = $._config,
    local d = c.dashboards,
    local nonEmpty(xs) = std.filter(function(x) x != '', xs),
    local cl = c.clusterLabel,

    titles:: {
      overview: d.titlePrefix + 'Overview',
      pipeline: d.titlePrefix + 'Pipeline',
      exporter: d.titlePrefix + 'Exporter',
    },

    // Matchers: the exporter's selector, the cluster variable, then `extra`.
    m(extra=''):: std.join(', ', nonEmpty([c.exporterSelector, self.clusterMatcher, extra])),
    clusterMatcher:: if cl == '' then '' else '%s=~"$cluster"' % cl,
    // Label filters driven by the template variables.
    fJob:: self.m('pipeline_name=~"$pipeline", job_id=~"$job"'),
    fOp:: self.m('pipeline_name=~"$pipeline", job_id=~"$job", operator_name=~"$operator"'),
    fInst:: self.m('instance=~"$instance"'),
    // Series keyed by cluster and job only (the arroyo_job:… recording rules).
    fJobKey:: std.join(', ', nonEmpty([self.clusterMatcher, 'job_id=~"$job"'])),

    clusterVariables::
      if cl == '' then []
      else [g.queryVariable(
        'cluster',
        'Cluster',
        'label_values(up{%s}, %s)' % [c.exporterSelector, cl],
        'Cluster (label %s) of the exporter targets' % cl,
        hide=if d.showClusterVariable then 0 else 2,
      )],

    pipelineVariables(withOperator):: self.clusterVariables + [
      g.queryVariable('pipeline',
                      'Pipeline',
                      'label_values(arroyo_job_state{%s}, pipeline_name)' % self.m(),
                      'Arroyo pipeline (its name)'),
      g.queryVariable('job',
                      'Job',
                      'label_values(arroyo_job_state{%s}, job_id)' % self.m('pipeline_name=~"$pipeline"'),
                      'Arroyo job id of the selected pipelines'),
    ] + (if withOperator then [
           g.queryVariable('operator',
                           'Operator',
                           'label_values(arroyo_operator_info{%s}, operator_name)' % self.fJob,
                           'Operator (graph node description) of the selected jobs'),
         ] else []),

    links(own)::
      [
        {
          title: $._dashboardCommon.titles[k],
          type: 'link',
          url: '/d/%s' % d.uids[k],
          icon: 'dashboard',
          tooltip: 'Open %s with the same data source, variables and time range' % $._dashboardCommon.titles[k],
          keepTime: true,
          includeVars: true,
          targetBlank: false,
          asDropdown: false,
          tags: [],
        }
        for k in ['overview', 'pipeline', 'exporter']
        if k != own
      ],

    pipelineDataLink:: {
      title: 'Open pipeline ${__data.fields.pipeline_name}',
      url: '/d/%s?${datasource:queryparam}' % d.uids.pipeline
           + (if cl == '' then '' else '&${cluster:queryparam}')
           + '&var-pipeline=${__data.fields.pipeline_name}'
           + '&var-job=${__data.fields.job_id}&${__url_time_range}',
      targetBlank: false,
    },

    annotation(name, expr, color, title, text):: {
      name: name,
      datasource: g.ds,
      enable: true,
      hide: false,
      iconColor: color,
      expr: expr,
      step: '1m',
      titleFormat: title,
      textFormat: text,
      useValueForTime: false,
    },

    restartAnnotation:: self.annotation(
      'Job restarts',
      'max by (pipeline_name, job_id) (changes(arroyo_job_run_id{%s}[$__rate_interval])) > 0'
      % self.fJob,
      'orange',
      'Restart of {{pipeline_name}}',
      'job {{job_id}}: run_id changed',
    ),

    stateAnnotation:: self.annotation(
      'Job state changes',
      |||
        max by (pipeline_name, job_id, arroyo_job_state) (
          (arroyo_job_state{%s} == 1)
          and
          (changes(arroyo_job_state{%s}[$__rate_interval]) > 0)
        )
      ||| % [self.fJob, self.fJob],
      'blue',
      '{{pipeline_name}}: {{arroyo_job_state}}',
      'job {{job_id}} is now {{arroyo_job_state}}',
    ),

    // ALERTS carries the alert's labels, not necessarily the exporter's selector.
    alertsAnnotation(filter):: self.annotation(
      'Firing Arroyo alerts',
      'max by (alertname, severity, pipeline_name, job_id, instance) (ALERTS{%s})'
      % std.join(', ', nonEmpty([
        'alertstate="firing"',
        'alertname=~"Arroyo.+"',
        self.clusterMatcher,
        filter,
      ])),
      'red',
      '{{alertname}} ({{severity}})',
      '{{pipeline_name}} {{job_id}} {{instance}}',
    ),

    dashboard(key, description, variables, items, annotations):: {
      uid: d.uids[key],
      title: $._dashboardCommon.titles[key],
      description: description,
      tags: d.tags,
      editable: true,
      graphTooltip: 1,
      fiscalYearStartMonth: 0,
      liveNow: false,
      refresh: d.refresh,
      schemaVersion: 39,
      version: 1,
      time: { from: d.timeFrom, to: 'now' },
      timepicker: {},
      timezone: d.timezone,
      weekStart: '',
      id: null,
      links: $._dashboardCommon.links(key),
      annotations: { list: annotations },
      templating: { list: [g.datasourceVariable] + variables },
      panels: g.layout(items),
    },
  },

  grafanaDashboards+:: {
    'arroyo-overview.json': $._overviewDashboard,
    'arroyo-pipeline.json': $._pipelineDashboard,
    'arroyo-exporter.json': $._exporterDashboard,
  },
}
+ (import 'overview.libsonnet')
+ (import 'pipeline.libsonnet')
+ (import 'exporter.libsonnet')
