//! One writer for what the xtask leaves behind for people to review: a JSON document and its Markdown
//! rendering, side by side, each written atomically. Promotion records, parity evidence and prune plans use it.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::edges::os::fsutil;

/// Paths of the pair written, as `Repo::rel` shows them to people.
pub struct Written {
    pub md: PathBuf,
    pub json: PathBuf,
}

/// Writes `<dir>/<stem>.json` and `<dir>/<stem>.md`, both passed through `redact`.
pub fn write<T: Serialize>(dir: &Path, stem: &str, value: &T, md: &str) -> anyhow::Result<Written> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let json = serde_json::to_string_pretty(value)? + "\n";
    let written = Written { md: dir.join(format!("{stem}.md")), json: dir.join(format!("{stem}.json")) };
    fsutil::write_atomic(&written.json, crate::edges::output::redact::redact(&json).as_bytes())?;
    fsutil::write_atomic(&written.md, crate::edges::output::redact::redact(md).as_bytes())?;
    Ok(written)
}
