//! The simulated controller's gRPC `JobMetrics` (one service generation per release).

use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::docgen::mix;
use crate::pb::controller_grpc_server::{ControllerGrpc, ControllerGrpcServer};
use crate::pb::job_controller_grpc_server::{JobControllerGrpc, JobControllerGrpcServer};
use crate::pb::{JobMetricsReq, JobMetricsResp};
use crate::state::SimState;

/// Largest message the simulated controller sends or accepts.
const MAX_MESSAGE: usize = 1 << 30;

/// Implements both generations; only the release's one is mounted.
#[derive(Clone)]
pub(crate) struct Controller {
    state: SimState,
}

impl Controller {
    async fn job_metrics(&self, job_id: String) -> Result<JobMetricsResp, Status> {
        let (faults, plan) = {
            let mut w = self.state.lock();
            *w.rpc_calls.entry(job_id.clone()).or_insert(0) += 1;
            w.call_seq += 1;
            let now = w.now_micros();
            w.advance(now);
            let faults = w.rpc_faults_for(&job_id).clone();
            let plan = if w.leader_mode {
                None
            } else {
                let order = w
                    .job(&job_id)
                    .map(|j| mix(j.seed ^ w.call_seq.wrapping_mul(0x9E37_79B9)));
                w.controller_doc_with_order(&job_id, now, order)
            };
            (faults, plan)
        };
        if let Some(d) = faults.delay {
            tokio::time::sleep(d).await;
        }
        if let Some((code, msg)) = faults.status {
            return Err(Status::new(code, msg));
        }
        let Some(plan) = plan else {
            return Err(Status::not_found("No metrics for job"));
        };
        let Some(mut doc) = plan.render_async().await else {
            return Err(Status::internal("simulator: rendering the document failed"));
        };
        if faults.malformed {
            doc = malformed(&doc);
        }
        if let Some(n) = faults.oversize_bytes {
            if doc.len() < n {
                let pad = n - doc.len();
                doc.reserve(pad);
                doc.extend(std::iter::repeat_n(' ', pad));
            }
        }
        Ok(JobMetricsResp { metrics: doc })
    }
}

/// A cut-off prefix of `doc` that no JSON parser accepts.
pub(crate) fn malformed(doc: &str) -> String {
    let mut cut = (doc.len() / 2).min(400);
    while cut > 0 && !doc.is_char_boundary(cut) {
        cut -= 1;
    }
    let prefix = &doc[..cut];
    if prefix.len() < 2 {
        "[{\"node_id\":".to_string()
    } else {
        format!("{prefix},{{")
    }
}

#[tonic::async_trait]
impl ControllerGrpc for Controller {
    async fn job_metrics(
        &self,
        request: Request<JobMetricsReq>,
    ) -> Result<Response<JobMetricsResp>, Status> {
        Controller::job_metrics(self, request.into_inner().job_id)
            .await
            .map(Response::new)
    }
}

#[tonic::async_trait]
impl JobControllerGrpc for Controller {
    async fn job_metrics(
        &self,
        request: Request<JobMetricsReq>,
    ) -> Result<Response<JobMetricsResp>, Status> {
        Controller::job_metrics(self, request.into_inner().job_id)
            .await
            .map(Response::new)
    }
}

/// The gRPC routes of the state's release, with zstd both ways and large message limits.
pub(crate) fn router(state: SimState) -> axum::Router {
    let release = state.release();
    let svc = Controller { state };
    let routes = if release.uses_job_controller_service() {
        tonic::service::Routes::new(
            JobControllerGrpcServer::new(svc)
                .send_compressed(CompressionEncoding::Zstd)
                .accept_compressed(CompressionEncoding::Zstd)
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
    } else {
        tonic::service::Routes::new(
            ControllerGrpcServer::new(svc)
                .send_compressed(CompressionEncoding::Zstd)
                .accept_compressed(CompressionEncoding::Zstd)
                .max_decoding_message_size(MAX_MESSAGE)
                .max_encoding_message_size(MAX_MESSAGE),
        )
    };
    routes.prepare().into_axum_router()
}
