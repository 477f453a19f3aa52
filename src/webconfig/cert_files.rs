//! The server certificate and key from `cert_file` and `key_file`, read again when
//! either file changes (cert-manager rotating a Secret, an operator copying new files).
//!
//! Every TLS handshake compares the two files' modification time, size and inode with
//! the ones last loaded (two `stat` calls); only a change reads and parses the files.
//! A pair that does not load (a half-written rotation, a key that does not match the
//! certificate) is logged once and the previous certificate keeps serving until the
//! files change again. Open connections are never touched: the certificate only
//! matters to new handshakes.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::Mutex;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// What identifies one version of a file: modification time, size, inode.
type FileStamp = Option<(SystemTime, u64, u64)>;

/// The stamps of the certificate and key files.
type Stamp = (FileStamp, FileStamp);

fn file_stamp(path: &Path) -> FileStamp {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some((meta.modified().ok()?, meta.len(), inode))
}

/// Why a certificate and key pair could not be loaded (never quotes the key).
#[derive(Debug)]
pub(super) enum LoadError {
    /// The certificate file is unreadable or holds no PEM certificate.
    Cert(String),
    /// The key file is unreadable or holds no usable key.
    Key(String),
    /// The two do not belong together.
    Mismatch(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Cert(m) | LoadError::Key(m) | LoadError::Mismatch(m) => f.write_str(m),
        }
    }
}

/// Reads and checks the pair at `cert_path` and `key_path`.
pub(super) fn load_pair(
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, LoadError> {
    let cert_pem = std::fs::read(cert_path)
        .map_err(|e| LoadError::Cert(format!("cannot read {}: {e}", cert_path.display())))?;
    let key_pem = std::fs::read(key_path)
        .map_err(|e| LoadError::Key(format!("cannot read {}: {e}", key_path.display())))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| LoadError::Cert(format!("invalid PEM: {e}")))?;
    if chain.is_empty() {
        return Err(LoadError::Cert("no PEM certificate found".into()));
    }
    // The key's own parse error is not shown: it could quote part of the key.
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| {
        LoadError::Key("no usable PEM private key found (PKCS#8, PKCS#1 or SEC1)".into())
    })?;
    CertifiedKey::from_der(chain, key, provider).map_err(|e| {
        LoadError::Mismatch(format!(
            "the certificate and the private key cannot be used together: {e}"
        ))
    })
}

/// The last loaded pair and what it was loaded from.
struct Current {
    stamp: Stamp,
    key: Arc<CertifiedKey>,
    /// The stamp of files that failed to load (logged once, retried when they change).
    failed: Option<Stamp>,
}

/// A certificate resolver serving the pair in two files, reloaded when they change.
pub(super) struct CertFiles {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: Mutex<Current>,
}

impl fmt::Debug for CertFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertFiles")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

impl CertFiles {
    /// Loads the pair once (an error stops start-up or the reload).
    pub(super) fn new(
        cert_path: PathBuf,
        key_path: PathBuf,
        provider: Arc<CryptoProvider>,
    ) -> Result<CertFiles, LoadError> {
        let stamp = (file_stamp(&cert_path), file_stamp(&key_path));
        let key = Arc::new(load_pair(&cert_path, &key_path, &provider)?);
        Ok(CertFiles {
            cert_path,
            key_path,
            provider,
            current: Mutex::new(Current {
                stamp,
                key,
                failed: None,
            }),
        })
    }

    /// The pair to serve now: the files are read again when they changed.
    fn key(&self) -> Arc<CertifiedKey> {
        let stamp = (file_stamp(&self.cert_path), file_stamp(&self.key_path));
        let mut current = self.current.lock();
        if stamp == current.stamp || current.failed == Some(stamp) {
            return Arc::clone(&current.key);
        }
        match load_pair(&self.cert_path, &self.key_path, &self.provider) {
            Ok(key) => {
                tracing::info!(cert_file = %self.cert_path.display(), "TLS certificate reloaded");
                current.key = Arc::new(key);
                current.stamp = stamp;
                current.failed = None;
            }
            Err(e) => {
                tracing::warn!(cert_file = %self.cert_path.display(), error = %e,
                    "TLS certificate files changed but do not load; the previous certificate keeps serving");
                current.failed = Some(stamp);
            }
        }
        Arc::clone(&current.key)
    }
}

impl ResolvesServerCert for CertFiles {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replaces `path` in one step, as a Secret volume update does (a new inode).
    fn replace(path: &Path, text: &str) {
        let tmp = path.with_extension("new");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, path).unwrap();
    }

    fn pair(name: &str) -> (String, String) {
        let c = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
        (c.cert.pem(), c.signing_key.serialize_pem())
    }

    #[test]
    fn a_changed_pair_is_served_and_a_broken_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
        let (c1, k1) = pair("one.test");
        replace(&cert, &c1);
        replace(&key, &k1);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let files = CertFiles::new(cert.clone(), key.clone(), provider).unwrap();
        let first = files.key();
        assert!(
            Arc::ptr_eq(&first, &files.key()),
            "unchanged files are not re-read"
        );

        // Half a rotation: a new certificate with the old key is refused, the old pair
        // keeps serving.
        let (c2, k2) = pair("two.test");
        replace(&cert, &c2);
        assert_eq!(files.key().cert, first.cert);

        // The rotation completes.
        replace(&key, &k2);
        let second = files.key();
        assert_ne!(second.cert, first.cert);
        let der = CertificateDer::from_pem_slice(c2.as_bytes()).unwrap();
        assert_eq!(second.cert[0], der);

        // Files removed: the last good pair stays.
        std::fs::remove_file(&cert).unwrap();
        assert_eq!(files.key().cert, second.cert);
    }
}
