//! `cargo xtask`: the promotion runbook as checked commands. See README.md and `docs/` for the user's view.

mod baseline;
mod bench;
mod catalog;
mod check;
mod config;
mod db;
mod delta;
mod diff;
mod docs;
mod drift;
mod findings;
mod flags;
mod fsutil;
mod git;
mod lock;
mod migrations;
mod new;
mod partition;
mod pg;
mod plan;
mod promote;
mod record;
mod redact;
mod report;
mod rules;
mod sql;
mod status;
mod supabase;
mod target;
mod tree;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Parser;
use xshell::Shell;

fn main() -> ExitCode {
    let flags = flags::Xtask::parse();
    match run(flags) {
        Ok(()) => ExitCode::SUCCESS,
        // Every error passes the redactor: no token or password reaches a terminal or a CI log.
        Err(err) => {
            let redactor = redact::Redactor::from_env();
            match err.downcast_ref::<report::Blocked>() {
                Some(blocked) => {
                    eprintln!("{}", redactor.redact(&blocked.to_string()));
                    ExitCode::from(1)
                }
                None => {
                    eprintln!("error: {}", redactor.redact(&format!("{err:#}")));
                    ExitCode::from(2)
                }
            }
        }
    }
}

fn run(flags: flags::Xtask) -> anyhow::Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(project_root(flags.repo.as_deref())?);
    match flags.cmd {
        flags::Cmd::Check(cmd) => cmd.run(&sh),
        flags::Cmd::Status(cmd) => cmd.run(&sh),
        flags::Cmd::New(cmd) => cmd.run(&sh),
        flags::Cmd::Baseline(cmd) => cmd.run(&sh),
        flags::Cmd::Db(cmd) => cmd.run(&sh),
        flags::Cmd::Promote(cmd) => cmd.run(&sh),
        flags::Cmd::Catalog(cmd) => cmd.run(&sh),
        flags::Cmd::DocsRefresh(cmd) => cmd.run(&sh),
        flags::Cmd::Diff(cmd) => cmd.run(&sh),
        flags::Cmd::Drift(cmd) => cmd.run(&sh),
        flags::Cmd::Partition(cmd) => cmd.run(&sh),
        flags::Cmd::Bench(cmd) => cmd.run(&sh),
    }
}

/// The repository root: `--repo`, or the nearest directory at or above the current one holding `xtask.toml`
/// (the way git finds `.git`), so the xtask works on any checkout, including the temporary ones tests make.
fn project_root(repo: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(repo) = repo {
        let root = repo.canonicalize().with_context(|| format!("--repo {}", repo.display()))?;
        if !root.join(config::FILE_NAME).is_file() {
            bail!("--repo {}: no {} there; point --repo at the repository root", repo.display(), config::FILE_NAME);
        }
        return Ok(root);
    }
    let cwd = std::env::current_dir().context("reading the current directory")?;
    match cwd.ancestors().find(|dir| dir.join(config::FILE_NAME).is_file()) {
        Some(root) => Ok(root.to_path_buf()),
        None => bail!(
            "no {} in {} or any parent; run from inside the repository or pass `--repo DIR`",
            config::FILE_NAME,
            cwd.display()
        ),
    }
}

// The parser allocates a node per token; mimalloc makes `check` about a tenth faster than glibc's malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
