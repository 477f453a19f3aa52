//! The controller's `JobMetrics` RPC (tonic), for both service generations.
//!
//! One lazily connected channel is shared by every call; tonic reconnects it after the
//! controller restarts. Responses may be zstd or gzip compressed; requests are always
//! sent uncompressed (see [`RpcClient::call`]).

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tonic::codec::CompressionEncoding;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Request, Status};

use crate::arroyo::error::{ErrorKind, UpstreamError};
use crate::arroyo::pb::JobMetricsReq;
use crate::config::{ControllerConfig, ControllerService};

/// The answer of one successful call.
#[derive(Debug, Clone, PartialEq)]
pub enum RpcAnswer {
    /// The JSON document (`JobMetricsResp.metrics`), checked to be UTF-8, still in
    /// tonic's receive buffer.
    Document(bytes::Bytes),
    /// `NOT_FOUND`: the controller has no metrics for this job now.
    NotFound,
}

/// `JobMetricsResp` as this client reads it: `metrics` declared `bytes`, which has the
/// same wire format as the proto's `string`. prost then takes the document out of
/// tonic's receive buffer without copying it (a `String` field would copy the tens of MB
/// into a second buffer, doubling the memory of a scrape); [`document`] checks UTF-8.
#[derive(Clone, PartialEq, prost::Message)]
struct RawJobMetricsResp {
    #[prost(bytes = "bytes", tag = "1")]
    metrics: bytes::Bytes,
}

/// The document, checked to be UTF-8 as proto3 requires of a `string`, and left where it
/// is: the decoders read bytes, so turning it into a `String` would only move the tens
/// of MB to the start of their buffer (`Vec::from` of a sliced `Bytes`), on the scrape's
/// critical path.
fn document(metrics: bytes::Bytes) -> Result<RpcAnswer, UpstreamError> {
    match std::str::from_utf8(&metrics) {
        Ok(_) => Ok(RpcAnswer::Document(metrics)),
        Err(e) => Err(UpstreamError::new(
            ErrorKind::GrpcInternal,
            format!("Internal: JobMetricsResp.metrics is not UTF-8: {e}"),
        )),
    }
}

const GEN_UNKNOWN: u8 = 0;
const GEN_JOB_CONTROLLER: u8 = 1;
const GEN_CONTROLLER: u8 = 2;

/// A client of the controller's `JobMetrics` RPC.
pub struct RpcClient {
    channel: Channel,
    service: ControllerService,
    /// The generation that answered last (auto mode), one of the `GEN_*` values.
    learned: AtomicU8,
    timeout: Duration,
    /// `controller.endpoint` as logs may show it.
    endpoint: String,
    max_message_size: usize,
}

/// HTTP/2 stream flow-control window: how much of one answer the controller may send
/// before it hears back from us. `JobMetrics` answers are large (~37 KB per subtask,
/// 37 MB at 1,000 subtasks) and h2 grants more only as we read, so beyond the loopback
/// the window, not the link, sets the pace: hyper's default of 2 MiB lets about 1–2 MiB
/// through per round trip. 16 MiB covers the bandwidth-delay product of a fast link up to
/// a round trip of ~10 ms; in the benchmark's sweep (BENCHMARKS.md, "Flow-control windows
/// and frames") a 37 MB answer came 2–3x faster than with the defaults at a 20 ms round
/// trip, and 32 MiB gained little more. The window bounds what may sit unread in h2's
/// buffers; the exporter reads as the data arrives.
const STREAM_WINDOW: u32 = 16 * 1024 * 1024;

/// HTTP/2 connection window, shared by the calls in flight on the one channel: room for
/// two answers at full speed (`scrape.concurrency` jobs may be fetched at once).
const CONNECTION_WINDOW: u32 = 2 * STREAM_WINDOW;

/// Builds the channel for `cfg`: lazy connect, keep-alive, TLS when `https`, and
/// flow-control windows sized for answers of tens of MB. The frame size stays h2's
/// 16 KiB: larger frames cut the receiving client's wake-ups but made the allocator map
/// and fault in a fresh buffer per frame, and the exporter's CPU per scrape did not move
/// (BENCHMARKS.md).
pub fn channel(cfg: &ControllerConfig) -> Result<Channel, String> {
    let mut endpoint = Endpoint::from_shared(cfg.endpoint.to_string())
        .map_err(|e| format!("controller.endpoint: {e}"))?
        .connect_timeout(cfg.connect_timeout)
        .tcp_nodelay(true)
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true);
    if cfg.endpoint.scheme() == "https" {
        let material = crate::arroyo::tls::load("controller", &cfg.tls)?;
        let mut tls = ClientTlsConfig::new();
        match material.ca_pem {
            Some(pem) => tls = tls.ca_certificate(Certificate::from_pem(pem)),
            None => tls = tls.with_native_roots(),
        }
        if let Some(id) = material.identity {
            tls = tls.identity(Identity::from_pem(id.cert_pem, id.key_pem));
        }
        if let Some(name) = &cfg.tls.server_name {
            tls = tls.domain_name(name.clone());
        }
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| format!("controller.tls: {e}"))?;
    }
    Ok(endpoint.connect_lazy())
}

impl RpcClient {
    /// Creates a client; no connection is made until the first call.
    pub fn new(cfg: &ControllerConfig) -> Result<RpcClient, String> {
        Ok(RpcClient {
            channel: channel(cfg)?,
            service: cfg.service,
            learned: AtomicU8::new(GEN_UNKNOWN),
            timeout: cfg.timeout,
            endpoint: crate::arroyo::hint::redact_url(&cfg.endpoint),
            max_message_size: cfg.max_message_size,
        })
    }

    /// The service generation that answered last, for the landing page.
    pub fn learned_service(&self) -> &'static str {
        match self.learned.load(Ordering::Relaxed) {
            GEN_JOB_CONTROLLER => "arroyo_rpc.JobControllerGrpc",
            GEN_CONTROLLER => "arroyo_rpc.ControllerGrpc",
            _ => "not yet known",
        }
    }

    /// Asks for the metrics document of `job_id`.
    ///
    /// In `auto` mode the generation that answered last is tried first; on
    /// `UNIMPLEMENTED` the other one is tried and remembered.
    pub async fn job_metrics(&self, job_id: &str) -> Result<RpcAnswer, UpstreamError> {
        let first = match self.service {
            ControllerService::JobController => return self.call(GEN_JOB_CONTROLLER, job_id).await,
            ControllerService::Controller => return self.call(GEN_CONTROLLER, job_id).await,
            ControllerService::Auto => match self.learned.load(Ordering::Relaxed) {
                GEN_CONTROLLER => GEN_CONTROLLER,
                _ => GEN_JOB_CONTROLLER,
            },
        };
        match self.call(first, job_id).await {
            Err(e) if e.kind == ErrorKind::GrpcUnimplemented => {
                let second = if first == GEN_JOB_CONTROLLER {
                    GEN_CONTROLLER
                } else {
                    GEN_JOB_CONTROLLER
                };
                let out = self.call(second, job_id).await;
                if out.is_ok() {
                    self.learned.store(second, Ordering::Relaxed);
                }
                out
            }
            other => {
                if other.is_ok() {
                    self.learned.store(first, Ordering::Relaxed);
                }
                other
            }
        }
    }

    /// One call. The request always goes uncompressed: it is a few dozen bytes, and a
    /// compressed request is refused by servers (and proxies) that do not know the
    /// encoding, each in its own way. Answers are accepted as zstd, gzip or plain.
    async fn call(&self, generation: u8, job_id: &str) -> Result<RpcAnswer, UpstreamError> {
        let mut req = Request::new(JobMetricsReq {
            job_id: job_id.to_string(),
        });
        req.set_timeout(self.timeout);
        // What the generated clients do, with the response read as `RawJobMetricsResp`.
        let path = if generation == GEN_CONTROLLER {
            "/arroyo_rpc.ControllerGrpc/JobMetrics"
        } else {
            "/arroyo_rpc.JobControllerGrpc/JobMetrics"
        };
        let started = std::time::Instant::now();
        let fut = async {
            let mut grpc = tonic::client::Grpc::new(self.channel.clone())
                .accept_compressed(CompressionEncoding::Zstd)
                .accept_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(self.max_message_size);
            grpc.ready().await.map_err(|e| {
                Status::unavailable(format!(
                    "not connected: {}",
                    crate::arroyo::hint::cause_chain(&e)
                ))
            })?;
            let codec = tonic_prost::ProstCodec::<JobMetricsReq, RawJobMetricsResp>::default();
            grpc.unary(req, http::uri::PathAndQuery::from_static(path), codec)
                .await
        };
        match tokio::time::timeout(self.timeout, fut).await {
            Err(_) => Err(UpstreamError::new(
                ErrorKind::Timeout,
                format!(
                    "{}{path}: no answer within {:?}",
                    self.endpoint.trim_end_matches('/'),
                    self.timeout
                ),
            )),
            Ok(Ok(resp)) => document(resp.into_inner().metrics),
            Ok(Err(status)) if status.code() == Code::NotFound => Ok(RpcAnswer::NotFound),
            Ok(Err(status)) => {
                let mut e = classify(&status);
                // tonic's channel enforces the `grpc-timeout` header itself and ends the
                // call with `Cancelled` "Timeout expired" (so does a tonic server whose
                // deadline passed). Whether that or the timeout above fires first is a
                // race: a cancel once the deadline has passed is a timeout.
                if status.code() == Code::Cancelled && started.elapsed() >= self.timeout {
                    e.kind = ErrorKind::Timeout;
                }
                e.message = format!(
                    "{}{path}: {}",
                    self.endpoint.trim_end_matches('/'),
                    e.message
                );
                Err(e)
            }
        }
    }
}

/// Maps a gRPC status to a bounded error kind.
pub fn classify(status: &Status) -> UpstreamError {
    let kind = match status.code() {
        Code::DeadlineExceeded => ErrorKind::Timeout,
        Code::Unavailable => ErrorKind::GrpcUnavailable,
        Code::Unimplemented => ErrorKind::GrpcUnimplemented,
        Code::OutOfRange | Code::ResourceExhausted => ErrorKind::TooLarge,
        Code::FailedPrecondition => ErrorKind::GrpcFailedPrecondition,
        Code::Unauthenticated => ErrorKind::GrpcUnauthenticated,
        Code::PermissionDenied => ErrorKind::GrpcPermissionDenied,
        Code::Cancelled => ErrorKind::GrpcCancelled,
        Code::Internal => ErrorKind::GrpcInternal,
        Code::Unknown => ErrorKind::GrpcUnknown,
        _ => ErrorKind::GrpcOther,
    };
    UpstreamError {
        kind,
        message: match std::error::Error::source(status) {
            Some(cause) => {
                let chain = crate::arroyo::hint::cause_chain(cause);
                if chain.contains(status.message()) {
                    format!("{:?}: {chain}", status.code())
                } else {
                    format!("{:?}: {}: {chain}", status.code(), status.message())
                }
            }
            None => format!("{:?}: {}", status.code(), status.message()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_stays_in_the_receive_buffer() {
        // As prost hands it over: a slice of a larger buffer, past the message's header.
        let buffer = bytes::Bytes::from(b"\x0a\x05[1,2]".to_vec());
        let metrics = buffer.slice(2..);
        let at = metrics.as_ptr();
        match document(metrics) {
            Ok(RpcAnswer::Document(doc)) => {
                assert_eq!(&doc[..], b"[1,2]");
                assert_eq!(doc.as_ptr(), at, "the document was copied or moved");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_document_that_is_not_utf8_is_an_internal_error() {
        let e = document(bytes::Bytes::from_static(b"[\"\xff\"]")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::GrpcInternal);
        assert!(e.message.contains("not UTF-8"), "{}", e.message);
    }
}
