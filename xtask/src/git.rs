//! What promote asks git: is the checkout clean, and which commit is it.

use xshell::{Shell, cmd};

/// Paths with uncommitted changes (untracked files included); `Err` when this is no git checkout.
pub fn dirty_paths(sh: &Shell) -> anyhow::Result<Vec<String>> {
    let out = cmd!(sh, "git status --porcelain --untracked-files=all").quiet().ignore_stderr().read()?;
    Ok(out.lines().map(|l| l.get(3..).unwrap_or(l).to_string()).collect())
}

pub fn head_commit(sh: &Shell) -> Option<String> {
    cmd!(sh, "git rev-parse HEAD").quiet().ignore_stderr().read().ok().map(|s| s.trim().to_string())
}
