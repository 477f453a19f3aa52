//! What a failed upstream call tells the person reading the log: the whole cause (an
//! HTTP or gRPC library's top-level error says only "error sending request" or "tcp
//! connect error"; the reason sits in its sources) and which setting to look at.

use std::error::Error;

use crate::arroyo::error::ErrorKind;

/// `url` as it may be shown in logs and pages: without user, password or query.
pub fn redact_url(url: &url::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.to_string()
}

/// The error and every source below it, joined with `: `; a source whose text the
/// level above already holds is left out.
pub fn cause_chain(e: &dyn Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

/// What to check when a call to Arroyo's REST API failed with `kind`.
pub fn api(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Connect => {
            "nothing answers there: check that Arroyo runs and that api.endpoint is its API \
             (port 5115 by default, 80 in Arroyo's Helm chart)"
        }
        ErrorKind::Timeout => {
            "no answer in time: raise api.timeout or the scrape timeout, or check the network"
        }
        ErrorKind::Http401 | ErrorKind::Http403 => {
            "the API refuses the request: set api.token-file (or api.token) to a valid bearer token"
        }
        ErrorKind::Http404 => "not found: api.endpoint should be the API's root, without /api/v1",
        ErrorKind::Decode => {
            "the answer is not Arroyo's JSON: check that api.endpoint points at Arroyo's API"
        }
        ErrorKind::TooLarge => "the answer is larger than api.max-response-size: raise it",
        ErrorKind::HttpTransport => {
            "the connection failed: check the scheme of api.endpoint and api.tls.*"
        }
        _ => "see the error; api.endpoint and api.* configure this call",
    }
}

/// What to check when a `JobMetrics` call to the controller failed with `kind`.
pub fn controller(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::GrpcUnavailable => {
            "nothing answers there: check that Arroyo's controller runs and that \
             controller.endpoint is its gRPC port (5116 by default and in Arroyo's Helm chart)"
        }
        ErrorKind::Timeout => {
            "no answer in time: raise controller.timeout or the scrape timeout (large jobs \
             send tens of MB)"
        }
        ErrorKind::GrpcUnimplemented => {
            "the server has no JobMetrics method: check that controller.endpoint is Arroyo's \
             controller and that controller.service is auto"
        }
        ErrorKind::TooLarge => "the answer is larger than controller.max-message-size: raise it",
        ErrorKind::GrpcUnauthenticated | ErrorKind::GrpcPermissionDenied => {
            "the controller refuses the call: check controller.tls.* (client certificate)"
        }
        ErrorKind::GrpcFailedPrecondition => {
            "the server is a leader worker of another job: point controller.endpoint at the \
             controller, or use scrape.metrics-source = \"rest\""
        }
        ErrorKind::Decode => "the document is not Arroyo's metrics JSON; see the error",
        _ => "see the error; controller.endpoint and controller.* configure this call",
    }
}

/// What to check when a call to Arroyo's admin port (`/details`) failed with `kind`.
pub fn admin(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Connect => {
            "nothing answers there: check that admin.endpoint is Arroyo's admin port (5114 by \
             default and in Arroyo's Helm chart), or set it to \"\" to turn the admin \
             collector off"
        }
        ErrorKind::Timeout => "no answer in time: raise admin.timeout",
        ErrorKind::Http401 | ErrorKind::Http403 => {
            "the admin port refuses the request: set admin.token-file (or admin.token)"
        }
        ErrorKind::Http404 | ErrorKind::Decode => {
            "the answer is not Arroyo's /details: check that admin.endpoint is Arroyo's admin \
             port, without a path"
        }
        _ => "see the error; admin.endpoint and admin.* configure this call",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|l| l as &(dyn Error + 'static))
        }
    }

    #[test]
    fn the_chain_names_the_root_cause_once() {
        let e = Layer(
            "error sending request",
            Some(Box::new(Layer(
                "tcp connect error",
                Some(Box::new(Layer("Connection refused (os error 111)", None))),
            ))),
        );
        assert_eq!(
            cause_chain(&e),
            "error sending request: tcp connect error: Connection refused (os error 111)"
        );
        let repeated = Layer(
            "tcp connect error: Connection refused",
            Some(Box::new(Layer("Connection refused", None))),
        );
        assert_eq!(
            cause_chain(&repeated),
            "tcp connect error: Connection refused"
        );
    }

    #[test]
    fn hints_name_the_setting_to_change() {
        assert!(api(ErrorKind::Connect).contains("api.endpoint"));
        assert!(api(ErrorKind::Http401).contains("api.token-file"));
        assert!(controller(ErrorKind::GrpcUnavailable).contains("controller.endpoint"));
        assert!(controller(ErrorKind::TooLarge).contains("controller.max-message-size"));
        assert!(controller(ErrorKind::GrpcOther).contains("controller.endpoint"));
        assert!(admin(ErrorKind::Connect).contains("admin.endpoint"));
        assert!(admin(ErrorKind::Http401).contains("admin.token-file"));
    }
}
