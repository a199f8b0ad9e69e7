//! Migration files: which ones the Supabase CLI sees, in the order it applies them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::domain::findings::{Code, Finding, Severity};

/// The folder inside the migrations directory for cutover rollbacks, which the CLI never sees.
pub const ROLLBACK_DIR: &str = "rollback";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The digits before the first `_`: the key of `supabase_migrations.schema_migrations`.
    pub version: String,
    /// What follows the `_`, without `.sql`.
    pub name: String,
    pub file_name: String,
    /// Relative to the repository root, `/`-separated: how findings name the file.
    pub rel_path: String,
    pub path: PathBuf,
    /// The file's bytes as read once (`read_all`), and their checksum. A promotion reads every file once, in
    /// step 1, and every later step (the check gate, the stage, the rehearsal, the lock report, the record)
    /// works from these bytes: an edit on disk meanwhile cannot make them disagree.
    pub source: Option<Source>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub bytes: Arc<[u8]>,
    pub checksum: String,
}

impl Source {
    pub fn new(bytes: Vec<u8>) -> Source {
        let checksum = checksum(&bytes);
        Source { bytes: bytes.into(), checksum }
    }
}

impl Migration {
    /// A file named `file` under `migrations/`, its bytes not read: what the pure rules' tests work on.
    #[cfg(test)]
    pub fn unread(file: &str) -> Migration {
        let (version, name) = parse_file_name(file).unwrap_or(("", file));
        Migration {
            version: version.into(),
            name: name.into(),
            file_name: file.into(),
            rel_path: format!("migrations/{file}"),
            path: Default::default(),
            source: None,
        }
    }

    /// The bytes read once, or (for a command that reads a file only once anyway) read now.
    pub fn bytes(&self) -> anyhow::Result<Arc<[u8]>> {
        match &self.source {
            Some(source) => Ok(source.bytes.clone()),
            None => Ok(std::fs::read(&self.path).with_context(|| format!("reading {}", self.rel_path))?.into()),
        }
    }

    /// The bytes as text: a migration is SQL, and SQL is UTF-8 here (`check` names a file that is not).
    pub fn text(&self) -> anyhow::Result<String> {
        String::from_utf8(self.bytes()?.to_vec())
            .map_err(|_| anyhow::anyhow!("{} is not valid UTF-8; run `cargo xtask check`", self.rel_path))
    }

    pub fn checksum(&self) -> anyhow::Result<String> {
        match &self.source {
            Some(source) => Ok(source.checksum.clone()),
            None => Ok(checksum(&self.bytes()?)),
        }
    }
}

/// Reads every regular file among `migrations` once, in parallel, keeping the bytes. A file that cannot be read
/// keeps no bytes: `check` reports it.
pub fn read_all(migrations: &mut [Migration]) {
    migrations.par_iter_mut().filter(|m| m.source.is_none()).for_each(|m| {
        let regular = std::fs::metadata(&m.path).is_ok_and(|meta| meta.is_file());
        if let Some(bytes) = regular.then(|| std::fs::read(&m.path).ok()).flatten() {
            m.source = Some(Source::new(bytes));
        }
    });
}

/// What a directory listing yields: the files the CLI would apply, and what is wrong with the others.
#[derive(Debug, Default)]
pub struct Discovery {
    pub migrations: Vec<Migration>,
    pub findings: Vec<Finding>,
}

/// Splits a file name the way the CLI does (`^([0-9]+)_(.*)\.sql$`); `None` means the CLI skips the file.
pub fn parse_file_name(file_name: &str) -> Option<(&str, &str)> {
    let stem = file_name.strip_suffix(".sql")?;
    let (version, name) = stem.split_once('_')?;
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((version, name))
}

/// The house convention on top of the CLI's: a 14-digit UTC timestamp and a lower-case snake_case name.
pub fn is_canonical_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

pub fn version_time(version: &str) -> Option<chrono::NaiveDateTime> {
    if version.len() != 14 {
        return None;
    }
    chrono::NaiveDateTime::parse_from_str(version, "%Y%m%d%H%M%S").ok()
}

/// Lists `dir` as the CLI would: top-level `*.sql` files in string order of (version, file name).
pub fn discover(root: &Path, dir: &Path) -> anyhow::Result<Discovery> {
    let mut out = Discovery::default();
    let walk = walkdir::WalkDir::new(dir).min_depth(1).follow_links(false).sort_by_file_name();
    let canonical_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    for entry in walk {
        match entry {
            Ok(entry) if leads_outside(&entry, &canonical_root) => out.findings.push(
                Finding::new(
                    Code::Unreadable,
                    Severity::Error,
                    &rel(root, entry.path()),
                    "is a symlink leading outside the repository: what would run is not what is reviewed here",
                )
                .fix("copy the file into the migrations directory (and commit it) instead of linking to it"),
            ),
            Ok(entry) => classify(root, &entry, &mut out),
            Err(err) => {
                let path = err.path().unwrap_or(dir);
                out.findings.push(
                    Finding::new(Code::Unreadable, Severity::Error, &rel(root, path), format!("cannot list: {err}"))
                        .fix("fix the file's permissions or remove it"),
                );
            }
        }
    }
    out.migrations.sort_by(|a, b| (&a.version, &a.file_name).cmp(&(&b.version, &b.file_name)));
    Ok(out)
}

/// A symlink whose target is outside `root` (a dangling one is left to the read, which reports it).
fn leads_outside(entry: &walkdir::DirEntry, root: &Path) -> bool {
    entry.path_is_symlink() && entry.path().canonicalize().is_ok_and(|target| !target.starts_with(root))
}

fn classify(root: &Path, entry: &walkdir::DirEntry, out: &mut Discovery) {
    let file_name = entry.file_name().to_string_lossy();
    let looks_like_sql = file_name.to_ascii_lowercase().ends_with(".sql");
    let rel_path = rel(root, entry.path());
    if entry.depth() > 1 {
        // `rollback/` holds a cutover's declared rollback (`-- xtask: rollback:`): never pushed, run only by
        // `cargo xtask partition rollback`.
        let rollback =
            entry.depth() == 2 && entry.path().parent().and_then(|p| p.file_name()) == Some(ROLLBACK_DIR.as_ref());
        if looks_like_sql && !entry.file_type().is_dir() && !rollback {
            out.findings.push(
                Finding::new(
                    Code::FileName,
                    Severity::Error,
                    &rel_path,
                    "the Supabase CLI reads only the top level of the migrations directory; this file would never run",
                )
                .fix("move it up into the migrations directory, or delete it"),
            );
        }
        return;
    }
    if !looks_like_sql {
        return;
    }
    if entry.file_type().is_dir() {
        out.findings.push(
            Finding::new(Code::Unreadable, Severity::Error, &rel_path, "is a directory, but is named like a migration")
                .fix("rename or remove the directory"),
        );
        return;
    }
    match parse_file_name(&file_name) {
        Some((version, name)) => out.migrations.push(Migration {
            version: version.to_string(),
            name: name.to_string(),
            file_name: file_name.to_string(),
            rel_path,
            path: entry.path().to_path_buf(),
            source: None,
        }),
        None => out.findings.push(
            Finding::new(
                Code::FileName,
                Severity::Error,
                &rel_path,
                "the Supabase CLI skips this file (it needs `<digits>_<name>.sql`), so it would never run",
            )
            .fix("rename it with `cargo xtask new <name>` and move the SQL into the new file"),
        ),
    }
}

/// `path` relative to `root`, `/`-separated; a path outside `root` as it is.
pub fn rel(root: &Path, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(rel) => rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"),
        Err(_) => path.display().to_string(),
    }
}

/// SHA-256 of the file with CRLF folded to LF, so a Windows checkout (`core.autocrlf`) does not look modified.
pub fn checksum(bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    let mut rest = bytes;
    while let Some(cr) = rest.windows(2).position(|w| w == b"\r\n") {
        hasher.update(&rest[..cr]);
        rest = &rest[cr + 1..];
    }
    hasher.update(rest);
    hex(&hasher.finalize())
}

pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// `AddWidgets`, `add-widgets`, `Add Widgets` → `add_widgets`: a word starts at an upper-case letter after a
/// lower-case one or a digit, and anything not a letter or digit separates words.
pub fn snake_case(text: &str) -> String {
    let mut out = String::new();
    let mut previous: Option<char> = None;
    for c in text.chars() {
        if !c.is_ascii_alphanumeric() {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
        } else {
            let boundary =
                c.is_ascii_uppercase() && previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit());
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
        previous = Some(c);
    }
    out.trim_matches('_').chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_as_the_cli_reads_them() {
        assert_eq!(
            parse_file_name("20260513041000_ce13_sequence_alignment.sql"),
            Some(("20260513041000", "ce13_sequence_alignment"))
        );
        assert_eq!(parse_file_name("1_x.sql"), Some(("1", "x")));
        assert_eq!(parse_file_name("2026_.sql"), Some(("2026", "")));
        assert_eq!(parse_file_name("init.sql"), None);
        assert_eq!(parse_file_name("20260513041000-x.sql"), None);
        assert_eq!(parse_file_name("20260513041000_x.SQL"), None);
        assert_eq!(parse_file_name("v1_x.sql"), None);
    }

    #[test]
    fn canonical_names_and_versions() {
        assert!(is_canonical_name("ce13_sequence_alignment"));
        assert!(!is_canonical_name("AddThing"));
        assert!(!is_canonical_name(""));
        assert!(version_time("20260512220528").is_some());
        assert!(version_time("20261399000000").is_none());
        assert!(version_time("2026051222052").is_none());
    }

    #[test]
    fn checksum_ignores_crlf_but_not_other_changes() {
        let lf = checksum(b"select 1;\nselect 2;\n");
        assert_eq!(checksum(b"select 1;\r\nselect 2;\r\n"), lf);
        assert_ne!(checksum(b"select 1;\nselect 3;\n"), lf);
        assert_ne!(checksum(b"select 1;\rselect 2;\n"), lf, "a lone CR is a real change");
        assert_eq!(checksum(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
