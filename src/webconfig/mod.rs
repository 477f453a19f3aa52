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
//! The file is read at start-up and again on a configuration reload (SIGHUP,
//! `POST /-/reload`); the certificate and key files are also read again by themselves
//! when they change (`cert_files.rs`), so a rotated certificate serves new connections
//! without a reload and without dropping open ones.
//!
//! This file holds [`WebSecurity`], the loading of the YAML and the errors; the other
//! files follow the top-level keys: `tls.rs` (`tls_server_config`: versions, cipher
//! suites, curves, certificate and key) with `client_auth.rs` (its client-certificate
//! policy and verifiers), `http_server.rs` (`http_server_config`), `basic_auth.rs`
//! (`basic_auth_users`: bcrypt checks and their cache), `rate_limit.rs` (`rate_limit`
//! and Go durations); `files.rs` resolves and reads the files the configuration names.

mod basic_auth;
mod cert_files;
mod client_auth;
mod files;
mod http_server;
mod rate_limit;
mod tls;

pub use client_auth::certificate_sans;
pub use rate_limit::parse_go_duration;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
use rustls::ServerConfig;
use serde::Deserialize;

use basic_auth::BasicAuth;
use http_server::RawHttp;
use rate_limit::{RateLimiter, RawRateLimit};
use tls::RawTls;

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

/// A problem with one key: the dotted key and the message (the file is added by
/// [`WebSecurity::from_yaml`]).
type KeyError = (String, String);

// ---------------------------------------------------------------------------------------
// The file as written (every key optional; YAML `null` is "not set"); each section's
// own struct is in the section's file.

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
                &self.auth.as_ref().map_or(0, |a| a.users()),
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
            out.headers =
                http_server::headers(http.headers.as_ref()).map_err(|(k, m)| err(&k, m))?;
        }
        if let Some(users) = &raw.basic_auth_users {
            out.auth = BasicAuth::from_value(users).map_err(|(k, m)| err(&k, m))?;
        }
        if let Some(rl) = &raw.rate_limit {
            out.limiter = RateLimiter::from_raw(rl).map_err(|(k, m)| err(&k, m))?;
        }
        if let Some(tls) = &raw.tls_server_config {
            if let Some((cfg, summary)) = tls::build_tls(tls, base_dir, out.http2, &mut out.notes)
                .map_err(|(k, m)| err(&k, m))?
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

    /// Serves without TLS (a reload may not turn TLS on: it is kept off).
    pub fn drop_tls(&mut self) {
        self.tls = None;
    }

    /// Serves with `tls` (a reload may not turn TLS off: the old one is kept).
    pub fn set_tls(&mut self, tls: Arc<ServerConfig>) {
        self.tls = Some(tls);
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
        self.auth.as_ref().map_or(0, |a| a.users())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` validated as `web.yml` in the current directory.
    pub(super) fn parse(text: &str) -> Result<WebSecurity, WebConfigError> {
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
    fn debug_output_hides_secrets() {
        let hash = bcrypt::hash("pw", 4).unwrap();
        let w = parse(&format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
        let dbg = format!("{w:?}");
        assert!(!dbg.contains(&hash), "{dbg}");
    }
}
