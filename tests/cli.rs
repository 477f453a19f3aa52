//! The real binary, as a user runs it: configuration errors stop start-up with a message
//! naming the key and its source; a good configuration serves until SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use arroyo_sim::{FakeArroyo, Release, SimNode, SimPipeline};
use common::prometheus::{free_port, ureq_get};

const BIN: &str = env!("CARGO_BIN_EXE_arroyo-exporter");

/// Runs the binary with `args` and `env`, expecting it to fail at start-up.
fn start_fails(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .env("ARROYO_EXPORTER__WEB__LISTEN_ADDRESS", "127.0.0.1:0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (out.status.code().unwrap_or(-1), stderr)
}

/// Flags, environment, and the texts the error must contain.
type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, Vec<&'a str>);

#[test]
fn bad_values_name_the_key_and_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[scrape]\ntimeout = \"forever\"\n").unwrap();
    let file_arg = file.to_str().unwrap();
    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, "[controller]\nendpoitn = \"http://x:1\"\n").unwrap();
    let typo_arg = typo.to_str().unwrap();

    let cases: Vec<Case> = vec![
        (
            vec!["--config", file_arg],
            vec![],
            vec!["scrape.timeout", "bad.toml"],
        ),
        (
            vec!["--config", typo_arg],
            vec![],
            vec!["endpoitn", "typo.toml"],
        ),
        (
            vec!["--config", "/nonexistent/x.toml"],
            vec![],
            vec!["/nonexistent/x.toml"],
        ),
        (
            vec![],
            vec![("ARROYO_EXPORTER__SCRAPE__CONCURRENCY", "many")],
            vec![
                "ARROYO_EXPORTER__SCRAPE__CONCURRENCY",
                "environment variable",
            ],
        ),
        (
            vec![],
            vec![("ARROYO_EXPORTER__SCRAPE__CONCURRENCY", "0")],
            vec!["scrape.concurrency", "ARROYO_EXPORTER__SCRAPE__CONCURRENCY"],
        ),
        (
            vec!["--controller.endpoint", "ftp://host"],
            vec![],
            vec!["controller.endpoint", "--controller.endpoint"],
        ),
        (
            vec!["--controller.service", "newest"],
            vec![],
            vec!["--controller.service", "job-controller"],
        ),
        (vec!["--log.format", "xml"], vec![], vec!["--log.format"]),
        (
            vec!["--web.telemetry-path", "metrics"],
            vec![],
            vec!["web.telemetry-path", "--web.telemetry-path"],
        ),
        (
            vec!["--scrape.metrics-source", "carrier-pigeon"],
            vec![],
            vec!["--scrape.metrics-source"],
        ),
        (
            vec![],
            vec![("ARROYO_EXPORTER__API__TLS__CERT_FILE", "/etc/client.pem")],
            vec!["api.tls.cert-file", "api.tls.key-file"],
        ),
        (
            vec![],
            vec![(
                "ARROYO_EXPORTER__CONTROLLER__TLS__KEY_FILE",
                "/etc/client.key",
            )],
            vec!["controller.tls.key-file", "controller.tls.cert-file"],
        ),
        (
            vec!["--scrape.bottleneck-threshold", "0"],
            vec![],
            vec![
                "scrape.bottleneck-threshold",
                "--scrape.bottleneck-threshold",
                "at most 1",
            ],
        ),
        (
            vec![],
            vec![("ARROYO_EXPORTER__SCRAPE__BOTTLENECK_THRESHOLD", "1.5")],
            vec![
                "scrape.bottleneck-threshold",
                "ARROYO_EXPORTER__SCRAPE__BOTTLENECK_THRESHOLD",
            ],
        ),
        (
            vec!["--scrape.bottleneck-threshold", "half"],
            vec![],
            vec!["--scrape.bottleneck-threshold"],
        ),
        (
            vec!["--admin.endpoint", "ftp://arroyo:5114"],
            vec![],
            vec!["admin.endpoint", "--admin.endpoint", "scheme"],
        ),
        (
            vec![],
            vec![("ARROYO_EXPORTER__ADMIN__CACHE_TTL", "0s")],
            vec!["admin.cache-ttl", "ARROYO_EXPORTER__ADMIN__CACHE_TTL"],
        ),
        (
            vec![],
            vec![(
                "ARROYO_EXPORTER__COLLECTORS__JOB_ERROR_CALLS_PER_SCRAPE",
                "0",
            )],
            vec!["collectors.job-error-calls-per-scrape", "at least 1"],
        ),
        (
            vec![],
            vec![(
                "ARROYO_EXPORTER__COLLECTORS__CHECKPOINT_CALLS_PER_SECOND",
                "0",
            )],
            vec!["collectors.checkpoint-calls-per-second", "calls per second"],
        ),
        (
            vec![],
            vec![(
                "ARROYO_EXPORTER__COLLECTORS__JOB_ERROR_CALLS_PER_SECOND",
                "5000",
            )],
            vec!["collectors.job-error-calls-per-second"],
        ),
    ];
    for (args, env, needles) in cases {
        let (code, stderr) = start_fails(&args, &env);
        assert_eq!(code, 2, "{args:?} {env:?}: {stderr}");
        for n in needles {
            assert!(
                stderr.contains(n),
                "{args:?} {env:?}: `{n}` missing in: {stderr}"
            );
        }
    }
    // A flag wins over the environment, which wins over the file.
    let layered = dir.path().join("layered.toml");
    std::fs::write(&layered, "[web]\ntelemetry-path = \"bad-from-file\"\n").unwrap();
    let (_, stderr) = start_fails(
        &["--config", layered.to_str().unwrap()],
        &[("ARROYO_EXPORTER__WEB__TELEMETRY_PATH", "bad-from-env")],
    );
    assert!(
        stderr.contains("ARROYO_EXPORTER__WEB__TELEMETRY_PATH"),
        "{stderr}"
    );
}

#[test]
fn bottleneck_threshold_flag_is_read() {
    let flags = arroyo_exporter::config::Flags {
        bottleneck_threshold: Some("0.25".into()),
        ..Default::default()
    };
    let cfg = arroyo_exporter::config::load(&flags).expect("loads");
    assert_eq!(cfg.scrape.bottleneck_threshold, 0.25);
    assert_eq!(
        arroyo_exporter::config::Config::default()
            .scrape
            .bottleneck_threshold,
        0.5
    );
}

#[test]
fn admin_and_new_collector_settings_load_from_every_layer() {
    use arroyo_exporter::config::{load, Flags};
    let defaults = load(&Flags::default()).unwrap();
    assert_eq!(
        defaults.admin.endpoint.as_ref().map(|u| u.as_str()),
        Some("http://localhost:5114/")
    );
    assert!(defaults.collectors.checkpoint_details && defaults.collectors.job_errors);
    assert!(defaults.collectors.admin);
    let flags = Flags {
        admin_endpoint: Some(String::new()),
        no_job_errors: true,
        no_checkpoint_details: true,
        no_admin: true,
        ..Flags::default()
    };
    let off = load(&flags).unwrap();
    assert_eq!(
        off.admin.endpoint, None,
        "an empty endpoint disables the collector"
    );
    assert!(!off.collectors.job_errors && !off.collectors.checkpoint_details);
    assert!(!off.collectors.admin);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("admin.toml");
    std::fs::write(
        &file,
        "[admin]\nendpoint = \"https://arroyo:5114\"\ntoken = \"s3cret\"\ncache-ttl = \"10m\"\n\
         [collectors]\njob-error-calls-per-scrape = 3\ncheckpoint-calls-per-second = 0.5\n",
    )
    .unwrap();
    let from_file = load(&Flags {
        config: Some(file),
        ..Flags::default()
    })
    .unwrap();
    assert_eq!(from_file.admin.cache_ttl, Duration::from_secs(600));
    assert_eq!(from_file.collectors.job_error_calls_per_scrape, Some(3));
    assert_eq!(from_file.collectors.checkpoint_calls_per_second, 0.5);
    assert_eq!(
        arroyo_exporter::config::admin_token(&from_file.admin).unwrap(),
        Some("s3cret".to_string())
    );
    assert!(!format!("{:?}", from_file.admin).contains("s3cret"));
}

#[test]
fn shipped_config_file_loads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/arroyo-exporter.toml");
    let flags = arroyo_exporter::config::Flags {
        config: Some(path.into()),
        ..Default::default()
    };
    let cfg = arroyo_exporter::config::load(&flags).expect("shipped config loads");
    assert_eq!(
        cfg,
        arroyo_exporter::config::Config::default(),
        "the shipped file documents the defaults"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_serves_metrics_and_stops_on_sigterm() {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let now = common::now_micros();
    arroyo.state().set_fixed_now(Some(now));
    common::add_running_job(
        arroyo.state(),
        SimPipeline::new(
            "pl_Cli0000001",
            "cli pipeline",
            vec![SimNode::new(0, "nexmark", "Nexmark<200 eps>", 2)],
        ),
        "job_Cli0000001",
        now - 30_000_000,
    );

    let token_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token_file.path(), "unused-secret-token\n").unwrap();
    let port = free_port();
    let mut child = Command::new(BIN)
        .args([
            "--web.listen-address",
            &format!("127.0.0.1:{port}"),
            "--controller.endpoint",
            &arroyo.rpc_url(),
            "--api.endpoint",
            &arroyo.api_url(),
            "--api.token-file",
            token_file.path().to_str().unwrap(),
            "--admin.endpoint",
            &arroyo.admin_url(),
            "--log.format",
            "json",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        if let Ok((200, _)) = ureq_get(&format!("{base}/-/ready")) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "exporter not ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let body = tokio::task::spawn_blocking(move || ureq_get(&format!("{base}/metrics")))
        .await
        .unwrap()
        .unwrap()
        .1;
    let samples = common::parse_exposition(&body);
    let n = samples
        .iter()
        .filter(|s| {
            s.name == "arroyo_subtask_sent_messages_per_second"
                && s.labels.get("pipeline_name").map(String::as_str) == Some("cli pipeline")
        })
        .count();
    assert_eq!(n, 2, "{body}");
    // --admin.endpoint reaches the simulated admin port: Arroyo's version.
    assert!(
        samples.iter().any(|s| s.name == "arroyo_build_info"
            && s.labels.get("version").map(String::as_str) == Some("0.16.0-dev")),
        "{body}"
    );

    // SIGTERM: graceful shutdown, exit code 0.
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "exporter did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let stderr: Vec<String> = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .collect();
    let all = stderr.join("\n");
    assert!(all.contains("arroyo-exporter listening"), "{all}");
    assert!(all.contains("shutting down"), "{all}");
    for line in &stderr {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("--log.format json wrote a non-JSON line {line:?}: {e}"));
    }
    assert!(
        !all.contains("unused-secret-token"),
        "the token leaked into the log"
    );
}

/// A first run with no Arroyo: the exporter starts and answers, every upstream shows as
/// down (no collector with nothing to do claims success), and the log, plain text off a
/// terminal, names the endpoint, the cause and the setting to change.
#[tokio::test]
async fn without_arroyo_it_says_what_is_wrong() {
    let (port, rpc_port, api_port) = (free_port(), free_port(), free_port());
    let mut child = Command::new(BIN)
        .args([
            "--web.listen-address",
            &format!("127.0.0.1:{port}"),
            "--controller.endpoint",
            &format!("http://127.0.0.1:{rpc_port}"),
            "--api.endpoint",
            &format!("http://127.0.0.1:{api_port}"),
        ])
        .env_remove("NO_COLOR")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while !matches!(ureq_get(&format!("{base}/-/ready")), Ok((200, _))) {
        assert!(started.elapsed() < Duration::from_secs(10), "not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let body = tokio::task::spawn_blocking(move || ureq_get(&format!("{base}/metrics")))
        .await
        .unwrap()
        .unwrap()
        .1;
    let samples = common::parse_exposition(&body);
    let value = |name: &str, collector: Option<&str>| {
        samples
            .iter()
            .find(|s| s.name == name && s.labels.get("collector").map(String::as_str) == collector)
            .map(|s| s.value)
            .unwrap_or_else(|| panic!("{name} {collector:?} missing in {body}"))
    };
    assert_eq!(value("arroyo_up", None), 0.0);
    for collector in [
        "discovery",
        "jobs",
        "topology",
        "job_metrics",
        "checkpoints",
    ] {
        assert_eq!(
            value("arroyo_exporter_collector_success", Some(collector)),
            0.0,
            "{collector} claims success with Arroyo down"
        );
    }
    child.kill().unwrap();
    let _ = child.wait();
    let log: String = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes off a terminal:\n{log}"
    );
    // The failure's log line names the endpoint, the cause and the setting to change.
    let says = |event: &str, wants: [String; 3]| {
        let line = log
            .lines()
            .find(|l| l.contains(event))
            .unwrap_or_else(|| panic!("`{event}` not logged:\n{log}"));
        for want in wants {
            assert!(line.contains(&want), "`{want}` missing in {line}");
        }
    };
    says(
        "listing jobs through the API failed",
        [
            format!("127.0.0.1:{api_port}/api/v1/jobs"),
            "Connection refused".into(),
            "api.endpoint".into(),
        ],
    );
    says(
        "controller did not answer",
        [
            format!("127.0.0.1:{rpc_port}"),
            "Connection refused".into(),
            "controller.endpoint".into(),
        ],
    );
}
