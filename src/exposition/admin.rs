//! Arroyo's build, from its admin port's `/details`.

use super::{MetricType, Writer};
use crate::model::Snapshot;

/// Writes `arroyo_build_info` when the snapshot knows Arroyo's build.
pub(super) fn render(w: &mut Writer<'_>, snapshot: &Snapshot) {
    w.family(
        "arroyo_build",
        "Arroyo's version and git revision, from its admin port's /details. Always 1.",
        MetricType::Info,
        None,
    );
    if let Some(b) = &snapshot.arroyo_build {
        w.info(&[
            ("version", b.version.as_str()),
            ("git_sha", b.git_sha.as_str()),
        ]);
    }
}

#[cfg(test)]
mod tests {
    use crate::exposition::test_support::{lines_of, render_str};
    use crate::exposition::Format;
    use crate::model::{ArroyoBuild, Snapshot};

    #[test]
    fn build_info_only_when_known() {
        let mut snap = Snapshot::default();
        assert!(!render_str(&snap, Format::OpenMetrics).contains("arroyo_build"));
        snap.arroyo_build = Some(ArroyoBuild {
            service: "cluster".into(),
            version: "0.15.0".into(),
            git_sha: "a1b2c3".into(),
        });
        for format in [Format::OpenMetrics, Format::Text004] {
            assert_eq!(
                lines_of(&render_str(&snap, format), "arroyo_build_info"),
                [r#"arroyo_build_info{version="0.15.0",git_sha="a1b2c3"} 1"#]
            );
        }
    }
}
