//! Shared helpers of the end-to-end tests: start the exporter in-process against the
//! in-repo simulated Arroyo, scrape it over real HTTP, and read the exposition back.

#![allow(dead_code)]

pub mod prometheus;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arroyo_exporter::config::Config;
use arroyo_exporter::scrape::Scraper;
use arroyo_exporter::server;

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// A default configuration pointing at the simulated Arroyo `arroyo`.
pub fn config_for(arroyo: &arroyo_sim::FakeArroyo) -> Config {
    let mut c = Config::default();
    c.controller.endpoint = arroyo.rpc_url().parse().unwrap();
    c.api.endpoint = Some(arroyo.api_url().parse().unwrap());
    c.admin.endpoint = Some(arroyo.admin_url().parse().unwrap());
    c
}

/// Adds `pipeline` to the simulated Arroyo and a job `job_id` of it, `Running` since
/// `start_time` (microseconds since the epoch): the "pipeline + running job" set-up most
/// tests start from.
pub fn add_running_job(
    state: &arroyo_sim::SimState,
    pipeline: arroyo_sim::SimPipeline,
    job_id: impl Into<String>,
    start_time: u64,
) {
    let pipeline_id = pipeline.id.clone();
    state.add_pipeline(pipeline);
    state.add_job(arroyo_sim::SimJob::running(job_id, pipeline_id, start_time));
}

/// The nodes of the simplest pipeline: one `nexmark` source (node 0, described `src`)
/// with `parallelism` subtasks.
pub fn source_only(parallelism: u32) -> Vec<arroyo_sim::SimNode> {
    vec![arroyo_sim::SimNode::new(0, "nexmark", "src", parallelism)]
}

/// The fixtures captured from real Arroyo releases, kept in the repository.
pub fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A running in-process exporter.
pub struct Exporter {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its scraper (for counters).
    pub scraper: Arc<Scraper>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Exporter {
    /// Starts the exporter for `cfg` on an ephemeral loopback port.
    pub async fn start(mut cfg: Config) -> Exporter {
        cfg.web.listen_address = "127.0.0.1:0".parse().unwrap();
        let scraper = Arc::new(Scraper::new(Arc::new(cfg)).expect("scraper"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(listener, Arc::clone(&scraper), async move {
            let _ = rx.await;
        }));
        Exporter {
            addr,
            scraper,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Base URL.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Scrapes `/metrics` with `accept` (None: no Accept header).
    pub async fn scrape(&self, accept: Option<&str>) -> Scrape {
        self.scrape_with(accept, &[]).await
    }

    /// Scrapes `/metrics` with extra headers.
    pub async fn scrape_with(&self, accept: Option<&str>, headers: &[(&str, &str)]) -> Scrape {
        let client = reqwest::Client::new();
        let mut req = client.get(self.url("/metrics"));
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let started = std::time::Instant::now();
        let resp = req.send().await.expect("scrape request");
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = resp.text().await.expect("body");
        Scrape {
            status,
            content_type,
            samples: parse_exposition(&body),
            body,
            elapsed: started.elapsed(),
        }
    }

    /// Stops the server gracefully.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

/// Prometheus's default Accept header (2.x).
pub const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// One scrape's answer.
pub struct Scrape {
    /// HTTP status.
    pub status: u16,
    /// Content-Type header.
    pub content_type: String,
    /// Raw body.
    pub body: String,
    /// Parsed samples.
    pub samples: Vec<Sample>,
    /// Wall time of the request.
    pub elapsed: Duration,
}

/// One parsed sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Sample name.
    pub name: String,
    /// Labels, unescaped.
    pub labels: BTreeMap<String, String>,
    /// Value.
    pub value: f64,
}

impl Scrape {
    /// Samples named `name` whose labels include every pair of `want`.
    pub fn find(&self, name: &str, want: &[(&str, &str)]) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| {
                s.name == name
                    && want
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect()
    }

    /// The single value of `name` with labels `want`; panics when not exactly one.
    pub fn value(&self, name: &str, want: &[(&str, &str)]) -> f64 {
        let found = self.find(name, want);
        assert_eq!(
            found.len(),
            1,
            "expected one {name}{want:?}, found {found:?}\n{}",
            self.body
        );
        found[0].value
    }

    /// Number of samples named `name`.
    pub fn count(&self, name: &str) -> usize {
        self.samples.iter().filter(|s| s.name == name).count()
    }
}

/// Parses exposition text (either format) into samples; comments are skipped. This is
/// a small independent reader for assertions, not the strict validator.
pub fn parse_exposition(body: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in body.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, rest) = match line.find(['{', ' ']) {
            Some(i) => (&line[..i], &line[i..]),
            None => panic!("bad sample line {line:?}"),
        };
        let mut labels = BTreeMap::new();
        let mut rest = rest;
        if rest.starts_with('{') {
            let mut chars = rest[1..].char_indices();
            let mut key = String::new();
            let mut val = String::new();
            let mut in_value = false;
            let mut end = 0;
            while let Some((i, c)) = chars.next() {
                if in_value {
                    match c {
                        '\\' => match chars.next().map(|x| x.1) {
                            Some('n') => val.push('\n'),
                            Some('\\') => val.push('\\'),
                            Some('"') => val.push('"'),
                            other => panic!("bad escape {other:?} in {line:?}"),
                        },
                        '"' => {
                            labels.insert(std::mem::take(&mut key), std::mem::take(&mut val));
                            in_value = false;
                        }
                        c => val.push(c),
                    }
                } else {
                    match c {
                        '=' => {
                            assert_eq!(chars.next().map(|x| x.1), Some('"'), "{line:?}");
                            in_value = true;
                        }
                        ',' | ' ' => {}
                        '}' => {
                            end = i + 2;
                            break;
                        }
                        c => key.push(c),
                    }
                }
            }
            rest = &rest[end..];
        }
        let value_str = rest
            .split_whitespace()
            .next()
            .unwrap_or_else(|| panic!("no value {line:?}"));
        let value = match value_str {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value {v:?} in {line:?}")),
        };
        out.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    out
}
