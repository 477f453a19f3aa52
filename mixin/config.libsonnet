// Everything a user of the mixin may want to change. Override in your own jsonnet:
//
//   local arroyo = (import 'arroyo-exporter-mixin/mixin.libsonnet') + {
//     _config+:: {
//       exporterSelector: 'job="arroyo"',
//       runbookURLPattern: 'https://wiki.example.com/arroyo/%s',
//       alerts+: { ArroyoThroughputDrop+: { severity: 'critical' } },
//       thresholds+: { throughputDropRatio: 0.5 },
//     },
//   };
//   { 'alerts.yaml': std.manifestYamlDoc(arroyo.prometheusAlerts) }
{
  _config+:: {
    // Label matchers that select arroyo-exporter's series. Every selector of the rules
    // and dashboards starts with them, so another scrape job name (or a namespace) only
    // needs this line.
    exporterSelector: 'job="arroyo-exporter"',

    // The label that tells clusters apart when one Prometheus (or Thanos, Mimir…) holds
    // several. Rules keep it in every aggregation and join, and the lookups in alert
    // descriptions select the alert's own value; dashboards get a `cluster` variable
    // from it. Series without the label work as one unnamed cluster. Set to '' to leave
    // it out entirely.
    clusterLabel: 'cluster',

    // Labels that identify one scrape target: joins between an exporter's own series
    // (e.g. "this exporter cannot reach the controller") match on them, and the lookups
    // in alert descriptions select the alert's own values.
    targetLabels: ['instance', 'job'],

    // Where each alert's runbook_url points; %s is the alert name in lower case (the
    // anchor of its section in docs/runbooks.md).
    runbookURLPattern: 'https://github.com/arroyo-exporter/arroyo-exporter/blob/main/docs/runbooks.md#%s',

    // Per alert: severity label, `for`, and `keep_firing_for` ('' = none; needs
    // Prometheus >= 2.42). ArroyoInputStopped has a second severity for jobs without a
    // day of history (input usually flows, but the rules have not seen this hour yet).
    alerts: {
      ArroyoExporterDown: { severity: 'critical', 'for': '5m', keepFiringFor: '' },
      ArroyoExporterTargetMissing: { severity: 'critical', 'for': '10m', keepFiringFor: '' },
      ArroyoControllerUnreachable: { severity: 'critical', 'for': '5m', keepFiringFor: '' },
      ArroyoApiUnreachable: { severity: 'critical', 'for': '5m', keepFiringFor: '' },
      ArroyoExporterCollectorFailing: { severity: 'warning', 'for': '15m', keepFiringFor: '' },
      ArroyoMetricsStale: { severity: 'warning', 'for': '5m', keepFiringFor: '' },
      ArroyoJobNotRunning: { severity: 'critical', 'for': '10m', keepFiringFor: '' },
      ArroyoJobFailed: { severity: 'critical', 'for': '2m', keepFiringFor: '' },
      ArroyoJobRestartLoop: { severity: 'critical', 'for': '5m', keepFiringFor: '' },
      ArroyoThroughputDrop: { severity: 'warning', 'for': '3m', keepFiringFor: '10m' },
      ArroyoInputStopped: {
        severity: 'critical',
        severityWithoutHistory: 'warning',
        'for': '10m',
        keepFiringFor: '',
      },
      ArroyoOperatorBackpressure: { severity: 'warning', 'for': '15m', keepFiringFor: '5m' },
      ArroyoSubtaskSkew: { severity: 'warning', 'for': '15m', keepFiringFor: '5m' },
      ArroyoCheckpointsStalled: { severity: 'critical', 'for': '1m', keepFiringFor: '' },
      ArroyoCheckpointsSlow: { severity: 'warning', 'for': '30m', keepFiringFor: '10m' },
      ArroyoCheckpointStateGrowing: { severity: 'warning', 'for': '1h', keepFiringFor: '' },
      ArroyoJobErrors: { severity: 'warning', 'for': '15m', keepFiringFor: '10m' },
    },

    thresholds: {
      // ArroyoThroughputDrop: input below this share of the expected rate…
      throughputDropRatio: 0.6,
      // …where the expected rate is above this (messages/s); slower pipelines are not judged.
      throughputMinRate: 1,
      // …and it must fall below the expected rate by more than this many times the
      // input's scatter (…:noise, see baselines.noiseSpan; noisy or sparse input dips often).
      throughputDropNoiseBand: 4,
      // …and below this share of its own recent past (the median of the hour that ended
      // `recentOffset` ago): a drop is a fall, not a day that runs below its usual shape.
      throughputDropRecentRatio: 0.6,
      // A collapse (input below this share of the expected rate and of the recent past)
      // starts the alert past a narrower band: throughputCollapseNoiseBand times the
      // scatter. null: no such test.
      throughputCollapseRatio: 0.25,
      throughputCollapseNoiseBand: 3,
      // ArroyoInputStopped: "no input" is below this rate (messages/s)…
      inputStoppedRate: 0.01,
      // …and it only alerts when input usually flows at this time: at least this share of
      // the minutes of the comparison windows had input.
      inputUsuallyFlowsRatio: 0.9,
      // ArroyoMetricsStale: the controller's newest sample is older than this (seconds).
      metricsStaleSeconds: 60,
      // ArroyoJobRestartLoop: this many restarts within the window.
      restartLoopCount: 3,
      restartLoopWindow: '30m',
      // ArroyoOperatorBackpressure: output queue fill above this, averaged over the window.
      backpressureRatio: 0.5,
      backpressureWindow: '2m',
      // ArroyoSubtaskSkew: a subtask receives this many times its siblings' mean…
      skewRatio: 3,
      // …and more than this many messages/s.
      skewMinRate: 5,
      // ArroyoCheckpointsStalled: no checkpoint for this many intervals, at least the
      // minimum (seconds).
      checkpointStallIntervals: 3,
      checkpointStallMinSeconds: 120,
      // ArroyoCheckpointsSlow: the newest checkpoint took more than this share of the
      // checkpoint interval.
      checkpointSlowRatio: 0.8,
      // ArroyoCheckpointStateGrowing: at the trend of the window, the newest checkpoint
      // would grow past this factor times the window's largest within the horizon
      // (seconds)…
      stateGrowthWindow: '6h',
      stateGrowthHorizonSeconds: 86400,
      stateGrowthFactor: 2,
      // …while it is near the window's largest (at least this share of it)…
      stateGrowthNearTopRatio: 0.9,
      // …and already larger than this (bytes): small states may double harmlessly.
      stateGrowthMinBytes: 64 * 1024 * 1024,
      // ArroyoJobErrors: more error rows per minute than this, averaged over the window
      // (Arroyo writes at most one non-fatal error row per 5 s per subtask).
      jobErrorsPerMinute: 1,
      jobErrorsWindow: '5m',
    },

    // Baselines of the throughput rules (see mixin/README.md, "What the throughput alerts
    // compare with"). Every baseline is built from the median of `window` (a catch-up
    // burst, a short outage or an odd batch under half of it does not move a median);
    // yesterday and the weeks before are the lowest such median whose window is centred
    // within half a window of the same time then.
    baselines: {
      window: '1h',
      // period - window: the medians recorded in [now - period, now - period + window]
      dayOffset: '23h',
      // one per week of history that votes on the usual shape of the week (the median
      // of them, the lower of two); the first also serves ArroyoInputStopped
      weekOffsets: ['6d23h', '13d23h', '20d23h'],
      // today's level against each shape: the median input over `levelWindow`, ending
      // `levelOffset` ago (a drop younger than that does not lower what is expected)
      levelWindow: '3h',
      levelOffset: '30m',
      // today at more than this many times yesterday's level: yesterday's shape is left
      // out when the weeks' shape exists (a weekday after a weekend day)
      dayLevelIgnoredAbove: 3,
      // the scatter a drop must exceed: the median over this span of the hourly
      // scatters of the input (hours ending `levelOffset` ago or earlier)
      noiseSpan: '3h',
      // the input now: its median over this window (one odd scrape does not count)
      currentWindow: '5m',
      // a job younger than a day: the median of the window that ended `recentOffset`
      // ago; once alerting, it keeps firing while the input stays below the highest of
      // those over `holdWindow`
      recentOffset: '30m',
      holdWindow: '3h',
    },

    // Arroyo's own metrics (the workers' counters and queue gauges), scraped as
    // deploy/prometheus/arroyo-metrics/ shows, with the pod's job_id as a target label.
    arroyoMetrics: {
      // label matchers of those series ('' = any: their names are Arroyo's own)
      selector: '',
      // rate() window over the workers' counters: at least 4 scrape intervals
      rateWindow: '2m',
    },

    // kafka_exporter (github.com/danielqsj/kafka_exporter), for the pipeline dashboard's
    // Kafka source lag row: Arroyo's Kafka sources commit offsets under the consumer
    // group arroyo-{job_id}-{operator_id}-consumer.
    kafkaExporter: {
      // extra label matchers of kafka_consumergroup_lag ('' = any), e.g.
      // 'job="kafka-exporter"'; a cluster label, if the series have one, is not used
      // (the job id ties them to the cluster's Arroyo jobs)
      selector: '',
    },

    dashboards: {
      uids: {
        overview: 'arroyo-overview',
        pipeline: 'arroyo-pipeline',
        exporter: 'arroyo-exporter',
      },
      titlePrefix: 'Arroyo / ',
      tags: ['arroyo', 'arroyo-exporter'],
      refresh: '30s',
      timezone: 'browser',
      timeFrom: 'now-1h',
      // show the cluster variable (hide it when every series comes from one cluster)
      showClusterVariable: true,
      // rows of the overview's "Top bottlenecks" table
      topBottlenecks: 10,
    },
  },
}
