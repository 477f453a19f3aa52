//! Many Arroyo clusters behind one exporter (issue 13), end to end with real processes:
//! the exporter binary, serving simulated clusters of two Arroyo release shapes (the
//! simulator's real gRPC and HTTP servers, in this process so that faults can be set)
//! and a dead one. Proves per-target series, isolation, the 400, reload of targets
//! (SIGHUP and `POST /-/reload`) and of TLS certificates under load.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arroyo_sim::{FakeArroyo, Release, RpcFaults, SimNode, SimPipeline};
use common::prometheus::free_port;
use common::{parse_exposition, Sample, PROMETHEUS_ACCEPT};

const BIN: &str = env!("CARGO_BIN_EXE_arroyo-exporter");

/// A simulated cluster with one running job of `parallelism` subtasks in a pipeline
/// named `name`.
async fn cluster(release: Release, name: &str, job: &str, parallelism: u32) -> FakeArroyo {
    let arroyo = FakeArroyo::start(release).await.unwrap();
    let now = common::now_micros();
    arroyo.state().set_fixed_now(Some(now));
    common::add_running_job(
        arroyo.state(),
        SimPipeline::new(
            format!("pl_{job}"),
            name,
            vec![SimNode::new(0, "nexmark", "Nexmark<100 eps>", parallelism)],
        ),
        job,
        now - 60_000_000,
    );
    arroyo
}

/// TOML of a target `name` pointing at `arroyo`.
fn target_toml(name: &str, arroyo: &FakeArroyo) -> String {
    format!(
        "[targets.{name}.controller]\nendpoint = \"{}\"\n[targets.{name}.api]\nendpoint = \"{}\"\n\
         [targets.{name}.admin]\nendpoint = \"{}\"\n",
        arroyo.rpc_url(),
        arroyo.api_url(),
        arroyo.admin_url()
    )
}

/// TOML of a target whose controller, API and admin ports have nothing listening.
fn dead_toml(name: &str) -> String {
    format!(
        "[targets.{name}.controller]\nendpoint = \"http://127.0.0.1:{}\"\n\
         [targets.{name}.api]\nendpoint = \"http://127.0.0.1:{}\"\n\
         [targets.{name}.admin]\nendpoint = \"http://127.0.0.1:{}\"\n",
        free_port(),
        free_port(),
        free_port()
    )
}

/// The exporter binary, killed on drop.
struct Process {
    child: Child,
    port: u16,
}

impl Process {
    fn start(args: &[&str]) -> Process {
        let port = free_port();
        let child = Command::new(BIN)
            .args(args)
            .args(["--web.listen-address", &format!("127.0.0.1:{port}")])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let p = Process { child, port };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(15), "not listening");
            std::thread::sleep(Duration::from_millis(30));
        }
        p
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn signal(&self, sig: &str) {
        assert!(Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success());
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One answer: status, content type, body, samples (when 200), wall time.
struct Answer {
    status: u16,
    content_type: String,
    body: String,
    samples: Vec<Sample>,
    elapsed: Duration,
}

impl Answer {
    fn values(&self, name: &str, want: &[(&str, &str)]) -> Vec<f64> {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && want
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .collect()
    }

    fn value(&self, name: &str, want: &[(&str, &str)]) -> f64 {
        let v = self.values(name, want);
        assert_eq!(v.len(), 1, "{name}{want:?}\n{}", self.body);
        v[0]
    }
}

async fn get(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = client.get(url).header("accept", PROMETHEUS_ACCEPT);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let started = Instant::now();
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = resp.text().await.unwrap();
    let samples = if status == 200 && !content_type.starts_with("text/html") {
        parse_exposition(&body)
    } else {
        Vec::new()
    };
    Answer {
        status,
        content_type,
        body,
        samples,
        elapsed: started.elapsed(),
    }
}

/// The pipeline names of a probe's subtask series.
fn pipelines(a: &Answer) -> Vec<String> {
    let mut names: Vec<String> = a
        .samples
        .iter()
        .filter(|s| s.name == "arroyo_subtask_sent_messages_per_second")
        .filter_map(|s| s.labels.get("pipeline_name").cloned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_release_shapes_and_a_dead_cluster_behind_one_exporter() {
    let main = cluster(Release::Main, "alpha pipeline", "job_Alpha00001", 2).await;
    let v15 = cluster(Release::V0_15, "beta pipeline", "job_Beta000001", 3).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exporter.toml");
    std::fs::write(
        &file,
        format!(
            "[scrape]\ntimeout = \"6s\"\n{}{}{}",
            target_toml("alpha", &main),
            target_toml("beta", &v15),
            dead_toml("dead")
        ),
    )
    .unwrap();
    let exporter = Process::start(&["--config", file.to_str().unwrap()]);
    let client = reqwest::Client::new();

    // Each target answers its own cluster's series, and only those.
    let alpha = get(&client, &exporter.url("/probe?target=alpha"), &[]).await;
    assert_eq!(alpha.status, 200, "{}", alpha.body);
    assert!(alpha
        .content_type
        .starts_with("application/openmetrics-text"));
    assert_eq!(alpha.value("arroyo_up", &[]), 1.0);
    assert_eq!(pipelines(&alpha), ["alpha pipeline"; 2]);
    let beta = get(&client, &exporter.url("/probe?target=beta"), &[]).await;
    assert_eq!(beta.status, 200, "{}", beta.body);
    assert_eq!(beta.value("arroyo_up", &[]), 1.0);
    assert_eq!(pipelines(&beta), ["beta pipeline"; 3]);
    for (a, job) in [(&alpha, "job_Alpha00001"), (&beta, "job_Beta000001")] {
        assert_eq!(
            a.value("arroyo_exporter_job_scrape_success", &[("job_id", job)]),
            1.0
        );
        for collector in [
            "discovery",
            "jobs",
            "topology",
            "checkpoints",
            "job_metrics",
            "admin",
        ] {
            assert_eq!(
                a.value(
                    "arroyo_exporter_collector_success",
                    &[("collector", collector)]
                ),
                1.0,
                "{collector}"
            );
        }
        // Each cluster's own Arroyo build, from its own admin port.
        assert_eq!(a.values("arroyo_build_info", &[]).len(), 1);
        // No label added by the exporter; no process-wide families on a probe.
        assert!(a.samples.iter().all(|s| !s.labels.contains_key("target")));
        for own in [
            "process_resident_memory_bytes",
            "arroyo_exporter_build_info",
            "arroyo_exporter_scrapes_total",
            "arroyo_exporter_upstream_requests_total",
        ] {
            assert!(a.values(own, &[]).is_empty(), "{own} on /probe");
        }
    }

    // The dead cluster degrades like /metrics does: 200, arroyo_up 0, collectors 0.
    let dead = get(&client, &exporter.url("/probe?target=dead"), &[]).await;
    assert_eq!(dead.status, 200, "{}", dead.body);
    assert_eq!(dead.value("arroyo_up", &[]), 0.0);
    assert_eq!(
        dead.value(
            "arroyo_exporter_collector_success",
            &[("collector", "discovery")]
        ),
        0.0
    );
    assert_eq!(
        dead.value(
            "arroyo_exporter_collector_success",
            &[("collector", "admin")]
        ),
        0.0
    );

    // Text format when asked; gzip when asked.
    let text = client
        .get(exporter.url("/probe?target=beta"))
        .header("accept", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(
        text.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let gz = raw
        .get(exporter.url("/probe?target=alpha"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");

    // Unknown or missing target: 400 with one line naming the known targets.
    for (query, first) in [
        ("?target=gamma", "unknown target \"gamma\""),
        ("", "missing parameter `target`"),
        ("?target=", "missing parameter `target`"),
        ("?cluster=alpha", "missing parameter `target`"),
    ] {
        let a = get(&client, &exporter.url(&format!("/probe{query}")), &[]).await;
        assert_eq!(a.status, 400, "{query}: {}", a.body);
        assert_eq!(a.body.lines().count(), 1, "{query}: {}", a.body);
        assert!(a.body.starts_with(first), "{query}: {}", a.body);
        assert!(
            a.body.contains("known targets: alpha, beta, dead"),
            "{query}: {}",
            a.body
        );
    }

    // /metrics: no top-level cluster is configured, so only the exporter's own
    // families, with the per-cluster counters labelled by target.
    let own = get(&client, &exporter.url("/metrics"), &[]).await;
    assert_eq!(own.status, 200);
    assert!(own.values("arroyo_up", &[]).is_empty(), "{}", own.body);
    assert!(own.value("process_resident_memory_bytes", &[]) > 0.0);
    assert_eq!(
        own.value("arroyo_exporter_config_last_reload_successful", &[]),
        1.0
    );
    for t in ["alpha", "beta"] {
        assert!(
            own.value(
                "arroyo_exporter_upstream_requests_total",
                &[("target", t), ("source", "controller")]
            ) >= 1.0
        );
        assert!(own
            .values("arroyo_exporter_upstream_errors_total", &[("target", t)])
            .is_empty());
    }
    assert!(
        own.value(
            "arroyo_exporter_upstream_errors_total",
            &[("target", "dead"), ("source", "api"), ("kind", "connect")]
        ) >= 1.0,
        "{}",
        own.body
    );
    assert!(own
        .samples
        .iter()
        .filter(|s| s.name.starts_with("arroyo_exporter_upstream_"))
        .all(|s| s.labels.contains_key("target")));

    // Isolation: beta's controller stalls for 10 s. Its probe ends by its own deadline
    // (Prometheus's 3 s header); alpha and dead answer at their usual pace meanwhile.
    v15.state()
        .set_rpc_faults(None, RpcFaults::delay(Duration::from_secs(10)));
    let slow = {
        let client = client.clone();
        let url = exporter.url("/probe?target=beta");
        tokio::spawn(async move {
            get(
                &client,
                &url,
                &[("x-prometheus-scrape-timeout-seconds", "3")],
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fast = Vec::new();
    for _ in 0..5 {
        let a = get(&client, &exporter.url("/probe?target=alpha"), &[]).await;
        assert_eq!(a.value("arroyo_up", &[]), 1.0);
        fast.push(a.elapsed);
        let d = get(&client, &exporter.url("/probe?target=dead"), &[]).await;
        assert_eq!(d.status, 200);
        fast.push(d.elapsed);
    }
    let slow = slow.await.unwrap();
    assert!(!slow.body.is_empty());
    assert_eq!(slow.status, 200);
    assert_eq!(slow.value("arroyo_up", &[]), 0.0, "{}", slow.body);
    assert_eq!(
        slow.value(
            "arroyo_exporter_job_scrape_success",
            &[("job_id", "job_Beta000001")]
        ),
        0.0
    );
    assert!(
        slow.elapsed >= Duration::from_millis(2000) && slow.elapsed < Duration::from_millis(3000),
        "beta's probe took {:?}",
        slow.elapsed
    );
    let worst = fast.iter().max().unwrap();
    assert!(
        *worst < Duration::from_millis(1000),
        "other probes were delayed: {fast:?}"
    );
}

/// Writes `text` to `path` in one step (a rename), as a configuration manager would.
fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < Duration::from_secs(10), "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_reload_without_a_restart() {
    let main = cluster(Release::Main, "alpha pipeline", "job_Alpha00001", 2).await;
    let v15 = cluster(Release::V0_15, "beta pipeline", "job_Beta000001", 3).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exporter.toml");
    let one = target_toml("alpha", &main);
    let two = format!("{one}{}", target_toml("beta", &v15));
    write_atomically(&file, &one);
    let exporter = Process::start(&["--config", file.to_str().unwrap(), "--web.enable-lifecycle"]);
    let client = reqwest::Client::new();
    let probe = |t: &str| exporter.url(&format!("/probe?target={t}"));
    assert_eq!(get(&client, &probe("beta"), &[]).await.status, 400);
    let first = get(&client, &exporter.url("/metrics"), &[]).await;
    let loaded_at = first.value(
        "arroyo_exporter_config_last_reload_success_timestamp_seconds",
        &[],
    );

    // A target added to the file: SIGHUP serves it.
    tokio::time::sleep(Duration::from_millis(20)).await;
    write_atomically(&file, &two);
    exporter.signal("-HUP");
    wait_for("beta after SIGHUP", async || {
        get(&client, &probe("beta"), &[]).await.status == 200
    })
    .await;
    assert_eq!(
        pipelines(&get(&client, &probe("beta"), &[]).await),
        ["beta pipeline"; 3]
    );
    let m = get(&client, &exporter.url("/metrics"), &[]).await;
    assert_eq!(
        m.value("arroyo_exporter_config_last_reload_successful", &[]),
        1.0
    );
    assert!(
        m.value(
            "arroyo_exporter_config_last_reload_success_timestamp_seconds",
            &[]
        ) > loaded_at
    );

    // A broken file: rejected with the reason, counted, and the old targets keep
    // serving.
    write_atomically(
        &file,
        &format!("{two}[targets.gamma.controller]\nendpoint = \"ftp://nowhere\"\n"),
    );
    let r = client.post(exporter.url("/-/reload")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 500);
    let why = r.text().await.unwrap();
    assert!(why.contains("targets.gamma.controller.endpoint"), "{why}");
    let m = get(&client, &exporter.url("/metrics"), &[]).await;
    assert_eq!(
        m.value("arroyo_exporter_config_last_reload_successful", &[]),
        0.0
    );
    for (t, name, n) in [("alpha", "alpha pipeline", 2), ("beta", "beta pipeline", 3)] {
        let a = get(&client, &probe(t), &[]).await;
        assert_eq!(pipelines(&a), vec![name; n], "{t}");
    }
    assert_eq!(get(&client, &probe("gamma"), &[]).await.status, 400);
    write_atomically(&file, "[targets.x\n");
    exporter.signal("-HUP");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(get(&client, &probe("alpha"), &[]).await.status, 200);

    // Fixed, with alpha removed: served at once.
    write_atomically(&file, &target_toml("beta", &v15));
    let r = client.post(exporter.url("/-/reload")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    let gone = get(&client, &probe("alpha"), &[]).await;
    assert_eq!(gone.status, 400);
    assert!(gone.body.contains("known targets: beta"), "{}", gone.body);
    let m = get(&client, &exporter.url("/metrics"), &[]).await;
    assert_eq!(
        m.value("arroyo_exporter_config_last_reload_successful", &[]),
        1.0
    );
    assert!(m
        .values(
            "arroyo_exporter_upstream_requests_total",
            &[("target", "alpha")]
        )
        .is_empty());
    assert_eq!(
        pipelines(&get(&client, &probe("beta"), &[]).await),
        ["beta pipeline"; 3]
    );

    // A setting that needs a restart is kept (and logged); the rest of the file applies.
    write_atomically(
        &file,
        &format!(
            "[web]\ntelemetry-path = \"/other\"\n{}",
            target_toml("beta", &v15)
        ),
    );
    let r = client.post(exporter.url("/-/reload")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(get(&client, &exporter.url("/other"), &[]).await.status, 404);
    let m = get(&client, &exporter.url("/metrics"), &[]).await;
    assert_eq!(
        m.value("arroyo_exporter_config_last_reload_successful", &[]),
        1.0
    );

    // Without --web.enable-lifecycle the endpoint is refused, as in Prometheus.
    let locked = Process::start(&["--config", file.to_str().unwrap()]);
    let r = client.post(locked.url("/-/reload")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = client.get(exporter.url("/-/reload")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
}

/// A CA, and leaf certificates (PEM certificate, PEM key) for 127.0.0.1 signed by it.
struct Pki {
    ca_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Pki {
    fn new() -> Pki {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "rotation test CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let key = rcgen::KeyPair::generate().unwrap();
        let ca_pem = params.self_signed(&key).unwrap().pem();
        Pki {
            ca_pem,
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    fn leaf(&self) -> (String, String) {
        let params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// An HTTPS client trusting `ca_pem`; `pooled` false opens a new connection (and a new
/// handshake) per request.
fn tls_client(ca_pem: &str, pooled: bool) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .tls_info(true)
        .timeout(Duration::from_secs(10));
    if !pooled {
        b = b.pool_max_idle_per_host(0);
    }
    b.build().unwrap()
}

/// The DER of the certificate the server presented for `resp`'s connection.
fn peer_cert(resp: &reqwest::Response) -> Vec<u8> {
    resp.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .map(<[u8]>::to_vec)
        .expect("TLS info")
}

fn der(pem: &str) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn certificates_and_targets_reload_under_load_without_a_failed_scrape() {
    let main = cluster(Release::Main, "alpha pipeline", "job_Alpha00001", 2).await;
    let v15 = cluster(Release::V0_15, "beta pipeline", "job_Beta000001", 3).await;
    let pki = Pki::new();
    let (cert1, key1) = pki.leaf();
    let (cert2, key2) = pki.leaf();
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    write_atomically(&cert_file, &cert1);
    write_atomically(&key_file, &key1);
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n",
    )
    .unwrap();
    let file = dir.path().join("exporter.toml");
    write_atomically(&file, &target_toml("alpha", &main));
    let exporter = Process::start(&[
        "--config",
        file.to_str().unwrap(),
        "--web.config.file",
        web.to_str().unwrap(),
        "--web.enable-lifecycle",
    ]);
    let base = format!("https://127.0.0.1:{}", exporter.port);

    // One connection opened before the rotation, kept alive through it.
    let kept = tls_client(&pki.ca_pem, true);
    let r = kept
        .get(format!("{base}/probe?target=alpha"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(peer_cert(&r), der(&cert1));

    // Continuous load: two clients on kept-alive connections, two opening a connection
    // per request, scraping the alpha target and /metrics, counting every failure.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for i in 0..4 {
        let client = tls_client(&pki.ca_pem, i % 2 == 0);
        let (stop, ok, failed, base) = (stop.clone(), ok.clone(), failed.clone(), base.clone());
        load.push(tokio::spawn(async move {
            let mut errors = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let path = if i < 2 {
                    "/probe?target=alpha"
                } else {
                    "/metrics"
                };
                match client.get(format!("{base}{path}")).send().await {
                    Ok(r) if r.status().is_success() => match r.text().await {
                        Ok(body) if body.ends_with("# EOF\n") || body.contains("arroyo_") => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        other => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            errors.push(format!("{other:?}"));
                        }
                    },
                    other => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        errors.push(format!("{other:?}"));
                    }
                }
            }
            errors
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    // cert-manager's rotation: the certificate first, then the key (the half-written
    // state in between must not fail a handshake).
    write_atomically(&cert_file, &cert2);
    tokio::time::sleep(Duration::from_millis(200)).await;
    write_atomically(&key_file, &key2);
    let fresh = tls_client(&pki.ca_pem, false);
    wait_for("the new certificate on a new connection", async || {
        let r = fresh.get(format!("{base}/-/healthy")).send().await.unwrap();
        peer_cert(&r) == der(&cert2)
    })
    .await;

    // The kept connection was not dropped: it still runs on the old handshake.
    let r = kept
        .get(format!("{base}/probe?target=alpha"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        peer_cert(&r),
        der(&cert1),
        "the open connection was replaced"
    );

    // A target added and the web configuration re-read, still under load.
    write_atomically(
        &file,
        &format!(
            "{}{}",
            target_toml("alpha", &main),
            target_toml("beta", &v15)
        ),
    );
    let r = fresh.post(format!("{base}/-/reload")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    exporter.signal("-HUP");
    let beta = fresh
        .get(format!("{base}/probe?target=beta"))
        .send()
        .await
        .unwrap();
    assert_eq!(beta.status().as_u16(), 200);
    assert!(beta.text().await.unwrap().contains("beta pipeline"));

    // A broken web configuration: the reload is refused, TLS keeps serving the rotated
    // certificate, and the load goes on.
    let good_web = std::fs::read_to_string(&web).unwrap();
    write_atomically(&web, "tls_server_config:\n  cert_fil: tls.crt\n");
    let r = fresh.post(format!("{base}/-/reload")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 500);
    let why = r.text().await.unwrap();
    assert!(
        why.contains("web.config-file") && why.contains("cert_fil"),
        "{why}"
    );
    let r = fresh.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(peer_cert(&r), der(&cert2));
    let body = r.text().await.unwrap();
    assert!(
        body.contains("arroyo_exporter_config_last_reload_successful 0"),
        "{body}"
    );
    write_atomically(&web, &good_web);
    let r = fresh.post(format!("{base}/-/reload")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;

    stop.store(true, Ordering::Relaxed);
    let mut errors = Vec::new();
    for t in load {
        errors.extend(t.await.unwrap());
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert_eq!(failed, 0, "failed scrapes: {errors:?}");
    assert!(ok >= 20, "only {ok} scrapes ran");
}

/// The scrape jobs of `deploy/prometheus/multi-target/scrape-configs.yml` (the items of
/// its `scrape_configs` list), pointed at the exporter at `addr`.
fn shipped_scrape_configs(addr: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/prometheus/multi-target/scrape-configs.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let (_, jobs) = text.split_once("scrape_configs:\n").unwrap();
    assert!(jobs.contains("arroyo-exporter:9731"));
    jobs.replace("arroyo-exporter:9731", addr)
}

/// `(label values…) → value` of a query's result, sorted.
fn by_labels(result: &[serde_json::Value], labels: &[&str]) -> Vec<(Vec<String>, String)> {
    let mut out: Vec<(Vec<String>, String)> = result
        .iter()
        .map(|s| {
            (
                labels
                    .iter()
                    .map(|l| s["metric"][*l].as_str().unwrap_or("").to_string())
                    .collect(),
                s["value"][1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_with_the_shipped_relabelling_keeps_probed_clusters_apart() {
    let main = cluster(Release::Main, "alpha pipeline", "job_Shared0001", 2).await;
    let v15 = cluster(Release::V0_15, "beta pipeline", "job_Shared0001", 3).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exporter.toml");
    std::fs::write(
        &file,
        format!(
            "{}{}",
            target_toml("staging", &main),
            target_toml("prod", &v15)
        ),
    )
    .unwrap();
    let exporter = Process::start(&["--config", file.to_str().unwrap()]);
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/prometheus/rules");
    let prom = common::prometheus::Prometheus::start(
        &shipped_scrape_configs(&format!("127.0.0.1:{}", exporter.port)),
        &[rules.join("arroyo-recording.yml")],
        "1s",
    );
    let targets = prom.wait_scraped(3, Duration::from_secs(30));
    for t in &targets {
        assert_eq!(t["health"], "up", "{t}");
    }
    // Polls until the query answers `want` (series appear over a few scrape and
    // evaluation rounds), then compares.
    let expect = |promql: &str, labels: &[&str], want: Vec<(Vec<&str>, &str)>| {
        let want: Vec<(Vec<String>, String)> = want
            .into_iter()
            .map(|(l, v)| (l.into_iter().map(String::from).collect(), v.to_string()))
            .collect();
        let started = Instant::now();
        loop {
            let got = by_labels(&prom.query(promql), labels);
            if got == want || started.elapsed() > Duration::from_secs(20) {
                assert_eq!(got, want, "{promql}");
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    // One arroyo_up per cluster, labelled by the relabelling alone.
    expect(
        "arroyo_up",
        &["cluster", "instance", "job", "target"],
        vec![
            (vec!["prod", "prod", "arroyo-exporter", ""], "1"),
            (vec!["staging", "staging", "arroyo-exporter", ""], "1"),
        ],
    );
    // The same job id in both clusters: each cluster's series are its own.
    expect(
        "count by (cluster, job_id, pipeline_name) (arroyo_subtask_sent_messages_per_second)",
        &["cluster", "job_id", "pipeline_name"],
        vec![
            (vec!["prod", "job_Shared0001", "beta pipeline"], "3"),
            (vec!["staging", "job_Shared0001", "alpha pipeline"], "2"),
        ],
    );
    // A recording rule of the mixin: one result per cluster.
    expect(
        "count by (cluster, pipeline_name) (arroyo_pipeline:arroyo_operator_backpressure_ratio:max)",
        &["cluster", "pipeline_name"],
        vec![
            (vec!["prod", "beta pipeline"], "1"),
            (vec!["staging", "alpha pipeline"], "1"),
        ],
    );
    // The exporter's own job: its per-cluster counters carry `target`, which the
    // shipped job copies into `cluster`.
    expect(
        "count by (target, cluster, job) (arroyo_exporter_upstream_requests_total{source=\"controller\"})",
        &["target", "cluster", "job"],
        vec![
            (vec!["prod", "prod", "arroyo-exporter"], "1"),
            (vec!["staging", "staging", "arroyo-exporter"], "1"),
        ],
    );
    // Its process series stay without a cluster.
    expect(
        "count by (cluster, job) (process_resident_memory_bytes)",
        &["cluster", "job"],
        vec![(vec!["", "arroyo-exporter"], "1")],
    );
}

#[test]
fn a_bad_target_stops_start_up_naming_the_full_key() {
    let dir = tempfile::tempdir().unwrap();
    for (toml, key) in [
        (
            "[targets.prod.controller]\nendpoint = \"ftp://x\"\n",
            "`targets.prod.controller.endpoint`",
        ),
        (
            "[targets.prod.web]\nopenmetrics = false\n",
            "`targets.prod.web`",
        ),
        (
            "[targets.\"prod/eu\".controller]\nendpoint = \"http://x:1\"\n",
            "`targets.prod/eu`",
        ),
    ] {
        let file = dir.path().join("bad-target.toml");
        std::fs::write(&file, toml).unwrap();
        let out = Command::new(BIN)
            .args(["--config", file.to_str().unwrap()])
            .args(["--web.listen-address", "127.0.0.1:0"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml}: {stderr}");
        assert!(stderr.contains(key), "{toml}: {stderr}");
        assert!(stderr.contains("bad-target.toml"), "{toml}: {stderr}");
    }
}
