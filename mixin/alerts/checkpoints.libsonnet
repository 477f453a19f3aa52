// Checkpoints: stalled, so slow that they approach the checkpoint interval, or growing
// without bound.
local u = import '../lib/utils.libsonnet';

{
  prometheusAlerts+:: {
    local c = $._config,
    local m(extra='') = u.matchers(c, extra),
    local job = u.jobKey(c),
    local target = u.targetKey(c),
    local w(name) = u.words(c.alerts[name]['for']),
    local t = c.thresholds,
    local running = '(arroyo_job_state{%s} == 1)' % m('arroyo_job_state="Running"'),
    local interval = 'max by (%s) (arroyo_pipeline_checkpoint_interval_seconds{%s})'
                     % [u.labels(c, ['pipeline_id']), m()],

    groups+: [
      {
        name: 'arroyo.alerts.checkpoints',
        rules: [
          // Judged on evidence only: the age of the newest checkpoint when the exporter
          // last read the job's list (read time - completion time), never "now -
          // completion", which would count the exporter's own refresh delay as a stall
          // (with 1,000 jobs a list is re-read every few minutes). A job not read since
          // it (re)started is unknown, not stalled. Silent while the exporter cannot read
          // checkpoints (it keeps showing the last answer): ArroyoExporterCollectorFailing
          // says so instead.
          u.alertRule(
            c,
            'ArroyoCheckpointsStalled',
            |||
              (
                (
                  max without (collector) (arroyo_exporter_job_read_timestamp_seconds{%(read)s})
                  - (
                    arroyo_job_last_checkpoint_completed_timestamp_seconds{%(m)s} > arroyo_job_start_time_seconds{%(m)s}
                    or
                    arroyo_job_start_time_seconds{%(m)s}
                  )
                )
                > on (%(pl)s) group_left ()
                clamp_min(%(n)s * %(interval)s, %(min)s)
              )
              and on (%(job)s)
              %(running)s
              unless on (%(target)s)
              (arroyo_exporter_collector_success{%(ck)s} == 0)
            ||| % {
              read: m('collector="checkpoints"'),
              m: m(),
              pl: u.labels(c, ['pipeline_id']),
              n: u.num(t.checkpointStallIntervals),
              interval: interval,
              min: u.num(t.checkpointStallMinSeconds),
              job: job,
              running: running,
              target: target,
              ck: m('collector="checkpoints"'),
            },
            'Checkpoints of Arroyo pipeline {{ $labels.pipeline_name }} have stalled',
            |||
              When the exporter last read job {{ $labels.job_id }} of pipeline {{ $labels.pipeline_name }},
              its newest checkpoint had completed {{ $value | humanizeDuration }} earlier (or the job
              had completed none since it started), more than %s times its checkpoint interval (and
              at least %s).
            ||| % [u.num(t.checkpointStallIntervals), u.seconds(t.checkpointStallMinSeconds)],
          ),
          // The newest checkpoint took most of the interval: one more step and checkpoints
          // run back to back (Arroyo starts the next one only when the previous is done),
          // then fall behind; restarts replay more and transactional sinks publish late.
          u.alertRule(
            c,
            'ArroyoCheckpointsSlow',
            |||
              (
                arroyo_job_last_checkpoint_duration_seconds{%(m)s}
                / on (%(pl)s) group_left ()
                %(interval)s
              ) > %(ratio)s
              and on (%(job)s)
              %(running)s
            ||| % {
              m: m(),
              pl: u.labels(c, ['pipeline_id']),
              interval: interval,
              ratio: u.num(t.checkpointSlowRatio),
              job: job,
              running: running,
            },
            'Checkpoints of Arroyo pipeline {{ $labels.pipeline_name }} take most of the interval',
            |||
              The checkpoints of job {{ $labels.job_id }} of pipeline {{ $labels.pipeline_name }} have
              taken {{ $value | humanizePercentage }} of the pipeline's checkpoint interval for %s
              (alerting above %s): they are about to run back to back and fall behind.
            ||| % [w('ArroyoCheckpointsSlow'), std.toString(t.checkpointSlowRatio * 100) + ' %'],
          ),
          // The state keeps growing: a window or join whose keys never expire, a TTL
          // missing. At the trend of the last hours the newest checkpoint would grow past
          // twice the largest of those hours within a day, and it is at its largest now
          // (windowed state that fills and empties is no trend: its low points are below
          // the top, and the condition never holds for the whole `for`); checkpoints,
          // restarts and recovery slow down with it until the disk or the object store
          // fills.
          u.alertRule(
            c,
            'ArroyoCheckpointStateGrowing',
            |||
              (
                predict_linear(arroyo_job_last_checkpoint_bytes{%(m)s}[%(win)s], %(horizon)s)
                > %(factor)s * max_over_time(arroyo_job_last_checkpoint_bytes{%(m)s}[%(win)s])
              )
              and
              (
                arroyo_job_last_checkpoint_bytes{%(m)s}
                >= %(top)s * max_over_time(arroyo_job_last_checkpoint_bytes{%(m)s}[%(win)s])
              )
              and
              (arroyo_job_last_checkpoint_bytes{%(m)s} > %(min)s)
              and on (%(job)s)
              %(running)s
            ||| % {
              m: m(),
              win: t.stateGrowthWindow,
              horizon: u.num(t.stateGrowthHorizonSeconds),
              factor: u.num(t.stateGrowthFactor),
              top: u.num(t.stateGrowthNearTopRatio),
              min: '%d' % t.stateGrowthMinBytes,
              job: job,
              running: running,
            },
            'The state of Arroyo pipeline {{ $labels.pipeline_name }} keeps growing',
            |||
              The checkpoints of job {{ $labels.job_id }} of pipeline {{ $labels.pipeline_name }}
              have grown for %s: at the trend of the last %s the newest one would reach
              {{ $value | humanize1024 }}B within %s, more than %s times the largest of that
              time.
            ||| % [
              w('ArroyoCheckpointStateGrowing'),
              u.words(t.stateGrowthWindow),
              u.seconds(t.stateGrowthHorizonSeconds),
              u.num(t.stateGrowthFactor),
            ],
          ),
        ],
      },
    ],
  },
}
