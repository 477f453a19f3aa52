//! `--web.config.file`: the web configuration file of the Prometheus exporter-toolkit
//! (YAML), so a file written for another Prometheus exporter works here unchanged.
//!
//! Supported keys, as documented by the exporter-toolkit:
//!
//! * `tls_server_config`: `cert_file`/`cert`, `key_file`/`key`, `client_ca_file`/`client_ca`,
//!   `client_auth_type` (`NoClientCert`, `RequestClientCert`, `RequireAnyClientCert`,
//!   `VerifyClientCertIfGiven`, `RequireAndVerifyClientCert`), `client_allowed_sans`,
//!   `min_version`/`max_version` (`TLS10` … `TLS13`; this exporter speaks TLS 1.2 and 1.3
//!   only, so a lower minimum means TLS 1.2), `cipher_suites` (Go names; TLS 1.2 suites
//!   that rustls offers are honoured, the others are ignored with a note),
//!   `prefer_server_cipher_suites`, `curve_preferences`.
//! * `http_server_config`: `http2`, `headers` (the five security headers the toolkit allows).
//! * `basic_auth_users`: user name → bcrypt hash.
//! * `rate_limit`: `interval` (Go duration) and `burst`.
//!
//! Unknown keys, unknown enumeration values and unreadable files stop start-up with an
//! error naming the key. Relative file paths are resolved against the file's directory,
//! as the toolkit does. Secrets (password hashes, inline keys, key file contents) never
//! appear in an error message or in `Debug` output.
//!
//! Unlike the toolkit, the file is read once at start-up (no reload on every request).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use http::header::{HeaderName, HeaderValue, AUTHORIZATION};
use http::HeaderMap;
use parking_lot::Mutex;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, SupportedKxGroup, WebPkiSupportedAlgorithms};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{NoClientAuth, WebPkiClientVerifier};
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
    SupportedCipherSuite, SupportedProtocolVersion,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use serde::Deserialize;
use tokio::time::Instant;

/// A web configuration file that cannot be used; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfigError {
    /// The file (or `<inline>` for text given directly).
    pub path: PathBuf,
    /// Dotted key the problem is about (empty for a file-level problem).
    pub key: String,
    /// What is wrong (never holds a secret).
    pub message: String,
}

impl fmt::Display for WebConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(
                f,
                "web configuration file {}: {}",
                self.path.display(),
                self.message
            )
        } else {
            write!(
                f,
                "web configuration file {}: key `{}`: {}",
                self.path.display(),
                self.key,
                self.message
            )
        }
    }
}

impl std::error::Error for WebConfigError {}

// ---------------------------------------------------------------------------------------
// The file as written (every key optional; YAML `null` is "not set").

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    http_server_config: Option<RawHttp>,
    /// Read as a raw value so that a type error cannot echo a hash into a message.
    #[serde(default)]
    basic_auth_users: Option<serde_norway::Value>,
    #[serde(default)]
    rate_limit: Option<RawRateLimit>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    #[serde(default)]
    cert: Option<String>,
    /// Read as a raw value so that a type error cannot echo the key into a message.
    #[serde(default)]
    key: Option<serde_norway::Value>,
    #[serde(default)]
    client_ca: Option<String>,
    #[serde(default)]
    cert_file: Option<String>,
    #[serde(default)]
    key_file: Option<String>,
    #[serde(default)]
    client_auth_type: Option<String>,
    #[serde(default)]
    client_ca_file: Option<String>,
    #[serde(default)]
    client_allowed_sans: Option<Vec<String>>,
    #[serde(default)]
    min_version: Option<String>,
    #[serde(default)]
    max_version: Option<String>,
    #[serde(default)]
    cipher_suites: Option<Vec<String>>,
    #[serde(default)]
    prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    curve_preferences: Option<Vec<String>>,
}

impl fmt::Debug for RawTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawTls")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("client_auth_type", &self.client_auth_type)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default)]
    http2: Option<bool>,
    #[serde(default)]
    headers: Option<BTreeMap<String, Option<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    #[serde(default)]
    interval: Option<serde_norway::Value>,
    #[serde(default)]
    burst: Option<i64>,
}

// ---------------------------------------------------------------------------------------
// The validated result.

/// What the web configuration file asks of the HTTP server: TLS, basic auth, extra
/// response headers and a rate limit. [`WebSecurity::default`] is plain HTTP with none.
#[derive(Default)]
pub struct WebSecurity {
    tls: Option<Arc<ServerConfig>>,
    tls_summary: String,
    auth: Option<BasicAuth>,
    headers: Vec<(HeaderName, HeaderValue)>,
    limiter: Option<RateLimiter>,
    http2: bool,
    notes: Vec<String>,
}

impl fmt::Debug for WebSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSecurity")
            .field("tls", &self.tls_summary)
            .field(
                "basic_auth_users",
                &self.auth.as_ref().map_or(0, |a| a.users.len()),
            )
            .field("headers", &self.headers.len())
            .field("rate_limit", &self.limiter.is_some())
            .field("http2", &self.http2)
            .finish()
    }
}

/// What the access check decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Serve it.
    Allowed,
    /// Answer 401 with `WWW-Authenticate: Basic`.
    Unauthorized,
    /// Answer 429 (the rate limit is exhausted).
    TooManyRequests,
}

impl WebSecurity {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<WebSecurity, WebConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| WebConfigError {
            path: path.to_path_buf(),
            key: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        WebSecurity::from_yaml(&text, path, dir)
    }

    /// Validates `text` as if read from `path`; relative file names are resolved against
    /// `base_dir`.
    pub fn from_yaml(
        text: &str,
        path: &Path,
        base_dir: &Path,
    ) -> Result<WebSecurity, WebConfigError> {
        let err = |key: &str, message: String| WebConfigError {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        };
        // An empty file (or one holding only comments) is a valid, empty configuration.
        let raw: RawFile = if text.trim().is_empty() {
            RawFile::default()
        } else {
            match serde_norway::from_str::<Option<RawFile>>(text) {
                Ok(r) => r.unwrap_or_default(),
                Err(e) => return Err(err("", e.to_string())),
            }
        };
        let mut out = WebSecurity {
            http2: true,
            ..WebSecurity::default()
        };
        if let Some(http) = &raw.http_server_config {
            out.http2 = http.http2.unwrap_or(true);
            out.headers = headers(http.headers.as_ref()).map_err(|(k, m)| err(&k, m))?;
        }
        if let Some(users) = &raw.basic_auth_users {
            out.auth = BasicAuth::from_value(users).map_err(|(k, m)| err(&k, m))?;
        }
        if let Some(rl) = &raw.rate_limit {
            out.limiter = RateLimiter::from_raw(rl).map_err(|(k, m)| err(&k, m))?;
        }
        if let Some(tls) = &raw.tls_server_config {
            if let Some((cfg, summary)) =
                build_tls(tls, base_dir, out.http2, &mut out.notes).map_err(|(k, m)| err(&k, m))?
            {
                out.tls = Some(Arc::new(cfg));
                out.tls_summary = summary;
            }
        }
        Ok(out)
    }

    /// The rustls server configuration when TLS is on.
    pub fn tls_config(&self) -> Option<Arc<ServerConfig>> {
        self.tls.clone()
    }

    /// A one-line description of the TLS setup for the start-up log (`off` when off).
    pub fn tls_summary(&self) -> &str {
        if self.tls.is_some() {
            &self.tls_summary
        } else {
            "off"
        }
    }

    /// Number of basic-auth users (0: basic auth is off).
    pub fn basic_auth_users(&self) -> usize {
        self.auth.as_ref().map_or(0, |a| a.users.len())
    }

    /// Whether HTTP/2 may be negotiated.
    pub fn http2(&self) -> bool {
        self.http2
    }

    /// Headers to add to every response.
    pub fn response_headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// Remarks about settings that were accepted but mean something else here (to log
    /// as warnings at start-up).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Decides whether a request with `headers` may be served: rate limit first, then
    /// basic auth. Slow bcrypt checks run on the blocking pool, one at a time;
    /// successful checks are cached.
    pub async fn check(&self, headers: &HeaderMap) -> Access {
        if let Some(l) = &self.limiter {
            if !l.allow() {
                return Access::TooManyRequests;
            }
        }
        match &self.auth {
            None => Access::Allowed,
            Some(auth) => {
                if auth.verify(headers).await {
                    Access::Allowed
                } else {
                    Access::Unauthorized
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// http_server_config.headers

/// The headers the exporter-toolkit lets a user set, with their allowed values (empty:
/// any value).
const ALLOWED_HEADERS: [(&str, &[&str]); 5] = [
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

type KeyError = (String, String);

fn headers(
    raw: Option<&BTreeMap<String, Option<String>>>,
) -> Result<Vec<(HeaderName, HeaderValue)>, KeyError> {
    let mut out = Vec::new();
    for (name, value) in raw.into_iter().flatten() {
        let key = format!("http_server_config.headers.{name}");
        let Some((canonical, allowed)) = ALLOWED_HEADERS.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = ALLOWED_HEADERS.iter().map(|(n, _)| *n).collect();
            return Err((
                key,
                format!(
                    "this header cannot be configured (allowed: {})",
                    names.join(", ")
                ),
            ));
        };
        // Blank means unset, as in the toolkit.
        let value = value.as_deref().unwrap_or("");
        if value.is_empty() {
            continue;
        }
        if !allowed.is_empty() && !allowed.contains(&value) {
            return Err((
                key,
                format!(
                    "invalid value `{value}`; expected one of: {}",
                    allowed.join(", ")
                ),
            ));
        }
        let v = HeaderValue::from_str(value).map_err(|_| {
            (
                key.clone(),
                "value holds characters not allowed in a header".into(),
            )
        })?;
        out.push((HeaderName::from_static(lower(canonical)), v));
    }
    Ok(out)
}

/// Lower-case spelling of an allowed header (`HeaderName::from_static` needs it).
fn lower(name: &str) -> &'static str {
    match name {
        "Strict-Transport-Security" => "strict-transport-security",
        "X-Content-Type-Options" => "x-content-type-options",
        "X-Frame-Options" => "x-frame-options",
        "X-XSS-Protection" => "x-xss-protection",
        _ => "content-security-policy",
    }
}

// ---------------------------------------------------------------------------------------
// rate_limit

/// A token bucket: `burst` tokens, one more every `interval`.
struct RateLimiter {
    interval: Duration,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    fn from_raw(raw: &RawRateLimit) -> Result<Option<RateLimiter>, KeyError> {
        let interval = match &raw.interval {
            None | Some(serde_norway::Value::Null) => Duration::ZERO,
            Some(serde_norway::Value::String(s)) => {
                parse_go_duration(s).map_err(|m| ("rate_limit.interval".to_string(), m))?
            }
            // A bare integer is nanoseconds, as Go's YAML decoder reads a time.Duration.
            Some(serde_norway::Value::Number(n)) => match n.as_u64() {
                Some(ns) => Duration::from_nanos(ns),
                None => {
                    return Err((
                        "rate_limit.interval".into(),
                        "must be a duration such as `1s` or `100ms`".into(),
                    ))
                }
            },
            Some(_) => {
                return Err((
                    "rate_limit.interval".into(),
                    "must be a duration such as `1s` or `100ms`".into(),
                ))
            }
        };
        if interval.is_zero() {
            return Ok(None);
        }
        let burst = raw.burst.unwrap_or(0);
        if burst < 1 {
            return Err((
                "rate_limit.burst".into(),
                "must be at least 1 when rate_limit.interval is set (0 would refuse every request)"
                    .into(),
            ));
        }
        let burst = burst as f64;
        Ok(Some(RateLimiter {
            interval,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }))
    }

    fn allow(&self) -> bool {
        let mut st = self.state.lock();
        let now = Instant::now();
        let refill = now.duration_since(st.1).as_secs_f64() / self.interval.as_secs_f64();
        st.0 = (st.0 + refill).min(self.burst);
        st.1 = now;
        if st.0 >= 1.0 {
            st.0 -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Parses a Go duration (`300ms`, `1.5h`, `2h45m`, `0`); units ns, us, µs, ms, s, m, h.
pub fn parse_go_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration `{s}` (expected e.g. `1s`, `100ms`, `1m30s`)");
    let t = s.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    if t.is_empty() || t.starts_with('-') {
        return Err(bad());
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if num_len == 0 {
            return Err(bad());
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += value * seconds_per_unit;
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

// ---------------------------------------------------------------------------------------
// basic_auth_users

/// Users and their bcrypt hashes, with a cache of successful checks.
struct BasicAuth {
    users: HashMap<String, Arc<str>>,
    /// A configured hash, checked for unknown users so that their answer takes as long
    /// as a known user's (no user enumeration by timing).
    decoy: Arc<str>,
    /// SHA-256 of (user, hash, password) of checks that succeeded.
    cache: Mutex<HashSet<[u8; 32]>>,
    /// bcrypt is CPU-heavy by design: one check at a time.
    gate: tokio::sync::Semaphore,
}

/// Upper bound on cached successful checks (a user has one right password per hash).
const AUTH_CACHE_MAX: usize = 4096;

impl BasicAuth {
    fn from_value(v: &serde_norway::Value) -> Result<Option<BasicAuth>, KeyError> {
        let map = match v {
            serde_norway::Value::Null => return Ok(None),
            serde_norway::Value::Mapping(m) => m,
            _ => {
                return Err((
                    "basic_auth_users".into(),
                    "must be a map of user name to bcrypt hash".into(),
                ))
            }
        };
        let mut users = HashMap::new();
        for (k, v) in map {
            let name = match k {
                serde_norway::Value::String(s) => s.clone(),
                serde_norway::Value::Number(n) => n.to_string(),
                serde_norway::Value::Bool(b) => b.to_string(),
                _ => {
                    return Err((
                        "basic_auth_users".into(),
                        "user names must be strings".into(),
                    ))
                }
            };
            let key = format!("basic_auth_users.{name}");
            let hash = match v {
                serde_norway::Value::String(s) => s.trim(),
                serde_norway::Value::Null => "",
                _ => return Err((key, "the password hash must be a string".into())),
            };
            if hash.is_empty() {
                return Err((key, "the password hash is empty".into()));
            }
            if hash.parse::<bcrypt::HashParts>().is_err() {
                // Never echo the value: it is a secret.
                return Err((
                    key,
                    "not a bcrypt hash (expected `$2y$…`, e.g. from `htpasswd -nBC 10 \"\"`)"
                        .into(),
                ));
            }
            users.insert(name, Arc::<str>::from(hash));
        }
        if users.is_empty() {
            return Ok(None);
        }
        let decoy = users
            .iter()
            .min_by(|a, b| a.0.cmp(b.0))
            .map(|(_, h)| Arc::clone(h))
            .ok_or_else(|| ("basic_auth_users".to_string(), "no users".to_string()))?;
        Ok(Some(BasicAuth {
            users,
            decoy,
            cache: Mutex::new(HashSet::new()),
            gate: tokio::sync::Semaphore::new(1),
        }))
    }

    async fn verify(&self, headers: &HeaderMap) -> bool {
        let Some((user, password)) = basic_credentials(headers) else {
            return false;
        };
        let known = self.users.get(&user);
        let hash = known.cloned().unwrap_or_else(|| Arc::clone(&self.decoy));
        let key = cache_key(&user, &hash, &password);
        if known.is_some() && self.cache.lock().contains(&key) {
            return true;
        }
        let Ok(_permit) = self.gate.acquire().await else {
            return false;
        };
        let h = Arc::clone(&hash);
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(&password, &h).unwrap_or(false))
                .await
                .unwrap_or(false);
        if ok && known.is_some() {
            let mut cache = self.cache.lock();
            if cache.len() >= AUTH_CACHE_MAX {
                cache.clear();
            }
            cache.insert(key);
            return true;
        }
        false
    }
}

/// The user and password of an `Authorization: Basic …` header.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, Vec<u8>)> {
    let value = headers.get(AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = value.split_at(value.iter().position(|b| *b == b' ')?);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let encoded = std::str::from_utf8(rest).ok()?.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    let user = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((user, decoded[colon + 1..].to_vec()))
}

fn cache_key(user: &str, hash: &str, password: &[u8]) -> [u8; 32] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [user.as_bytes(), hash.as_bytes(), password] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

// ---------------------------------------------------------------------------------------
// tls_server_config

fn set(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn resolve(base_dir: &Path, file: &str) -> PathBuf {
    let p = Path::new(file);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base_dir.join(p)
    }
}

fn read_file(key: &str, path: &Path) -> Result<Vec<u8>, KeyError> {
    std::fs::read(path).map_err(|e| {
        (
            key.to_string(),
            format!("cannot read {}: {e}", path.display()),
        )
    })
}

/// TLS versions in the toolkit's spelling, as (name, rank); rank 2 = TLS 1.2.
fn tls_version(key: &str, v: Option<&str>, default: u8) -> Result<u8, KeyError> {
    match v.map(str::trim) {
        None => Ok(default),
        Some("TLS10") => Ok(0),
        Some("TLS11") => Ok(1),
        Some("TLS12") => Ok(2),
        Some("TLS13") => Ok(3),
        Some(other) => Err((
            key.to_string(),
            format!("unknown TLS version `{other}` (expected TLS10, TLS11, TLS12 or TLS13)"),
        )),
    }
}

/// Go's names of TLS 1.2 cipher suites → the rustls suite, or `None` for a suite Go
/// knows that this exporter does not offer (CBC and RSA key exchange).
fn tls12_suite(name: &str) -> Option<Option<SupportedCipherSuite>> {
    use rustls::crypto::ring::cipher_suite as cs;
    Some(match name {
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => {
            Some(cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
        }
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => {
            Some(cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384)
        }
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"
        | "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" => {
            Some(cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256)
        }
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => Some(cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => Some(cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" | "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" => {
            Some(cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256)
        }
        "TLS_RSA_WITH_AES_128_CBC_SHA"
        | "TLS_RSA_WITH_AES_256_CBC_SHA"
        | "TLS_RSA_WITH_AES_128_GCM_SHA256"
        | "TLS_RSA_WITH_AES_256_GCM_SHA384"
        | "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"
        | "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"
        | "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
        | "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA" => None,
        _ => return None,
    })
}

/// TLS 1.3 suites: Go accepts their names but does not let them be configured.
fn is_tls13_suite(name: &str) -> bool {
    matches!(
        name,
        "TLS_AES_128_GCM_SHA256" | "TLS_AES_256_GCM_SHA384" | "TLS_CHACHA20_POLY1305_SHA256"
    )
}

fn build_tls(
    raw: &RawTls,
    base_dir: &Path,
    http2: bool,
    notes: &mut Vec<String>,
) -> Result<Option<(ServerConfig, String)>, KeyError> {
    let inline_key = match &raw.key {
        None | Some(serde_norway::Value::Null) => None,
        Some(serde_norway::Value::String(s)) if s.trim().is_empty() => None,
        Some(serde_norway::Value::String(s)) => Some(s.as_bytes().to_vec()),
        Some(_) => {
            return Err((
                "tls_server_config.key".into(),
                "must be a PEM string".into(),
            ))
        }
    };
    let enabled = set(&raw.cert_file).is_some()
        || set(&raw.cert).is_some()
        || set(&raw.key_file).is_some()
        || inline_key.is_some()
        || set(&raw.client_ca_file).is_some()
        || set(&raw.client_ca).is_some()
        || set(&raw.client_auth_type).is_some();
    if !enabled {
        return Ok(None);
    }

    // Certificate chain and key (a file wins over inline text, as in the toolkit).
    let (cert_key, cert_pem) = match (set(&raw.cert_file), set(&raw.cert)) {
        (Some(f), _) => (
            "tls_server_config.cert_file",
            read_file("tls_server_config.cert_file", &resolve(base_dir, f))?,
        ),
        (None, Some(text)) => ("tls_server_config.cert", text.as_bytes().to_vec()),
        (None, None) => {
            return Err((
                "tls_server_config.cert_file".into(),
                "missing one of cert or cert_file".into(),
            ))
        }
    };
    let (key_key, key_pem) = match (set(&raw.key_file), inline_key) {
        (Some(f), _) => (
            "tls_server_config.key_file",
            read_file("tls_server_config.key_file", &resolve(base_dir, f))?,
        ),
        (None, Some(text)) => ("tls_server_config.key", text),
        (None, None) => {
            return Err((
                "tls_server_config.key_file".into(),
                "missing one of key or key_file".into(),
            ))
        }
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| (cert_key.to_string(), format!("invalid PEM: {e}")))?;
    if chain.is_empty() {
        return Err((cert_key.to_string(), "no PEM certificate found".into()));
    }
    // The key's own parse error is not shown: it could quote part of the key.
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| {
        (
            key_key.to_string(),
            "no usable PEM private key found (PKCS#8, PKCS#1 or SEC1)".to_string(),
        )
    })?;
    drop(key_pem);

    // Versions.
    let min = tls_version(
        "tls_server_config.min_version",
        raw.min_version.as_deref(),
        2,
    )?;
    let max = tls_version(
        "tls_server_config.max_version",
        raw.max_version.as_deref(),
        3,
    )?;
    if max < 2 {
        return Err((
            "tls_server_config.max_version".into(),
            "TLS 1.0 and 1.1 are not supported; use TLS12 or TLS13".into(),
        ));
    }
    if min > max {
        return Err((
            "tls_server_config.min_version".into(),
            "is higher than max_version".into(),
        ));
    }
    if min < 2 {
        notes.push(
            "tls_server_config.min_version below TLS12 is served as TLS12 (TLS 1.0 and 1.1 are not supported)"
                .into(),
        );
    }
    let min = min.max(2);
    let mut versions: Vec<&'static SupportedProtocolVersion> = Vec::new();
    if min <= 2 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= 3 {
        versions.push(&rustls::version::TLS13);
    }

    // Cipher suites and curves.
    let mut provider: CryptoProvider = rustls::crypto::ring::default_provider();
    if let Some(names) = raw.cipher_suites.as_ref().filter(|n| !n.is_empty()) {
        let mut tls12: Vec<SupportedCipherSuite> = Vec::new();
        for name in names {
            let name = name.trim();
            if is_tls13_suite(name) {
                continue;
            }
            match tls12_suite(name) {
                Some(Some(s)) => {
                    if !tls12.iter().any(|x| x.suite() == s.suite()) {
                        tls12.push(s);
                    }
                }
                Some(None) => notes.push(format!(
                    "tls_server_config.cipher_suites: {name} is not offered by this exporter (ignored)"
                )),
                None => {
                    return Err((
                        "tls_server_config.cipher_suites".into(),
                        format!("unknown cipher `{name}`"),
                    ))
                }
            }
        }
        if tls12.is_empty()
            && versions
                .iter()
                .any(|v| v.version == rustls::ProtocolVersion::TLSv1_2)
        {
            if max < 3 {
                return Err((
                    "tls_server_config.cipher_suites".into(),
                    "none of the listed TLS 1.2 suites is supported, and TLS 1.3 is off".into(),
                ));
            }
            notes.push(
                "tls_server_config.cipher_suites: no supported TLS 1.2 suite listed; only TLS 1.3 will work"
                    .into(),
            );
            versions.retain(|v| v.version != rustls::ProtocolVersion::TLSv1_2);
        }
        // TLS 1.3 suites are fixed (as in Go); TLS 1.2 suites in the listed order.
        let mut suites: Vec<SupportedCipherSuite> = provider
            .cipher_suites
            .iter()
            .copied()
            .filter(|s| s.version() == &rustls::version::TLS13)
            .collect();
        suites.extend(tls12);
        provider.cipher_suites = suites;
    }
    if let Some(curves) = raw.curve_preferences.as_ref().filter(|c| !c.is_empty()) {
        use rustls::crypto::ring::kx_group;
        let mut groups: Vec<&'static dyn SupportedKxGroup> = Vec::new();
        for c in curves {
            let g: &'static dyn SupportedKxGroup = match c.trim() {
                "CurveP256" => kx_group::SECP256R1,
                "CurveP384" => kx_group::SECP384R1,
                "X25519" => kx_group::X25519,
                "CurveP521" => {
                    notes.push("tls_server_config.curve_preferences: CurveP521 is not offered by this exporter (ignored)".into());
                    continue;
                }
                other => {
                    return Err((
                        "tls_server_config.curve_preferences".into(),
                        format!("unknown curve `{other}` (expected CurveP256, CurveP384, CurveP521 or X25519)"),
                    ))
                }
            };
            if !groups.iter().any(|x| x.name() == g.name()) {
                groups.push(g);
            }
        }
        if groups.is_empty() {
            return Err((
                "tls_server_config.curve_preferences".into(),
                "none of the listed curves is supported".into(),
            ));
        }
        provider.kx_groups = groups;
    }
    let provider = Arc::new(provider);

    // Client certificates.
    let auth_type = set(&raw.client_auth_type).unwrap_or("NoClientCert");
    let ca_pem = match (set(&raw.client_ca_file), set(&raw.client_ca)) {
        (Some(f), _) => Some((
            "tls_server_config.client_ca_file",
            read_file("tls_server_config.client_ca_file", &resolve(base_dir, f))?,
        )),
        (None, Some(text)) => Some(("tls_server_config.client_ca", text.as_bytes().to_vec())),
        (None, None) => None,
    };
    let roots = match &ca_pem {
        Some((key, pem)) => {
            let mut store = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| (key.to_string(), format!("invalid PEM: {e}")))?;
                store
                    .add(cert)
                    .map_err(|e| (key.to_string(), format!("unusable CA certificate: {e}")))?;
            }
            if store.is_empty() {
                return Err((key.to_string(), "no PEM certificate found".into()));
            }
            Some(store)
        }
        None => None,
    };
    let system_roots = || -> Result<RootCertStore, KeyError> {
        let found = rustls_native_certs::load_native_certs();
        let mut store = RootCertStore::empty();
        let (added, _) = store.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err((
                "tls_server_config.client_ca_file".into(),
                format!("{auth_type} needs client_ca_file (no system CA certificates found)"),
            ));
        }
        Ok(store)
    };
    let verifier: Arc<dyn ClientCertVerifier> = match auth_type {
        "NoClientCert" => {
            if roots.is_some() {
                return Err((
                    "tls_server_config.client_auth_type".into(),
                    "client CAs are configured but client_auth_type is NoClientCert".into(),
                ));
            }
            Arc::new(NoClientAuth)
        }
        "RequestClientCert" => Arc::new(AnyClientCert::new(false, &provider)),
        "RequireAnyClientCert" | "RequireClientCert" => Arc::new(AnyClientCert::new(true, &provider)),
        "VerifyClientCertIfGiven" | "RequireAndVerifyClientCert" => {
            let store = match roots {
                Some(r) => r,
                None => {
                    notes.push(format!(
                        "tls_server_config: {auth_type} without client_ca_file verifies client certificates against the system CAs"
                    ));
                    system_roots()?
                }
            };
            let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(store), Arc::clone(&provider));
            let builder = if auth_type == "VerifyClientCertIfGiven" {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            builder.build().map_err(|e| {
                (
                    "tls_server_config.client_ca_file".to_string(),
                    format!("cannot build the client verifier: {e}"),
                )
            })?
        }
        other => {
            return Err((
                "tls_server_config.client_auth_type".into(),
                format!(
                    "invalid value `{other}` (expected NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert)"
                ),
            ))
        }
    };
    let verifier: Arc<dyn ClientCertVerifier> = match &raw.client_allowed_sans {
        None => verifier,
        Some(sans) => {
            if !matches!(
                auth_type,
                "RequireAnyClientCert" | "RequireClientCert" | "RequireAndVerifyClientCert"
            ) {
                return Err((
                    "tls_server_config.client_allowed_sans".into(),
                    "requires client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert"
                        .into(),
                ));
            }
            Arc::new(SanCheck {
                inner: verifier,
                allowed: sans.iter().map(|s| s.trim().to_string()).collect(),
            })
        }
    };

    let mut cfg = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| ("tls_server_config.min_version".to_string(), format!("{e}")))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| {
            (
                key_key.to_string(),
                format!("the certificate and the private key cannot be used together: {e}"),
            )
        })?;
    cfg.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    cfg.ignore_client_order = raw.prefer_server_cipher_suites.unwrap_or(true);
    let names: Vec<&str> = versions
        .iter()
        .map(|v| {
            if v.version == rustls::ProtocolVersion::TLSv1_3 {
                "TLS1.3"
            } else {
                "TLS1.2"
            }
        })
        .collect();
    let summary = format!("on ({}; client_auth_type {auth_type})", names.join(", "));
    Ok(Some((cfg, summary)))
}

/// `RequestClientCert` / `RequireAnyClientCert`: asks for a certificate and checks that
/// the client holds its key, but does not verify who signed it (Go's semantics).
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl AnyClientCert {
    fn new(mandatory: bool, provider: &CryptoProvider) -> AnyClientCert {
        AnyClientCert {
            mandatory,
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `client_allowed_sans`: after the inner verifier accepted the certificate, one of its
/// subject alternative names (DNS, e-mail, IP or URI) must be in the list.
#[derive(Debug)]
struct SanCheck {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

/// The subject alternative names of a DER certificate, as strings.
pub fn certificate_sans(der: &[u8]) -> Result<Vec<String>, String> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("cannot parse the client certificate: {e}"))?;
    let mut out = Vec::new();
    let san = cert
        .subject_alternative_name()
        .map_err(|e| format!("bad subjectAltName: {e}"))?;
    if let Some(san) = san {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
                    out.push(s.to_string())
                }
                GeneralName::IPAddress(bytes) => {
                    if let Ok(b) = <[u8; 4]>::try_from(*bytes) {
                        out.push(std::net::IpAddr::from(b).to_string());
                    } else if let Ok(b) = <[u8; 16]>::try_from(*bytes) {
                        out.push(std::net::IpAddr::from(b).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

impl ClientCertVerifier for SanCheck {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let sans = certificate_sans(end_entity).map_err(rustls::Error::General)?;
        if sans.iter().any(|s| self.allowed.contains(s)) {
            Ok(verified)
        } else {
            Err(rustls::Error::General(
                "client certificate has no subject alternative name listed in client_allowed_sans"
                    .into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WebSecurity, WebConfigError> {
        WebSecurity::from_yaml(text, Path::new("web.yml"), Path::new("."))
    }

    #[test]
    fn empty_and_null_files_are_plain_http() {
        for text in [
            "",
            "# nothing\n",
            "---\n",
            "tls_server_config:\nbasic_auth_users:\n",
        ] {
            let w = parse(text).unwrap();
            assert!(w.tls_config().is_none(), "{text:?}");
            assert_eq!(w.basic_auth_users(), 0);
        }
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = parse("tls_server_config:\n  cert_fil: x\n").unwrap_err();
        assert!(e.to_string().contains("cert_fil"), "{e}");
        let e = parse("basic_auth: {}\n").unwrap_err();
        assert!(e.to_string().contains("basic_auth"), "{e}");
        let e = parse("http_server_config:\n  headers:\n    X-Powered-By: me\n").unwrap_err();
        assert_eq!(e.key, "http_server_config.headers.X-Powered-By");
        let e = parse("http_server_config:\n  headers:\n    X-Frame-Options: allow\n").unwrap_err();
        assert!(e.message.contains("sameorigin"), "{e}");
    }

    #[test]
    fn bad_hashes_are_named_but_not_shown() {
        let e = parse("basic_auth_users:\n  alice: notahash-secret\n").unwrap_err();
        assert_eq!(e.key, "basic_auth_users.alice");
        assert!(!e.to_string().contains("notahash-secret"), "{e}");
        let e = parse("basic_auth_users: \"$2y$10$abc-secret\"\n").unwrap_err();
        assert!(!e.to_string().contains("abc-secret"), "{e}");
    }

    #[test]
    fn tls_needs_both_halves() {
        let e = parse("tls_server_config:\n  cert_file: a.pem\n").unwrap_err();
        assert!(e.to_string().contains("key"), "{e}");
        let e = parse("tls_server_config:\n  client_auth_type: Bogus\n  cert: x\n  key: y\n")
            .unwrap_err();
        assert!(!e.to_string().contains(": y"), "{e}");
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_go_duration("1.5h").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_go_duration("250ms").unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        for bad in ["", "1", "s", "-1s", "1x", "1..2s", "1e400h"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rate_limit_burst_must_be_positive() {
        assert!(parse("rate_limit:\n  interval: 1s\n  burst: 0\n").is_err());
        assert!(parse("rate_limit:\n  interval: 0\n")
            .unwrap()
            .limiter
            .is_none());
        let w = parse("rate_limit:\n  interval: 1h\n  burst: 2\n").unwrap();
        let l = w.limiter.as_ref().unwrap();
        assert!(l.allow() && l.allow() && !l.allow());
    }

    #[test]
    fn credentials_are_parsed() {
        let mut h = HeaderMap::new();
        let v = base64::engine::general_purpose::STANDARD.encode("bob:pa:ss");
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("basic {v}")).unwrap(),
        );
        assert_eq!(
            basic_credentials(&h),
            Some(("bob".into(), b"pa:ss".to_vec()))
        );
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(basic_credentials(&h), None);
        h.insert(AUTHORIZATION, HeaderValue::from_static("Basic !!!"));
        assert_eq!(basic_credentials(&h), None);
    }

    #[test]
    fn debug_output_hides_secrets() {
        let hash = bcrypt::hash("pw", 4).unwrap();
        let w = parse(&format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
        let dbg = format!("{w:?}");
        assert!(!dbg.contains(&hash), "{dbg}");
    }

    #[tokio::test]
    async fn basic_auth_checks_and_caches() {
        let hash = bcrypt::hash("right", 4).unwrap();
        let w = parse(&format!(
            "basic_auth_users:\n  alice: '{hash}'\n  bob: '{hash}'\n"
        ))
        .unwrap();
        let header = |u: &str, p: &str| {
            let mut h = HeaderMap::new();
            let v = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            h.insert(
                AUTHORIZATION,
                HeaderValue::from_str(&format!("Basic {v}")).unwrap(),
            );
            h
        };
        assert_eq!(w.check(&HeaderMap::new()).await, Access::Unauthorized);
        assert_eq!(
            w.check(&header("alice", "wrong")).await,
            Access::Unauthorized
        );
        assert_eq!(w.check(&header("alice", "right")).await, Access::Allowed);
        assert_eq!(w.check(&header("alice", "right")).await, Access::Allowed);
        assert_eq!(w.auth.as_ref().unwrap().cache.lock().len(), 1);
        // An unknown user with a known user's password is refused.
        assert_eq!(
            w.check(&header("mallory", "right")).await,
            Access::Unauthorized
        );
        assert_eq!(w.auth.as_ref().unwrap().cache.lock().len(), 1);
    }
}
