//! The scenarios the simulated Arroyo can play (names only; what each one does to the
//! world is the autopilot's, in `autopilot`).

use std::fmt;
use std::str::FromStr;

/// What the simulated Arroyo is doing (for demos and alert tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Every job Running; rates wander a few percent; checkpoints every interval.
    Steady,
    /// The scenario job's source output falls by 90 % (downstream follows), through
    /// the controller's EWMA.
    ThroughputDrop,
    /// One operator of the scenario job (the middle of its chain) has backpressure
    /// between 0.8 and 0.95.
    Backpressure,
    /// One subtask of the scenario job carries 10x the rates of its siblings.
    Skew,
    /// The scenario job goes `Failed` (still desired running) with a failure message and
    /// domain; its metrics freeze.
    JobFailed,
    /// The scenario job restarts every 20 s: `Restarting` for 4 s, then `Running`, and
    /// `run_id` climbs by one each time.
    RestartLoop,
    /// The scenario job completes no checkpoint; one stays in progress, growing older.
    CheckpointsStalled,
    /// The gRPC listener is closed (the REST API still serves; its metrics bridge fails).
    ControllerDown,
    /// A bottleneck that moves: for [`BOTTLENECK_MOVE_PERIOD_MICROS`] the scenario job's
    /// second node is slow (the source upstream of it has backpressure between 0.8 and
    /// 0.95), then a node further down is (every node upstream of it is backpressured),
    /// then the second node again, and so on. See [`bottleneck_position`].
    BottleneckMoves,
    /// The scenario job's state grows without bound: every stateful subtask adds 4 MiB
    /// per checkpoint epoch.
    GrowingState,
    /// The scenario job writes a burst of 25 error rows (invalid data dropped by its
    /// second operator), then one row per 5 s per subtask, as Arroyo's rate limit allows.
    ErrorBurst,
}

/// How long the bottleneck of [`Scenario::BottleneckMoves`] stays in one place.
pub const BOTTLENECK_MOVE_PERIOD_MICROS: u64 = 180_000_000;

/// Where the bottleneck of [`Scenario::BottleneckMoves`] is, `elapsed_micros` after the
/// switch, in a chain of `nodes` nodes: its position in the chain (first = source). The
/// nodes before it are backpressured. Phase 0 is position 1; phase 1 is position
/// `max(2, nodes - 2)` (the node before the sink, or the sink of a 3-node chain); `None`
/// for a chain of fewer than 2 nodes.
pub fn bottleneck_position(nodes: usize, elapsed_micros: u64) -> Option<usize> {
    if nodes < 2 {
        return None;
    }
    let phase = (elapsed_micros / BOTTLENECK_MOVE_PERIOD_MICROS) % 2;
    let later = nodes.saturating_sub(2).max(2).min(nodes - 1);
    Some(if phase == 0 { 1 } else { later })
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 11] = [
        Scenario::Steady,
        Scenario::ThroughputDrop,
        Scenario::Backpressure,
        Scenario::Skew,
        Scenario::JobFailed,
        Scenario::RestartLoop,
        Scenario::CheckpointsStalled,
        Scenario::ControllerDown,
        Scenario::BottleneckMoves,
        Scenario::GrowingState,
        Scenario::ErrorBurst,
    ];

    /// Kebab-case name (`steady`, `throughput-drop`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Steady => "steady",
            Scenario::ThroughputDrop => "throughput-drop",
            Scenario::Backpressure => "backpressure",
            Scenario::Skew => "skew",
            Scenario::JobFailed => "job-failed",
            Scenario::RestartLoop => "restart-loop",
            Scenario::CheckpointsStalled => "checkpoints-stalled",
            Scenario::ControllerDown => "controller-down",
            Scenario::BottleneckMoves => "bottleneck-moves",
            Scenario::GrowingState => "growing-state",
            Scenario::ErrorBurst => "error-burst",
        }
    }

    /// Parses a name (`_` accepted for `-`).
    pub fn parse(s: &str) -> Option<Scenario> {
        let t = s.trim().to_ascii_lowercase().replace('_', "-");
        Scenario::ALL.into_iter().find(|sc| sc.name() == t)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scenario::parse(s).ok_or_else(|| {
            let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
            format!("unknown scenario {s:?} (one of {})", names.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::parse(s.name()), Some(s));
        }
        assert_eq!(Scenario::parse("job_failed"), Some(Scenario::JobFailed));
        assert!("nope".parse::<Scenario>().is_err());
    }

    #[test]
    fn bottleneck_moves_between_two_positions() {
        let p = BOTTLENECK_MOVE_PERIOD_MICROS;
        assert_eq!(bottleneck_position(4, 0), Some(1));
        assert_eq!(bottleneck_position(4, p - 1), Some(1));
        assert_eq!(bottleneck_position(4, p), Some(2));
        assert_eq!(bottleneck_position(4, 2 * p), Some(1));
        assert_eq!(bottleneck_position(3, p), Some(2));
        assert_eq!(bottleneck_position(6, p), Some(4));
        assert_eq!(bottleneck_position(2, p), Some(1));
        assert_eq!(bottleneck_position(1, 0), None);
    }
}
