//! File writes that never leave a half-written file behind.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Writes `contents` to a temporary file beside `path`, syncs it, then renames it over `path`.
pub fn write_atomic(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().with_context(|| format!("{} has no parent directory", path.display()))?;
    let file_name = path.file_name().with_context(|| format!("{} has no file name", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp-{}", file_name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(err) = &result {
        let _ = std::fs::remove_file(&tmp);
        if err.kind() == std::io::ErrorKind::StorageFull {
            return result.with_context(|| {
                format!(
                    "writing {}: the disk is full. The previous file is unchanged; free space, then run the command again",
                    path.display()
                )
            });
        }
    }
    result.with_context(|| format!("writing {}", path.display()))
}

/// Creates `path` with `contents`, failing if it already exists; still atomic (temp file + hard link).
pub fn create_new_atomic(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    write_atomic(&tmp, contents)?;
    // A hard link fails when `path` exists, which a rename would silently replace.
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    linked.with_context(|| format!("creating {}", path.display()))
}

/// What a command that changes something does: change it (`Write`), compare with what it would write and fail
/// when stale (`Check`), or go as far as it can without changing anything (`DryRun`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    Check,
    DryRun,
}
