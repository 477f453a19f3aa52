"""Checks of the deployment files: every YAML parses, the Dockerfile builds the binary
the README builds, the compose stack is wired together, and every Kubernetes object
validates against its schema.

Kubernetes objects: built-in kinds are validated with kubernetes-validate (strict: no
unknown fields) against the schemas it ships; prometheus-operator kinds (ServiceMonitor,
PrometheusRule) with tests/ops/crd-validate (the schemas generated from
prometheus-operator's API types, npm package @kubernetes-models/prometheus-operator) when
OPS_CRD_VALIDATOR points at its installed copy (scripts/test-ops.sh sets it up), plus the
structural checks below (selectors, ports, rules equal to the rules files).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import DASHBOARD_DIR, RULES_DIR, ROOT, load_yaml

K8S_DIR = ROOT / "deploy" / "kubernetes"
COMPOSE_DIR = ROOT / "deploy" / "compose"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
YAML_FILES = sorted(
    p for base in ("deploy", "grafana") for p in (ROOT / base).rglob("*")
    if p.suffix in (".yml", ".yaml") and p.is_file()
)


# ---------------------------------------------------------------- YAML

@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_yaml_parses(path):
    docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    assert docs and all(d is not None for d in docs), "empty YAML document"


# ---------------------------------------------------------------- Docker

def dockerfile_stages():
    stages, current = [], None
    for line in DOCKERFILE.read_text().splitlines():
        m = re.match(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
        if m:
            current = {"image": m.group(1), "name": m.group(2), "lines": []}
            stages.append(current)
        elif current is not None:
            current["lines"].append(line)
    return stages


def test_dockerfile_builds_the_readme_binary():
    text = DOCKERFILE.read_text()
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    bins = {b["name"] for b in cargo.get("bin", [])} or {cargo["package"]["name"]}
    assert "arroyo-exporter" in bins
    assert "cargo build --release --locked --bin arroyo-exporter" in text
    assert "target/release/arroyo-exporter " in text


def test_dockerfile_rust_version_covers_msrv():
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    msrv = cargo["package"].get("rust-version")
    m = re.search(r"^ARG RUST_VERSION=(\d+)\.(\d+)", DOCKERFILE.read_text(), re.M)
    assert m, "ARG RUST_VERSION missing"
    if msrv:
        want = tuple(int(x) for x in msrv.split(".")[:2])
        assert (int(m.group(1)), int(m.group(2))) >= want, f"rust-version is {msrv}"


def test_dockerfile_runtime_stage():
    stages = dockerfile_stages()
    assert len(stages) >= 2, "multi-stage build"
    final = stages[-1]
    body = "\n".join(final["lines"])
    assert final["name"] == "exporter", "the default (last) stage is the exporter"
    base = {s["name"]: s for s in stages}.get(final["image"], final)
    assert "slim" in base["image"] or "distroless" in base["image"], base["image"]
    user = re.search(r"^USER\s+(\S+)", body, re.M)
    assert user and not user.group(1).split(":")[0] in ("0", "root"), "runs as non-root"
    assert re.search(r"^HEALTHCHECK .*CMD", body, re.M | re.S)
    assert re.search(r"^EXPOSE 9731\b", body, re.M)
    assert re.search(r'^ENTRYPOINT \["/usr/local/bin/arroyo-exporter"\]', body, re.M)
    health = (ROOT / "deploy" / "docker" / "healthcheck.sh").read_text()
    assert "/-/healthy" in health
    assert "deploy/docker/healthcheck.sh" in DOCKERFILE.read_text()


def test_dockerignore_keeps_what_cargo_needs():
    lines = [l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines()
             if l.strip() and not l.startswith("#")]
    assert "target" in lines and ".git" in lines
    for needed in ("src", "Cargo.toml", "Cargo.lock", "build.rs", "proto", "tests",
                   "deploy/docker", "config", "crates"):
        assert needed not in lines and f"{needed}/" not in lines, needed
    assert "!deploy/docker" in lines or "deploy" not in lines


# ---------------------------------------------------------------- compose

@pytest.fixture(scope="module")
def compose():
    return load_yaml(COMPOSE_DIR / "compose.yml")


def test_compose_services(compose):
    services = compose["services"]
    assert {"arroyo", "exporter", "prometheus", "alertmanager", "grafana"} <= set(services)
    assert services["exporter"]["network_mode"] == "service:arroyo"
    assert services["arroyo"]["build"]["target"] == "simulator"
    assert "9731:9731" in services["arroyo"]["ports"]
    for name, svc in services.items():
        image = svc.get("image", "")
        if "build" not in svc:
            assert ":" in image and not image.endswith(":latest"), f"{name}: pin the image"
    assert "ghcr.io/arroyosystems/arroyo" in (COMPOSE_DIR / "compose.yml").read_text()


def test_compose_bind_mounts_exist(compose):
    for name, svc in compose["services"].items():
        for vol in svc.get("volumes", []):
            src = vol.split(":")[0]
            if src.startswith((".", "/")):
                assert (COMPOSE_DIR / src).exists(), f"{name}: {src} does not exist"
        build = svc.get("build")
        if build:
            ctx = COMPOSE_DIR / build["context"]
            assert (ctx / build["dockerfile"]).is_file(), f"{name}: no Dockerfile"


def test_compose_prometheus_wiring(compose):
    prom = load_yaml(COMPOSE_DIR / "prometheus.yml")
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    targets = jobs["arroyo-exporter"]["static_configs"][0]["targets"]
    assert targets == ["arroyo:9731"], "the exporter listens in the arroyo service"
    am = prom["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert am == ["alertmanager:9093"]
    mounts = compose["services"]["prometheus"]["volumes"]
    assert "../prometheus/rules:/etc/prometheus/rules:ro" in mounts
    assert prom["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    ds = load_yaml(ROOT / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    assert ds["datasources"][0]["url"] == "http://prometheus:9090"
    assert ds["datasources"][0]["jsonData"]["timeInterval"] == prom["global"]["scrape_interval"]


def test_alertmanager_inhibitions_name_real_alerts():
    from conftest import alert_rules
    names = {a["alert"] for a in alert_rules()}
    am = load_yaml(COMPOSE_DIR / "alertmanager.yml")
    for rule in am["inhibit_rules"]:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            m = re.match(r'alertname(=~|=)"([^"]+)"', matcher)
            if m:
                for name in m.group(2).split("|"):
                    assert name in names, f"inhibit rule names unknown alert {name}"


# ---------------------------------------------------------------- Kubernetes

def k8s_object_files():
    out = []
    for p in sorted(K8S_DIR.rglob("*.yaml")):
        if p.name == "kustomization.yaml":
            continue
        out.append(p)
    return out


def render(kustomization_dir: Path) -> list[dict]:
    kubectl = shutil.which("kubectl") or shutil.which("kustomize")
    if not kubectl:
        pytest.fail("neither kubectl nor kustomize installed: cannot render kustomizations "
                    "(install kubectl >= 1.14, which carries kustomize)")
    cmd = [kubectl, "kustomize", str(kustomization_dir)] if kubectl.endswith("kubectl") \
        else [kubectl, "build", str(kustomization_dir)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return [d for d in yaml.safe_load_all(r.stdout) if d]


def validate_builtin(obj, where):
    import kubernetes_validate
    try:
        kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return False
    except kubernetes_validate.ValidationError as e:
        pytest.fail(f"{where}: {obj['kind']}/{obj['metadata']['name']}: {e.message} at "
                    f"{list(e.path)}")
    return True


def validate_crds(objects_with_source):
    tool = os.environ.get("OPS_CRD_VALIDATOR")
    if not tool or not shutil.which("node"):
        pytest.fail("OPS_CRD_VALIDATOR not set or node missing (scripts/test-ops.sh installs it)")
    payload = json.dumps([{"source": s, "object": o} for s, o in objects_with_source])
    r = subprocess.run(["node", str(Path(tool) / "validate.mjs")], input=payload,
                       capture_output=True, text=True, cwd=tool)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


@pytest.mark.parametrize("path", k8s_object_files(),
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_k8s_file_objects_validate(path):
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    where = path.relative_to(ROOT).as_posix()
    crds = []
    for obj in docs:
        assert obj.get("apiVersion") and obj.get("kind") and obj["metadata"].get("name")
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            crds.append((where, obj))
        elif path.parent.name == "sidecar":
            continue  # a patch, validated after rendering
        else:
            assert validate_builtin(obj, where), f"no schema for {obj['kind']}"
    if crds:
        validate_crds(crds)


@pytest.mark.parametrize("name", ["base", "example"])
def test_kustomizations_render_and_validate(name):
    objects = render(K8S_DIR / name)
    kinds = sorted(o["kind"] for o in objects)
    crds = []
    for obj in objects:
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            crds.append((f"kustomize {name}", obj))
        else:
            assert validate_builtin(obj, f"kustomize {name}"), obj["kind"]
    assert {"Service", "ServiceMonitor", "PrometheusRule", "ConfigMap"} <= set(kinds)
    validate_crds(crds)


def sidecar_of(objects):
    dep = next(o for o in objects if o["kind"] == "Deployment")
    containers = {c["name"]: c for c in dep["spec"]["template"]["spec"]["containers"]}
    return dep, containers


def test_example_adds_the_sidecar_and_wires_the_service():
    objects = render(K8S_DIR / "example")
    dep, containers = sidecar_of(objects)
    assert {"arroyo-controller", "arroyo-exporter"} <= set(containers)
    exporter = containers["arroyo-exporter"]
    port_names = {p["name"]: p["containerPort"] for p in exporter["ports"]}
    svc = next(o for o in objects if o["kind"] == "Service")
    sm = next(o for o in objects if o["kind"] == "ServiceMonitor")
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    assert all(pod_labels.get(k) == v for k, v in svc["spec"]["selector"].items()), \
        "the Service selects the controller pods"
    svc_port = svc["spec"]["ports"][0]
    assert svc_port["targetPort"] in port_names
    assert port_names[svc_port["targetPort"]] == 9731
    assert all(svc["metadata"]["labels"].get(k) == v
               for k, v in sm["spec"]["selector"]["matchLabels"].items()), \
        "the ServiceMonitor selects the Service"
    assert sm["spec"]["endpoints"][0]["port"] == svc_port["name"]
    sc = exporter["securityContext"]
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and \
        not sc["allowPrivilegeEscalation"]
    probes = {exporter["livenessProbe"]["httpGet"]["path"],
              exporter["readinessProbe"]["httpGet"]["path"]}
    assert probes == {"/-/healthy", "/-/ready"}
    assert {o["metadata"].get("namespace") for o in objects} == {"arroyo"}


def test_helm_post_renderer():
    if not (shutil.which("kubectl") or shutil.which("kustomize")):
        pytest.fail("neither kubectl nor kustomize installed (install kubectl >= 1.14)")
    chart = (K8S_DIR / "example" / "arroyo-controller.yaml").read_text()
    r = subprocess.run(["bash", str(K8S_DIR / "helm" / "post-renderer.sh")], input=chart,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    objects = [d for d in yaml.safe_load_all(r.stdout) if d]
    _dep, containers = sidecar_of(objects)
    assert "arroyo-exporter" in containers
    assert {"Service", "ServiceMonitor", "PrometheusRule", "ConfigMap", "Deployment"} == \
        {o["kind"] for o in objects}


def test_prometheusrule_is_the_rules_files():
    rule = load_yaml(K8S_DIR / "base" / "prometheusrule.yaml")
    groups = [g for p in sorted(RULES_DIR.glob("*.yml")) for g in load_yaml(p)["groups"]]
    assert rule["spec"]["groups"] == groups


def test_dashboards_configmap_is_the_dashboards():
    cm = load_yaml(K8S_DIR / "base" / "grafana-dashboards.yaml")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    files = {p.name: json.loads(p.read_text()) for p in DASHBOARD_DIR.glob("*.json")}
    assert set(cm["data"]) == set(files)
    for name, text in cm["data"].items():
        assert json.loads(text) == files[name], name
    assert len(json.dumps(cm)) < 900_000, "ConfigMaps are limited to 1 MiB"


def test_generated_k8s_files_are_current():
    r = subprocess.run([sys.executable, str(K8S_DIR / "generate.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
