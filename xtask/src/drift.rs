//! `cargo xtask drift --target T`: the migrations up to T's recorded head, replayed on a local shadow, against T's
//! live schema. Whatever differs was changed by hand (the runbook: "no direct manual DDL drift").

use xshell::Shell;

use crate::blocked::blocked;
use crate::diff::DeltaReport;
use crate::domain::refusal::Refusal;
use crate::domain::schema::delta::{self, Change};
use crate::edges::output::report;
use crate::edges::repo::Repo;
use crate::edges::shadow::Shadow;
use crate::edges::supabase::cli::Cli;
use crate::edges::target::Resolved;
use crate::edges::target::history;
use crate::flags;

impl flags::Drift {
    pub fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let target = Resolved::resolve(sh, repo, &self.target)?;
        let cli = Cli::locate(sh, &repo.root)?;
        let live = crate::edges::target::catalog::read(sh, repo, &target)?;
        let head = history::head(&target.name, target.config, &repo.lock()?, live.head.as_deref());
        let replayed = replay(sh, repo, &cli, target.shadow_of()?, head.as_deref())?;
        let expected = crate::diff::expected(repo)?;
        // Extensions the platform installs (pg_graphql, ...) are no drift; ones the migrations create but the
        // target lacks are.
        let deltas =
            delta::diff(&replayed, &live).into_iter().filter(|d| d.kind != "extension" || d.change == Change::OnlyInA);
        let (drift, accepted) = crate::diff::split(deltas.collect(), &expected);
        let (a, b) =
            (format!("migrations up to {}", head.as_deref().unwrap_or("(none)")), format!("{} live", target.name));
        eprintln!("drift: {} difference(s) between {a} and {b} ({accepted} expected)", drift.len());
        let count = drift.len();
        report::emit(&DeltaReport { deltas: drift, a, b }, self.output.format)?;
        if count == 0 {
            return Ok(());
        }
        Err(blocked(Refusal::Drift { target: target.name.clone(), count }))
    }
}

/// The files up to `head` pushed through the CLI onto a fresh shadow, snapshotted; the shadow is dropped after.
fn replay(
    sh: &Shell,
    repo: &Repo,
    cli: &Cli,
    shadow_of: (crate::domain::major::Major, crate::domain::platform::RoleModel),
    head: Option<&str>,
) -> anyhow::Result<crate::domain::schema::catalog::Snapshot> {
    let files = repo.discover()?.migrations;
    let applied: Vec<_> = files.iter().filter(|m| head.is_some_and(|h| m.version.as_str() <= h)).collect();
    let (shadow, _) = Shadow::at_history(sh, repo, cli, shadow_of, &applied, "drift")
        .map_err(|e| anyhow::anyhow!("replaying the migrations on a shadow failed: {e:#}"))?;
    crate::edges::target::catalog::read_parallel(shadow.url(), &repo.config.catalog_excluded())
}
