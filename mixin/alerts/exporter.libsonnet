// The exporter, its target and its upstreams (Arroyo's controller and REST API).
local u = import '../lib/utils.libsonnet';

{
  prometheusAlerts+:: {
    local c = $._config,
    local m(extra='') = u.matchers(c, extra),
    local target = u.targetKey(c),
    local w(name) = u.words(c.alerts[name]['for']),

    groups+: [
      {
        name: 'arroyo.alerts.exporter',
        rules: [
          u.alertRule(
            c,
            'ArroyoExporterDown',
            'up{%s} == 0\n' % m(),
            'arroyo-exporter is down',
            |||
              Prometheus has not been able to scrape arroyo-exporter at {{ $labels.instance }}
              for %s, so no Arroyo pipeline is monitored through it.
            ||| % w('ArroyoExporterDown'),
          ),
          // A target that is gone from service discovery has no `up` series at all, and
          // every other alert stays silent for lack of data. Prometheus marks the series
          // stale as soon as the target disappears, so absent() sees it at once; `for`
          // rides out a Prometheus restart or a short discovery hiccup. absent() looks at
          // all targets the selector matches: it fires when the last one is gone.
          u.alertRule(
            c,
            'ArroyoExporterTargetMissing',
            'absent(up{%s})\n' % m(),
            'No arroyo-exporter target is scraped',
            |||
              Prometheus has had no scrape target matching {%s} for %s: the
              exporter's Service, ServiceMonitor, PodMonitor or static configuration is gone or
              selects nothing, so every Arroyo alert is silent for lack of data.
            ||| % [c.exporterSelector, w('ArroyoExporterTargetMissing')],
          ),
          u.alertRule(
            c,
            'ArroyoControllerUnreachable',
            'arroyo_up{%s} == 0\n' % m(),
            'Arroyo controller unreachable',
            |||
              arroyo-exporter at {{ $labels.instance }} has not received an answer from
              Arroyo's controller for %s: no pipeline metrics are being collected.
              {{- with %s | query }}
              The REST API does not answer either: job states are unknown too, and the
              job-state alerts cannot fire.{{ end }}
            ||| % [
              w('ArroyoControllerUnreachable'),
              u.lookup(c, 'arroyo_exporter_collector_success', fixed='collector=\\"discovery\\"', suffix=' == 0'),
            ],
          ),
          // The REST API gives the exporter the job list. Without it the exporter
          // exports no job series at all, so the job-state, throughput and checkpoint
          // alerts go blind rather than fire. Silent when the metrics source is down too
          // (the whole of Arroyo is away): ArroyoControllerUnreachable says so then.
          u.alertRule(
            c,
            'ArroyoApiUnreachable',
            |||
              arroyo_exporter_collector_success{%s} == 0
              unless on (%s)
              (arroyo_up{%s} == 0)
            ||| % [m('collector="discovery"'), target, m()],
            "arroyo-exporter cannot read Arroyo's REST API",
            |||
              arroyo-exporter at {{ $labels.instance }} has not been able to list Arroyo's jobs
              and pipelines through the REST API for %s. It exports no job series meanwhile,
              so ArroyoJobFailed, ArroyoJobNotRunning, ArroyoThroughputDrop, ArroyoInputStopped
              and the checkpoint alerts are blind: they cannot fire for any pipeline behind this
              exporter.
            ||| % w('ArroyoApiUnreachable'),
          ),
          // Discovery (the REST API) and the controller have their own alerts; the
          // collectors that fail with them are not repeated here.
          u.alertRule(
            c,
            'ArroyoExporterCollectorFailing',
            |||
              arroyo_exporter_collector_success{%s} == 0
              unless on (%s)
              (arroyo_exporter_collector_success{%s} == 0)
              unless on (%s)
              (arroyo_up{%s} == 0)
            ||| % [m('collector!="discovery"'), target, m('collector="discovery"'), target, m()],
            'arroyo-exporter collector {{ $labels.collector }} is failing',
            |||
              The {{ $labels.collector }} collector of arroyo-exporter at {{ $labels.instance }}
              has failed on every scrape for %s; the series it provides are missing or
              frozen.
            ||| % w('ArroyoExporterCollectorFailing'),
          ),
          // Silent while the exporter gets no answer from the metrics source at all
          // (arroyo_up == 0): the REST API may still list the jobs as Running, but their
          // metrics are missing because the controller is unreachable, which
          // ArroyoControllerUnreachable reports once, not once per job.
          // +Inf ("the controller has none") only for a job whose fetch succeeded: when
          // the call for a job failed (arroyo_exporter_job_scrape_success 0) the exporter
          // knows nothing about its newest point, and ArroyoExporterCollectorFailing
          // reports the failing calls. arroyo_up alone does not cover that: a scrape that
          // straddles the controller's death gets one job's metrics and fails the
          // other's, so it says arroyo_up 1 with a job lacking its timestamp.
          u.alertRule(
            c,
            'ArroyoMetricsStale',
            |||
              (
                (time() - arroyo_job_metrics_last_sample_timestamp_seconds{%(m)s})
                or on (%(job)s)
                (
                  max without (arroyo_job_state) (arroyo_job_state{%(running)s}) * +Inf
                  unless on (%(job)s)
                  (arroyo_exporter_job_scrape_success{%(m)s} == 0)
                )
              ) > %(age)s
              and on (%(job)s)
              (arroyo_job_state{%(running)s} == 1)
              unless on (%(target)s)
              (arroyo_up{%(m)s} == 0)
            ||| % {
              m: m(),
              job: u.jobKey(c),
              running: m('arroyo_job_state="Running"'),
              age: u.num(c.thresholds.metricsStaleSeconds),
              target: target,
            },
            'Arroyo metrics are stale for pipeline {{ $labels.pipeline_name }}',
            |||
              Job {{ $labels.job_id }} of pipeline {{ $labels.pipeline_name }} is Running but the
              controller's newest metrics sample for it is {{ $value | humanizeDuration }} old
              (+Inf: the controller has none at all). Throughput and backpressure shown for
              this pipeline are not current.
            |||,
          ),
        ],
      },
    ],
  },
}
