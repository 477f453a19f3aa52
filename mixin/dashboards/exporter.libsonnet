// Arroyo / Exporter: arroyo-exporter itself.
local g = import 'lib.libsonnet';

{
  _exporterDashboard:: (
    local x = $._dashboardCommon;
    local c = $._config;
    local fi = x.fInst;
    local fij = x.m('instance=~"$instance", pipeline_name=~"$pipeline", job_id=~"$job"');
    local upMap = g.thresholds([['red', null], ['green', 1]]);

    x.dashboard(
      'exporter',
      'arroyo-exporter itself: availability, scrape and collector durations, upstream '
      + 'requests and errors, process resources.',
      x.clusterVariables + [
        g.queryVariable('instance',
                        'Exporter',
                        'label_values(arroyo_exporter_build_info{%s}, instance)' % x.m(),
                        'arroyo-exporter instance (scrape target)'),
      ] + x.pipelineVariables(false)[std.length(x.clusterVariables):],
      [
        g.row('Status'),
        g.panel(g.stat('Exporter up',
                       'Whether Prometheus scrapes the exporter (up).',
                       'none',
                       [g.target('min(up{%s})' % fi, 'up', instant=true)],
                       mappings=g.upMapping,
                       steps=upMap), 4, 4),
        g.panel(g.stat('Controller reachable',
                       "Whether Arroyo's controller answered the exporter's last scrape (arroyo_up).",
                       'none',
                       [g.target('min(arroyo_up{%s})' % fi, 'arroyo_up', instant=true)],
                       mappings=g.upMapping,
                       steps=upMap), 4, 4),
        g.panel(g.stat('Version',
                       'Version and revision of the running exporter(s).',
                       'none',
                       [g.target('max by (version, revision) (arroyo_exporter_build_info{%s})' % fi,
                                 '{{version}} ({{revision}})',
                                 instant=true)],
                       textMode='name',
                       steps=g.thresholds([['blue', null]])), 6, 4),
        g.panel(g.stat('Uptime',
                       'Time since the exporter process started.',
                       's',
                       [g.target('time() - max(process_start_time_seconds{%s})' % fi, 'uptime', instant=true)],
                       steps=g.thresholds([['blue', null]]),
                       colorMode='value'), 5, 4),
        g.panel(g.stat('Scrapes/s',
                       'Scrapes the exporter serves per second (all Prometheus servers together).',
                       'reqps',
                       [g.target('sum(rate(arroyo_exporter_scrapes_total{%s}[$__rate_interval]))' % fi,
                                 'scrapes',
                                 instant=true)],
                       steps=g.thresholds([['blue', null]]),
                       colorMode='value'), 5, 4),

        g.row('Scrapes'),
        g.panel(g.timeseries(
          'Scrape duration',
          "How long Prometheus' scrapes of the exporter take; keep well under the scrape "
          + 'timeout.',
          's',
          [g.target('max by (instance) (scrape_duration_seconds{%s})' % fi, '{{instance}}')],
        ), 12, 8),
        g.panel(g.timeseries(
          'Collector duration',
          'Time each collector spent during the last scrape.',
          's',
          [g.target('max by (collector) (arroyo_exporter_collector_duration_seconds{%s})' % fi, '{{collector}}')],
        ), 12, 8),
        g.panel(g.stateTimeline(
          'Collector success',
          'Whether each collector succeeded on its last scrape.',
          'none',
          [g.target('min by (collector) (arroyo_exporter_collector_success{%s})' % fi, '{{collector}}')],
          mappings=g.successMapping,
          steps=upMap,
        ), 12, 8),
        g.panel(g.stateTimeline(
          'Job scrape success',
          'Whether the exporter got the metrics of each job on its last scrape.',
          'none',
          [g.target('min by (pipeline_name, job_id) (arroyo_exporter_job_scrape_success{%s})' % fij,
                    '{{pipeline_name}} {{job_id}}')],
          mappings=g.successMapping,
          steps=upMap,
        ), 12, 8),

        g.row('Upstreams'),
        g.panel(g.timeseries(
          'Upstream requests/s',
          'Requests the exporter sends to Arroyo per second, by source (controller RPC, '
          + 'REST API).',
          'reqps',
          [g.target('sum by (source) (rate(arroyo_exporter_upstream_requests_total{%s}[$__rate_interval]))' % fi,
                    '{{source}}')],
        ), 12, 8),
        g.panel(g.timeseries(
          'Upstream errors/s',
          'Failed upstream requests per second, by source and kind of error (empty when '
          + 'everything works).',
          'reqps',
          [g.target('sum by (source, kind) (rate(arroyo_exporter_upstream_errors_total{%s}[$__rate_interval]))' % fi,
                    '{{source}} {{kind}}')],
        ), 12, 8),
        g.panel(g.timeseries(
          'Metrics sample age',
          "Age of the controller's newest metrics point for each job, as the exporter last "
          + 'saw it.',
          's',
          [g.target('time() - max by (pipeline_name, job_id) (arroyo_job_metrics_last_sample_timestamp_seconds{%s})' % fij,
                    '{{pipeline_name}} {{job_id}}')],
        ), 12, 8),
        g.panel(g.timeseries(
          'Stale series dropped/s',
          'Series dropped per second because their newest point was older than the '
          + 'configured maximum sample age.',
          'short',
          [g.target('sum by (instance) (rate(arroyo_exporter_stale_series_dropped_total{%s}[$__rate_interval]))' % fi,
                    '{{instance}}')],
        ), 12, 8),

        g.row('Budgets and freshness'),
        g.panel(g.timeseries(
          'Refresh period',
          'How long each budgeted collector takes to re-read every job it covers '
          + "(jobs / calls per second): how old a job's checkpoint, details or error "
          + 'counts may get. Raise collectors.<name>-calls-per-second if too long.',
          's',
          [g.target('max by (collector) (arroyo_exporter_refresh_period_seconds{%s})' % fi, '{{collector}}')],
        ), 8, 8),
        g.panel(g.timeseries(
          'Oldest read',
          'Time since the job read longest ago was read, per collector: stays near the '
          + 'refresh period when the budget keeps up.',
          's',
          [g.target('max by (collector) (time() - arroyo_exporter_job_read_timestamp_seconds{%s})' % fij,
                    '{{collector}}')],
        ), 8, 8),
        g.panel(g.timeseries(
          'API call budget',
          "Calls per second each collector may make to Arroyo's API, and the API calls "
          + 'the exporter makes.',
          'reqps',
          [
            g.target('max by (collector) (arroyo_exporter_api_calls_per_second_limit{%s})' % fi, 'budget {{collector}}'),
            g.target('sum(rate(arroyo_exporter_upstream_requests_total{%s, source="api"}[$__rate_interval]))' % fi,
                     'API calls made',
                     ref='B'),
          ],
        ), 8, 8),

        g.row('Process'),
        g.panel(g.timeseries(
          'CPU',
          'CPU used by the exporter process (1 = one full core).',
          'percentunit',
          [g.target('rate(process_cpu_seconds_total{%s}[$__rate_interval])' % fi, '{{instance}}')],
        ), 8, 7),
        g.panel(g.timeseries(
          'Memory',
          'Resident memory of the exporter process.',
          'bytes',
          [g.target('process_resident_memory_bytes{%s}' % fi, '{{instance}}')],
        ), 8, 7),
        g.panel(g.timeseries(
          'Open file descriptors',
          'File descriptors the exporter process holds open (sockets included).',
          'short',
          [g.target('process_open_fds{%s}' % fi, '{{instance}}')],
        ), 8, 7),
      ],
      [x.restartAnnotation, x.stateAnnotation, x.alertsAnnotation('instance=~"$instance"')],
    )
  ),
}
