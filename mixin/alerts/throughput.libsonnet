// Throughput: input far below what is usual at this time, input stopped, backpressure,
// skew. "Usual" comes from the recording rules of arroyo.recording.baselines.
local u = import '../lib/utils.libsonnet';

{
  prometheusAlerts+:: {
    local c = $._config,
    local m(extra='') = u.matchers(c, extra),
    local job = u.jobKey(c),
    local w(name) = u.words(c.alerts[name]['for']),
    local t = c.thresholds,
    local operatorKey = u.labels(c, c.targetLabels + ['job_id', 'node_id']),
    local targetJobKey = u.labels(c, c.targetLabels + ['job_id']),
    local running = '(arroyo_job_state{%s} == 1)' % m('arroyo_job_state="Running"'),
    local stopped = c.alerts.ArroyoInputStopped,
    local recent = 'max without (baseline) (arroyo_job:input_messages_per_second:baseline{baseline="recent"})',

    // One test of a drop: the input of the last minutes below `ratio` of the expected
    // rate and more than `band` times its scatter below it. A drop is a fall: the input
    // is also below `ratio` of its own recent past (throughputDropRecentRatio, or the
    // lower of the two), and by more than the band (throughputDropRecentRatio null: no
    // such check, a source that fails to ramp up as it usually does is a drop too).
    local dropTest(ratio, band) =
      local fall = if t.throughputDropRecentRatio == null then '' else |||
        and
        arroyo_job:input_messages_per_second:median_current < %(ratio)s * %(recent)s
        and
        arroyo_job:input_messages_per_second:median_current
        < %(recent)s - %(band)s * arroyo_job:input_messages_per_second:noise
      ||| % {
        ratio: u.num(std.min(ratio, t.throughputDropRecentRatio)),
        recent: recent,
        band: u.num(band),
      };
      |||
        (
          arroyo_job:input_messages_per_second:median_current
          / (arroyo_job:input_messages_per_second:expected > %(min)s)
        ) < %(ratio)s
        and
        arroyo_job:input_messages_per_second:median_current
        < arroyo_job:input_messages_per_second:expected
        - %(band)s * arroyo_job:input_messages_per_second:noise
        %(fall)s
      ||| % { min: u.num(t.throughputMinRate), ratio: u.num(ratio), band: u.num(band), fall: std.rstripChars(fall, '\n') },

    // The tests ArroyoThroughputDrop starts on: a drop below throughputDropRatio deeper
    // than throughputDropNoiseBand scatters, or a collapse below
    // throughputCollapseRatio, which needs only throughputCollapseNoiseBand scatters (a
    // fall that deep is rarely the input's own dip, and the wide band would hold it
    // back until the input is almost at zero).
    local dropStart =
      local main = dropTest(t.throughputDropRatio, t.throughputDropNoiseBand);
      local nest(test) = std.strReplace(std.rstripChars(test, '\n'), '\n', '\n  ');
      if t.throughputCollapseRatio == null then main else |||
        (
          %s
        )
        or
        (
          %s
        )
      ||| % [nest(main), nest(dropTest(t.throughputCollapseRatio, t.throughputCollapseNoiseBand))],

    // The input stopped while input usually flows at this time; `history` selects the
    // jobs with (or without) a seasonal baseline.
    local inputStopped(history) = |||
      (arroyo_pipeline:input_messages_per_second:sum < %(rate)s)
      and on (%(job)s)
      (arroyo_job:input_active:expected >= %(usual)s)
      %(history)s on (%(job)s)
      arroyo_job:input_active:baseline{baseline!="recent"}
    ||| % {
      rate: u.num(t.inputStoppedRate),
      usual: u.num(t.inputUsuallyFlowsRatio),
      job: job,
      history: history,
    },

    // Once firing, ArroyoInputStopped keeps firing while the input stays stopped: the
    // recent-past baseline would otherwise learn the silence within the hour and resolve
    // a source that is still stuck.
    local sustained(condition, severity) = |||
      (
        (
          %(condition)s
        )
        or
        (
          (arroyo_pipeline:input_messages_per_second:sum < %(rate)s)
          and on (%(job)s)
          ALERTS{alertname="ArroyoInputStopped", alertstate="firing", severity="%(severity)s"}
        )
      )
      and on (%(job)s)
      %(running)s
    ||| % {
      condition: std.strReplace(std.rstripChars(condition, '\n'), '\n', '\n    '),
      rate: u.num(t.inputStoppedRate),
      job: job,
      severity: severity,
      running: running,
    },

    groups+: [
      {
        name: 'arroyo.alerts.throughput',
        rules: [
          // The input of the last minutes (arroyo_job:input_messages_per_second:median_current)
          // below throughputDropRatio of the expected rate (…:expected: yesterday's and
          // the weeks' shape of the day, each scaled by how today went in the hours
          // before the last, the lower of the two; the recent past for a job younger
          // than a day), and deeper than throughputDropNoiseBand times the input's usual
          // scatter (…:noise: sparse or noisy sources dip often). Once firing, it keeps firing while the input stays below that
          // share of the usual rate (…:usual, unscaled): a drop that lasts hours is one
          // alert for all of it. keep_firing_for keeps one drop one alert when the input
          // hovers around the threshold. $value is the input over the expected rate.
          u.alertRule(
            c,
            'ArroyoThroughputDrop',
            |||
              arroyo_pipeline:input_messages_per_second:sum * 0
              + on (%(job)s) group_left ()
              (
                (
                  %(start)s
                )
                or
                (
                  (
                    arroyo_job:input_messages_per_second:median_current
                    / arroyo_job:input_messages_per_second:usual
                  ) < %(ratio)s
                  and on (%(job)s)
                  ALERTS{alertname="ArroyoThroughputDrop", alertstate="firing"}
                )
              )
              and on (%(job)s)
              %(running)s
            ||| % { job: job, ratio: u.num(t.throughputDropRatio), start: std.strReplace(std.rstripChars(dropStart, '\n'), '\n', '\n    '), running: running },
            'Input of Arroyo pipeline {{ $labels.pipeline_name }} has dropped',
            |||
              The sources of pipeline {{ $labels.pipeline_name }} (job {{ $labels.job_id }}) have read
              {{ $value | humanizePercentage }} of the rate expected at this time (the usual shape of
              the day, yesterday and in the weeks before, scaled to today's level) for %s.
            ||| % w('ArroyoThroughputDrop'),
          ),
          // Critical only when input usually flows at this time (at least
          // inputUsuallyFlowsRatio of the minutes of the comparison windows had input) and
          // the job has a day of history: a quiet topic at night or a batch source between
          // batches does not page. A job younger than a day is only compared with its
          // recent past: a warning.
          u.alertRule(
            c,
            'ArroyoInputStopped',
            sustained(inputStopped('and'), stopped.severity),
            'Arroyo pipeline {{ $labels.pipeline_name }} reads no input',
            |||
              Job {{ $labels.job_id }} of pipeline {{ $labels.pipeline_name }} is Running but its
              sources have read nothing for %s, at a time when input usually flows (it did
              at this time yesterday or last week and in the recent past).
            ||| % w('ArroyoInputStopped'),
          ),
          u.alertRule(
            c,
            'ArroyoInputStopped',
            sustained(inputStopped('unless'), stopped.severityWithoutHistory),
            'Arroyo pipeline {{ $labels.pipeline_name }} reads no input',
            |||
              Job {{ $labels.job_id }} of pipeline {{ $labels.pipeline_name }} is Running but its
              sources have read nothing for %s, after reading steadily in the recent past.
              The job has less than a day of history, so it is not known whether its input is
              usually quiet at this time.
            ||| % w('ArroyoInputStopped'),
            severity=stopped.severityWithoutHistory,
          ),
          // Backpressure rises on the operators upstream of a slow one, so the alert
          // names the slow one: the operator the exporter marks as the bottleneck
          // (arroyo_operator_bottleneck: not backpressured itself while a direct upstream
          // operator is) for at least half of the window, while the queues in front of it
          // are fuller than backpressureRatio on average; $value is that upstream
          // backpressure. Without the graph (no API: static jobs; or the topology
          // collector off) the exporter cannot name the bottleneck, and every operator with sustained backpressure alerts
          // instead (the slow one is downstream of it).
          u.alertRule(
            c,
            'ArroyoOperatorBackpressure',
            |||
              (
                (avg_over_time(arroyo_operator_bottleneck{%(m)s}[%(w)s]) >= 0.5)
                * 0 + on (%(op)s) group_left ()
                (avg_over_time(arroyo_operator:arroyo_operator_backpressure_ratio:max_upstream[%(w)s]) > %(ratio)s)
              )
              or
              (
                avg_over_time(arroyo_operator_backpressure_ratio{%(m)s}[%(w)s]) > %(ratio)s
                unless on (%(job)s) arroyo_operator_bottleneck{%(m)s}
              )
            ||| % {
              m: m(),
              w: t.backpressureWindow,
              ratio: u.num(t.backpressureRatio),
              op: operatorKey,
              job: targetJobKey,
            },
            'Operator {{ $labels.operator_name }} holds back pipeline {{ $labels.pipeline_name }}',
            |||
              Operator "{{ $labels.operator_name }}" (node {{ $labels.node_id }}) of pipeline
              {{ $labels.pipeline_name }} (job {{ $labels.job_id }}) is the bottleneck: the output
              queues of the operators feeding it have been {{ $value | humanizePercentage }} full
              on average for %s while its own are not. It (or what it writes to) does not keep
              up. Only for a job the exporter has no graph of (static jobs, no API) is the operator
              named one whose own output queue is full instead; the slow one is then downstream
              of it.
            ||| % w('ArroyoOperatorBackpressure'),
          ),
          u.alertRule(
            c,
            'ArroyoSubtaskSkew',
            |||
              (arroyo_subtask:arroyo_subtask_received_messages_per_second:ratio_to_siblings > %s)
              and (arroyo_subtask_received_messages_per_second{%s} > %s)
            ||| % [u.num(t.skewRatio), m(), u.num(t.skewMinRate)],
            'Skewed subtask in {{ $labels.operator_name }} of pipeline {{ $labels.pipeline_name }}',
            |||
              Subtask {{ $labels.subtask_idx }} of operator "{{ $labels.operator_name }}" (node
              {{ $labels.node_id }}) in pipeline {{ $labels.pipeline_name }} (job {{ $labels.job_id }})
              receives {{ $value | humanize }} times the mean rate of its sibling subtasks.
            |||,
          ),
        ],
      },
    ],
  },
}
