"""Several Arroyo clusters behind one exporter (/probe?target=<name>, issue 13):

- deploy/prometheus/multi-target/scrape-configs.yml is a valid Prometheus configuration
  (promtool) whose relabelling turns each listed target into the `target` URL parameter,
  the `cluster` and `instance` labels and the job the rules select, and sends the scrape
  to the exporter;
- deploy/kubernetes/multi-target renders to a Deployment that reads the mounted
  configuration file (and no endpoint flags), and a ServiceMonitor that probes exactly the
  targets that file names, with the same relabelling.

tests/targets.rs runs the scrape configuration against a real Prometheus and exporter;
deploy/prometheus/tests/multi-target.test.yml shows why `instance` follows the target.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
import urllib.parse

import pytest
import yaml

from conftest import ROOT

SCRAPE_CONFIGS = ROOT / "deploy" / "prometheus" / "multi-target" / "scrape-configs.yml"
K8S = ROOT / "deploy" / "kubernetes" / "multi-target"
TARGET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def relabelled(relabels: list[dict], source: str) -> set[str]:
    """The labels a relabelling copies `source` into."""
    key_src, key_dst = ("source_labels", "target_label") if relabels and \
        "source_labels" in relabels[0] else ("sourceLabels", "targetLabel")
    return {r[key_dst] for r in relabels if r.get(key_src) == [source]}


def test_scrape_configs_relabel_the_target_into_cluster(tmp_path):
    doc = yaml.safe_load(SCRAPE_CONFIGS.read_text())
    jobs = {j["job_name"]: j for j in doc["scrape_configs"]}
    probe = jobs["arroyo-clusters"]
    assert probe["metrics_path"] == "/probe"
    relabels = probe["relabel_configs"]
    assert relabelled(relabels, "__address__") == {"__param_target"}
    assert relabelled(relabels, "__param_target") == {"cluster", "instance"}
    fixed = {r["target_label"]: r["replacement"] for r in relabels if "source_labels" not in r}
    assert fixed["job"] == "arroyo-exporter", "the job the rules and dashboards select"
    own = jobs["arroyo-exporter"]
    assert fixed["__address__"] == own["static_configs"][0]["targets"][0]
    assert own.get("metrics_path", "/metrics") == "/metrics"
    (copy,) = own["metric_relabel_configs"]
    assert copy["source_labels"] == ["target"] and copy["target_label"] == "cluster"
    assert copy["regex"] == "(.+)", "an empty target (top-level cluster) stays without cluster"
    for name in probe["static_configs"][0]["targets"]:
        assert TARGET_NAME.match(name), name
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.fail("promtool not installed (scripts/test-ops.sh installs it)")
    r = subprocess.run([promtool, "check", "config", "--syntax-only", str(SCRAPE_CONFIGS)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def rendered() -> list[dict]:
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.fail("kubectl not installed (scripts/test-ops.sh installs it)")
    r = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def find(objects, kind, name):
    (obj,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def test_kubernetes_probes_exactly_the_configured_targets():
    objects = rendered()
    dep = find(objects, "Deployment", "arroyo-exporter")
    pod = dep["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = container["args"]
    assert "--web.enable-lifecycle" in args
    (config_arg,) = [a for a in args if a.startswith("--config=")]
    config_path = config_arg.split("=", 1)[1]
    assert not [a for a in args if a.startswith(("--controller.", "--api."))], \
        "no top-level cluster: /metrics serves the exporter's own series only"
    (mount,) = container["volumeMounts"]
    assert config_path.startswith(mount["mountPath"] + "/")
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    cm = find(objects, "ConfigMap", volume["configMap"]["name"])
    config = tomllib.loads(cm["data"][config_path.rsplit("/", 1)[1]])
    names = set(config["targets"])
    assert names, "the example names no target"
    for name, sections in config["targets"].items():
        assert TARGET_NAME.match(name), name
        assert set(sections) <= {"controller", "api", "admin", "scrape", "collectors"}, name
        assert sections["controller"]["endpoint"].startswith("http")
        # Every Arroyo endpoint is the target's own: one inherited from the top level
        # (localhost by default) would point every cluster at the same place.
        hosts = {
            urllib.parse.urlsplit(sections[s]["endpoint"]).hostname
            for s in ("controller", "api", "admin")
        }
        assert len(hosts) == 1 and "localhost" not in hosts, (name, hosts)

    monitor = find(objects, "ServiceMonitor", "arroyo-exporter-clusters")
    probed = []
    for ep in monitor["spec"]["endpoints"]:
        assert ep["path"] == "/probe"
        (target,) = ep["params"]["target"]
        probed.append(target)
        assert relabelled(ep["relabelings"], "__param_target") == {"cluster", "instance"}
        assert float(ep["scrapeTimeout"].rstrip("s")) < float(ep["interval"].rstrip("s"))
    assert sorted(probed) == sorted(names), "every configured target probed, once"
    service = find(objects, "Service", "arroyo-exporter")
    labels = service["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    assert {p["name"] for p in service["spec"]["ports"]} >= {ep["port"] for ep in monitor["spec"]["endpoints"]}

    own = find(objects, "ServiceMonitor", "arroyo-exporter")
    (ep,) = own["spec"]["endpoints"]
    assert ep["path"] == "/metrics"
    (copy,) = ep["metricRelabelings"]
    assert copy["sourceLabels"] == ["target"] and copy["targetLabel"] == "cluster"
