//! Named targets: `[targets.<name>.<section>]` tables, each resolved into a full
//! [`Config`] by merging the target's sections over the top-level values (figment's
//! merge: tables are merged key by key, any other value replaces the top-level one).
//!
//! Which sections a target may set is the one list [`CLUSTER_SECTIONS`]: a new
//! per-cluster section is one more name there.

use std::collections::BTreeMap;

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::{source_of, validate, Config, ConfigError, Keys};

/// The top-level sections a target may set: everything that describes one Arroyo
/// cluster. `web` and `log` belong to the exporter process and stay top-level only.
pub const CLUSTER_SECTIONS: &[&str] = &["controller", "api", "admin", "scrape", "collectors"];

/// Longest target name accepted.
const MAX_NAME_LEN: usize = 64;

/// Whether `name` is a valid target name: 1 to 64 ASCII letters, digits, `_` or `-`,
/// starting with a letter or a digit (so it needs no quoting in a URL, a TOML key, an
/// environment variable or a label value).
pub fn is_target_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() <= MAX_NAME_LEN
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// One target's sections as a figment layer on top of the top-level layers.
struct TargetLayer(Dict);

impl Provider for TargetLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named("target")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}

/// Resolves every target of `top` (read from `fig`, the layered figment): names and
/// section names checked, sections merged over the top-level values, the result
/// validated like the top level. Errors name the full key (`targets.<name>.<key>`).
pub(super) fn resolve(
    top: &Config,
    fig: &Figment,
) -> Result<BTreeMap<String, Config>, ConfigError> {
    let mut out = BTreeMap::new();
    for (name, sections) in &top.targets {
        if !is_target_name(name) {
            return Err(ConfigError::Invalid {
                key: format!("targets.{name}"),
                source_name: source_of(fig, "targets"),
                message: format!(
                    "a target name is 1 to {MAX_NAME_LEN} ASCII letters, digits, `_` or `-`, \
                     starting with a letter or a digit"
                ),
            });
        }
        for (section, value) in sections {
            let key = format!("targets.{name}.{section}");
            if !CLUSTER_SECTIONS.contains(&section.as_str()) {
                return Err(ConfigError::Invalid {
                    source_name: source_of(fig, &key),
                    key,
                    message: format!(
                        "not a per-target section; a target sets {}",
                        CLUSTER_SECTIONS.join(", ")
                    ),
                });
            }
            if !matches!(value, Value::Dict(..)) {
                return Err(ConfigError::Invalid {
                    source_name: source_of(fig, &key),
                    key,
                    message: "must be a table".to_string(),
                });
            }
        }
        let layered = fig.clone().merge(TargetLayer(sections.clone()));
        let mut cfg: Config = layered.extract().map_err(|e| {
            let lines: Vec<String> = e
                .into_iter()
                .map(|e| {
                    let path = e.path.join(".");
                    let keys = Keys {
                        fig,
                        target: Some(name),
                    };
                    format!(
                        "key `{}` (from {}): {}",
                        keys.full(&path),
                        keys.source(&path),
                        e.kind
                    )
                })
                .collect();
            ConfigError::Figment(lines.join("; "))
        })?;
        cfg.targets.clear();
        validate(
            &cfg,
            &Keys {
                fig,
                target: Some(name),
            },
        )?;
        out.insert(name.clone(), cfg);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::{settings_from_toml_str, MetricsSource, Settings};
    use super::*;

    fn settings(toml: &str) -> Settings {
        settings_from_toml_str(toml).unwrap_or_else(|e| panic!("{e}\n{toml}"))
    }

    fn error(toml: &str) -> String {
        match settings_from_toml_str(toml) {
            Ok(s) => panic!("accepted: {s:?}\n{toml}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_target_inherits_what_it_does_not_set() {
        let s = settings(
            r#"
[controller]
timeout = "3s"
[scrape]
concurrency = 2
subtask-series = false
[collectors]
pipeline-tags = ["team"]

[targets.prod.controller]
endpoint = "http://prod:5116"
[targets.prod.api]
endpoint = "http://prod:8080"
[targets.prod.scrape]
concurrency = 6

[targets.dev.controller]
endpoint = "http://dev:5116"
service = "controller"
timeout = "1s"
"#,
        );
        assert_eq!(
            s.targets.keys().collect::<Vec<_>>(),
            ["dev", "prod"],
            "{s:?}"
        );
        let prod = &s.targets["prod"];
        assert_eq!(prod.controller.endpoint.as_str(), "http://prod:5116/");
        assert_eq!(prod.controller.timeout, Duration::from_secs(3));
        assert_eq!(
            prod.api.endpoint.as_ref().unwrap().as_str(),
            "http://prod:8080/"
        );
        assert_eq!(prod.scrape.concurrency, 6);
        assert!(!prod.scrape.subtask_series, "inherited");
        assert_eq!(prod.collectors.pipeline_tags, ["team"]);
        let dev = &s.targets["dev"];
        assert_eq!(dev.controller.timeout, Duration::from_secs(1));
        assert_eq!(dev.scrape.concurrency, 2, "inherited");
        assert_eq!(
            dev.api.endpoint.as_ref().unwrap().as_str(),
            "http://localhost:5115/",
            "the top level's default"
        );
        assert!(prod.targets.is_empty() && dev.targets.is_empty());
        // The top level is unchanged by its targets, and not a cluster of its own here.
        assert_eq!(s.config.scrape.concurrency, 2);
        assert_eq!(
            s.config.controller.endpoint.as_str(),
            "http://localhost:5116/"
        );
        assert!(!s.top_level_cluster);
    }

    #[test]
    fn the_top_level_cluster_is_served_when_configured() {
        assert!(settings("").top_level_cluster, "no targets");
        let t = "[targets.a.controller]\nendpoint = \"http://a:1\"\n";
        assert!(!settings(t).top_level_cluster);
        assert!(
            settings(&format!("[controller]\nendpoint = \"http://x:1\"\n{t}")).top_level_cluster
        );
        assert!(settings(&format!("[api]\nendpoint = \"http://x:1\"\n{t}")).top_level_cluster);
    }

    #[test]
    fn a_target_can_clear_or_replace_inherited_values() {
        let s = settings(
            r#"
[scrape]
include-pipelines = "^prod"
jobs = [{ id = "job_a" }, { id = "job_b" }]
[targets.x.api]
endpoint = ""
[targets.x.scrape]
jobs = [{ id = "job_c" }]
metrics-source = "rpc"
"#,
        );
        let x = &s.targets["x"];
        assert!(x.api.endpoint.is_none());
        assert_eq!(x.scrape.jobs.len(), 1, "a list replaces, not appends");
        assert_eq!(x.scrape.jobs[0].id, "job_c");
        assert_eq!(x.scrape.include_pipelines.as_deref(), Some("^prod"));
        assert_eq!(x.scrape.metrics_source, MetricsSource::Rpc);
    }

    #[test]
    fn errors_name_the_full_key() {
        let e = error("[targets.prod.controller]\nendpoint = \"ftp://x\"\n");
        assert!(e.contains("`targets.prod.controller.endpoint`"), "{e}");
        assert!(e.contains("scheme must be http or https"), "{e}");

        let e = error("[targets.prod.scrape]\nconcurrency = 0\n");
        assert!(e.contains("`targets.prod.scrape.concurrency`"), "{e}");

        let e = error("[targets.prod.scrape]\nconcurrency = \"many\"\n");
        assert!(e.contains("`targets.prod.scrape.concurrency`"), "{e}");

        let e = error("[targets.prod.controller]\nendpoitn = \"http://x:1\"\n");
        assert!(
            e.contains("targets.prod.controller") && e.contains("endpoitn"),
            "{e}"
        );

        let e = error("[targets.prod.web]\nlisten-address = \"0.0.0.0:1\"\n");
        assert!(e.contains("`targets.prod.web`"), "{e}");
        assert!(
            e.contains("controller, api, admin, scrape, collectors"),
            "{e}"
        );

        let e = error("[targets.prod]\nscrape = 3\n");
        assert!(e.contains("`targets.prod.scrape`"), "{e}");

        // A top-level value that is only wrong in a target's combination: named as the
        // target's key, and said to be inherited.
        let e = error(
            "[api]\nendpoint = \"\"\n[scrape]\njobs = [{id = \"j\"}]\n\
             [targets.p.scrape]\njobs = []\n",
        );
        assert!(e.contains("`targets.p.api.endpoint`"), "{e}");
        assert!(
            e.contains("inherited from the top-level `api.endpoint`"),
            "{e}"
        );
    }

    #[test]
    fn target_names_are_checked() {
        for ok in ["prod", "eu-west-1", "tenant_42", "A", &"a".repeat(64)] {
            assert!(is_target_name(ok), "{ok}");
        }
        for bad in [
            "",
            "-x",
            "_x",
            "a b",
            "a/b",
            "ä",
            "a.b",
            "a\"b",
            &"a".repeat(65),
        ] {
            assert!(!is_target_name(bad), "{bad:?}");
        }
        let e = error("[targets.\"a b\".controller]\nendpoint = \"http://x:1\"\n");
        assert!(
            e.contains("`targets.a b`") && e.contains("ASCII letters"),
            "{e}"
        );
    }

    #[test]
    fn every_section_but_the_process_ones_is_a_cluster_section() {
        // A new top-level section describes one cluster unless it is added here: then
        // targets may set it, which this test makes sure of.
        const PROCESS_SECTIONS: [&str; 2] = ["web", "log"];
        let defaults =
            figment::Figment::from(figment::providers::Serialized::defaults(Config::default()));
        let dict = defaults.data().unwrap().remove(&Profile::Default).unwrap();
        let mut sections: Vec<&str> = dict
            .keys()
            .map(String::as_str)
            .filter(|k| !PROCESS_SECTIONS.contains(k))
            .collect();
        sections.sort_unstable();
        let mut listed = CLUSTER_SECTIONS.to_vec();
        listed.sort_unstable();
        assert_eq!(sections, listed);
    }
}
