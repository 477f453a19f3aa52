//! The `--web.config.file` parser (exporter-toolkit YAML, inline PEM, bcrypt hashes, Go
//! durations) on arbitrary text: never panics. Relative file names resolve into a
//! directory that does not exist, so nothing outside is read.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let base = Path::new("/nonexistent/arroyo-exporter-fuzz");
        if let Err(e) = arroyo_exporter::webconfig::WebSecurity::from_yaml(
            text,
            &base.join("web.yml"),
            base,
        ) {
            let _ = e.to_string();
        }
        let _ = arroyo_exporter::webconfig::parse_go_duration(text);
    }
});
