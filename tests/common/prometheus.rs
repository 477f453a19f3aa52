//! A real Prometheus server (Debian's `prometheus` package) started as a child process
//! for the tests. Missing binaries fail the test loudly: `scripts/test.sh` installs them.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Finds a tool by environment variable or on PATH, or panics with how to install it.
pub fn tool(env: &str, name: &str) -> PathBuf {
    if let Ok(p) = std::env::var(env) {
        return PathBuf::from(p);
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = PathBuf::from(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{name}` not found (set {env} or run scripts/test.sh, which installs Debian's prometheus package)");
}

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A running Prometheus.
pub struct Prometheus {
    child: Child,
    /// Its base URL.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus with `scrape_configs` (YAML list items, already indented by
    /// two spaces) and optional rule files, scraping every `interval`.
    pub fn start(scrape_configs: &str, rule_files: &[PathBuf], interval: &str) -> Prometheus {
        let bin = tool("PROMETHEUS_BIN", "prometheus");
        let dir = tempfile::tempdir().unwrap();
        let rules: String = rule_files
            .iter()
            .map(|p| format!("  - {}\n", p.display()))
            .collect();
        let config = format!(
            "global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\n  evaluation_interval: {interval}\nrule_files:\n{rules}scrape_configs:\n{scrape_configs}",
            rules = if rules.is_empty() { "  []\n".to_string() } else { rules },
        );
        let cfg_path = dir.path().join("prometheus.yml");
        std::fs::write(&cfg_path, &config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = Command::new(&bin)
            .arg(format!("--config.file={}", cfg_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-lifecycle")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let p = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        p.wait_ready();
        p
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    fn wait_ready(&self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(r) = ureq_get(&format!("{}/-/ready", self.url)) {
                if r.0 == 200 {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("prometheus did not become ready:\n{}", self.log());
    }

    /// GETs an API path and returns the JSON.
    pub fn api(&self, path_and_query: &str) -> serde_json::Value {
        let (status, body) = ureq_get(&format!("{}{}", self.url, path_and_query))
            .unwrap_or_else(|e| panic!("prometheus API {path_and_query}: {e}"));
        let v: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("prometheus API {path_and_query}: {e}: {body}"));
        assert!(
            status == 200 || status == 400 || status == 422,
            "HTTP {status}: {body}"
        );
        v
    }

    /// Runs an instant query; returns the result vector.
    pub fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let v = self.api(&format!("/api/v1/query?query={}", urlencode(promql)));
        assert_eq!(v["status"], "success", "query {promql}: {v}");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until every target has been scraped at least once; returns the targets.
    pub fn wait_scraped(&self, n_targets: usize, timeout: Duration) -> Vec<serde_json::Value> {
        let started = Instant::now();
        loop {
            let v = self.api("/api/v1/targets");
            let active = v["data"]["activeTargets"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let scraped = active.iter().filter(|t| t["health"] != "unknown").count();
            if active.len() >= n_targets && scraped >= n_targets {
                return active;
            }
            if started.elapsed() > timeout {
                panic!("targets not scraped in time: {v}\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Polls `promql` until it returns at least one series or `timeout` passes.
    pub fn wait_for(&self, promql: &str, timeout: Duration) -> Vec<serde_json::Value> {
        let started = Instant::now();
        loop {
            let r = self.query(promql);
            if !r.is_empty() || started.elapsed() > timeout {
                return r;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encodes a query parameter.
pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A blocking GET over std's TCP (keeps these helpers free of an async runtime).
pub fn ureq_get(url: &str) -> Result<(u16, String), String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").ok_or("only http")?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut s = std::net::TcpStream::connect(host).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no header end")?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("bad status line")?;
    Ok((status, body.to_string()))
}
