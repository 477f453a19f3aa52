//! The configuration loader (TOML file layer over the defaults, then validation) on
//! arbitrary text: never panics; errors render.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = arroyo_exporter::config::load_from_toml_str(text) {
            let _ = e.to_string();
        }
    }
});
