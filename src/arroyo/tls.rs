//! Client TLS material (`controller.tls.*`, `api.tls.*`) read from its PEM files in one
//! place for both clients; errors name the setting and the file.

use crate::config::ClientTlsConfig;

/// The PEM bytes named by one `*.tls` section.
#[derive(Debug, Clone, Default)]
pub struct ClientTlsMaterial {
    /// Extra root certificate(s) (`ca-file`); `None` means the system's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Client certificate and key (`cert-file`, `key-file`), when both are set.
    pub identity: Option<ClientIdentity>,
}

/// A client certificate chain and its private key, as PEM.
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    /// The certificate chain (`cert-file`).
    pub cert_pem: Vec<u8>,
    /// The private key (`key-file`).
    pub key_pem: Vec<u8>,
}

/// Reads the files of `cfg`; `section` (`api`, `controller`) prefixes the setting
/// names in errors, e.g. `api.tls.ca-file /path: No such file or directory`.
/// Configuration validation requires `cert-file` and `key-file` together.
pub fn load(section: &str, cfg: &ClientTlsConfig) -> Result<ClientTlsMaterial, String> {
    let read = |key: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("{section}.tls.{key} {}: {e}", path.display()))
    };
    let ca_pem = match &cfg.ca_file {
        Some(path) => Some(read("ca-file", path)?),
        None => None,
    };
    let identity = match (&cfg.cert_file, &cfg.key_file) {
        (Some(cert), Some(key)) => Some(ClientIdentity {
            cert_pem: read("cert-file", cert)?,
            key_pem: read("key-file", key)?,
        }),
        _ => None,
    };
    Ok(ClientTlsMaterial { ca_pem, identity })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_setting_and_the_file() {
        let cfg = ClientTlsConfig {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..ClientTlsConfig::default()
        };
        let e = load("api", &cfg).unwrap_err();
        assert!(
            e.starts_with("api.tls.ca-file /nonexistent/ca.pem: "),
            "{e}"
        );
    }

    #[test]
    fn nothing_set_reads_nothing() {
        let m = load("controller", &ClientTlsConfig::default()).unwrap();
        assert!(m.ca_pem.is_none() && m.identity.is_none());
    }
}
