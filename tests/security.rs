//! Security: `--web.config.file` (exporter-toolkit format) with real TLS handshakes,
//! client certificates and basic auth; secrets never leak into logs, pages or errors;
//! the exporter only ever calls its configured upstreams.
//!
//! Certificates and bcrypt hashes are made by the tests (rcgen, bcrypt).

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arroyo_exporter::config::Config;
use arroyo_exporter::scrape::Scraper;
use arroyo_exporter::server;
use arroyo_exporter::webconfig::WebSecurity;
use arroyo_sim::{FakeArroyo, Release, SimPipeline};
use base64::Engine as _;
use common::now_micros;
use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const BIN: &str = env!("CARGO_BIN_EXE_arroyo-exporter");

// ---------------------------------------------------------------------------------------
// Test PKI

/// A CA, a server certificate for 127.0.0.1/localhost, a client certificate signed by
/// the CA, and a "rogue" client certificate from another CA.
struct Pki {
    ca_pem: String,
    server_pem: String,
    server_key: String,
    client_pem: String,
    client_key: String,
    rogue_pem: String,
    rogue_key: String,
}

fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), Issuer::new(params, key))
}

fn leaf(issuer: &Issuer<'static, KeyPair>, sans: &[&str], client: bool) -> (String, String) {
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.extended_key_usages = vec![if client {
        ExtendedKeyUsagePurpose::ClientAuth
    } else {
        ExtendedKeyUsagePurpose::ServerAuth
    }];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn pki() -> Pki {
    let (ca_pem, issuer) = ca("arroyo-exporter test CA");
    let (server_pem, server_key) = leaf(&issuer, &["127.0.0.1", "localhost"], false);
    let (client_pem, client_key) = leaf(&issuer, &["client.example"], true);
    let (_, rogue_issuer) = ca("rogue CA");
    let (rogue_pem, rogue_key) = leaf(&rogue_issuer, &["client.example"], true);
    Pki {
        ca_pem,
        server_pem,
        server_key,
        client_pem,
        client_key,
        rogue_pem,
        rogue_key,
    }
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// A directory with the PKI's files: ca.pem, server.pem, server.key.
fn pki_dir(p: &Pki) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ca.pem", &p.ca_pem);
    write(dir.path(), "server.pem", &p.server_pem);
    write(dir.path(), "server.key", &p.server_key);
    dir
}

// ---------------------------------------------------------------------------------------
// Clients

type Versions = &'static [&'static rustls::SupportedProtocolVersion];
const TLS12_ONLY: Versions = &[&rustls::version::TLS12];
const TLS13_ONLY: Versions = &[&rustls::version::TLS13];
const BOTH: Versions = &[&rustls::version::TLS12, &rustls::version::TLS13];

/// An HTTPS client trusting `ca_pem`, speaking `versions`, with an optional client
/// certificate (PEM cert, PEM key).
fn tls_client(ca_pem: &str, versions: Versions, identity: Option<(&str, &str)>) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots);
    let mut cfg = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(cert.as_bytes())
                    .collect::<Result<_, _>>()
                    .unwrap();
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    };
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .use_preconfigured_tls(cfg)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

// ---------------------------------------------------------------------------------------
// An in-process exporter with a web configuration

struct Secured {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _arroyo: FakeArroyo,
}

impl Secured {
    fn https(&self, path: &str) -> String {
        format!("https://{}{}", self.addr, path)
    }

    fn http(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

/// A small simulated Arroyo with one running job.
async fn small_arroyo() -> FakeArroyo {
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let st = arroyo.state();
    st.set_fixed_now(Some(now_micros()));
    common::add_running_job(
        st,
        SimPipeline::new("pl_Sec0000001", "secure", common::source_only(1)),
        "job_Sec0000001",
        now_micros() - 20_000_000,
    );
    arroyo
}

fn config_for(arroyo: &FakeArroyo) -> Config {
    let mut c = Config::default();
    c.controller.endpoint = arroyo.rpc_url().parse().unwrap();
    c.api.endpoint = Some(arroyo.api_url().parse().unwrap());
    c.admin.endpoint = Some(arroyo.admin_url().parse().unwrap());
    c
}

/// Starts an exporter whose web configuration file is `yaml`, written into `dir`.
async fn start_secured(yaml: &str, dir: &Path) -> Secured {
    let path = write(dir, "web.yml", yaml);
    let web = WebSecurity::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let arroyo = small_arroyo().await;
    let scraper = Arc::new(Scraper::new(Arc::new(config_for(&arroyo))).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::serve_with(
        listener,
        scraper,
        Arc::new(web),
        async move {
            let _ = rx.await;
        },
    ));
    Secured {
        addr,
        stop: Some(tx),
        task,
        _arroyo: arroyo,
    }
}

fn tls_yaml(extra: &str) -> String {
    format!("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n{extra}")
}

// ---------------------------------------------------------------------------------------
// TLS

#[tokio::test]
async fn tls_handshake_serves_every_endpoint_and_plain_http_is_refused() {
    let p = pki();
    let dir = pki_dir(&p);
    let ex = start_secured(&tls_yaml(""), dir.path()).await;
    let client = tls_client(&p.ca_pem, BOTH, None);
    for path in ["/metrics", "/", "/-/healthy", "/-/ready"] {
        let r = client.get(ex.https(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let body = client
        .get(ex.https("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("arroyo_up 1"), "{body}");
    // HTTP/2 is negotiated through ALPN by default.
    let h2 = client.get(ex.https("/-/healthy")).send().await.unwrap();
    assert_eq!(h2.version(), reqwest::Version::HTTP_2);
    // Plain HTTP on the TLS port gets no answer.
    let plain = reqwest::Client::new().get(ex.http("/metrics")).send().await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
    // A client that does not trust the CA fails the handshake.
    let (other_ca, _) = ca("unrelated CA");
    assert!(tls_client(&other_ca, BOTH, None)
        .get(ex.https("/metrics"))
        .send()
        .await
        .is_err());
    // The server keeps serving after failed handshakes.
    assert_eq!(
        client
            .get(ex.https("/-/healthy"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    ex.stop().await;
}

#[tokio::test]
async fn min_version_tls13_refuses_a_tls12_only_client() {
    let p = pki();
    let dir = pki_dir(&p);
    // Default (TLS12..TLS13): both clients work.
    let ex = start_secured(&tls_yaml(""), dir.path()).await;
    for versions in [TLS12_ONLY, TLS13_ONLY] {
        let r = tls_client(&p.ca_pem, versions, None)
            .get(ex.https("/-/healthy"))
            .send()
            .await;
        assert_eq!(r.unwrap().status(), 200);
    }
    ex.stop().await;

    let ex = start_secured(&tls_yaml("  min_version: TLS13\n"), dir.path()).await;
    let err = tls_client(&p.ca_pem, TLS12_ONLY, None)
        .get(ex.https("/-/healthy"))
        .send()
        .await
        .expect_err("a TLS 1.2-only client must be refused");
    assert!(err.is_connect() || err.is_request(), "{err:?}");
    let ok = tls_client(&p.ca_pem, TLS13_ONLY, None)
        .get(ex.https("/-/healthy"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    ex.stop().await;

    // max_version TLS12 refuses a TLS 1.3-only client.
    let ex = start_secured(&tls_yaml("  max_version: TLS12\n"), dir.path()).await;
    assert!(tls_client(&p.ca_pem, TLS13_ONLY, None)
        .get(ex.https("/-/healthy"))
        .send()
        .await
        .is_err());
    assert_eq!(
        tls_client(&p.ca_pem, TLS12_ONLY, None)
            .get(ex.https("/-/healthy"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    ex.stop().await;
}

/// Whether a request with `identity` (None: no certificate) succeeds, over TLS 1.2 and
/// over TLS 1.3 (a refused client certificate surfaces at a different point of each).
async fn accepted(ex: &Secured, ca_pem: &str, identity: Option<(&str, &str)>) -> bool {
    let mut results = Vec::new();
    for versions in [TLS12_ONLY, TLS13_ONLY] {
        let r = tls_client(ca_pem, versions, identity)
            .get(ex.https("/-/healthy"))
            .send()
            .await;
        results.push(matches!(r, Ok(resp) if resp.status() == 200));
    }
    assert_eq!(results[0], results[1], "TLS 1.2 and 1.3 disagree");
    results[0]
}

#[tokio::test]
async fn client_certificates_by_client_auth_type() {
    let p = pki();
    let dir = pki_dir(&p);
    let good = Some((p.client_pem.as_str(), p.client_key.as_str()));
    let rogue = Some((p.rogue_pem.as_str(), p.rogue_key.as_str()));
    // (client_auth_type, with CA file, none accepted, good accepted, rogue accepted)
    let cases = [
        ("RequireAndVerifyClientCert", true, false, true, false),
        ("VerifyClientCertIfGiven", true, true, true, false),
        ("RequireAnyClientCert", false, false, true, true),
        ("RequestClientCert", false, true, true, true),
        ("NoClientCert", false, true, true, true),
    ];
    for (auth, with_ca, none_ok, good_ok, rogue_ok) in cases {
        let ca_line = if with_ca {
            "  client_ca_file: ca.pem\n"
        } else {
            ""
        };
        let yaml = tls_yaml(&format!("  client_auth_type: {auth}\n{ca_line}"));
        let ex = start_secured(&yaml, dir.path()).await;
        assert_eq!(
            accepted(&ex, &p.ca_pem, None).await,
            none_ok,
            "{auth}: no cert"
        );
        assert_eq!(
            accepted(&ex, &p.ca_pem, good).await,
            good_ok,
            "{auth}: CA-signed cert"
        );
        assert_eq!(
            accepted(&ex, &p.ca_pem, rogue).await,
            rogue_ok,
            "{auth}: rogue cert"
        );
        ex.stop().await;
    }

    // client_allowed_sans: the signed certificate's SAN must be listed.
    let base = "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n";
    let ex = start_secured(
        &tls_yaml(&format!(
            "{base}  client_allowed_sans:\n    - client.example\n"
        )),
        dir.path(),
    )
    .await;
    assert!(accepted(&ex, &p.ca_pem, good).await);
    ex.stop().await;
    let ex = start_secured(
        &tls_yaml(&format!(
            "{base}  client_allowed_sans:\n    - other.example\n"
        )),
        dir.path(),
    )
    .await;
    assert!(!accepted(&ex, &p.ca_pem, good).await);
    ex.stop().await;
}

// ---------------------------------------------------------------------------------------
// Basic auth

fn users_yaml(users: &[(&str, &str)]) -> String {
    let mut s = String::from("basic_auth_users:\n");
    for (u, h) in users {
        s.push_str(&format!("  {u}: '{h}'\n"));
    }
    s
}

#[tokio::test]
async fn basic_auth_right_wrong_and_missing_on_every_path() {
    let alice = bcrypt::hash("alice-pw", 6).unwrap();
    // htpasswd writes `$2y$`: the same hash in that spelling must work too.
    let bob = bcrypt::hash("bob-pw", 6)
        .unwrap()
        .replacen("$2b$", "$2y$", 1);
    let dir = tempfile::tempdir().unwrap();
    let ex = start_secured(&users_yaml(&[("alice", &alice), ("bob", &bob)]), dir.path()).await;
    let client = reqwest::Client::new();
    for path in ["/metrics", "/", "/-/healthy", "/-/ready", "/nope"] {
        let url = ex.http(path);
        let missing = client.get(&url).send().await.unwrap();
        assert_eq!(missing.status(), 401, "{path} without credentials");
        assert_eq!(missing.headers()["www-authenticate"], "Basic");
        for (user, pw) in [
            ("alice", "wrong"),
            ("alice", "bob-pw"),
            ("mallory", "alice-pw"),
            ("", ""),
        ] {
            let r = client
                .get(&url)
                .header("authorization", basic(user, pw))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 401, "{path} {user}:{pw}");
            assert_eq!(r.headers()["www-authenticate"], "Basic");
        }
        let garbage = client
            .get(&url)
            .header("authorization", "Basic %%%not-base64")
            .send()
            .await
            .unwrap();
        assert_eq!(garbage.status(), 401);
        let want = if path == "/nope" { 404 } else { 200 };
        for (user, pw) in [("alice", "alice-pw"), ("bob", "bob-pw")] {
            let r = client
                .get(&url)
                .header("authorization", basic(user, pw))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), want, "{path} {user}");
        }
    }
    // A cached success answers quickly (the bcrypt check is not repeated).
    let started = Instant::now();
    for _ in 0..20 {
        let r = client
            .get(ex.http("/-/healthy"))
            .header("authorization", basic("alice", "alice-pw"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    ex.stop().await;
}

#[tokio::test]
async fn basic_auth_over_tls_with_client_certificates() {
    let p = pki();
    let dir = pki_dir(&p);
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let yaml = format!(
        "{}{}",
        tls_yaml("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n"),
        users_yaml(&[("prometheus", &hash)])
    );
    let ex = start_secured(&yaml, dir.path()).await;
    let client = tls_client(
        &p.ca_pem,
        BOTH,
        Some((p.client_pem.as_str(), p.client_key.as_str())),
    );
    let r = client.get(ex.https("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .get(ex.https("/metrics"))
        .header("authorization", basic("prometheus", "s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    ex.stop().await;
}

#[tokio::test]
async fn response_headers_and_rate_limit() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n    Strict-Transport-Security: max-age=31536000\n    Content-Security-Policy: \"\"\nrate_limit:\n  interval: 1h\n  burst: 3\n";
    let ex = start_secured(yaml, dir.path()).await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = client.get(ex.http("/-/healthy")).send().await.unwrap();
        assert_eq!(r.headers()["x-frame-options"], "deny");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.headers()["strict-transport-security"], "max-age=31536000");
        assert!(r.headers().get("content-security-policy").is_none());
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    ex.stop().await;
}

/// A file as written for another exporter: Go cipher suite names (including ones rustls
/// does not offer), curves, `$2y$` hashes, relative paths, HTTP/2 off.
#[tokio::test]
async fn an_exporter_toolkit_file_works_unchanged() {
    let p = pki();
    let dir = pki_dir(&p);
    let hash = bcrypt::hash("pw", 5).unwrap().replacen("$2b$", "$2y$", 1);
    let yaml = format!(
        r#"# web-config.yml shared by our exporters
tls_server_config:
  cert_file: server.pem
  key_file: server.key
  client_auth_type: "NoClientCert"
  min_version: TLS12
  max_version: TLS13
  cipher_suites:
    - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    - TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
    - TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305
    - TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
    - TLS_AES_128_GCM_SHA256
  prefer_server_cipher_suites: true
  curve_preferences:
    - X25519
    - CurveP256
    - CurveP521
http_server_config:
  http2: false
  headers:
    X-XSS-Protection: "1; mode=block"
basic_auth_users:
  prometheus: {hash}
rate_limit:
  interval: 0s
  burst: 0
"#
    );
    let path = write(dir.path(), "web.yml", &yaml);
    let web = WebSecurity::load(&path).unwrap();
    assert!(
        web.notes()
            .iter()
            .any(|n| n.contains("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")),
        "{:?}",
        web.notes()
    );
    assert!(web.notes().iter().any(|n| n.contains("CurveP521")));
    let ex = start_secured(&yaml, dir.path()).await;
    for versions in [TLS12_ONLY, TLS13_ONLY] {
        let r = tls_client(&p.ca_pem, versions, None)
            .get(ex.https("/metrics"))
            .header("authorization", basic("prometheus", "pw"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.version(), reqwest::Version::HTTP_11, "http2: false");
        assert_eq!(r.headers()["x-xss-protection"], "1; mode=block");
    }
    ex.stop().await;
}

// ---------------------------------------------------------------------------------------
// Start-up errors of the real binary

/// Runs the binary with a web configuration file, expecting it to stop at start-up.
fn start_fails_with(web_yml: &Path) -> (i32, String) {
    let out = Command::new(BIN)
        .args([
            "--web.listen-address",
            "127.0.0.1:0",
            "--web.config.file",
            web_yml.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let mut all = String::from_utf8_lossy(&out.stderr).to_string();
    all.push_str(&String::from_utf8_lossy(&out.stdout));
    (out.status.code().unwrap_or(-1), all)
}

#[test]
fn a_malformed_web_config_stops_start_up_naming_the_key() {
    let p = pki();
    let dir = pki_dir(&p);
    write(
        dir.path(),
        "garbage.key",
        "-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n",
    );
    let hash = bcrypt::hash("pw", 4).unwrap();
    // (file, words the message must contain, secrets it must not contain)
    let cases: Vec<(String, Vec<&str>, Vec<String>)> = vec![
        ("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  min_verison: TLS13\n".into(), vec!["min_verison"], vec![]),
        ("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  min_version: TLS14\n".into(), vec!["tls_server_config.min_version", "TLS14"], vec![]),
        ("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: Maybe\n".into(), vec!["tls_server_config.client_auth_type", "Maybe"], vec![]),
        ("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  cipher_suites: [TLS_FANCY]\n".into(), vec!["tls_server_config.cipher_suites", "TLS_FANCY"], vec![]),
        ("tls_server_config:\n  cert_file: server.pem\n  key_file: missing.key\n".into(), vec!["tls_server_config.key_file", "missing.key"], vec![]),
        ("tls_server_config:\n  cert_file: server.pem\n  key_file: garbage.key\n".into(), vec!["tls_server_config.key_file"], vec!["TOPSECRETKEYMATERIAL".into()]),
        ("tls_server_config:\n  cert_file: server.pem\n  key: |\n    -----BEGIN PRIVATE KEY-----\n    INLINESECRETKEY\n    -----END PRIVATE KEY-----\n".into(), vec!["tls_server_config.key"], vec!["INLINESECRETKEY".into()]),
        ("tls_server_config:\n  cert_file: server.pem\n".into(), vec!["key_file"], vec![]),
        ("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_ca_file: ca.pem\n".into(), vec!["client_auth_type"], vec![]),
        ("basic_auth_users:\n  alice: plaintext-password-oops\n".into(), vec!["basic_auth_users.alice", "bcrypt"], vec!["plaintext-password-oops".into()]),
        (format!("basic_auth_users: '{hash}'\n"), vec!["basic_auth_users"], vec![hash.clone()]),
        ("http_server_config:\n  headers:\n    Server: nginx\n".into(), vec!["http_server_config.headers.Server"], vec![]),
        ("rate_limit:\n  interval: soon\n  burst: 1\n".into(), vec!["rate_limit.interval"], vec![]),
        ("tls_server_config: [\n".into(), vec!["web configuration file"], vec![]),
    ];
    for (yaml, needles, secrets) in cases {
        let path = write(dir.path(), "web.yml", &yaml);
        let (code, out) = start_fails_with(&path);
        assert_eq!(code, 2, "{yaml}\n{out}");
        assert!(out.contains("web.yml"), "{out}");
        for n in needles {
            assert!(out.contains(n), "`{n}` missing for\n{yaml}\n{out}");
        }
        for s in secrets {
            assert!(!out.contains(&s), "secret leaked for\n{yaml}\n{out}");
        }
    }
    let (code, out) = start_fails_with(&dir.path().join("absent.yml"));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("absent.yml"), "{out}");
}

// ---------------------------------------------------------------------------------------
// Secrets never leak

/// A running exporter binary whose stdout and stderr go to files.
struct Binary {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Binary {
    fn start(args: &[String], dir: &Path) -> Binary {
        let out = dir.join("stdout.log");
        let err = dir.join("stderr.log");
        let child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
            .spawn()
            .unwrap();
        Binary { child, out, err }
    }

    /// Stops it with SIGTERM and returns everything it printed.
    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut all = std::fs::read_to_string(&self.out).unwrap_or_default();
        all.push_str(&std::fs::read_to_string(&self.err).unwrap_or_default());
        all
    }
}

/// The base64 lines of a PEM document (what a leak of its contents would show).
fn pem_body_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_appear_in_logs_pages_or_errors() {
    let p = pki();
    let dir = pki_dir(&p);
    let token = "tok-Zq81LeakCanary-API-TOKEN";
    let pw_alice = "pw-alice-LeakCanary-7731";
    let pw_bob = "pw-bob-LeakCanary-9921";
    let wrong_pw = "wrong-LeakCanary-5150";
    // Credentials in endpoint URLs.
    let url_pw = "url-pw-LeakCanary-2468";
    let url_query = "url-query-LeakCanary-1357";
    let h_alice = bcrypt::hash(pw_alice, 5).unwrap();
    let h_bob = bcrypt::hash(pw_bob, 5).unwrap();
    let token_file = write(dir.path(), "token", &format!("{token}\n"));
    let web = write(
        dir.path(),
        "web.yml",
        &format!(
            "{}{}",
            tls_yaml(""),
            users_yaml(&[("alice", &h_alice), ("bob", &h_bob)])
        ),
    );

    // The API wants another token (401), and the controller goes down mid-run.
    let arroyo = FakeArroyo::builder(Release::Main)
        .token("the-api-wants-another-token")
        .start()
        .await
        .unwrap();
    let st = arroyo.state();
    st.set_fixed_now(Some(now_micros()));
    common::add_running_job(
        st,
        SimPipeline::new("pl_Leak000001", "leak test", common::source_only(2)),
        "job_Leak000001",
        now_micros() - 20_000_000,
    );

    let port = common::prometheus::free_port();
    let args: Vec<String> = [
        "--web.listen-address",
        &format!("127.0.0.1:{port}"),
        "--web.config.file",
        web.to_str().unwrap(),
        "--controller.endpoint",
        &format!("http://ctl:{url_pw}@{}", arroyo.rpc_addr()),
        "--api.endpoint",
        &format!("{}/?leak={url_query}", arroyo.api_url()),
        "--api.token-file",
        token_file.to_str().unwrap(),
        "--log.level",
        "trace",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let bin = Binary::start(&args, dir.path());
    let client = tls_client(&p.ca_pem, BOTH, None);
    let base = format!("https://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{base}/-/healthy")).send().await {
            if r.status() == 401 {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "exporter not ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut seen = String::new();
    let get = |path: &str, auth: Option<(&str, &str)>| {
        let mut req = client.get(format!("{base}{path}"));
        if let Some((u, pw)) = auth {
            req = req.header("authorization", basic(u, pw));
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }
    };
    for round in 0..6 {
        if round == 2 {
            arroyo.stop_rpc().await;
        }
        if round == 4 {
            // The API accepts the token now; the controller is still down.
            st.set_api_token(Some(token));
        }
        let (s, body) = get("/metrics", Some(("alice", pw_alice))).await;
        assert_eq!(s, 200);
        seen.push_str(&body);
        let (s, body) = get("/", Some(("bob", pw_bob))).await;
        assert_eq!(s, 200);
        seen.push_str(&body);
        let (s, body) = get("/metrics", Some(("alice", wrong_pw))).await;
        assert_eq!(s, 401);
        seen.push_str(&body);
        let (s, body) = get("/metrics", None).await;
        assert_eq!(s, 401);
        seen.push_str(&body);
    }
    assert!(seen.contains("http_401"), "the API's 401 is reported");
    let logs = bin.stop();
    assert!(
        logs.contains("listening") && logs.contains("http_401"),
        "the run logged its work:\n{logs}"
    );

    // A start-up failure with the same secrets around: an unreadable key file.
    let bad_web = write(
        dir.path(),
        "bad-web.yml",
        &format!(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: ca.pem\n{}",
            users_yaml(&[("alice", &h_alice)])
        ),
    );
    let mut bad_args = args.clone();
    let i = bad_args
        .iter()
        .position(|a| a == "--web.config.file")
        .unwrap();
    bad_args[i + 1] = bad_web.to_str().unwrap().to_string();
    let out = Command::new(BIN).args(&bad_args).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let mut everything = logs;
    everything.push_str(&String::from_utf8_lossy(&out.stderr));
    everything.push_str(&String::from_utf8_lossy(&out.stdout));
    everything.push_str(&seen);

    let mut secrets: Vec<String> = vec![
        token.into(),
        pw_alice.into(),
        pw_bob.into(),
        wrong_pw.into(),
        url_pw.into(),
        url_query.into(),
        h_alice.clone(),
        h_bob.clone(),
        // Without the `$2b$05$` prefix too (salt + digest).
        h_alice[7..].to_string(),
        h_bob[7..].to_string(),
        basic("alice", pw_alice),
        basic("bob", pw_bob),
        p.server_key.trim().to_string(),
    ];
    secrets.extend(pem_body_lines(&p.server_key));
    for s in &secrets {
        assert!(
            !everything.contains(s.as_str()),
            "secret `{s}` leaked:\n{everything}"
        );
    }
    drop(arroyo);
}

// ---------------------------------------------------------------------------------------
// Only the configured upstreams are called

/// A listener that counts the connections it accepts (and answers none).
async fn decoy() -> (SocketAddr, Arc<AtomicUsize>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    (addr, count)
}

/// Escapes every byte but `[A-Za-z0-9_-]` as `%XX` (what a safe path segment looks like).
fn escape_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Sends `raw` (a whole HTTP/1.1 request) and returns the status line.
fn raw_request(addr: SocketAddr, raw: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.write_all(raw.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_cannot_steer_outbound_calls() {
    let (decoy_addr, decoy_hits) = decoy().await;
    let d = decoy_addr.to_string();
    // Ids from the API that try to leave the configured host when put into a URL.
    let arroyo = FakeArroyo::start(Release::Main).await.unwrap();
    let st = arroyo.state();
    st.set_fixed_now(Some(now_micros()));
    let nasty_pipeline = format!("pl_x/../../@{d}/?q=1#frag");
    let nasty_job = format!("job_//{d}/%2e%2e/x?y");
    common::add_running_job(
        st,
        SimPipeline::new(nasty_pipeline.clone(), "nasty ids", common::source_only(1)),
        nasty_job.clone(),
        now_micros() - 20_000_000,
    );
    common::add_running_job(
        st,
        SimPipeline::new("pl_Plain00001", "plain", common::source_only(1)),
        "job_Plain00001",
        now_micros() - 20_000_000,
    );

    for source in [
        arroyo_exporter::config::MetricsSource::Rpc,
        arroyo_exporter::config::MetricsSource::Rest,
    ] {
        let mut cfg = config_for(&arroyo);
        cfg.scrape.metrics_source = source;
        // The simulator's clock is fixed: keep its points fresh however long this runs.
        cfg.scrape.max_sample_age = Duration::ZERO;
        let ex = common::Exporter::start(cfg).await;
        st.reset_counters();
        let addr = ex.addr;
        let requests = vec![
            format!("GET /metrics HTTP/1.1\r\nHost: {d}\r\nConnection: close\r\n\r\n"),
            format!("GET http://{d}/metrics HTTP/1.1\r\nHost: {d}\r\nConnection: close\r\n\r\n"),
            format!("GET /metrics?target=http://{d}/&api.endpoint=http://{d}&controller.endpoint=http://{d} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            format!("GET //{d}/metrics HTTP/1.1\r\nHost: {d}\r\nConnection: close\r\n\r\n"),
            format!("GET /probe?target={d}&module=arroyo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            format!("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Forwarded-Host: {d}\r\nForwarded: host={d}\r\nX-Prometheus-Scrape-Timeout-Seconds: 5\r\nConnection: close\r\n\r\n"),
            format!("GET /../../{d}/metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            format!("GET / HTTP/1.1\r\nHost: {d}\r\nReferer: http://{d}/\r\nConnection: close\r\n\r\n"),
            format!("CONNECT {d} HTTP/1.1\r\nHost: {d}\r\n\r\n"),
        ];
        let statuses = tokio::task::spawn_blocking(move || {
            requests
                .iter()
                .map(|r| raw_request(addr, r))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        assert!(statuses[0].contains(" 200 "), "{statuses:?}");
        // Let any stray background work finish.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            decoy_hits.load(Ordering::SeqCst),
            0,
            "{source:?}: a request steered an outbound call: {statuses:?}"
        );
        // Every REST call went to the simulator, to a known API path.
        for (path, _) in st.rest_call_counts() {
            assert!(
                path.starts_with("/api/v1/"),
                "{source:?}: unexpected call {path}"
            );
            assert!(!path.contains(&d), "{source:?}: {path}");
        }
        // The ids were sent percent-encoded, under the configured host.
        let s = ex.scrape(None).await;
        let series = |job: &str| {
            s.find(
                "arroyo_subtask_sent_messages_per_second",
                &[("job_id", job)],
            )
            .len()
        };
        assert_eq!(series("job_Plain00001"), 1, "{source:?}\n{}", s.body);
        match source {
            // The RPC carries the id in its body: the nasty job is fetched like any other.
            arroyo_exporter::config::MetricsSource::Rpc => {
                assert_eq!(series(&nasty_job), 1, "{}", s.body)
            }
            // REST puts it into the path, every reserved byte escaped.
            arroyo_exporter::config::MetricsSource::Rest => {
                let want = format!(
                    "/api/v1/pipelines/{}/jobs/{}/operator_metric_groups",
                    escape_segment(&nasty_pipeline),
                    escape_segment(&nasty_job)
                );
                assert!(
                    st.rest_call_counts().contains_key(&want),
                    "{want} not in {:?}",
                    st.rest_call_counts()
                );
            }
        }
        ex.stop().await;
    }
    assert_eq!(decoy_hits.load(Ordering::SeqCst), 0);
    // Sanity: the decoy does count connections.
    let _ = std::net::TcpStream::connect(decoy_addr).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(decoy_hits.load(Ordering::SeqCst), 1);
}
