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

/// What became of a generated file (`docs-refresh`, `platform-baseline`), as every format says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileState {
    Written,
    /// Asked to write it, and the file already held these bytes: left as it was.
    Unchanged,
    UpToDate,
    /// The committed file differs from what would be written (or is missing).
    Stale,
}

impl FileState {
    pub fn as_str(self) -> &'static str {
        match self {
            FileState::Written => "written",
            FileState::Unchanged => "unchanged",
            FileState::UpToDate => "up-to-date",
            FileState::Stale => "stale",
        }
    }
}

/// A generated file made to hold `contents`: written (atomically, its folder created) in `Write` mode unless it
/// already holds them; otherwise compared with what is there, in the manner of rust-analyzer's
/// `ensure_file_contents`. A missing file never holds them, even empty ones.
pub fn ensure_file_contents(path: &Path, contents: &str, mode: Mode) -> anyhow::Result<FileState> {
    let same = std::fs::read(path).is_ok_and(|current| current == contents.as_bytes());
    match (mode, same) {
        // Not rewritten: its time stays, so `make`-like tools and editors see no change.
        (Mode::Write, true) => Ok(FileState::Unchanged),
        (Mode::Write, false) => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            write_atomic(path, contents.as_bytes())?;
            Ok(FileState::Written)
        }
        (_, true) => Ok(FileState::UpToDate),
        (_, false) => Ok(FileState::Stale),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_file_is_written_or_compared() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docs/x.md");
        assert_eq!(ensure_file_contents(&path, "a\n", Mode::Check).unwrap(), FileState::Stale, "missing");
        assert_eq!(ensure_file_contents(&path, "a\n", Mode::Write).unwrap(), FileState::Written);
        assert_eq!(ensure_file_contents(&path, "a\n", Mode::Check).unwrap(), FileState::UpToDate);
        assert_eq!(ensure_file_contents(&path, "b\n", Mode::DryRun).unwrap(), FileState::Stale);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\n", "only Write writes");
        assert_eq!(ensure_file_contents(&dir.path().join("none"), "", Mode::Check).unwrap(), FileState::Stale);
    }

    #[test]
    fn writing_the_bytes_a_file_already_holds_leaves_it_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.md");
        std::fs::write(&path, "a\n").unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
        assert_eq!(ensure_file_contents(&path, "a\n", Mode::Write).unwrap(), FileState::Unchanged);
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), old, "not rewritten");
        assert_eq!(ensure_file_contents(&path, "b\n", Mode::Write).unwrap(), FileState::Written);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "b\n");
    }
}
