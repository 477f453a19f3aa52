//! The client-certificate side of `tls_server_config`: the `client_auth_type` policy,
//! the client CAs (`client_ca_file` / `client_ca`, or the system's), the
//! `client_allowed_sans` check, and the verifiers that implement Go's semantics.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{NoClientAuth, WebPkiClientVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};

use super::files::file_or_inline;
use super::tls::{set, RawTls};
use super::KeyError;

/// The client-certificate verifier `raw` asks for, and the `client_auth_type` in force
/// (for the start-up summary).
pub(super) fn verifier<'r>(
    raw: &'r RawTls,
    base_dir: &Path,
    provider: &Arc<CryptoProvider>,
    notes: &mut Vec<String>,
) -> Result<(Arc<dyn ClientCertVerifier>, &'r str), KeyError> {
    let auth_type = set(&raw.client_auth_type).unwrap_or("NoClientCert");
    let roots = client_roots(raw, base_dir)?;
    let verifier = policy(auth_type, roots, provider, notes)?;
    let verifier = with_allowed_sans(verifier, auth_type, raw.client_allowed_sans.as_deref())?;
    Ok((verifier, auth_type))
}

/// The configured client CAs (a file wins over inline text), `None` when none is set.
fn client_roots(raw: &RawTls, base_dir: &Path) -> Result<Option<RootCertStore>, KeyError> {
    let ca_pem = file_or_inline(
        base_dir,
        ("tls_server_config.client_ca_file", set(&raw.client_ca_file)),
        (
            "tls_server_config.client_ca",
            set(&raw.client_ca).map(|text| text.as_bytes().to_vec()),
        ),
    )?;
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
    Ok(roots)
}

/// The system's CA certificates, for a verifying `auth_type` without client CAs.
fn system_roots(auth_type: &str) -> Result<RootCertStore, KeyError> {
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
}

/// The verifier of the `client_auth_type` policy `auth_type`, with the client CAs
/// `roots` (the system's when a verifying policy has none).
fn policy(
    auth_type: &str,
    roots: Option<RootCertStore>,
    provider: &Arc<CryptoProvider>,
    notes: &mut Vec<String>,
) -> Result<Arc<dyn ClientCertVerifier>, KeyError> {
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
        "RequestClientCert" => Arc::new(AnyClientCert::new(false, provider)),
        "RequireAnyClientCert" | "RequireClientCert" => Arc::new(AnyClientCert::new(true, provider)),
        "VerifyClientCertIfGiven" | "RequireAndVerifyClientCert" => {
            let store = match roots {
                Some(r) => r,
                None => {
                    notes.push(format!(
                        "tls_server_config: {auth_type} without client_ca_file verifies client certificates against the system CAs"
                    ));
                    system_roots(auth_type)?
                }
            };
            let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(store), Arc::clone(provider));
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
    Ok(verifier)
}

/// `verifier` with the `client_allowed_sans` check on top, when a list is set; only a
/// policy that requires a certificate may have one.
fn with_allowed_sans(
    verifier: Arc<dyn ClientCertVerifier>,
    auth_type: &str,
    allowed_sans: Option<&[String]>,
) -> Result<Arc<dyn ClientCertVerifier>, KeyError> {
    let verifier: Arc<dyn ClientCertVerifier> = match allowed_sans {
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
    Ok(verifier)
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
