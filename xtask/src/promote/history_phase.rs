//! On the embedded default, pending files at or before the lowest head recorded for the protected targets are
//! history: they ran on production under the platform's rules of their day, when `postgres` could create
//! objects in auth, storage and realtime and act as their owners. They are pushed first under those rules
//! (`supabase_xtask.grant_historic`, withdrawn right after), the rest of the batch under today's.

use anyhow::Context;

use crate::domain::history::migrations::Migration;
use crate::domain::platform::BOOTSTRAP_SUPERUSER;
use crate::edges::output::progress::Spinner;
use crate::edges::postgres as pg;
use crate::edges::supabase::cli::{self, Cli, Push, Remote};
use crate::edges::supabase::stage::Stage;
use crate::edges::target::{CliTarget, Resolved};

use super::Ctx;
use super::plan::Plan;

/// Pushes the batch's history files under the rules of their day. A file that fails here is left to the main
/// push, which runs it under today's rules and reports it as any failed file.
pub(super) fn push(ctx: &Ctx, cli: &Cli, target: &Resolved, cli_target: &CliTarget, plan: &Plan) -> anyhow::Result<()> {
    let Remote::Url(url) = &cli_target.remote else { return Ok(()) };
    if !target.config.embedded {
        return Ok(());
    }
    let mut admin = pg::connect(&pg::with_user(url, BOOTSTRAP_SUPERUSER))?;
    // A run interrupted mid-phase left the grants: today's rules first, whatever follows.
    admin.batch_execute("select supabase_xtask.withdraw_historic()")?;
    let config = &ctx.repo.config;
    let Some(cutoff) = plan.lock.lowest_head_of(|name| config.targets.get(name).is_some_and(|t| t.protected)) else {
        return Ok(());
    };
    let early: Vec<&Migration> = plan.batch().iter().copied().filter(|m| m.version.as_str() <= cutoff).collect();
    if early.is_empty() {
        return Ok(());
    }
    let stage = Stage::new(ctx.repo.stage_dir("history_phase"), &plan.applied, &early)?;
    admin.batch_execute("select supabase_xtask.grant_historic()")?;
    // Each file named as the CLI starts it, numbered within the whole batch (the main push goes on from there).
    let names: Vec<&str> = plan.batch().iter().map(|m| m.file_name.as_str()).collect();
    let spinner = Spinner::start("pushing the history files", ctx.options.format);
    let line = |line: &str| {
        if let Some(file) = cli::applying(line) {
            let at = names.iter().position(|n| *n == file).map_or_else(|| "?".to_string(), |i| (i + 1).to_string());
            spinner.step(format!("applying {at}/{} {file}", names.len()));
        }
    };
    let stop = || ctx.options.interrupt.requested();
    let watch = cli::Watch { stop: &stop, line: &line };
    let pushed = cli.push_until(ctx.sh, (stage.path(), &cli_target.remote, &[]), Push::Apply, watch);
    spinner.clear();
    // Whatever the push did; a withdrawal that fails here is done again at the next promotion's start.
    let withdrawn = admin.batch_execute("select supabase_xtask.withdraw_historic()");
    let pushed = pushed?;
    withdrawn.context("withdrawing the history's grants from the embedded database")?;
    if pushed.success {
        eprintln!(
            "       history: {} file(s) at or before {cutoff} (the lowest head of the protected targets) applied under the platform's rules of their day",
            early.len()
        );
    }
    Ok(())
}
