//! The one error type of calls to Arroyo (REST API and controller RPC): a bounded
//! [`ErrorKind`], which every decision and the `kind` label use, and a message for the
//! log, which nothing decides on.

use std::fmt;

/// Why a call to Arroyo failed, as a bounded set. [`ErrorKind::as_str`] is the value
/// of the `kind` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// No answer before a deadline (client timeout, gRPC `DEADLINE_EXCEEDED`, scrape deadline).
    Timeout,
    /// The TCP (or TLS) connection could not be made.
    Connect,
    /// Any other HTTP transport failure.
    HttpTransport,
    /// HTTP 401.
    Http401,
    /// HTTP 403.
    Http403,
    /// HTTP 404.
    Http404,
    /// HTTP 429.
    Http429,
    /// Another HTTP 4xx status.
    Http4xx,
    /// HTTP 500.
    Http500,
    /// HTTP 502.
    Http502,
    /// HTTP 503.
    Http503,
    /// HTTP 504.
    Http504,
    /// Another non-success HTTP status.
    Http5xx,
    /// The answer could not be decoded.
    Decode,
    /// The answer is larger than the configured maximum.
    TooLarge,
    /// The pipeline list's pages did not chain.
    Pagination,
    /// The call could not be built from the configuration.
    Config,
    /// The exporter's own task for the call failed.
    Internal,
    /// The job's pipeline is unknown, so the REST bridge cannot be asked.
    NoPipeline,
    /// gRPC `UNAVAILABLE`.
    GrpcUnavailable,
    /// gRPC `UNIMPLEMENTED`.
    GrpcUnimplemented,
    /// gRPC `FAILED_PRECONDITION`.
    GrpcFailedPrecondition,
    /// gRPC `UNAUTHENTICATED`.
    GrpcUnauthenticated,
    /// gRPC `PERMISSION_DENIED`.
    GrpcPermissionDenied,
    /// gRPC `CANCELLED`.
    GrpcCancelled,
    /// gRPC `INTERNAL`.
    GrpcInternal,
    /// gRPC `UNKNOWN`.
    GrpcUnknown,
    /// Any other gRPC status.
    GrpcOther,
}

impl ErrorKind {
    /// Every kind.
    pub const ALL: [ErrorKind; 28] = [
        ErrorKind::Timeout,
        ErrorKind::Connect,
        ErrorKind::HttpTransport,
        ErrorKind::Http401,
        ErrorKind::Http403,
        ErrorKind::Http404,
        ErrorKind::Http429,
        ErrorKind::Http4xx,
        ErrorKind::Http500,
        ErrorKind::Http502,
        ErrorKind::Http503,
        ErrorKind::Http504,
        ErrorKind::Http5xx,
        ErrorKind::Decode,
        ErrorKind::TooLarge,
        ErrorKind::Pagination,
        ErrorKind::Config,
        ErrorKind::Internal,
        ErrorKind::NoPipeline,
        ErrorKind::GrpcUnavailable,
        ErrorKind::GrpcUnimplemented,
        ErrorKind::GrpcFailedPrecondition,
        ErrorKind::GrpcUnauthenticated,
        ErrorKind::GrpcPermissionDenied,
        ErrorKind::GrpcCancelled,
        ErrorKind::GrpcInternal,
        ErrorKind::GrpcUnknown,
        ErrorKind::GrpcOther,
    ];

    /// The value of the `kind` label.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connect => "connect",
            ErrorKind::HttpTransport => "http_transport",
            ErrorKind::Http401 => "http_401",
            ErrorKind::Http403 => "http_403",
            ErrorKind::Http404 => "http_404",
            ErrorKind::Http429 => "http_429",
            ErrorKind::Http4xx => "http_4xx",
            ErrorKind::Http500 => "http_500",
            ErrorKind::Http502 => "http_502",
            ErrorKind::Http503 => "http_503",
            ErrorKind::Http504 => "http_504",
            ErrorKind::Http5xx => "http_5xx",
            ErrorKind::Decode => "decode",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::Pagination => "pagination",
            ErrorKind::Config => "config",
            ErrorKind::Internal => "internal",
            ErrorKind::NoPipeline => "no_pipeline",
            ErrorKind::GrpcUnavailable => "grpc_unavailable",
            ErrorKind::GrpcUnimplemented => "grpc_unimplemented",
            ErrorKind::GrpcFailedPrecondition => "grpc_failed_precondition",
            ErrorKind::GrpcUnauthenticated => "grpc_unauthenticated",
            ErrorKind::GrpcPermissionDenied => "grpc_permission_denied",
            ErrorKind::GrpcCancelled => "grpc_cancelled",
            ErrorKind::GrpcInternal => "grpc_internal",
            ErrorKind::GrpcUnknown => "grpc_unknown",
            ErrorKind::GrpcOther => "grpc_other",
        }
    }

    /// Whether the upstream itself answered (as opposed to not being reachable in time):
    /// a bad document or a refusal still means the source is up.
    pub fn answered(self) -> bool {
        matches!(
            self,
            ErrorKind::Decode | ErrorKind::TooLarge | ErrorKind::GrpcFailedPrecondition
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a call to Arroyo failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct UpstreamError {
    /// The bounded kind: decisions and the `kind` label use this.
    pub kind: ErrorKind,
    /// Human-readable detail for the log (never holds a token).
    pub message: String,
}

impl UpstreamError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> UpstreamError {
        UpstreamError {
            kind,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_distinct_and_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for k in ErrorKind::ALL {
            let s = k.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(s
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
        }
    }

    #[test]
    fn only_answers_count_as_answered() {
        let answered: Vec<&str> = ErrorKind::ALL
            .into_iter()
            .filter(|k| k.answered())
            .map(ErrorKind::as_str)
            .collect();
        assert_eq!(
            answered,
            ["decode", "too_large", "grpc_failed_precondition"]
        );
    }
}
