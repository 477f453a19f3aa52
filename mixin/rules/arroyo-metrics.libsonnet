// Recording rules over Arroyo's own metrics: the counters and queue gauges that Arroyo's
// workers serve on their admin port (deploy/prometheus/arroyo-metrics/ shows how to
// scrape them, with the job_id of the pod as a target label). They give exact counts
// next to the controller's smoothed rates that arroyo-exporter shows, joined on the same
// labels (job_id, node_id, subtask_idx). Without worker metrics they record nothing.
local u = import '../lib/utils.libsonnet';

{
  prometheusRules+:: {
    local c = $._config,
    local a = c.arroyoMetrics,
    local sel(name) = if a.selector == '' then name else '%s{%s}' % [name, a.selector],
    local subtask = u.labels(c, ['job_id', 'node_id', 'subtask_idx']),
    local operator = u.labels(c, ['job_id', 'node_id']),
    local rate(metric) = 'sum by (%s) (rate(%s[%s]))\n' % [subtask, sel(metric), a.rateWindow],

    groups+: [
      {
        name: 'arroyo.recording.worker',
        rules: [
          // Exact messages per second of each subtask, from the workers' counters.
          {
            record: 'arroyo_subtask:arroyo_worker_messages_recv:rate',
            expr: rate('arroyo_worker_messages_recv'),
          },
          {
            record: 'arroyo_subtask:arroyo_worker_messages_sent:rate',
            expr: rate('arroyo_worker_messages_sent'),
          },
          // Records that could not be read, per operator.
          {
            record: 'arroyo_operator:arroyo_worker_deserialization_errors:rate',
            expr: 'sum by (%s) (rate(%s[%s]))\n'
                  % [operator, sel('arroyo_worker_deserialization_errors'), a.rateWindow],
          },
          // How full each subtask's fullest output queue is (the workers' own view of
          // what the exporter calls backpressure): 1 - remaining / size, per edge.
          {
            record: 'arroyo_subtask:arroyo_worker_tx_queue:fill_ratio',
            expr: |||
              max by (%s) (
                1 - %s / (%s > 0)
              )
            ||| % [subtask, sel('arroyo_worker_tx_queue_rem'), sel('arroyo_worker_tx_queue_size')],
          },
          // The controller's smoothed received rate (what arroyo-exporter shows) over the
          // exact rate from the counters: close to 1 when both agree; far from it when
          // the controller's view is stale or a worker's metrics are missing.
          {
            record: 'arroyo_subtask:arroyo_subtask_received_messages_per_second:over_counter_rate',
            expr: |||
              max by (%(k)s) (arroyo_subtask_received_messages_per_second{%(m)s})
              / on (%(k)s)
              (arroyo_subtask:arroyo_worker_messages_recv:rate > 0)
            ||| % { k: subtask, m: u.matchers(c) },
          },
        ],
      },
    ],
  },
}
