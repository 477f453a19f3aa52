//! Where job metrics come from: the controller's `JobMetrics` RPC or the REST API's
//! `operator_metric_groups` bridge. Either way the caller gets a decoded document, "no
//! metrics", or an [`UpstreamError`]; it never decodes nor knows which source answered.

use std::sync::Arc;

use crate::arroyo::error::{ErrorKind, UpstreamError};
use crate::arroyo::hint;
use crate::arroyo::rest::RestClient;
use crate::arroyo::rpc::{RpcAnswer, RpcClient};
use crate::model::JobMetrics;

/// What the source said about one job.
#[derive(Debug, Clone, PartialEq)]
pub enum JobMetricsAnswer {
    /// The decoded document.
    Metrics(JobMetrics),
    /// The source has no metrics for this job now (RPC `NOT_FOUND`, or an empty bridge
    /// answer).
    NoMetrics,
}

/// The configured metrics source.
#[derive(Clone)]
pub enum MetricsSource {
    /// The controller's `JobMetrics` RPC.
    Rpc(Arc<RpcClient>),
    /// The REST API's `operator_metric_groups` bridge.
    Rest(Arc<RestClient>),
}

impl MetricsSource {
    /// The upstream's name in the exporter's own series (`controller`, `api`).
    pub fn upstream(&self) -> &'static str {
        match self {
            MetricsSource::Rpc(_) => "controller",
            MetricsSource::Rest(_) => "api",
        }
    }

    /// What to check in the configuration when a call failed with `kind`.
    pub fn hint(&self, kind: ErrorKind) -> &'static str {
        match self {
            MetricsSource::Rpc(_) => hint::controller(kind),
            MetricsSource::Rest(_) => hint::api(kind),
        }
    }

    /// Whether [`MetricsSource::probe`] can tell if the source answers. The REST bridge
    /// has no cheap probe: the discovery calls already tell whether the API answers.
    pub fn can_probe(&self) -> bool {
        matches!(self, MetricsSource::Rpc(_))
    }

    /// Asks for the metrics of one job and decodes them. The REST bridge needs the
    /// job's pipeline; without it the answer is [`ErrorKind::NoPipeline`].
    pub async fn job_metrics(
        &self,
        job_id: &str,
        pipeline_id: Option<&str>,
    ) -> Result<JobMetricsAnswer, UpstreamError> {
        match self {
            MetricsSource::Rpc(rpc) => match rpc.job_metrics(job_id).await? {
                RpcAnswer::NotFound => Ok(JobMetricsAnswer::NoMetrics),
                RpcAnswer::Metrics(m) => Ok(JobMetricsAnswer::Metrics(m)),
            },
            MetricsSource::Rest(rest) => {
                let Some(pipeline_id) = pipeline_id else {
                    return Err(UpstreamError::new(
                        ErrorKind::NoPipeline,
                        "job's pipeline is unknown",
                    ));
                };
                Ok(
                    match rest.operator_metric_groups(pipeline_id, job_id).await? {
                        Some(m) => JobMetricsAnswer::Metrics(m),
                        None => JobMetricsAnswer::NoMetrics,
                    },
                )
            }
        }
    }

    /// One call about no job, to learn whether the source answers at all; `Ok` for a
    /// source that cannot be probed (see [`MetricsSource::can_probe`]).
    pub async fn probe(&self) -> Result<(), UpstreamError> {
        match self {
            MetricsSource::Rpc(rpc) => rpc.job_metrics("").await.map(|_| ()),
            MetricsSource::Rest(_) => Ok(()),
        }
    }
}
