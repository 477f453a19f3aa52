// Every alert of the mixin, one group per topic.
(import 'exporter.libsonnet')
+ (import 'jobs.libsonnet')
+ (import 'throughput.libsonnet')
+ (import 'checkpoints.libsonnet')
