// Job state: not running, failed, restarting in a loop, reporting errors.
local u = import '../lib/utils.libsonnet';

{
  prometheusAlerts+:: {
    local c = $._config,
    local m(extra='') = u.matchers(c, extra),
    local job = u.jobKey(c),
    local w(name) = u.words(c.alerts[name]['for']),
    local t = c.thresholds,

    groups+: [
      {
        name: 'arroyo.alerts.jobs',
        rules: [
          u.alertRule(
            c,
            'ArroyoJobNotRunning',
            |||
              (arroyo_job_running_desired{%s} == 1)
              and on (%s)
              (arroyo_job_state{%s} == 0)
            ||| % [m(), job, m('arroyo_job_state="Running"')],
            'Arroyo pipeline {{ $labels.pipeline_name }} should run but is not Running',
            |||
              Job {{ $labels.job_id }} of pipeline {{ $labels.pipeline_name }} is meant to be
              running but has not been in state Running for %s (current state:
              {{ with %s | query }}{{ (index . 0).Labels.arroyo_job_state }}{{ else }}unknown{{ end }}).
            ||| % [w('ArroyoJobNotRunning'), u.lookup(c, 'arroyo_job_state', ['job_id'], suffix=' == 1')],
          ),
          u.alertRule(
            c,
            'ArroyoJobFailed',
            'arroyo_job_state{%s} == 1\n' % m('arroyo_job_state="Failed"'),
            'Arroyo pipeline {{ $labels.pipeline_name }} has failed',
            |||
              Job {{ $labels.job_id }} of pipeline {{ $labels.pipeline_name }} is in state Failed
              {{- with %s | query }} (failure
              domain: {{ (index . 0).Labels.domain }}){{ end }}. It processes nothing until
              it is fixed and restarted.
            ||| % u.lookup(c, 'arroyo_job_failure_info', ['job_id']),
          ),
          u.alertRule(
            c,
            'ArroyoJobRestartLoop',
            |||
              (
                max_over_time(arroyo_job_run_id{%(m)s}[%(w)s]) - min_over_time(arroyo_job_run_id{%(m)s}[%(w)s])
              ) >= %(n)s
            ||| % { m: m(), w: t.restartLoopWindow, n: u.num(t.restartLoopCount) },
            'Arroyo pipeline {{ $labels.pipeline_name }} is restarting in a loop',
            |||
              Job {{ $labels.job_id }} of pipeline {{ $labels.pipeline_name }} has restarted
              {{ $value }} times in the last %s (its run_id keeps growing).
            ||| % u.words(t.restartLoopWindow),
          ),
          // The job keeps reporting errors: most often input it cannot read ("Dropping
          // invalid data"), which Arroyo skips. Rows are rate-limited (one per 5 s per
          // subtask), so the rate is a floor; Arroyo's workers count every bad record in
          // arroyo_worker_deserialization_errors.
          u.alertRule(
            c,
            'ArroyoJobErrors',
            |||
              sum without (error_domain, operator_id) (
                rate(arroyo_job_errors_total{%(m)s}[%(win)s])
              ) * 60 > %(n)s
            ||| % {
              m: m(),
              win: t.jobErrorsWindow,
              n: u.num(t.jobErrorsPerMinute),
            },
            'Arroyo pipeline {{ $labels.pipeline_name }} keeps reporting errors',
            |||
              Job {{ $labels.job_id }} of pipeline {{ $labels.pipeline_name }} has written
              {{ $value | printf "%%.1f" }} error rows per minute to its error log over the last
              %s (alerting above %s). Arroyo rate-limits these rows: the real number of
              failing records is higher.
            ||| % [u.words(t.jobErrorsWindow), u.num(t.jobErrorsPerMinute)],
          ),
        ],
      },
    ],
  },
}
