// Arroyo / Overview: every pipeline at a glance.
local g = import 'lib.libsonnet';

{
  _overviewDashboard:: (
    local x = $._dashboardCommon;
    local c = $._config;
    local f = x.fJob;
    local byJob(metric) = 'max by (pipeline_name, job_id) (%s{%s})' % [metric, f];

    x.dashboard(
      'overview',
      'Every Arroyo pipeline at a glance: state, throughput, backpressure, restarts, '
      + "checkpoints, state size, errors, Arroyo's version and exporter health.",
      x.pipelineVariables(false),
      [
        g.row('Health'),
        g.panel(g.stat('Exporter up',
                       'Whether Prometheus scrapes arroyo-exporter (worst of all exporter targets).',
                       'none',
                       [g.target('min(up{%s})' % x.m(), 'up', instant=true)],
                       mappings=g.upMapping,
                       steps=g.thresholds([['red', null], ['green', 1]])), 4, 4),
        g.panel(g.stat('Controller reachable',
                       "Whether the exporter got an answer from Arroyo's controller on its last "
                       + 'scrape (arroyo_up, worst of all exporters).',
                       'none',
                       [g.target('min(arroyo_up{%s})' % x.m(), 'arroyo_up', instant=true)],
                       mappings=g.upMapping,
                       steps=g.thresholds([['red', null], ['green', 1]])), 4, 4),
        g.panel(g.stat('Jobs running',
                       'Number of selected jobs in state Running.',
                       'short',
                       [g.target('count(max by (job_id) (arroyo_job_state{%s}) == 1) or vector(0)'
                                 % x.m('arroyo_job_state="Running", pipeline_name=~"$pipeline", job_id=~"$job"'),
                                 'running',
                                 instant=true)],
                       steps=g.thresholds([['blue', null]]),
                       colorMode='value'), 4, 4),
        g.panel(g.stat('Wanted but not running',
                       'Jobs whose user wants them running (running_desired) that are not in '
                       + 'state Running: scheduling, recovering, failing or failed.',
                       'short',
                       [g.target('count(max by (job_id) (arroyo_job_running_desired{%s}) == 1 '
                                 % f
                                 + 'and on (job_id) max by (job_id) (arroyo_job_state{%s}) == 0) or vector(0)'
                                   % x.m('arroyo_job_state="Running", pipeline_name=~"$pipeline", job_id=~"$job"'),
                                 'not running',
                                 instant=true)],
                       steps=g.thresholds([['green', null], ['orange', 1]])), 4, 4),
        g.panel(g.stat('Jobs failed',
                       "Jobs in Arroyo's terminal Failed state.",
                       'short',
                       [g.target('count(max by (job_id) (arroyo_job_state{%s}) == 1) or vector(0)'
                                 % x.m('arroyo_job_state="Failed", pipeline_name=~"$pipeline", job_id=~"$job"'),
                                 'failed',
                                 instant=true)],
                       steps=g.thresholds([['green', null], ['red', 1]])), 4, 4),
        g.panel(g.stat('Firing Arroyo alerts',
                       'Arroyo alerts firing in this Prometheus (ALERTS series).',
                       'short',
                       [g.target('count(ALERTS{%s}) or vector(0)'
                                 % std.join(', ', std.filter(function(s) s != '', [
                                   'alertstate="firing"',
                                   'alertname=~"Arroyo.+"',
                                   x.clusterMatcher,
                                 ])), 'firing', instant=true)],
                       steps=g.thresholds([['green', null], ['red', 1]])), 4, 4),

        g.row('Pipelines'),
        g.panel(g.table(
          'Pipelines',
          'One row per job: current state, input and output rate, worst operator '
          + 'backpressure, restarts in the last hour and the age of the newest completed '
          + 'checkpoint. Click a pipeline to open its dashboard.',
          'none',
          [
            g.target('max by (pipeline_name, job_id, arroyo_job_state) (arroyo_job_state{%s} == 1)' % f,
                     ref='A',
                     instant=true,
                     table=true),
            g.target(byJob('arroyo_pipeline:input_messages_per_second:sum'), ref='B', instant=true, table=true),
            g.target(byJob('arroyo_pipeline:output_messages_per_second:sum'), ref='C', instant=true, table=true),
            g.target(byJob('arroyo_pipeline:arroyo_operator_backpressure_ratio:max'), ref='D', instant=true, table=true),
            g.target(byJob('arroyo_pipeline:arroyo_job_run_id:spread1h'), ref='E', instant=true, table=true),
            g.target(byJob('arroyo_pipeline:last_checkpoint_age_seconds'), ref='F', instant=true, table=true),
          ],
          transformations=[
            { id: 'merge', options: {} },
            {
              id: 'organize',
              options: {
                excludeByName: { Time: true, 'Value #A': true },
                indexByName: {
                  pipeline_name: 0,
                  job_id: 1,
                  arroyo_job_state: 2,
                  'Value #B': 3,
                  'Value #C': 4,
                  'Value #D': 5,
                  'Value #E': 6,
                  'Value #F': 7,
                },
                renameByName: {
                  pipeline_name: 'Pipeline',
                  job_id: 'Job',
                  arroyo_job_state: 'State',
                  'Value #B': 'Input msg/s',
                  'Value #C': 'Output msg/s',
                  'Value #D': 'Worst backpressure',
                  'Value #E': 'Restarts (1h)',
                  'Value #F': 'Checkpoint age',
                },
              },
            },
          ],
          overrides=[
            g.override('Input msg/s', { unit: 'short', decimals: 1 }),
            g.override('Output msg/s', { unit: 'short', decimals: 1 }),
            g.override('Worst backpressure', { unit: 'percentunit' }),
            g.override('Restarts (1h)', { unit: 'short', decimals: 0 }),
            g.override('Checkpoint age', { unit: 's' }),
            g.override('Pipeline', { links: [x.pipelineDataLink] }),
          ],
        ), 24, 8),
        g.panel(g.table(
          'Top bottlenecks',
          'The operators holding their jobs back, across every selected job: each is not '
          + 'backpressured itself while an operator feeding it is (arroyo_operator_bottleneck),'
          + ' ranked by how full the output queues in front of it are (top %d). Empty when '
            % c.dashboards.topBottlenecks
          + 'no job has a bottleneck.',
          'none',
          [
            g.target(|||
                       topk(%(n)d,
                         max by (pipeline_name, job_id, node_id, operator_name) (arroyo_operator_bottleneck{%(f)s} == 1)
                         * on (job_id, node_id) group_left ()
                         max by (job_id, node_id) (arroyo_operator:arroyo_operator_backpressure_ratio:max_upstream{%(f)s})
                       )
                     ||| % { n: c.dashboards.topBottlenecks, f: f },
                     ref='A',
                     instant=true,
                     table=true),
          ],
          transformations=[
            {
              id: 'organize',
              options: {
                excludeByName: { Time: true },
                indexByName: { pipeline_name: 0, job_id: 1, node_id: 2, operator_name: 3, Value: 4 },
                renameByName: {
                  pipeline_name: 'Pipeline',
                  job_id: 'Job',
                  node_id: 'Node',
                  operator_name: 'Bottleneck operator',
                  Value: 'Backpressure in front of it',
                },
              },
            },
            { id: 'sortBy', options: { sort: [{ field: 'Backpressure in front of it', desc: true }] } },
          ],
          overrides=[
            g.override('Backpressure in front of it', { unit: 'percentunit' }),
            g.override('Pipeline', { links: [x.pipelineDataLink] }),
          ],
        ), 24, 6),

        g.row('Throughput'),
        g.panel(g.timeseries(
          'Input messages/s',
          "Messages per second read by each pipeline's sources (operators without an "
          + "incoming edge in the graph), from the controller's smoothed rates.",
          'short',
          [g.target(byJob('arroyo_pipeline:input_messages_per_second:sum'), '{{pipeline_name}}')],
        ), 12, 8),
        g.panel(g.timeseries(
          'Output messages/s',
          "Messages per second received by each pipeline's sinks (operators without an "
          + 'outgoing edge in the graph).',
          'short',
          [g.target(byJob('arroyo_pipeline:output_messages_per_second:sum'), '{{pipeline_name}}')],
        ), 12, 8),
        g.panel(g.timeseries(
          'Worst backpressure',
          'Fill level of the fullest operator output queue of each pipeline (0 = empty, '
          + '100% = full). High values mean some operator cannot keep up.',
          'percentunit',
          [g.target(byJob('arroyo_pipeline:arroyo_operator_backpressure_ratio:max'), '{{pipeline_name}}')],
          min=0,
          max=1,
          steps=g.backpressureSteps,
        ), 12, 8),
        g.panel(g.timeseries(
          'Input bytes/s',
          "Bytes per second read by each pipeline's sources.",
          'Bps',
          [g.target(byJob('arroyo_pipeline:input_bytes_per_second:sum'), '{{pipeline_name}}')],
        ), 12, 8),

        g.row('Reliability'),
        g.panel(g.timeseries(
          'Restarts in the last hour',
          'How often the controller restarted each job in the hour before each point '
          + '(growth of run_id).',
          'short',
          [g.target(byJob('arroyo_pipeline:arroyo_job_run_id:spread1h'), '{{pipeline_name}}')],
          steps=g.thresholds([['green', null], ['red', c.thresholds.restartLoopCount]]),
        ), 12, 8),
        g.panel(g.timeseries(
          'Checkpoint age',
          "Time since each job's newest completed checkpoint (or since it started when "
          + 'it has none yet).',
          's',
          [g.target(byJob('arroyo_pipeline:last_checkpoint_age_seconds'), '{{pipeline_name}}')],
        ), 12, 8),
        g.panel(g.stateTimeline(
          'Exporter collectors',
          'Whether each collector of the exporter succeeded (worst of all exporters).',
          'none',
          [g.target('min by (collector) (arroyo_exporter_collector_success{%s})' % x.m(), '{{collector}}')],
          mappings=g.successMapping,
          steps=g.thresholds([['red', null], ['green', 1]]),
        ), 24, 6),

        g.row('Arroyo, state and errors'),
        g.panel(g.stat('Arroyo version',
                       "Arroyo's version and git revision, from its admin port's /details "
                       + '(arroyo_build_info); one value per version when clusters differ.',
                       'none',
                       [g.target('count by (version, git_sha) (arroyo_build_info{%s})' % x.m(),
                                 '{{version}} ({{git_sha}})',
                                 instant=true)],
                       textMode='name',
                       steps=g.thresholds([['blue', null]])), 4, 8),
        g.panel(g.timeseries(
          'Checkpoint size',
          "Size of each job's newest completed checkpoint (the bytes its operators wrote).",
          'bytes',
          [g.target(byJob('arroyo_job_last_checkpoint_bytes'), '{{pipeline_name}}')],
        ), 10, 8),
        g.panel(g.timeseries(
          'Job error rows/min',
          'Rows each job wrote to its error log per minute (Arroyo rate-limits them: a '
          + 'floor of the records it dropped).',
          'short',
          [g.target('sum by (pipeline_name, job_id) (rate(arroyo_job_errors_total{%s}[$__rate_interval])) * 60' % f,
                    '{{pipeline_name}}')],
          steps=g.thresholds([['green', null], ['red', c.thresholds.jobErrorsPerMinute]]),
        ), 10, 8),
      ],
      [x.restartAnnotation, x.stateAnnotation, x.alertsAnnotation('pipeline_name=~"$pipeline"')],
    )
  ),
}
