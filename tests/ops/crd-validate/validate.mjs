// Reads a JSON array of Kubernetes objects on stdin and validates every
// monitoring.coreos.com/v1 ServiceMonitor, PodMonitor and PrometheusRule among them against the
// schemas of @kubernetes-models/prometheus-operator (generated from prometheus-operator's
// Go API types). Prints one line per object; exits 1 when one is invalid or when an
// object of that API group has a kind this script does not know.
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { PodMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor";

const MODELS = { ServiceMonitor, PodMonitor, PrometheusRule };

let input = "";
for await (const chunk of process.stdin) input += chunk;
const objects = JSON.parse(input);

let failed = 0;
let checked = 0;
for (const { source, object } of objects) {
  const [group] = String(object.apiVersion || "").split("/");
  if (group !== "monitoring.coreos.com") continue;
  const name = `${source}: ${object.kind}/${object.metadata?.name}`;
  const Model = object.apiVersion === "monitoring.coreos.com/v1" ? MODELS[object.kind] : undefined;
  if (!Model) {
    console.log(`FAIL ${name}: no schema for ${object.apiVersion} ${object.kind}`);
    failed++;
    continue;
  }
  checked++;
  try {
    new Model(object).validate();
    console.log(`ok   ${name}`);
  } catch (err) {
    console.log(`FAIL ${name}: ${err.message}`);
    failed++;
  }
}
console.log(`crd-validate: ${checked} checked, ${failed} failed`);
process.exit(failed ? 1 : 0);
