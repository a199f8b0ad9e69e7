//! `cargo xtask fix --renumber [FILE...] [--dry-run]`: an out-of-order file no target has applied gets a new
//! version after every version and head (`domain::history::renumber`), keeping its name; nothing else changes.
//! What a target applied is read from the lock and the committed promotion records; the embedded database's
//! history (read only when its cluster runs) is named, since it is rebuilt from the files.

use std::path::PathBuf;

use anyhow::Context;
use xshell::Shell;

use crate::domain::history::migrations::{Migration, MigrationFile};
use crate::domain::history::renumber::{self, AppliedByRecords, Move};
use crate::domain::refusal::Refusal;
use crate::edges::os::fsutil::Mode;
use crate::edges::repo::{RecordPlace, Repo};

pub fn run(sh: &Shell, repo: &Repo, named: &[PathBuf], mode: Mode) -> anyhow::Result<()> {
    let discovery = repo.discover()?;
    let files: Vec<&MigrationFile> = discovery.migrations.iter().map(|m| &m.file).collect();
    let named = super::choose_names(repo, &discovery.migrations, named)?;
    let records = applied_by_records(repo)?;
    let moves = match renumber::plan(&files, &repo.lock()?, &records, &named, chrono::Utc::now())? {
        Ok(moves) => moves,
        Err(refused) => {
            let refused = refused.iter().map(ToString::to_string).collect();
            return Err(crate::blocked::blocked(Refusal::RenumberRefused { refused }));
        }
    };
    if mode == Mode::Write {
        rename_all(repo, &moves)?;
    }
    warn_embedded_ran(sh, repo, &discovery.migrations, &moves);
    print!("{}", summary(&moves, mode));
    Ok(())
}

/// Every move, or none: a rename that fails undoes the ones before it.
fn rename_all(repo: &Repo, moves: &[Move]) -> anyhow::Result<()> {
    let paths = |m: &Move| (repo.root.join(&m.from), repo.root.join(&m.to));
    let mut done = Vec::new();
    for m in moves {
        let (from, to) = paths(m);
        let renamed = if to.exists() {
            Err(anyhow::anyhow!("{} already exists", repo.rel(&to)))
        } else {
            std::fs::rename(&from, &to).with_context(|| format!("renaming {} to {}", m.from, repo.rel(&to)))
        };
        if let Err(err) = renamed {
            for (from, to) in done.iter().rev() {
                let _ = std::fs::rename(to, from);
            }
            return Err(err.context("fix --renumber: nothing renamed"));
        }
        done.push((from, to));
    }
    Ok(())
}

/// What the committed records say each target applied (`applied`, `reconciled`, `recorded`), by file name.
fn applied_by_records(repo: &Repo) -> anyhow::Result<AppliedByRecords> {
    Ok(crate::edges::records::applied(&crate::edges::records::read(repo, RecordPlace::Committed)?))
}

/// The embedded database is disposable: a moved file it ran is named, with the reset that rebuilds it.
fn warn_embedded_ran(sh: &Shell, repo: &Repo, all: &[Migration], moves: &[Move]) {
    let Some(Ok(applied)) = super::embedded_history(sh, repo).filter(|_| !moves.is_empty()) else { return };
    for m in moves {
        let ran = all.iter().any(|f| f.rel_path == m.from && applied.iter().any(|a| a.version == f.version));
        if ran {
            eprintln!(
                "warning: the embedded database ran {} under its old version; it is disposable: `cargo xtask db reset` rebuilds it from the files",
                m.from
            );
        }
    }
}

fn summary(moves: &[Move], mode: Mode) -> String {
    let verb = if mode == Mode::DryRun { "would rename" } else { "renamed" };
    let mut out: String = moves
        .iter()
        .map(|m| {
            format!("fix --renumber: {verb} {} to {} (it sorted at or before {})\n", m.from, m.to, m.behind.join(", "))
        })
        .collect();
    out.push_str(&match (moves.len(), mode) {
        (0, _) => "fix --renumber: no file is out of order\n".to_string(),
        (n, Mode::DryRun) => format!("fix --renumber: {n} file(s) (dry run: nothing renamed)\n"),
        (n, _) => format!("fix --renumber: {n} file(s); run `cargo xtask check`\n"),
    });
    out
}
