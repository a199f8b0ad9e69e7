//! `cargo xtask`: the promotion runbook as checked commands. See README.md and `docs/design.md` for the user's
//! view; `docs/design.md` ("Where to look") maps the modules.

pub mod baseline;
pub mod bench;
pub mod blocked;
pub mod catalog;
pub mod check;
pub mod db;
pub mod diff;
pub mod docs;
pub mod domain;
pub mod drift;
pub mod edges;
pub mod fix;
pub mod flags;
pub mod new;
pub mod partition;
pub mod platform_baseline;
pub mod promote;
pub mod review;
pub mod status;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use xshell::Shell;

/// Opens the repository once and hands it to the command.
pub fn run(flags: flags::Xtask) -> anyhow::Result<()> {
    let root = project_root(flags.repo.as_deref())?;
    let sh = Shell::new()?;
    sh.change_dir(&root);
    let repo = edges::repo::Repo::open(&root)?;
    let repo = &repo;
    match flags.cmd {
        flags::Cmd::Check(cmd) => cmd.run(&sh, repo),
        flags::Cmd::Review(cmd) => cmd.run(&sh, repo),
        flags::Cmd::Fix(cmd) => cmd.run(&sh, repo),
        flags::Cmd::Status(cmd) => cmd.run(&sh, repo),
        flags::Cmd::New(cmd) => cmd.run(&sh, repo),
        flags::Cmd::Baseline(cmd) => cmd.run(&sh, repo),
        flags::Cmd::Db(cmd) => cmd.run(&sh, repo),
        flags::Cmd::Promote(cmd) => cmd.run(&sh, repo),
        flags::Cmd::Reconcile(cmd) => cmd.run(&sh, repo),
        flags::Cmd::Catalog(cmd) => cmd.run(&sh, repo),
        flags::Cmd::DocsRefresh(cmd) => cmd.run(&sh, repo),
        flags::Cmd::Diff(cmd) => cmd.run(&sh, repo),
        flags::Cmd::Drift(cmd) => cmd.run(&sh, repo),
        flags::Cmd::Partition(cmd) => cmd.run(&sh, repo),
        flags::Cmd::PlatformBaseline(cmd) => cmd.run(&sh, repo),
        flags::Cmd::Bench(cmd) => cmd.run(&sh, repo),
    }
}

/// The repository root: `--repo`, or the nearest directory at or above the current one holding `xtask.toml`
/// (the way git finds `.git`), so the xtask works on any checkout, including the temporary ones tests make.
pub fn project_root(repo: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(repo) = repo {
        let root = repo.canonicalize().with_context(|| format!("--repo {}", repo.display()))?;
        if !root.join(domain::config::FILE_NAME).is_file() {
            bail!(
                "--repo {}: no {} there; point --repo at the repository root",
                repo.display(),
                domain::config::FILE_NAME
            );
        }
        return Ok(root);
    }
    let cwd = std::env::current_dir().context("reading the current directory")?;
    match cwd.ancestors().find(|dir| dir.join(domain::config::FILE_NAME).is_file()) {
        Some(root) => Ok(root.to_path_buf()),
        None => bail!(
            "no {} in {} or any parent; run from inside the repository or pass `--repo DIR`",
            domain::config::FILE_NAME,
            cwd.display()
        ),
    }
}
