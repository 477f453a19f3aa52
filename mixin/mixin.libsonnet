// arroyo-exporter monitoring mixin: Prometheus recording rules and alerts, and Grafana
// dashboards, for Arroyo pipelines monitored with arroyo-exporter.
//
//   prometheusRules     recording rules (deploy/prometheus/rules/arroyo-recording.yml),
//                       including those over Arroyo's own worker metrics
//   prometheusAlerts    alerting rules (deploy/prometheus/rules/arroyo-alerts.yml)
//   grafanaDashboards   dashboards by file name (grafana/dashboards/*.json)
//
// Change what you need through _config (config.libsonnet lists every field).
(import 'config.libsonnet')
+ (import 'rules/rules.libsonnet')
+ (import 'rules/arroyo-metrics.libsonnet')
+ (import 'alerts/alerts.libsonnet')
+ (import 'dashboards/dashboards.libsonnet')
