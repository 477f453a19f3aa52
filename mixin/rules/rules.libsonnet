// Recording rules for the dashboards and alerts.
//
// Naming follows Prometheus' level:metric:operations convention:
//   arroyo_pipeline:…  one series per Arroyo job as one exporter target sees it, keeping
//                      job_id, pipeline_id, pipeline_name and every target label
//                      (instance, job, namespace, pod, cluster…)
//   arroyo_job:…       one series per Arroyo job, keyed only by the cluster label and
//                      job_id, so that history survives exporter restarts (a new pod is
//                      a new `instance`) and several exporters on one Arroyo count once
//   arroyo_operator:…  one series per operator (graph node) of a job
//   arroyo_subtask:…   one series per subtask (parallel instance of an operator)
//
// Aggregations of the first kind use `without (…)` so that the labels Prometheus adds
// reach Alertmanager.
//
// Sources and sinks: the exporter reads them from the pipeline's graph, as the `role`
// label of arroyo_operator_info (source: no incoming edge, sink: no outgoing edge).
// "Input" is what the sources send, "output" what the sinks receive. Without the API
// (static jobs, an older exporter) there is no role, and the rules fall back on the
// operators' own counters: a source never receives messages (messages_recv stays
// exactly 0, the controller's EWMA of a zero delta is zero) and a sink never sends any.
// The fallback is only a guess: an operator that receives nothing for a while (input
// stopped) or has sent nothing yet (a window not yet closed) looks like a source or a
// sink too, so it is used only for jobs without any role.
local u = import '../lib/utils.libsonnet';

{
  prometheusRules+:: {
    local c = $._config,
    local m(extra='') = u.matchers(c, extra),
    local jobKey = u.jobKey(c),
    local b = c.baselines,
    local t = c.thresholds,
    local operatorKey = u.labels(c, c.targetLabels + ['job_id', 'node_id']),
    local targetJobKey = u.labels(c, c.targetLabels + ['job_id']),

    // The sum of `metric` over the operators of `role` (source or sink) by the graph;
    // for jobs whose operators have no role, over the operators whose `zero` rate is 0.
    local byRole(metric, role, zero) = |||
      sum without (node_id, operator_name) (
        %(metric)s{%(m)s}
        and on (%(op)s) arroyo_operator_info{%(role)s}
      )
      or
      (
        sum without (node_id, operator_name) (
          %(metric)s{%(m)s}
          and (%(zero)s{%(m)s} == 0)
        )
        unless on (%(job)s) arroyo_operator_info{%(anyRole)s}
      )
    ||| % {
      metric: metric,
      zero: zero,
      m: m(),
      op: operatorKey,
      job: targetJobKey,
      role: m('role="%s"' % role),
      anyRole: m('role!=""'),
    },

    // The expected value from the baselines that exist: with three (yesterday, last
    // week, recent past) their median, so one odd day (a holiday, yesterday's outage or
    // backfill) is outvoted; with two the lower one, so a job that has seen one evening
    // (or one weekend) is not expected to do better than what it did recently; with one
    // (a job younger than a day) that one.
    local expected(metric) = |||
      (
        quantile without (baseline) (0.5, %(metric)s)
        and
        (count without (baseline) (%(metric)s) != 2)
      )
      or
      min without (baseline) (%(metric)s)
    ||| % { metric: metric },

    // A baseline per period of `periods` (label value: offset of the windows' ends):
    // the lowest median of `source` whose window is centred within half a window of the
    // same time then (traffic that starts up to half an hour earlier or later than then
    // is no drop). And the recent past, for a job younger than the offset.
    local baselines(record, source, periods) = [
      {
        record: record,
        labels: { baseline: p.name },
        expr: 'min_over_time(%s[%s] offset %s)\n' % [source, b.window, p.offset],
      }
      for p in periods
    ] + [
      {
        record: record,
        labels: { baseline: 'recent' },
        expr: '%(s)s offset %(o)s\nor\n%(s)s\n' % { s: source, o: b.recentOffset },
      },
    ],
    local dayPeriod = [{ name: '1d', offset: b.dayOffset }],
    local weekPeriods = [
      { name: '%dw' % (i + 1), offset: b.weekOffsets[i] }
      for i in std.range(0, std.length(b.weekOffsets) - 1)
    ],
    local weekNames = std.join('|', [p.name for p in weekPeriods]),
    local rate = 'arroyo_job:input_messages_per_second',

    groups+: [
      {
        name: 'arroyo.recording.pipeline',
        rules: [
          {
            record: 'arroyo_pipeline:input_messages_per_second:sum',
            expr: byRole('arroyo_operator_sent_messages_per_second', 'source', 'arroyo_operator_received_messages_per_second'),
          },
          {
            record: 'arroyo_pipeline:input_bytes_per_second:sum',
            expr: byRole('arroyo_operator_sent_bytes_per_second', 'source', 'arroyo_operator_received_messages_per_second'),
          },
          {
            record: 'arroyo_pipeline:output_messages_per_second:sum',
            expr: byRole('arroyo_operator_received_messages_per_second', 'sink', 'arroyo_operator_sent_messages_per_second'),
          },
          {
            record: 'arroyo_pipeline:output_bytes_per_second:sum',
            expr: byRole('arroyo_operator_received_bytes_per_second', 'sink', 'arroyo_operator_sent_messages_per_second'),
          },
          {
            record: 'arroyo_pipeline:arroyo_operator_backpressure_ratio:max',
            expr: 'max without (node_id, operator_name) (arroyo_operator_backpressure_ratio{%s})\n' % m(),
          },
          // Restarts in the last hour: run_id grows by one at each restart. max - min
          // counts every restart even when several happen between two scrapes.
          {
            record: 'arroyo_pipeline:arroyo_job_run_id:spread1h',
            expr: |||
              max_over_time(arroyo_job_run_id{%s}[1h]) - min_over_time(arroyo_job_run_id{%s}[1h])
            ||| % [m(), m()],
          },
          // Seconds since the job last made progress with checkpoints: since its newest
          // completed checkpoint, or since the job started when it has none in this run.
          {
            record: 'arroyo_pipeline:last_checkpoint_age_seconds',
            expr: |||
              time() - (
                arroyo_job_last_checkpoint_completed_timestamp_seconds{%s} > arroyo_job_start_time_seconds{%s}
                or
                arroyo_job_start_time_seconds{%s}
              )
            ||| % [m(), m(), m()],
          },
        ],
      },
      {
        // What a job's input usually is at this time: the throughput alerts compare with
        // it. Each baseline is the median of an hour, so a catch-up burst after a restart,
        // a short outage or one odd batch (anything under half an hour) does not move it.
        name: 'arroyo.recording.baselines',
        rules: [
          {
            record: 'arroyo_job:input_messages_per_second:max',
            expr: 'max by (%s) (arroyo_pipeline:input_messages_per_second:sum)\n' % jobKey,
          },
          {
            record: 'arroyo_job:input_messages_per_second:median1h',
            expr: 'quantile_over_time(0.5, arroyo_job:input_messages_per_second:max[%s])\n' % b.window,
          },
          // The input of the last few minutes (a median: one odd scrape does not count).
          {
            record: rate + ':median_current',
            expr: 'quantile_over_time(0.5, %s:max[%s])\n' % [rate, b.currentWindow],
          },
          // How much that median moves in `currentWindow`: a steady ramp of the day moves
          // it evenly and adds no scatter, noise does.
          {
            record: rate + ':median_current_change',
            expr: '%(r)s:median_current - %(r)s:median_current offset %(w)s\n' % { r: rate, w: b.currentWindow },
          },
          // How much the input scatters: the standard deviation of those changes over
          // `window`, ending `levelOffset` ago (a drop of the last minutes does not widen
          // it), over 1.4142, the square root of 2 (a change is the difference of two
          // scattered medians). A job younger than that has no such window yet: 0, and
          // the ratios alone judge.
          {
            record: rate + ':noise1h',
            expr: |||
              stddev_over_time(%(r)s:median_current_change[%(w)s] offset %(o)s) / 1.4142
              or
              %(r)s:max * 0
            ||| % { r: rate, w: b.window, o: b.levelOffset },
          },
          // The scatter a drop must exceed (`throughputDropNoiseBand` times this): the
          // median of those hourly scatters over `noiseSpan`, so that neither one calm
          // hour nor one burst decides it.
          {
            record: rate + ':noise',
            expr: 'quantile_over_time(0.5, %s:noise1h[%s])\n' % [rate, b.noiseSpan],
          },
        ] + baselines(rate + ':baseline', rate + ':median1h', dayPeriod + weekPeriods) + [
          // The usual shape of the day from two sources: yesterday (`day`), and the same
          // time of the week in the weeks before (`week`: the median of the weekly
          // baselines, or the lower of two, so that one odd week, a holiday or an
          // outage, is outvoted).
          {
            record: rate + ':seasonal',
            labels: { baseline: 'day' },
            expr: 'max without (baseline) (%s:baseline{baseline="1d"})\n' % rate,
          },
          {
            record: rate + ':seasonal',
            labels: { baseline: 'week' },
            expr: expected('%s:baseline{baseline=~"%s"}' % [rate, weekNames]),
          },
          // How today compares with each shape, over the hours before the last one (a
          // drop of the last hour does not lower it): the median input of those hours
          // over the shape's median then. A holiday, a quiet evening or a busy morning
          // scales what is expected for the next hour.
          {
            record: rate + ':level',
            expr: |||
              quantile_over_time(0.5, %(r)s:median1h[%(w)s] offset %(o)s)
              / ignoring (baseline) group_right ()
              (quantile_over_time(0.5, %(r)s:seasonal[%(w)s] offset %(o)s) > 0)
            ||| % { r: rate, w: b.levelWindow, o: b.levelOffset },
          },
          // What ArroyoThroughputDrop expects now: each shape scaled by today's level
          // (never above 1: a busy day or a shape lower on a ramp does not raise what is
          // expected; without a level, the shape as it is), and of the two the lower one
          // (input must fall below both to be a drop: a holiday that looks like
          // yesterday's Sunday is none, nor a Monday that looks like last Monday). When
          // today runs at more than dayLevelIgnoredAbove times yesterday (a weekday after
          // a weekend day), yesterday says nothing and only the weeks' shape counts. A job
          // younger than a day has neither: its recent past.
          {
            record: rate + ':expected',
            expr: |||
              min without (baseline) (
                (
                  %(r)s:seasonal * on (%(job)s, baseline) group_left () clamp_max(%(r)s:level, 1)
                  or
                  %(r)s:seasonal
                )
                unless on (%(job)s, baseline)
                (
                  (%(r)s:level{baseline="day"} > %(ignore)s)
                  and on (%(job)s)
                  %(r)s:seasonal{baseline="week"}
                )
              )
              or
              max without (baseline) (%(r)s:baseline{baseline="recent"})
            ||| % { r: rate, job: jobKey, ignore: u.num(b.dayLevelIgnoredAbove) },
          },
          // What the input usually is at this time, unscaled: the lower shape (leaving
          // out yesterday's as :expected does), or for a job younger than a day the
          // highest recent past of the last `holdWindow`. Once ArroyoThroughputDrop fires
          // it keeps firing while the input stays below this: a drop that lasts does not
          // become the new normal.
          {
            record: rate + ':usual',
            expr: |||
              min without (baseline) (
                %(r)s:seasonal
                unless on (%(job)s, baseline)
                (
                  (%(r)s:level{baseline="day"} > %(ignore)s)
                  and on (%(job)s)
                  %(r)s:seasonal{baseline="week"}
                )
              )
              or
              max without (baseline) (max_over_time(%(r)s:baseline{baseline="recent"}[%(h)s]))
            ||| % { r: rate, job: jobKey, h: b.holdWindow, ignore: u.num(b.dayLevelIgnoredAbove) },
          },
          // Whether input flows (1) or not (0), and the share of the last hour it did.
          {
            record: 'arroyo_job:input_active:bool',
            expr: 'arroyo_job:input_messages_per_second:max > bool %s\n' % u.num(t.inputStoppedRate),
          },
          {
            record: 'arroyo_job:input_active:ratio1h',
            expr: 'avg_over_time(arroyo_job:input_active:bool[%s])\n' % b.window,
          },
        ] + baselines('arroyo_job:input_active:baseline',
                      'arroyo_job:input_active:ratio1h',
                      dayPeriod + weekPeriods[:1]) + [
          {
            record: 'arroyo_job:input_active:expected',
            expr: expected('arroyo_job:input_active:baseline'),
          },
        ],
      },
      {
        name: 'arroyo.recording.operator',
        rules: [
          // The highest backpressure among each operator's direct upstream operators
          // (from the graph's edges, arroyo_operator_edge_info): how full the queues in
          // front of it are. Operators without an upstream (sources) have none.
          {
            record: 'arroyo_operator:arroyo_operator_backpressure_ratio:max_upstream',
            expr: |||
              max without (src_node_id, dst_node_id, edge_type) (
                label_replace(
                  arroyo_operator_edge_info{%(m)s}
                  * on (%(src)s) group_left ()
                  label_replace(arroyo_operator_backpressure_ratio{%(m)s}, "src_node_id", "$1", "node_id", "(.+)"),
                  "node_id", "$1", "dst_node_id", "(.+)"
                )
              )
            ||| % { m: m(), src: u.labels(c, c.targetLabels + ['job_id', 'src_node_id']) },
          },
          // Hottest subtask over the mean of its operator's subtasks (1 = perfectly even,
          // at most the parallelism). Operators that receive nothing (sources) are left out.
          {
            record: 'arroyo_operator:arroyo_subtask_received_messages_per_second:max_over_avg',
            expr: |||
              max without (subtask_idx) (arroyo_subtask_received_messages_per_second{%s})
              /
              (avg without (subtask_idx) (arroyo_subtask_received_messages_per_second{%s}) > 0)
            ||| % [m(), m()],
          },
          // Each subtask's received rate over the mean of its siblings (the other subtasks
          // of the same operator), for ArroyoSubtaskSkew. Needs parallelism >= 2 and the
          // exporter's subtask series (they can be switched off for very large jobs).
          {
            record: 'arroyo_subtask:arroyo_subtask_received_messages_per_second:ratio_to_siblings',
            expr: |||
              arroyo_subtask_received_messages_per_second{%(m)s}
              /
              (
                (
                  sum without (subtask_idx) (arroyo_subtask_received_messages_per_second{%(m)s})
                  - ignoring (subtask_idx) group_right ()
                  arroyo_subtask_received_messages_per_second{%(m)s}
                )
                / ignoring (subtask_idx) group_left ()
                ((count without (subtask_idx) (arroyo_subtask_received_messages_per_second{%(m)s}) > 1) - 1)
              )
            ||| % { m: m() },
          },
        ],
      },
    ],
  },
}
