//! The Arroyo release generations the simulator can imitate, and their wire casing.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// A generation of Arroyo's wire formats (docs/arroyo-compat.md), as served by the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Release {
    /// v0.11 / v0.12: metrics doc with `operatorId` (a string such as `source_0`) and
    /// `metricGroups`; REST camelCase with string node ids; RPC on `ControllerGrpc`.
    V0_11,
    /// v0.13 / v0.14: metrics doc with `nodeId` (u32) and `metricGroups`; REST camelCase;
    /// RPC on `ControllerGrpc`.
    V0_13,
    /// v0.15: snake_case everywhere; RPC on `ControllerGrpc`; jobs without `pipeline_id`,
    /// with `failure_message`; pipelines without `tags`.
    V0_15,
    /// main (0.16-dev): snake_case; RPC on `JobControllerGrpc`; jobs with `pipeline_id` and
    /// `failure_reason {error, domain}`; pipelines with `tags`.
    Main,
}

impl Release {
    /// Every release, oldest first.
    pub const ALL: [Release; 4] = [
        Release::V0_11,
        Release::V0_13,
        Release::V0_15,
        Release::Main,
    ];

    /// Short name as accepted by [`Release::parse`] (`v0.11`, `v0.13`, `v0.15`, `main`).
    pub fn name(self) -> &'static str {
        match self {
            Release::V0_11 => "v0.11",
            Release::V0_13 => "v0.13",
            Release::V0_15 => "v0.15",
            Release::Main => "main",
        }
    }

    /// Parses a release name; `v0.12` maps to [`Release::V0_11`] and `v0.14` to
    /// [`Release::V0_13`] (same wire shapes). The leading `v` is optional.
    pub fn parse(s: &str) -> Option<Release> {
        let t = s.trim().to_ascii_lowercase();
        let t = t.strip_prefix('v').unwrap_or(&t).replace('_', ".");
        match t.as_str() {
            "0.11" | "0.12" => Some(Release::V0_11),
            "0.13" | "0.14" => Some(Release::V0_13),
            "0.15" => Some(Release::V0_15),
            "main" | "0.16" | "0.16-dev" => Some(Release::Main),
            _ => None,
        }
    }

    /// Whether JSON keys are snake_case (v0.15 and later) rather than camelCase.
    pub fn snake_case(self) -> bool {
        matches!(self, Release::V0_15 | Release::Main)
    }

    /// Whether graph node ids are numbers (v0.13 and later) rather than planner words.
    pub fn numeric_node_ids(self) -> bool {
        !matches!(self, Release::V0_11)
    }

    /// Whether `JobMetrics` is served on `JobControllerGrpc` (main) rather than
    /// `ControllerGrpc` (v0.11..v0.15).
    pub fn uses_job_controller_service(self) -> bool {
        matches!(self, Release::Main)
    }

    /// Full gRPC method path of `JobMetrics` in this release.
    pub fn job_metrics_path(self) -> &'static str {
        if self.uses_job_controller_service() {
            "/arroyo_rpc.JobControllerGrpc/JobMetrics"
        } else {
            "/arroyo_rpc.ControllerGrpc/JobMetrics"
        }
    }

    /// A REST JSON key, given in snake_case, in this release's casing.
    pub fn key(self, snake: &'static str) -> Cow<'static, str> {
        if self.snake_case() || !snake.contains('_') {
            return Cow::Borrowed(snake);
        }
        let mut out = String::with_capacity(snake.len());
        let mut upper = false;
        for c in snake.chars() {
            if c == '_' {
                upper = true;
            } else if upper {
                out.push(c.to_ascii_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        Cow::Owned(out)
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Release {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Release::parse(s)
            .ok_or_else(|| format!("unknown release {s:?} (main, v0.15, v0.13, v0.11)"))
    }
}

/// The planner-style operator id that v0.11/v0.12 use instead of a number: `source_N` for
/// the first node of a chain, `sink_N` for the last, `value_N` in between (`N` = the
/// simulator's numeric node id). Used by both the REST graph and the metrics document.
pub fn legacy_operator_id(node_id: u32, position: usize, count: usize) -> String {
    let word = if position == 0 {
        "source"
    } else if position + 1 == count {
        "sink"
    } else {
        "value"
    };
    format!("{word}_{node_id}")
}

/// The node id as the given release writes it, in string form (decimal, or the legacy
/// word for v0.11). This is what the exporter's `node_id` label carries.
pub fn wire_node_id(release: Release, node_id: u32, position: usize, count: usize) -> String {
    if release.numeric_node_ids() {
        node_id.to_string()
    } else {
        legacy_operator_id(node_id, position, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_keys() {
        assert_eq!(Release::parse("v0.12"), Some(Release::V0_11));
        assert_eq!(Release::parse("0.14"), Some(Release::V0_13));
        assert_eq!(Release::parse("v0.15"), Some(Release::V0_15));
        assert_eq!(Release::parse("main"), Some(Release::Main));
        assert_eq!(Release::parse("v9"), None);
        for r in Release::ALL {
            assert_eq!(Release::parse(r.name()), Some(r));
        }
        assert_eq!(Release::V0_13.key("running_desired"), "runningDesired");
        assert_eq!(
            Release::V0_13.key("checkpoint_interval_micros"),
            "checkpointIntervalMicros"
        );
        assert_eq!(Release::Main.key("running_desired"), "running_desired");
        assert_eq!(legacy_operator_id(4, 1, 3), "value_4");
        assert_eq!(wire_node_id(Release::V0_11, 0, 0, 2), "source_0");
        assert_eq!(wire_node_id(Release::V0_13, 6, 1, 2), "6");
    }
}
