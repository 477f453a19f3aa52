//! `tls_server_config`: the rustls server configuration, built in steps: the inline
//! key, the certificate chain and private key, the protocol versions, the cipher suites
//! and curves, the client-certificate policy (in `client_auth.rs`), and the assembly.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::{ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

use super::cert_files::{CertFiles, LoadError};
use super::files::{file_or_inline, resolve};
use super::{client_auth, KeyError};

/// `tls_server_config` as written.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    #[serde(default)]
    pub(super) cert: Option<String>,
    /// Read as a raw value so that a type error cannot echo the key into a message.
    #[serde(default)]
    pub(super) key: Option<serde_norway::Value>,
    #[serde(default)]
    pub(super) client_ca: Option<String>,
    #[serde(default)]
    pub(super) cert_file: Option<String>,
    #[serde(default)]
    pub(super) key_file: Option<String>,
    #[serde(default)]
    pub(super) client_auth_type: Option<String>,
    #[serde(default)]
    pub(super) client_ca_file: Option<String>,
    #[serde(default)]
    pub(super) client_allowed_sans: Option<Vec<String>>,
    #[serde(default)]
    pub(super) min_version: Option<String>,
    #[serde(default)]
    pub(super) max_version: Option<String>,
    #[serde(default)]
    pub(super) cipher_suites: Option<Vec<String>>,
    #[serde(default)]
    pub(super) prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    pub(super) curve_preferences: Option<Vec<String>>,
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

/// A text setting, trimmed; `None` when not set or blank.
pub(super) fn set(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Builds the rustls server configuration `raw` asks for, with a one-line summary for
/// the start-up log; `None` when `raw` sets nothing that turns TLS on. Settings that are
/// accepted but mean something else here are explained in `notes`.
pub(super) fn build_tls(
    raw: &RawTls,
    base_dir: &Path,
    http2: bool,
    notes: &mut Vec<String>,
) -> Result<Option<(ServerConfig, String)>, KeyError> {
    let inline_key = inline_key(raw)?;
    if !is_enabled(raw, inline_key.is_some()) {
        return Ok(None);
    }
    let (key_key, chain, key) = certificate_and_key(raw, inline_key, base_dir)?;
    let mut versions = protocol_versions(raw, notes)?;
    let provider = Arc::new(crypto_provider(raw, &mut versions, notes)?);
    let (verifier, auth_type) = client_auth::verifier(raw, base_dir, &provider, notes)?;

    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| ("tls_server_config.min_version".to_string(), format!("{e}")))?
        .with_client_cert_verifier(verifier);
    let mismatch = |e: String| {
        (
            key_key.to_string(),
            format!("the certificate and the private key cannot be used together: {e}"),
        )
    };
    // Both halves in files: served through a resolver that reads them again when they
    // change (certificate rotation without a restart). Inline text cannot change.
    let mut cfg = match (set(&raw.cert_file), set(&raw.key_file)) {
        (Some(cert_file), Some(key_file)) => {
            let files = CertFiles::new(
                resolve(base_dir, cert_file),
                resolve(base_dir, key_file),
                Arc::clone(&provider),
            )
            .map_err(|e| match e {
                LoadError::Cert(m) => ("tls_server_config.cert_file".to_string(), m),
                LoadError::Key(m) => ("tls_server_config.key_file".to_string(), m),
                LoadError::Mismatch(m) => (key_key.to_string(), m),
            })?;
            drop((chain, key));
            builder.with_cert_resolver(Arc::new(files))
        }
        _ => builder
            .with_single_cert(chain, key)
            .map_err(|e| mismatch(e.to_string()))?,
    };
    cfg.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    cfg.ignore_client_order = raw.prefer_server_cipher_suites.unwrap_or(true);
    Ok(Some((cfg, summary(&versions, auth_type))))
}

/// The inline `key`, when set: a PEM string (read as a raw value so that a type error
/// cannot echo the key into a message).
fn inline_key(raw: &RawTls) -> Result<Option<Vec<u8>>, KeyError> {
    match &raw.key {
        None | Some(serde_norway::Value::Null) => Ok(None),
        Some(serde_norway::Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(serde_norway::Value::String(s)) => Ok(Some(s.as_bytes().to_vec())),
        Some(_) => Err((
            "tls_server_config.key".into(),
            "must be a PEM string".into(),
        )),
    }
}

/// Whether TLS is on: any certificate, key or client-authentication setting is set.
fn is_enabled(raw: &RawTls, has_inline_key: bool) -> bool {
    set(&raw.cert_file).is_some()
        || set(&raw.cert).is_some()
        || set(&raw.key_file).is_some()
        || has_inline_key
        || set(&raw.client_ca_file).is_some()
        || set(&raw.client_ca).is_some()
        || set(&raw.client_auth_type).is_some()
}

/// The certificate chain and the private key (a file wins over inline text, as in the
/// toolkit), with the key the private key came from.
fn certificate_and_key(
    raw: &RawTls,
    inline_key: Option<Vec<u8>>,
    base_dir: &Path,
) -> Result<
    (
        &'static str,
        Vec<CertificateDer<'static>>,
        PrivateKeyDer<'static>,
    ),
    KeyError,
> {
    let (cert_key, cert_pem) = file_or_inline(
        base_dir,
        ("tls_server_config.cert_file", set(&raw.cert_file)),
        (
            "tls_server_config.cert",
            set(&raw.cert).map(|text| text.as_bytes().to_vec()),
        ),
    )?
    .ok_or_else(|| {
        (
            "tls_server_config.cert_file".to_string(),
            "missing one of cert or cert_file".to_string(),
        )
    })?;
    let (key_key, key_pem) = file_or_inline(
        base_dir,
        ("tls_server_config.key_file", set(&raw.key_file)),
        ("tls_server_config.key", inline_key),
    )?
    .ok_or_else(|| {
        (
            "tls_server_config.key_file".to_string(),
            "missing one of key or key_file".to_string(),
        )
    })?;
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
    Ok((key_key, chain, key))
}

/// The protocol versions from `min_version` and `max_version`: TLS 1.2 and 1.3 only, a
/// lower minimum served as TLS 1.2 (with a note).
fn protocol_versions(
    raw: &RawTls,
    notes: &mut Vec<String>,
) -> Result<Vec<&'static SupportedProtocolVersion>, KeyError> {
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
    Ok(versions)
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

/// The ring provider with the configured cipher suites and curves. A suite list with no
/// usable TLS 1.2 suite turns TLS 1.2 off in `versions` (when TLS 1.3 is on).
fn crypto_provider(
    raw: &RawTls,
    versions: &mut Vec<&'static SupportedProtocolVersion>,
    notes: &mut Vec<String>,
) -> Result<CryptoProvider, KeyError> {
    let mut provider: CryptoProvider = rustls::crypto::ring::default_provider();
    if let Some(names) = raw.cipher_suites.as_ref().filter(|n| !n.is_empty()) {
        provider.cipher_suites = cipher_suites(names, &provider, versions, notes)?;
    }
    if let Some(curves) = raw.curve_preferences.as_ref().filter(|c| !c.is_empty()) {
        provider.kx_groups = key_exchange_groups(curves, notes)?;
    }
    Ok(provider)
}

/// The suites for `cipher_suites` (Go names): the provider's TLS 1.3 suites (fixed, as in
/// Go), then the listed TLS 1.2 suites that rustls offers, in the listed order.
fn cipher_suites(
    names: &[String],
    provider: &CryptoProvider,
    versions: &mut Vec<&'static SupportedProtocolVersion>,
    notes: &mut Vec<String>,
) -> Result<Vec<SupportedCipherSuite>, KeyError> {
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
        if !versions
            .iter()
            .any(|v| v.version == rustls::ProtocolVersion::TLSv1_3)
        {
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
    Ok(suites)
}

/// The key-exchange groups for `curve_preferences` (Go names), in the listed order.
fn key_exchange_groups(
    curves: &[String],
    notes: &mut Vec<String>,
) -> Result<Vec<&'static dyn SupportedKxGroup>, KeyError> {
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
                    format!(
                    "unknown curve `{other}` (expected CurveP256, CurveP384, CurveP521 or X25519)"
                ),
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
    Ok(groups)
}

/// The start-up log's description of the TLS setup.
fn summary(versions: &[&'static SupportedProtocolVersion], auth_type: &str) -> String {
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
    format!("on ({}; client_auth_type {auth_type})", names.join(", "))
}

#[cfg(test)]
mod tests {
    use crate::webconfig::tests::parse;

    #[test]
    fn tls_needs_both_halves() {
        let e = parse("tls_server_config:\n  cert_file: a.pem\n").unwrap_err();
        assert!(e.to_string().contains("key"), "{e}");
        let e = parse("tls_server_config:\n  client_auth_type: Bogus\n  cert: x\n  key: y\n")
            .unwrap_err();
        assert!(!e.to_string().contains(": y"), "{e}");
    }
}
