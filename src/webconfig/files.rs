//! Files named in the web configuration: relative paths are resolved against the
//! configuration file's directory (as the toolkit does), and a setting that can be
//! given as a file or as inline text takes the file when both are set.

use std::path::{Path, PathBuf};

use super::KeyError;

/// `file` as a path: as is when absolute, under `base_dir` otherwise.
pub(super) fn resolve(base_dir: &Path, file: &str) -> PathBuf {
    let p = Path::new(file);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base_dir.join(p)
    }
}

/// The contents of `path`; an error names `key` and the path.
fn read_file(key: &str, path: &Path) -> Result<Vec<u8>, KeyError> {
    std::fs::read(path).map_err(|e| {
        (
            key.to_string(),
            format!("cannot read {}: {e}", path.display()),
        )
    })
}

/// The bytes of a setting given as a file (`file` under the key `file_key`) or inline
/// (`inline` under `inline_key`), with the key they came from. The file wins, as in the
/// toolkit; `None` when neither is set.
pub(super) fn file_or_inline(
    base_dir: &Path,
    (file_key, file): (&'static str, Option<&str>),
    (inline_key, inline): (&'static str, Option<Vec<u8>>),
) -> Result<Option<(&'static str, Vec<u8>)>, KeyError> {
    match (file, inline) {
        (Some(f), _) => Ok(Some((
            file_key,
            read_file(file_key, &resolve(base_dir, f))?,
        ))),
        (None, Some(text)) => Ok(Some((inline_key, text))),
        (None, None) => Ok(None),
    }
}
