"""Checks of the deployment files: every YAML parses, the Dockerfile builds the binary
the README builds, the compose stack is wired together, and every Kubernetes object
validates against its schema.

Kubernetes objects: built-in kinds are validated with kubernetes-validate (strict: no
unknown fields) against the schemas it ships; prometheus-operator kinds (ServiceMonitor,
PrometheusRule) with tests/ops/crd-validate (the schemas generated from
prometheus-operator's API types, npm package @kubernetes-models/prometheus-operator) when
OPS_CRD_VALIDATOR points at its installed copy (scripts/test-ops.sh sets it up), plus the
structural checks below (selectors, ports, rules equal to the rules files).

Every kustomization under deploy/kubernetes is rendered with `kubectl kustomize`, and the
exporter's endpoints, probes and memory are checked against Arroyo's Helm chart as
described in tests/fixtures/arroyo-helm-chart and against deploy/README.md's memory table.
"""
from __future__ import annotations

import functools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tomllib
import urllib.parse
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

CHART_FIXTURE = ROOT / "tests" / "fixtures" / "arroyo-helm-chart"
DEPLOY_README = ROOT / "deploy" / "README.md"
BENCHMARKS = ROOT / "BENCHMARKS.md"
EXPORTER = "arroyo-exporter"
EXPORTER_PORT = 9731
CONCURRENCY_ENV = "ARROYO_EXPORTER__SCRAPE__CONCURRENCY"
# The kustomizations the documentation names; every one found is rendered anyway.
KUSTOMIZATIONS = {"base", "example", "example/sidecar", "example/arroyo"}


def k8s_object_files():
    out = []
    for p in sorted(K8S_DIR.rglob("*.yaml")):
        if p.name == "kustomization.yaml":
            continue
        out.append(p)
    return out


def kustomizations() -> list[str]:
    """Directories of deploy/kubernetes holding a Kustomization (components, such as
    sidecar/, are rendered through the kustomizations that use them)."""
    return sorted(
        p.parent.relative_to(K8S_DIR).as_posix()
        for p in K8S_DIR.rglob("kustomization.yaml")
        if load_yaml(p).get("kind") == "Kustomization"
    )


def kustomize_command() -> list[str]:
    kubectl = shutil.which("kubectl")
    if kubectl:
        return [kubectl, "kustomize"]
    kustomize = shutil.which("kustomize")
    if kustomize:
        return [kustomize, "build"]
    pytest.fail("neither kubectl nor kustomize installed: cannot render kustomizations "
                "(scripts/test-ops.sh installs the Debian package kubectl)")


@functools.lru_cache(maxsize=None)
def _render_text(kustomization: str) -> str:
    r = subprocess.run(kustomize_command() + [str(K8S_DIR / kustomization)],
                       capture_output=True, text=True)
    assert r.returncode == 0, f"kustomize {kustomization}: {r.stderr}"
    return r.stdout


def render(kustomization: str) -> list[dict]:
    """The objects of deploy/kubernetes/<kustomization>, rendered by kustomize."""
    return [d for d in yaml.safe_load_all(_render_text(kustomization)) if d]


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


def find(objects, kind, name):
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} rendered"
    return found[0]


def containers_of(deployment) -> dict:
    return {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}


def flags_of(container) -> dict:
    return dict(a.partition("=")[::2] for a in container.get("args", []))


def env_of(container) -> dict:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def container_port(container, name) -> int:
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    assert name in ports, f"{container['name']} has no port named {name}"
    return ports[name]


@pytest.fixture(scope="module")
def chart():
    """Arroyo's Helm chart as far as the manifests rely on it (tests/fixtures/arroyo-helm-chart)."""
    values = load_yaml(CHART_FIXTURE / "values.yaml")["controller"]["service"]
    tpl = load_yaml(CHART_FIXTURE / "templates.yaml")
    return {
        "values": values,
        "tpl": tpl,
        "service": tpl["service"]["name"],
        "deployment": tpl["deployment"]["name"],
        "grpc": values["grpcPort"],
        "http": values["httpPort"],
        "admin": values["adminPort"],
    }


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
        elif path.parent == K8S_DIR / "sidecar":
            continue  # patches, validated after rendering
        else:
            assert validate_builtin(obj, where), f"no schema for {obj['kind']}"
    if crds:
        validate_crds(crds)


def test_kustomization_layout():
    assert set(kustomizations()) >= KUSTOMIZATIONS
    component = load_yaml(K8S_DIR / "sidecar" / "kustomization.yaml")
    assert component["kind"] == "Component"


@pytest.mark.parametrize("name", kustomizations())
def test_kustomization_renders_and_validates(name):
    objects = render(name)
    assert objects, f"{name} renders nothing"
    crds = []
    for obj in objects:
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            crds.append((f"kustomize {name}", obj))
        else:
            assert validate_builtin(obj, f"kustomize {name}"), obj["kind"]
    if name == "example/arroyo":
        return  # the stand-in for Arroyo's chart alone, without a namespace, like Helm's
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert {("Service", EXPORTER), ("ServiceMonitor", EXPORTER),
            ("PrometheusRule", "arroyo-exporter-rules"),
            ("ConfigMap", "arroyo-exporter-dashboards")} <= names
    validate_crds(crds)
    if name.startswith("example"):
        assert {o["metadata"].get("namespace") for o in objects} == {"arroyo"}


def check_exporter_service(objects, pod_labels):
    """The exporter's Service selects the pods that run it, on port 9731, and the
    ServiceMonitor selects the Service."""
    svc = find(objects, "Service", EXPORTER)
    sm = find(objects, "ServiceMonitor", EXPORTER)
    assert selects(svc["spec"]["selector"], pod_labels), "the Service selects the exporter's pod"
    svc_port = svc["spec"]["ports"][0]
    assert selects(sm["spec"]["selector"]["matchLabels"], svc["metadata"]["labels"])
    assert sm["spec"]["endpoints"][0]["port"] == svc_port["name"]
    return svc_port


def test_standalone_endpoints_are_the_chart_service(chart):
    dep = find(render("base"), "Deployment", EXPORTER)
    flags = flags_of(containers_of(dep)[EXPORTER])
    assert flags["--controller.endpoint"] == f"http://{chart['service']}:{chart['grpc']}"
    assert flags["--api.endpoint"] == f"http://{chart['service']}:{chart['http']}"
    assert flags["--admin.endpoint"] == f"http://{chart['service']}:{chart['admin']}"
    assert flags["--web.listen-address"] == f"0.0.0.0:{EXPORTER_PORT}"


def test_standalone_exporter_is_wired():
    objects = render("base")
    dep = find(objects, "Deployment", EXPORTER)
    pod = dep["spec"]["template"]
    exporter = containers_of(dep)[EXPORTER]
    assert dep["spec"]["replicas"] == 1
    assert selects(dep["spec"]["selector"]["matchLabels"], pod["metadata"]["labels"])
    assert pod["spec"]["automountServiceAccountToken"] is False
    svc_port = check_exporter_service(objects, pod["metadata"]["labels"])
    assert container_port(exporter, svc_port["targetPort"]) == EXPORTER_PORT
    assert exporter["readinessProbe"]["httpGet"]["path"] == "/-/ready"
    assert exporter["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container_port(exporter, exporter[probe]["httpGet"]["port"]) == EXPORTER_PORT
    sc = exporter["securityContext"]
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and \
        not sc["allowPrivilegeEscalation"]


def test_standalone_example_reaches_the_chart_service():
    """In the example, the exporter's endpoints name a Service that exists, on ports it
    serves, which select the controller's container ports; and the exporter leaves the
    controller's pod as the chart renders it."""
    objects = render("example")
    exporter = containers_of(find(objects, "Deployment", EXPORTER))[EXPORTER]
    controller = find(objects, "Deployment", "arroyo-controller")
    controller_labels = controller["spec"]["template"]["metadata"]["labels"]
    for flag in ("--controller.endpoint", "--api.endpoint", "--admin.endpoint"):
        url = urllib.parse.urlsplit(flags_of(exporter)[flag])
        svc = find(objects, "Service", url.hostname)
        assert selects(svc["spec"]["selector"], controller_labels), flag
        by_port = {p["port"]: p for p in svc["spec"]["ports"]}
        assert url.port in by_port, f"{flag}: Service {url.hostname} has no port {url.port}"
        target = by_port[url.port]["targetPort"]
        assert container_port(containers_of(controller)["arroyo-controller"], target)
    assert not selects(find(objects, "Service", EXPORTER)["spec"]["selector"],
                       controller_labels), "the exporter's Service selects Arroyo's pods"
    alone = find(render("example/arroyo"), "Deployment", "arroyo-controller")
    assert controller["spec"]["template"] == alone["spec"]["template"], \
        "the standalone exporter changes Arroyo's controller pod"


def test_sidecar_endpoints_are_loopback(chart):
    objects = render("example/sidecar")
    assert not [o for o in objects if o["kind"] == "Deployment"
                and o["metadata"]["name"] == EXPORTER], "sidecar keeps the standalone Deployment"
    dep = find(objects, "Deployment", chart["deployment"])
    containers = containers_of(dep)
    assert {chart["tpl"]["deployment"]["container"], EXPORTER} == set(containers)
    flags = flags_of(containers[EXPORTER])
    assert flags["--controller.endpoint"] == f"http://127.0.0.1:{chart['grpc']}"
    assert flags["--api.endpoint"] == f"http://127.0.0.1:{chart['http']}"
    assert flags["--admin.endpoint"] == f"http://127.0.0.1:{chart['admin']}"
    pod = dep["spec"]["template"]
    assert pod["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] == \
        chart["tpl"]["deployment"]["container"]
    svc_port = check_exporter_service(objects, pod["metadata"]["labels"])
    assert container_port(containers[EXPORTER], svc_port["targetPort"]) == EXPORTER_PORT


def test_sidecar_cannot_fail_the_controller_readiness():
    """Pod readiness is every container's; the chart's Service drops NotReady pods and
    the workers reach the controller through it. So no readiness (or startup) probe on
    the sidecar, and a slow liveness probe."""
    dep = find(render("example/sidecar"), "Deployment", "arroyo-controller")
    exporter = containers_of(dep)[EXPORTER]
    assert "readinessProbe" not in exporter
    assert "startupProbe" not in exporter
    live = exporter["livenessProbe"]
    handler = live.get("tcpSocket") or live.get("httpGet")
    assert handler and container_port(exporter, handler["port"]) == EXPORTER_PORT
    assert live.get("periodSeconds", 10) * live.get("failureThreshold", 3) >= 120
    assert live.get("timeoutSeconds", 1) >= 5
    alone = find(render("example/arroyo"), "Deployment", "arroyo-controller")
    assert containers_of(dep)["arroyo-controller"] == containers_of(alone)["arroyo-controller"]


def test_example_controller_mirrors_the_chart(chart):
    values, tpl = chart["values"], chart["tpl"]
    objects = render("example/arroyo")
    dep = find(objects, "Deployment", tpl["deployment"]["name"])
    pod = dep["spec"]["template"]
    assert selects(tpl["deployment"]["podLabels"], pod["metadata"]["labels"])
    assert dep["spec"]["selector"]["matchLabels"] == tpl["deployment"]["podLabels"]
    controller = containers_of(dep)[tpl["deployment"]["container"]]
    assert controller["command"] == tpl["deployment"]["command"]
    assert {p["name"]: p["containerPort"] for p in controller["ports"]} == \
        {name: values[key] for name, key in tpl["deployment"]["ports"].items()}
    for probe in ("livenessProbe", "readinessProbe"):
        get = controller[probe]["httpGet"]
        assert (get["path"], get["port"]) == \
            (tpl["deployment"]["probes"]["path"], tpl["deployment"]["probes"]["port"]), probe

    svc = find(objects, "Service", tpl["service"]["name"])
    assert svc["spec"]["selector"] == tpl["service"]["selector"]
    assert {p["name"]: (p["port"], p["targetPort"]) for p in svc["spec"]["ports"]} == \
        {name: (values[key], name) for name, key in tpl["service"]["ports"].items()}

    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounted = [volumes[m["name"]]["configMap"]["name"] for m in controller["volumeMounts"]]
    config = yaml.safe_load(find(objects, "ConfigMap", mounted[0])["data"]["config.yaml"])

    def flat(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                yield from flat(v, f"{prefix}{k}.")
            else:
                yield f"{prefix}{k}", v

    want = {}
    for key, ref in tpl["config"].items():
        m = re.fullmatch(r"http://<fullname>:(\w+)", str(ref))
        want[key] = f"http://{tpl['fullname']}:{values[m.group(1)]}" if m else values[ref]
    assert dict(flat(config)) == want


# Memory sizing: deploy/README.md's table, derived from BENCHMARKS.md.

MB, MIB = 1e6, 2 ** 20
MESSAGE_PER_SUBTASK = 37.5e3  # bytes of JobMetrics per subtask, full 5-minute window


def memory_table():
    """(concurrency of each limit column, rows, default row) of deploy/README.md."""
    text = DEPLOY_README.read_text()
    section = text[text.index("### Memory"):]
    lines = [l for l in section.splitlines() if l.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[0].startswith("largest job") and header[1] == "request", header
    concurrency = [int(re.search(r"concurrency (\d+)", c).group(1)) for c in header[2:]]
    rows, default = [], None
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        subtasks = int(re.match(r"[\d,]+", cells[0]).group(0).replace(",", ""))
        mib = [int(re.search(r"(\d+)Mi", c).group(1)) for c in cells[1:]]
        row = {"subtasks": subtasks, "request": mib[0], "limits": dict(zip(concurrency, mib[1:]))}
        rows.append(row)
        if "default" in cells[0]:
            assert default is None, "two default rows"
            bold = [c for c, cell in zip(concurrency, cells[2:]) if cell.startswith("**")]
            assert cells[1].startswith("**") and len(bold) == 1, "mark the default cells bold"
            default = {**row, "concurrency": bold[0], "limit": row["limits"][bold[0]]}
    assert default, "no default row in deploy/README.md's memory table"
    return concurrency, rows, default


def round_up_32mib(n_bytes: float) -> int:
    return math.ceil(n_bytes / (32 * MIB)) * 32


def test_memory_table_follows_the_benchmarks():
    """request = the line through the two measured peaks; limit = issue 5's bound
    (2 × message + 30 MB) per message in flight; both rounded up to 32 MiB."""
    bench = BENCHMARKS.read_text()
    messages = [float(m) for m in re.findall(r"\(([\d.]+) MB upstream message\)", bench)]
    peaks = [float(m) for m in re.findall(
        r"peak RSS after the first scrape / after \d+ more / after the concurrent rounds"
        r" \| [\d.]+ / [\d.]+ / ([\d.]+) MB", bench)]
    assert len(messages) == 2 and len(peaks) == 2, "BENCHMARKS.md changed its tables"
    slope = (peaks[1] - peaks[0]) / (messages[1] - messages[0])
    intercept = peaks[0] - slope * messages[0]
    assert round(slope, 2) == 1.31 and round(intercept, 1) == 26.5, \
        f"new measurements ({slope:.2f} × message + {intercept:.1f} MB): redo the table"
    _, rows, _ = memory_table()
    assert len(rows) >= 5
    for row in rows:
        message = MESSAGE_PER_SUBTASK * row["subtasks"]
        assert row["request"] == round_up_32mib(26.5 * MB + 1.31 * message), row
        for c, limit in row["limits"].items():
            assert limit == round_up_32mib(30 * MB + c * 2 * message), (row, c)
            assert limit >= row["request"], (row, c)


@pytest.mark.parametrize("mode", ["standalone", "sidecar"])
def test_memory_is_the_readme_default(mode):
    _, _, default = memory_table()
    if mode == "standalone":
        exporter = containers_of(find(render("base"), "Deployment", EXPORTER))[EXPORTER]
    else:
        dep = find(render("example/sidecar"), "Deployment", "arroyo-controller")
        exporter = containers_of(dep)[EXPORTER]
    res = exporter["resources"]
    assert res["requests"]["memory"] == f"{default['request']}Mi"
    assert res["limits"]["memory"] == f"{default['limit']}Mi"
    assert env_of(exporter)[CONCURRENCY_ENV] == str(default["concurrency"])


def test_no_stale_chart_ports():
    """Arroyo's chart serves gRPC on 5116, not 9190 (issue 9)."""
    # Data files (NAB's traffic traces) hold numbers, not ports.
    files = [p for p in (ROOT / "deploy").rglob("*") if p.is_file() and p.suffix != ".csv"]
    files += [ROOT / "docs" / "runbooks.md"]
    stale = [p.relative_to(ROOT).as_posix() for p in files
             if "9190" in p.read_text(encoding="utf-8", errors="replace")]
    assert not stale, f"port 9190 in {stale}"


@pytest.mark.parametrize("args", [[], ["standalone"], ["sidecar"]],
                         ids=["default", "standalone", "sidecar"])
def test_helm_post_renderer(args):
    kustomize_command()  # fails when neither tool is installed
    chart = _render_text("example/arroyo")  # a chart rendered by Helm has no namespace
    r = subprocess.run(["bash", str(K8S_DIR / "helm" / "post-renderer.sh"), *args],
                       input=chart, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    objects = [d for d in yaml.safe_load_all(r.stdout) if d]
    controller = containers_of(find(objects, "Deployment", "arroyo-controller"))
    exporters = [o for o in objects if o["kind"] == "Deployment"
                 and o["metadata"]["name"] == EXPORTER]
    if args == ["sidecar"]:
        assert EXPORTER in controller and not exporters
    else:
        assert EXPORTER not in controller and len(exporters) == 1
    assert {"Service", "ServiceMonitor", "PrometheusRule", "ConfigMap", "Deployment"} == \
        {o["kind"] for o in objects}


def test_helm_post_renderer_refuses_unknown_modes():
    r = subprocess.run(["bash", str(K8S_DIR / "helm" / "post-renderer.sh"), "daemonset"],
                       input="", capture_output=True, text=True)
    assert r.returncode == 2 and "unknown mode" in r.stderr


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
