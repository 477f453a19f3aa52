//! `basic_auth_users`: users and their bcrypt hashes, the check of an
//! `Authorization: Basic …` header, and the cache of checks that succeeded.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use base64::Engine as _;
use http::header::AUTHORIZATION;
use http::HeaderMap;
use parking_lot::Mutex;

use super::KeyError;

/// Users and their bcrypt hashes, with a cache of successful checks.
pub(super) struct BasicAuth {
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
    /// The users `v` (the `basic_auth_users` value) lists; `None` when it lists none.
    pub(super) fn from_value(v: &serde_norway::Value) -> Result<Option<BasicAuth>, KeyError> {
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

    /// Number of users.
    pub(super) fn users(&self) -> usize {
        self.users.len()
    }

    /// Whether `headers` carry the right password of a known user. Checks run one at a
    /// time on the blocking pool; a successful one is cached.
    pub(super) async fn verify(&self, headers: &HeaderMap) -> bool {
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

/// The cache key of a check: SHA-256 of (user, hash, password), each length-prefixed.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webconfig::tests::parse;
    use crate::webconfig::Access;
    use http::header::HeaderValue;

    #[test]
    fn bad_hashes_are_named_but_not_shown() {
        let e = parse("basic_auth_users:\n  alice: notahash-secret\n").unwrap_err();
        assert_eq!(e.key, "basic_auth_users.alice");
        assert!(!e.to_string().contains("notahash-secret"), "{e}");
        let e = parse("basic_auth_users: \"$2y$10$abc-secret\"\n").unwrap_err();
        assert!(!e.to_string().contains("abc-secret"), "{e}");
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
