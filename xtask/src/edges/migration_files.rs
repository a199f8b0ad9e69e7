//! The migration files on disk: listed as the CLI lists them (walkdir), read once and in parallel (rayon) into
//! `Migration` values, and compared with the disk again right before a push.

use std::path::Path;

use rayon::prelude::*;

use crate::domain::findings::{Code, Finding, Severity};
use crate::domain::history::migrations::{
    Discovery, Migration, MigrationFile, ROLLBACK_DIR, Unread, Unreadable, checksum, rel,
};

/// What a directory listing yields: the files the CLI would apply, and what is wrong with the other entries.
#[derive(Debug, Default)]
struct Listing {
    files: Vec<MigrationFile>,
    findings: Vec<Finding>,
}

/// Lists `dir` as the CLI would (top-level `*.sql` files in string order of (version, file name)) and reads
/// every file once, in parallel.
pub fn discover(root: &Path, dir: &Path) -> Discovery {
    let listing = list(root, dir);
    // Boxed: an unreadable file is rare, and a `Result` as large as its error is not worth it.
    let read: Vec<Result<Migration, Box<Unread>>> = listing
        .files
        .into_par_iter()
        .map(|file| match read(&file.path) {
            Ok(bytes) => Ok(Migration::new(file, bytes)),
            Err(why) => Err(Box::new(Unread { file, why })),
        })
        .collect();
    let mut out = Discovery { findings: listing.findings, ..Discovery::default() };
    for file in read {
        match file {
            Ok(migration) => out.migrations.push(migration),
            Err(unread) => out.unread.push(*unread),
        }
    }
    out
}

/// The files among `migrations` whose bytes on disk are no longer the ones read (or can no longer be read):
/// "edited on disk since it was read".
pub fn changed_since_read<'m>(migrations: &[&'m Migration]) -> Vec<&'m Migration> {
    migrations
        .par_iter()
        .filter(|m| std::fs::read(&m.path).map(|b| checksum(&b)).ok().as_deref() != Some(m.checksum()))
        .copied()
        .collect()
}

/// A regular file's bytes, once; a FIFO is never opened (a read would block forever).
fn read(path: &Path) -> Result<Vec<u8>, Unreadable> {
    match std::fs::metadata(path) {
        Err(err) => Err(Unreadable::Stat(err.to_string())),
        Ok(meta) if !meta.is_file() => Err(Unreadable::NotRegular),
        Ok(_) => std::fs::read(path).map_err(|err| Unreadable::Read(err.to_string())),
    }
}

fn list(root: &Path, dir: &Path) -> Listing {
    let mut out = Listing::default();
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
    out.files.sort_by(|a, b| (&a.version, &a.file_name).cmp(&(&b.version, &b.file_name)));
    out
}

/// A symlink whose target is outside `root` (a dangling one is left to the read, which reports it).
fn leads_outside(entry: &walkdir::DirEntry, root: &Path) -> bool {
    entry.path_is_symlink() && entry.path().canonicalize().is_ok_and(|target| !target.starts_with(root))
}

fn classify(root: &Path, entry: &walkdir::DirEntry, out: &mut Listing) {
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
    match MigrationFile::new(&file_name, rel_path.clone(), entry.path().to_path_buf()) {
        Some(file) => out.files.push(file),
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
