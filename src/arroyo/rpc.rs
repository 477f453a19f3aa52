//! The controller's `JobMetrics` RPC (tonic), for both service generations.
//!
//! One lazily connected tonic channel is shared by every call; tonic reconnects it after
//! the controller restarts. Responses may be zstd or gzip compressed; requests are always
//! sent uncompressed (see [`RpcClient::call`]). The call itself is made on the channel
//! directly rather than through tonic's generated client, so that the answer is
//! decompressed and decoded frame by frame as it arrives ([`wire::UnaryBody`]): tonic
//! hands a message over only once it is complete, and for the tens of MB of a large job
//! the decode would then start after the last byte.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use http_body_util::BodyExt;
use prost::Message;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Status};
use tower_service::Service;

use crate::arroyo::error::{ErrorKind, UpstreamError};
use crate::arroyo::pb::JobMetricsReq;
use crate::arroyo::wire;
use crate::config::{ControllerConfig, ControllerService};
use crate::model;

/// The answer of one successful call.
#[derive(Debug, Clone, PartialEq)]
pub enum RpcAnswer {
    /// The decoded document (`JobMetricsResp.metrics`).
    Metrics(model::JobMetrics),
    /// `NOT_FOUND`: the controller has no metrics for this job now.
    NotFound,
}

/// Above this many bytes left to read, the end of the decode runs on the blocking pool
/// (it is then a whole decode, or a document too small to have been read in pieces).
const DECODE_IN_PLACE: usize = 1 << 20;

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
    /// The largest buffer of an earlier answer, kept for the next call ([`RpcClient::keep`]).
    kept: parking_lot::Mutex<Vec<u8>>,
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
            kept: parking_lot::Mutex::new(Vec::new()),
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
        let path = if generation == GEN_CONTROLLER {
            "/arroyo_rpc.ControllerGrpc/JobMetrics"
        } else {
            "/arroyo_rpc.JobControllerGrpc/JobMetrics"
        };
        let started = std::time::Instant::now();
        let failure = match tokio::time::timeout(self.timeout, self.exchange(path, job_id)).await {
            Err(_) => {
                return Err(UpstreamError::new(
                    ErrorKind::Timeout,
                    format!(
                        "{}{path}: no answer within {:?}",
                        self.endpoint.trim_end_matches('/'),
                        self.timeout
                    ),
                ))
            }
            Ok(Ok(answer)) => return Ok(answer),
            Ok(Err(Failure::Status(status))) if status.code() == Code::NotFound => {
                return Ok(RpcAnswer::NotFound)
            }
            Ok(Err(failure)) => failure,
        };
        let mut e = match failure {
            Failure::Status(status) => {
                let mut e = classify(&status);
                // tonic's channel enforces the `grpc-timeout` header itself and ends the
                // call with `Cancelled` "Timeout expired" (so does a tonic server whose
                // deadline passed). Whether that or the timeout above fires first is a
                // race: a cancel once the deadline has passed is a timeout.
                if status.code() == Code::Cancelled && started.elapsed() >= self.timeout {
                    e.kind = ErrorKind::Timeout;
                }
                e
            }
            Failure::Body(body) => body_error(body),
        };
        e.message = format!(
            "{}{path}: {}",
            self.endpoint.trim_end_matches('/'),
            e.message
        );
        Err(e)
    }

    /// The request and its answer, read frame by frame.
    async fn exchange(&self, path: &'static str, job_id: &str) -> Result<RpcAnswer, Failure> {
        let mut channel = self.channel.clone();
        std::future::poll_fn(|cx| channel.poll_ready(cx))
            .await
            .map_err(|e| {
                Status::unavailable(format!(
                    "not connected: {}",
                    crate::arroyo::hint::cause_chain(&e)
                ))
            })?;
        let request = http::Request::builder()
            .method(http::Method::POST)
            .uri(path)
            .version(http::Version::HTTP_2)
            .header(http::header::CONTENT_TYPE, "application/grpc")
            .header(http::header::TE, "trailers")
            .header("grpc-accept-encoding", "zstd,gzip")
            .header("grpc-timeout", grpc_timeout(self.timeout))
            .body(tonic::body::Body::new(http_body_util::Full::new(
                request_message(job_id),
            )))
            .map_err(|e| Status::internal(format!("cannot build the request: {e}")))?;
        let response = channel
            .call(request)
            .await
            .map_err(|e| Status::from_error(Box::new(e)))?;
        let (head, mut body) = response.into_parts();
        // A trailers-only answer (what servers send for an error): the status is in the
        // headers and there is no message.
        if let Some(status) = Status::from_header_map(&head.headers) {
            if status.code() != Code::Ok {
                return Err(status.into());
            }
        }
        if head.status != http::StatusCode::OK {
            return Err(status_of_http(head.status).into());
        }
        let encoding = wire::Encoding::from_header(
            head.headers
                .get("grpc-encoding")
                .map(http::HeaderValue::as_bytes),
        )?;
        let spare = std::mem::take(&mut *self.kept.lock());
        let mut reader = wire::UnaryBody::in_buffer(encoding, self.max_message_size, spare);
        let mut trailers = None;
        while let Some(frame) = body.frame().await {
            match frame?.into_data() {
                Ok(data) => reader.push(&data)?,
                Err(frame) => {
                    if let Ok(t) = frame.into_trailers() {
                        trailers = Some(t);
                    }
                }
            }
        }
        let status = trailers
            .as_ref()
            .and_then(Status::from_header_map)
            .or_else(|| Status::from_header_map(&head.headers))
            .unwrap_or_else(|| {
                Status::unknown(
                    "the answer ended without a grpc-status (cut short by a proxy or a reset?)",
                )
            });
        if status.code() != Code::Ok {
            return Err(status.into());
        }
        let (answer, buffer) = if reader.unread() > DECODE_IN_PLACE {
            tokio::task::spawn_blocking(move || reader.finish())
                .await
                .map_err(|e| Status::internal(format!("decoder task failed: {e}")))?
        } else {
            reader.finish()
        };
        self.keep(buffer);
        Ok(RpcAnswer::Metrics(answer?))
    }

    /// Keeps an answer's buffer for the next call when it is large and the largest one
    /// at hand, and frees the other.
    ///
    /// Writing a fresh buffer of tens of MB faults in every page of it (about a third of
    /// a large answer's CPU, BENCHMARKS.md); a kept one is already mapped. One buffer,
    /// the largest: the idle exporter then holds about one answer of its largest job,
    /// which the memory request counts anyway (deploy/README.md). Buffers under
    /// [`DECODE_IN_PLACE`] are not kept: their few pages cost little, and many targets'
    /// small buffers would only add up. Calls made at the same time take fresh buffers.
    fn keep(&self, buffer: Vec<u8>) {
        if buffer.capacity() < DECODE_IN_PLACE {
            return;
        }
        let spare = {
            let mut kept = self.kept.lock();
            if buffer.capacity() > kept.capacity() {
                std::mem::replace(&mut *kept, buffer)
            } else {
                buffer
            }
        };
        if spare.capacity() > DECODE_IN_PLACE {
            // Unmapping a buffer of tens of MB takes milliseconds: off the critical path.
            tokio::task::spawn_blocking(move || drop(spare));
        }
    }
}

/// How a call failed, before [`RpcClient::call`] names the endpoint.
enum Failure {
    /// A gRPC status: the server's, or the transport's mapped to one.
    Status(Status),
    /// The answer's body could not be read into metrics.
    Body(wire::BodyError),
}

impl From<Status> for Failure {
    fn from(s: Status) -> Failure {
        Failure::Status(s)
    }
}

impl From<wire::BodyError> for Failure {
    fn from(e: wire::BodyError) -> Failure {
        Failure::Body(e)
    }
}

/// The error of a body that gave no metrics.
fn body_error(e: wire::BodyError) -> UpstreamError {
    match e {
        wire::BodyError::TooLarge(m) => {
            UpstreamError::new(ErrorKind::TooLarge, format!("OutOfRange: {m}"))
        }
        wire::BodyError::Malformed(m) => {
            UpstreamError::new(ErrorKind::GrpcInternal, format!("Internal: {m}"))
        }
        wire::BodyError::NotUtf8(m) => UpstreamError::new(
            ErrorKind::GrpcInternal,
            format!("Internal: JobMetricsResp.metrics is not UTF-8: {m}"),
        ),
        wire::BodyError::Decode(e) => UpstreamError::new(ErrorKind::Decode, e.to_string()),
    }
}

/// The request: `JobMetricsReq` in an uncompressed gRPC message frame.
fn request_message(job_id: &str) -> bytes::Bytes {
    let message = JobMetricsReq {
        job_id: job_id.to_string(),
    }
    .encode_to_vec();
    let mut framed = Vec::with_capacity(5 + message.len());
    framed.push(0);
    framed.extend_from_slice(
        &u32::try_from(message.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    framed.extend_from_slice(&message);
    bytes::Bytes::from(framed)
}

/// The `grpc-timeout` header for `timeout`: at most eight digits, in the finest unit
/// that fits (gRPC over HTTP/2).
fn grpc_timeout(timeout: Duration) -> String {
    let units: [(u128, char); 5] = [
        (timeout.as_micros(), 'u'),
        (timeout.as_millis(), 'm'),
        (u128::from(timeout.as_secs()), 'S'),
        (u128::from(timeout.as_secs() / 60), 'M'),
        (u128::from(timeout.as_secs() / 3600), 'H'),
    ];
    units
        .into_iter()
        .find(|(value, _)| *value <= 99_999_999)
        .map_or_else(
            || "99999999H".to_string(),
            |(value, unit)| format!("{value}{unit}"),
        )
}

/// The status of an answer whose HTTP status is not 200 and that carries no gRPC status
/// (a proxy's, or a server that does not speak gRPC), mapped as gRPC's table says.
fn status_of_http(status: http::StatusCode) -> Status {
    let code = match status {
        http::StatusCode::BAD_REQUEST => Code::Internal,
        http::StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        http::StatusCode::FORBIDDEN => Code::PermissionDenied,
        http::StatusCode::NOT_FOUND => Code::Unimplemented,
        http::StatusCode::TOO_MANY_REQUESTS
        | http::StatusCode::BAD_GATEWAY
        | http::StatusCode::SERVICE_UNAVAILABLE
        | http::StatusCode::GATEWAY_TIMEOUT => Code::Unavailable,
        _ => Code::Unknown,
    };
    Status::new(
        code,
        format!(
            "HTTP status {status} without a gRPC status (a proxy's answer, or not a gRPC server)"
        ),
    )
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
    fn the_request_is_one_uncompressed_frame() {
        let framed = request_message("job_1");
        let message = JobMetricsReq {
            job_id: "job_1".into(),
        }
        .encode_to_vec();
        assert_eq!(framed[0], 0, "compressed flag");
        assert_eq!(
            u32::from_be_bytes([framed[1], framed[2], framed[3], framed[4]]) as usize,
            message.len()
        );
        assert_eq!(&framed[5..], &message[..]);
    }

    #[tokio::test]
    async fn the_largest_large_answer_buffer_is_kept() {
        let client = RpcClient::new(&crate::config::Config::default().controller).unwrap();
        client.keep(Vec::with_capacity(1000));
        assert_eq!(client.kept.lock().capacity(), 0, "a small buffer was kept");
        for n in [3, 1, 4, 2] {
            client.keep(Vec::with_capacity(n * DECODE_IN_PLACE));
        }
        assert_eq!(client.kept.lock().capacity(), 4 * DECODE_IN_PLACE);
    }

    #[test]
    fn timeouts_take_at_most_eight_digits() {
        assert_eq!(grpc_timeout(Duration::from_millis(2500)), "2500000u");
        assert_eq!(grpc_timeout(Duration::from_secs(120)), "120000m");
        assert_eq!(grpc_timeout(Duration::from_secs(200_000)), "200000S");
        assert_eq!(grpc_timeout(Duration::from_secs(6_000_000_000)), "1666666H");
        assert_eq!(grpc_timeout(Duration::MAX), "99999999H");
    }

    #[test]
    fn http_statuses_without_a_grpc_status_map_as_grpc_says() {
        assert_eq!(
            status_of_http(http::StatusCode::NOT_FOUND).code(),
            Code::Unimplemented
        );
        assert_eq!(
            status_of_http(http::StatusCode::SERVICE_UNAVAILABLE).code(),
            Code::Unavailable
        );
        assert_eq!(
            status_of_http(http::StatusCode::UNAUTHORIZED).code(),
            Code::Unauthenticated
        );
        assert_eq!(
            status_of_http(http::StatusCode::IM_A_TEAPOT).code(),
            Code::Unknown
        );
    }
}
