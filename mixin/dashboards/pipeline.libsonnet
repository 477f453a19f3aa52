// Arroyo / Pipeline: one pipeline in detail.
local g = import 'lib.libsonnet';

{
  _pipelineDashboard:: (
    local x = $._dashboardCommon;
    local c = $._config;
    local f = x.fJob;
    local fo = x.fOp;
    local byOp = 'pipeline_name, job_id, node_id, operator_name';
    local bySub = byOp + ', subtask_idx';
    local opLegend = '{{operator_name}} [{{node_id}}]';
    local byJob(metric) = 'max by (pipeline_name, job_id) (%s{%s})' % [metric, f];
    local perOp(metric) = 'max by (%s) (%s{%s})' % [byOp, metric, fo];
    local kafkaLag = |||
      sum by (job_id, operator_id, topic) (
        label_replace(
          label_replace(
            kafka_consumergroup_lag{%(sel)s},
            "job_id", "$1", "consumergroup", "arroyo-(job_[^-]+)-.+-consumer"
          ),
          "operator_id", "$1", "consumergroup", "arroyo-job_[^-]+-(.+)-consumer"
        )
      )
      * on (job_id) group_left (pipeline_name)
      group by (job_id, pipeline_name) (arroyo_job_state{%(f)s})
    ||| % {
      sel: std.join(', ', std.filter(function(s) s != '', [
        c.kafkaExporter.selector,
        'consumergroup=~"arroyo-job_.+-consumer"',
      ])),
      f: f,
    };

    x.dashboard(
      'pipeline',
      'One Arroyo pipeline: throughput per operator, backpressure per operator and '
      + 'subtask, skew, checkpoints (age, duration, size and phases), errors and job state '
      + 'history.',
      x.pipelineVariables(true),
      [
        g.row('Status'),
        g.panel(g.stat('State',
                       'Current Arroyo state of the selected job(s).',
                       'none',
                       [g.target('max by (arroyo_job_state) (arroyo_job_state{%s} == 1)' % f,
                                 '{{arroyo_job_state}}',
                                 instant=true)],
                       textMode='name',
                       steps=g.thresholds([['blue', null]]),
                       overrides=[
                         g.colorOverride('Running', 'green'),
                         g.colorOverride('Failed', 'red'),
                         g.colorOverride('Failing', 'red'),
                         g.colorOverride('Recovering', 'orange'),
                         g.colorOverride('Restarting', 'orange'),
                         g.colorOverride('Stopped', 'text'),
                       ]), 4, 4),
        g.panel(g.stat('Input',
                       'Messages per second read by the sources.',
                       'short',
                       [g.target('sum(max by (job_id) (arroyo_pipeline:input_messages_per_second:sum{%s}))' % f,
                                 'input',
                                 instant=true)],
                       steps=g.thresholds([['blue', null]]),
                       colorMode='value'), 4, 4),
        g.panel(g.stat('Output',
                       'Messages per second received by the sinks.',
                       'short',
                       [g.target('sum(max by (job_id) (arroyo_pipeline:output_messages_per_second:sum{%s}))' % f,
                                 'output',
                                 instant=true)],
                       steps=g.thresholds([['blue', null]]),
                       colorMode='value'), 4, 4),
        g.panel(g.stat('Worst backpressure',
                       'Fill level of the fullest operator output queue.',
                       'percentunit',
                       [g.target('max(arroyo_pipeline:arroyo_operator_backpressure_ratio:max{%s})' % f,
                                 'backpressure',
                                 instant=true)],
                       steps=g.backpressureSteps), 4, 4),
        g.panel(g.stat('Restarts (1h)',
                       'Restarts of the job in the last hour (growth of run_id).',
                       'short',
                       [g.target('max(arroyo_pipeline:arroyo_job_run_id:spread1h{%s})' % f,
                                 'restarts',
                                 instant=true)],
                       steps=g.thresholds([['green', null], ['orange', 1], ['red', c.thresholds.restartLoopCount]])), 4, 4),
        g.panel(g.stat('Checkpoint age',
                       'Time since the newest completed checkpoint.',
                       's',
                       [g.target('max(arroyo_pipeline:last_checkpoint_age_seconds{%s})' % f,
                                 'age',
                                 instant=true)],
                       steps=g.thresholds([['green', null], ['orange', 120], ['red', 300]])), 4, 4),
        g.panel(g.table(
          'Bottleneck',
          'The operator holding the job back, as the exporter computes it from the graph: '
          + 'not backpressured itself while an operator feeding it is '
          + '(arroyo_operator_bottleneck = 1), and how full the output queues in front of it '
          + 'are. Empty when no operator is backpressured (or the exporter has no graph of '
          + 'the job). A sink shows here when it, or what it writes to, is slow.',
          'none',
          [
            g.target('max by (pipeline_name, job_id, node_id, operator_name) (arroyo_operator_bottleneck{%s} == 1)' % f,
                     ref='A',
                     instant=true,
                     table=true),
            g.target(|||
                       max by (pipeline_name, job_id, node_id) (
                         arroyo_operator:arroyo_operator_backpressure_ratio:max_upstream{%s}
                         and on (job_id, node_id) (arroyo_operator_bottleneck{%s} == 1)
                       )
                     ||| % [f, f],
                     ref='B',
                     instant=true,
                     table=true),
          ],
          transformations=[
            { id: 'merge', options: {} },
            {
              id: 'organize',
              options: {
                excludeByName: { Time: true, 'Value #A': true },
                indexByName: { pipeline_name: 0, job_id: 1, node_id: 2, operator_name: 3, 'Value #B': 4 },
                renameByName: {
                  pipeline_name: 'Pipeline',
                  job_id: 'Job',
                  node_id: 'Node',
                  operator_name: 'Bottleneck operator',
                  'Value #B': 'Backpressure in front of it',
                },
              },
            },
          ],
          overrides=[g.override('Backpressure in front of it', { unit: 'percentunit' })],
        ), 24, 5),

        g.row('Throughput per operator'),
        g.panel(g.timeseries(
          'Received messages/s',
          'Messages per second each operator receives (sum over its subtasks). Sources '
          + 'receive nothing.',
          'short',
          [g.target(perOp('arroyo_operator_received_messages_per_second'), opLegend)],
        ), 12, 8),
        g.panel(g.timeseries(
          'Sent messages/s',
          'Messages per second each operator sends downstream (sum over its subtasks). '
          + 'Sinks send nothing.',
          'short',
          [g.target(perOp('arroyo_operator_sent_messages_per_second'), opLegend)],
        ), 12, 8),
        g.panel(g.timeseries(
          'Received bytes/s',
          'Bytes per second each operator receives.',
          'Bps',
          [g.target(perOp('arroyo_operator_received_bytes_per_second'), opLegend)],
        ), 12, 8),
        g.panel(g.timeseries(
          'Sent bytes/s',
          'Bytes per second each operator sends.',
          'Bps',
          [g.target(perOp('arroyo_operator_sent_bytes_per_second'), opLegend)],
        ), 12, 8),
        g.panel(g.timeseries(
          'Pipeline input, output and expected input',
          'Messages per second read by the sources (input) and received by the sinks '
          + '(output), and the input rate ArroyoThroughputDrop expects at this time: the '
          + "usual shape of the day (yesterday's, and the median of the same time 1-3 weeks "
          + "ago) scaled to today's level; the recent past for a job younger than a day).",
          'short',
          [
            g.target('sum(max by (job_id) (arroyo_pipeline:input_messages_per_second:sum{%s}))' % f,
                     'input',
                     ref='A'),
            g.target('sum(max by (job_id) (arroyo_pipeline:output_messages_per_second:sum{%s}))' % f,
                     'output',
                     ref='B'),
            g.target('sum(arroyo_job:input_messages_per_second:expected{%s})' % x.fJobKey,
                     'expected input',
                     ref='C'),
          ],
        ), 24, 7),

        g.row('Backpressure'),
        g.panel(g.timeseries(
          'Backpressure per operator',
          "Fill level of each operator's fullest subtask output queue. A full queue means "
          + 'the operators downstream of it do not keep up.',
          'percentunit',
          [g.target(perOp('arroyo_operator_backpressure_ratio'), opLegend)],
          min=0,
          max=1,
          steps=g.backpressureSteps,
        ), 12, 9),
        g.panel(g.stateTimeline(
          'Bottleneck over time',
          'Which operator the exporter named as the bottleneck (1) over time: a bottleneck '
          + 'that moves shows as the mark passing from one operator to another.',
          'none',
          [g.target(perOp('arroyo_operator_bottleneck'), opLegend)],
          mappings=[{
            type: 'value',
            options: {
              '0': { text: ' ', color: 'transparent', index: 0 },
              '1': { text: 'bottleneck', color: 'red', index: 1 },
            },
          }],
          steps=g.thresholds([['transparent', null], ['red', 1]]),
        ), 24, 6),
        g.panel(g.stateTimeline(
          'Backpressure per subtask',
          'Output queue fill level of every subtask over time (green < 30%, yellow < 50%, '
          + 'red above).',
          'percentunit',
          [g.target('max by (%s) (arroyo_subtask_backpressure_ratio{%s})' % [bySub, fo],
                    '{{operator_name}} #{{subtask_idx}}')],
          min=0,
          max=1,
          steps=g.backpressureSteps,
        ), 12, 9),

        g.row('Skew across subtasks'),
        g.panel(g.timeseries(
          'Hottest subtask / mean',
          "Received rate of each operator's busiest subtask divided by the mean of its "
          + 'subtasks: 1 is an even spread, the parallelism is the maximum (one subtask gets '
          + 'everything).',
          'suffix:×',
          [g.target(perOp('arroyo_operator:arroyo_subtask_received_messages_per_second:max_over_avg'),
                    opLegend)],
          min=1,
        ), 12, 8),
        g.panel(g.timeseries(
          'Received messages/s per subtask',
          'Messages per second received by every subtask; lines of one operator should be '
          + 'close to each other.',
          'short',
          [g.target('max by (%s) (arroyo_subtask_received_messages_per_second{%s})' % [bySub, fo],
                    '{{operator_name}} #{{subtask_idx}}')],
        ), 12, 8),

        g.row('Checkpoints'),
        g.panel(g.timeseries(
          'Checkpoint age and interval',
          "Time since the newest completed checkpoint, the pipeline's checkpoint interval, "
          + 'and how long the checkpoint in progress has been running (0 when none).',
          's',
          [
            g.target(byJob('arroyo_pipeline:last_checkpoint_age_seconds'), 'age {{pipeline_name}}', ref='A'),
            g.target('max by (pipeline_name) (arroyo_pipeline_checkpoint_interval_seconds{%s})'
                     % x.m('pipeline_name=~"$pipeline"'), 'interval {{pipeline_name}}', ref='B'),
            g.target(byJob('arroyo_job_checkpoint_in_progress_seconds'), 'in progress {{pipeline_name}}', ref='C'),
          ],
        ), 12, 8),
        g.panel(g.timeseries(
          'Last checkpoint duration',
          'How long the newest completed checkpoint took from start to finish, and the '
          + 'level at which ArroyoCheckpointsSlow fires (a share of the interval).',
          's',
          [
            g.target(byJob('arroyo_job_last_checkpoint_duration_seconds'), '{{pipeline_name}}', ref='A'),
            g.target('%s * max by (pipeline_name) (arroyo_pipeline_checkpoint_interval_seconds{%s})'
                     % ['%g' % c.thresholds.checkpointSlowRatio, x.m('pipeline_name=~"$pipeline"')],
                     'slow above {{pipeline_name}}',
                     ref='B'),
          ],
        ), 12, 8),
        g.panel(g.timeseries(
          'Checkpoints completed',
          'Checkpoints completed per interval (growth of the newest completed epoch).',
          'short',
          [g.target('max by (pipeline_name, job_id) (max_over_time(arroyo_job_last_checkpoint_epoch{%s}[$__rate_interval])'
                    % f
                    + ' - min_over_time(arroyo_job_last_checkpoint_epoch{%s}[$__rate_interval]))' % f,
                    '{{pipeline_name}}')],
        ), 12, 7),
        g.panel(g.timeseries(
          'Newest checkpoint epoch',
          'Epoch number of the newest completed checkpoint.',
          'none',
          [g.target(byJob('arroyo_job_last_checkpoint_epoch'), '{{pipeline_name}}')],
          legendCalcs=['lastNotNull'],
        ), 12, 7),
        g.panel(g.timeseries(
          'Checkpoint size',
          'Size of the newest completed checkpoint: the bytes every operator wrote (from '
          + "Arroyo's operator_checkpoint_groups, read once per epoch). A line that only "
          + 'goes up is state growing without bound (ArroyoCheckpointStateGrowing).',
          'bytes',
          [g.target(byJob('arroyo_job_last_checkpoint_bytes'), '{{pipeline_name}}')],
        ), 12, 8),
        g.panel(g.timeseries(
          'Checkpoint size per operator',
          'Bytes each graph node (all its chained operators) wrote in the newest completed '
          + "checkpoint. An operator of Arroyo's plan that maps to no graph node shows "
          + 'with its operator_id instead.',
          'bytes',
          [g.target('max by (%s, operator_id) (arroyo_operator_last_checkpoint_bytes{%s})'
                    % [byOp, fo],
                    '{{operator_name}} [{{node_id}}]{{operator_id}}')],
        ), 12, 8),
        g.panel(g.timeseries(
          'Checkpoint phases per operator',
          'Longest span of each checkpoint phase over the subtasks of each operator, in the '
          + 'newest completed checkpoint: alignment (waiting for the barrier on every '
          + 'input: backpressure upstream), sync (the operator paused), async (uploading '
          + 'state) and committing (transactional sinks).',
          's',
          [g.target('max by (%s, operator_id, phase) (arroyo_operator_last_checkpoint_phase_seconds{%s})'
                    % [byOp, fo],
                    '{{operator_name}} [{{node_id}}]{{operator_id}} {{phase}}')],
        ), 24, 8),

        g.row('Errors'),
        g.panel(g.timeseries(
          'Job error rows/min',
          'Rows the job wrote to its error log per minute, by error domain and reporting '
          + 'operator (empty: none), and the level at which ArroyoJobErrors fires. Arroyo '
          + 'writes at most one non-fatal row per 5 s per subtask: a floor, not the number '
          + "of bad records (the workers' arroyo_worker_deserialization_errors counts those).",
          'short',
          [
            g.target('sum by (pipeline_name, job_id, error_domain, operator_id) '
                     + '(rate(arroyo_job_errors_total{%s}[$__rate_interval])) * 60' % f,
                     '{{pipeline_name}} {{error_domain}} {{operator_id}}',
                     ref='A'),
          ],
          steps=g.thresholds([['green', null], ['red', c.thresholds.jobErrorsPerMinute]]),
        ), 18, 8),
        g.panel(g.stat('Since the last error',
                       "Time since the newest row of the job's error log.",
                       's',
                       [g.target('time() - max(arroyo_job_last_error_timestamp_seconds{%s})' % f,
                                 'since',
                                 instant=true)],
                       steps=g.thresholds([['red', null], ['orange', 900], ['green', 3600]])), 6, 8),

        g.row('Job'),
        g.panel(g.stateTimeline(
          'Job state history',
          'Which Arroyo state the job was in over time (one row per state).',
          'none',
          [g.target('max by (arroyo_job_state) (arroyo_job_state{%s})' % f, '{{arroyo_job_state}}')],
          mappings=[{
            type: 'value',
            options: {
              '0': { text: ' ', color: 'transparent', index: 0 },
              '1': { text: 'current', color: 'green', index: 1 },
            },
          }],
          steps=g.thresholds([['transparent', null], ['green', 1]]),
        ), 12, 9),
        g.panel(g.timeseries(
          'Run id',
          "Arroyo's run_id of the job: it grows by one at each restart.",
          'none',
          [g.target(byJob('arroyo_job_run_id'), '{{pipeline_name}}')],
          legendCalcs=['lastNotNull'],
        ), 12, 9),
        g.panel(g.table(
          'Operators',
          "The job's graph nodes: id, role in the graph (source, operator, sink), kind, "
          + 'description (operator_name) and parallelism.',
          'none',
          [
            g.target('max by (job_id, node_id, operator_name, operator, role) (arroyo_operator_info{%s})' % fo,
                     ref='A',
                     instant=true,
                     table=true),
            g.target('max by (job_id, node_id, operator_name) (arroyo_operator_parallelism{%s})' % fo,
                     ref='B',
                     instant=true,
                     table=true),
          ],
          transformations=[
            { id: 'merge', options: {} },
            {
              id: 'organize',
              options: {
                excludeByName: { Time: true, 'Value #A': true },
                indexByName: { job_id: 0, node_id: 1, role: 2, operator: 3, operator_name: 4, 'Value #B': 5 },
                renameByName: {
                  job_id: 'Job',
                  node_id: 'Node',
                  role: 'Role',
                  operator: 'Kind',
                  operator_name: 'Operator',
                  'Value #B': 'Parallelism',
                },
              },
            },
          ],
          overrides=[g.override('Parallelism', { unit: 'short', decimals: 0 })],
        ), 24, 8),

        // Kafka sources: kafka_exporter's lag of Arroyo's consumer groups
        // (arroyo-{job_id}-{operator_id}-consumer), with job_id and operator_id cut out
        // of the group name and joined to the exporter's job series, which carry the
        // pipeline name and the cluster label, so the dashboard's variables filter it.
        g.collapsedRow('Kafka source lag (needs kafka_exporter)', [
          g.panel(g.timeseries(
            'Kafka source lag',
            "Messages the pipeline's Kafka sources are behind the end of their topics, per "
            + "source operator and topic (sum over partitions): kafka_exporter's "
            + 'kafka_consumergroup_lag for the consumer groups Arroyo commits offsets under '
            + '(arroyo-{job_id}-{operator_id}-consumer). Arroyo commits them when a '
            + 'checkpoint completes, so the lag falls in steps. Empty unless '
            + 'kafka_exporter is scraped by the same Prometheus, or when the pipeline has no '
            + 'Kafka source.',
            'short',
            [g.target(kafkaLag, '{{pipeline_name}} {{operator_id}} {{topic}}')],
            min=0,
          ), 24, 8),
        ]),
      ],
      [x.restartAnnotation, x.stateAnnotation, x.alertsAnnotation('pipeline_name=~"$pipeline"')],
    )
  ),
}
