//! Migration files: which ones the Supabase CLI sees, in the order it applies them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::domain::findings::{Code, Finding, Severity};

/// The folder inside the migrations directory for cutover rollbacks, which the CLI never sees.
pub const ROLLBACK_DIR: &str = "rollback";

/// A file the listing found where the CLI would apply it: its name and place, not yet its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationFile {
    /// The digits before the first `_`: the key of `supabase_migrations.schema_migrations`.
    pub version: String,
    /// What follows the `_`, without `.sql`.
    pub name: String,
    pub file_name: String,
    /// Relative to the repository root, `/`-separated: how findings name the file.
    pub rel_path: String,
    pub path: PathBuf,
}

impl MigrationFile {
    /// `file_name` (split as the CLI splits it) found at `path`, which findings name `rel_path`; `None` when the
    /// CLI would skip the file.
    pub fn new(file_name: &str, rel_path: String, path: PathBuf) -> Option<MigrationFile> {
        let (version, name) = parse_file_name(file_name)?;
        Some(MigrationFile { version: version.into(), name: name.into(), file_name: file_name.into(), rel_path, path })
    }

    /// A file named `file` under `migrations/`: what the pure rules' tests work on.
    #[cfg(test)]
    pub fn named(file: &str) -> MigrationFile {
        let (version, name) = parse_file_name(file).unwrap_or(("", file));
        MigrationFile {
            version: version.into(),
            name: name.into(),
            file_name: file.into(),
            rel_path: format!("migrations/{file}"),
            path: Default::default(),
        }
    }
}

/// A migration file read once: its bytes, their checksum and their text, all computed here from the bytes (as
/// sqlx's `Migration::new` computes its checksum from its SQL). A promotion reads every file once, in step 1,
/// and every later step (the check gate, the stage, the rehearsal, the lock report, the record) works from
/// these bytes: an edit on disk meanwhile cannot make them disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub file: MigrationFile,
    content: Content,
    checksum: String,
}

/// The bytes, kept once: as text when they are UTF-8 (SQL here is), else as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Content {
    Text(Arc<str>),
    NotUtf8 { bytes: Arc<[u8]>, valid_up_to: usize },
}

/// A migration is SQL, and SQL is UTF-8 here: a file that is not has no text (`check` names it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotUtf8 {
    pub rel_path: String,
    /// How many bytes from the start are valid UTF-8.
    pub valid_up_to: usize,
}

impl std::fmt::Display for NotUtf8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is not valid UTF-8; run `cargo xtask check`", self.rel_path)
    }
}

impl std::error::Error for NotUtf8 {}

// A read file is its listed file plus its content: rules and steps read its name and place as they are.
impl std::ops::Deref for Migration {
    type Target = MigrationFile;
    fn deref(&self) -> &MigrationFile {
        &self.file
    }
}

impl Migration {
    pub fn new(file: MigrationFile, bytes: Vec<u8>) -> Migration {
        let checksum = checksum(&bytes);
        let content = match String::from_utf8(bytes) {
            Ok(text) => Content::Text(text.into()),
            Err(err) => {
                let valid_up_to = err.utf8_error().valid_up_to();
                Content::NotUtf8 { bytes: err.into_bytes().into(), valid_up_to }
            }
        };
        Migration { file, content, checksum }
    }

    /// The file `file` under `migrations/` holding `sql`: what the pure rules' tests work on.
    #[cfg(test)]
    pub fn with_sql(file: &str, sql: &str) -> Migration {
        Migration::new(MigrationFile::named(file), sql.as_bytes().to_vec())
    }

    pub fn bytes(&self) -> &[u8] {
        match &self.content {
            Content::Text(text) => text.as_bytes(),
            Content::NotUtf8 { bytes, .. } => bytes,
        }
    }

    pub fn text(&self) -> Result<&str, NotUtf8> {
        match &self.content {
            Content::Text(text) => Ok(text),
            Content::NotUtf8 { valid_up_to, .. } => {
                Err(NotUtf8 { rel_path: self.file.rel_path.clone(), valid_up_to: *valid_up_to })
            }
        }
    }

    pub fn checksum(&self) -> &str {
        &self.checksum
    }
}

/// Why a listed file has no content: `check` reports each (the listing has reported what it skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// Its metadata cannot be read: a broken or looping symlink, say.
    Stat(String),
    /// A FIFO would block a read forever; a directory has no content.
    NotRegular,
    /// Present and regular, but reading it failed.
    Read(String),
}

impl Unreadable {
    pub fn finding(&self, rel_path: &str) -> Finding {
        let (message, fix) = match self {
            Unreadable::Stat(err) => {
                (format!("cannot read: {err}"), "fix the file (a broken or looping symlink?) or remove it")
            }
            Unreadable::NotRegular => ("is not a regular file".into(), "replace it with a plain .sql file"),
            Unreadable::Read(err) => (
                format!("cannot read: {err}"),
                "fix the file's permissions (it must be readable by whoever runs the push)",
            ),
        };
        Finding::new(Code::Unreadable, Severity::Error, rel_path, message).fix(fix)
    }
}

/// A listed file that could not be read, and why.
#[derive(Debug, Clone)]
pub struct Unread {
    pub file: MigrationFile,
    pub why: Unreadable,
}

/// What the migrations directory holds, read: the files the CLI would apply (in its order), those of them that
/// cannot be read, and what is wrong with the other entries.
#[derive(Debug, Default)]
pub struct Discovery {
    pub migrations: Vec<Migration>,
    pub unread: Vec<Unread>,
    pub findings: Vec<Finding>,
}

impl Discovery {
    /// Every listed file, read or not, in the CLI's order: what the rules on names and order judge.
    pub fn listing(&self) -> Vec<&MigrationFile> {
        let mut all: Vec<&MigrationFile> =
            self.migrations.iter().map(|m| &m.file).chain(self.unread.iter().map(|u| &u.file)).collect();
        all.sort_by(|a, b| (&a.version, &a.file_name).cmp(&(&b.version, &b.file_name)));
        all
    }
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
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
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
