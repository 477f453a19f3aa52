//! `http_server_config`: whether HTTP/2 may be negotiated, and the security headers
//! the exporter-toolkit lets a user add to every response.

use std::collections::BTreeMap;

use http::header::{HeaderName, HeaderValue};
use serde::Deserialize;

use super::KeyError;

/// `http_server_config` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    /// Whether HTTP/2 may be negotiated (default true).
    #[serde(default)]
    pub(super) http2: Option<bool>,
    /// Header name → value; blank or null is unset.
    #[serde(default)]
    pub(super) headers: Option<BTreeMap<String, Option<String>>>,
}

/// The headers the exporter-toolkit lets a user set, with their allowed values (empty:
/// any value).
const ALLOWED_HEADERS: [(&str, &[&str]); 5] = [
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// The configured response headers, checked against [`ALLOWED_HEADERS`]; a blank value
/// is left out.
pub(super) fn headers(
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
