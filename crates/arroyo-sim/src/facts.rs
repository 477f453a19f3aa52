//! What Arroyo does that the simulator imitates, written down once from the wire facts
//! (docs/arroyo-compat.md), on purpose without the exporter's types or lists: the job
//! states in which a job's workers run (and its controller keeps collecting metrics), and
//! the series of the `JobMetrics` document.

/// Whether a job in Arroyo state `state` is running: its workers work and the controller
/// keeps sampling its metrics. The states of docs/arroyo-compat.md that run are Running,
/// Rescaling, Recovering, Restarting, CheckpointStopping, Stopping and Finishing; the
/// others (Created, Compiling, Scheduling, Stopped, Finished, Failing, Failed) do not,
/// and an unknown name does not either.
pub fn job_state_runs(state: &str) -> bool {
    matches!(
        state,
        "Running"
            | "Rescaling"
            | "Recovering"
            | "Restarting"
            | "CheckpointStopping"
            | "Stopping"
            | "Finishing"
    )
}

/// The `name` of a metric group in Arroyo's `JobMetrics` document (the series the
/// controller sends; `tx_queue_size` and `tx_queue_rem` exist in Arroyo but are not sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetricName {
    /// `messages_recv`: smoothed messages received per second.
    MessagesRecv,
    /// `messages_sent`: smoothed messages sent per second.
    MessagesSent,
    /// `bytes_recv`: smoothed bytes received per second.
    BytesRecv,
    /// `bytes_sent`: smoothed bytes sent per second.
    BytesSent,
    /// `backpressure`: fill ratio of the subtask's output queue, 0..1.
    Backpressure,
}

impl MetricName {
    /// Every name the controller sends, in the order the generator draws its values (the
    /// order is part of the generated documents: changing it changes every value).
    pub const ALL: [MetricName; 5] = [
        MetricName::MessagesRecv,
        MetricName::MessagesSent,
        MetricName::BytesRecv,
        MetricName::BytesSent,
        MetricName::Backpressure,
    ];

    /// The name as written in the document.
    pub fn wire_name(self) -> &'static str {
        match self {
            MetricName::MessagesRecv => "messages_recv",
            MetricName::MessagesSent => "messages_sent",
            MetricName::BytesRecv => "bytes_recv",
            MetricName::BytesSent => "bytes_sent",
            MetricName::Backpressure => "backpressure",
        }
    }

    /// The name for a document's `name`; `None` for any other text.
    pub fn from_wire(name: &str) -> Option<MetricName> {
        MetricName::ALL.into_iter().find(|m| m.wire_name() == name)
    }

    /// Position in [`MetricName::ALL`].
    pub(crate) fn position(self) -> usize {
        self as usize
    }
}

/// One point of a series: `{"time": µs since the epoch, "value": f64}`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The controller's sampling instant, in microseconds since the Unix epoch.
    pub time_micros: u64,
    /// The value (a per-second rate, or a 0..1 ratio for backpressure).
    pub value: f64,
}

/// The newest point of one (node, subtask, metric) series of a served document.
#[derive(Debug, Clone, PartialEq)]
pub struct NewestPoint {
    /// Graph node id as the document writes it (decimal, or the word id of v0.11).
    pub node_id: String,
    /// Subtask index, 0..parallelism.
    pub subtask_idx: u32,
    /// The metric group.
    pub name: MetricName,
    /// The newest point.
    pub point: Point,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_of_compat_is_classified() {
        let runs = [
            "Running",
            "Rescaling",
            "Recovering",
            "Restarting",
            "CheckpointStopping",
            "Stopping",
            "Finishing",
        ];
        let stops = [
            "Created",
            "Compiling",
            "Scheduling",
            "Stopped",
            "Finished",
            "Failing",
            "Failed",
        ];
        assert!(runs.iter().all(|s| job_state_runs(s)));
        assert!(!stops.iter().any(|s| job_state_runs(s)));
        assert!(!job_state_runs("running") && !job_state_runs(""));
    }

    #[test]
    fn names_roundtrip() {
        for (i, m) in MetricName::ALL.into_iter().enumerate() {
            assert_eq!(MetricName::from_wire(m.wire_name()), Some(m));
            assert_eq!(m.position(), i);
        }
        assert_eq!(MetricName::from_wire("tx_queue_size"), None);
    }
}
