//! `cargo xtask drift --target T`: the migrations up to T's recorded head, replayed on a local shadow, against T's
//! live schema. Whatever differs was changed by hand (the runbook: "no direct manual DDL drift").

use xshell::Shell;

use crate::catalog;
use crate::delta::{self, Change};
use crate::flags;
use crate::pg;
use crate::redact::Redactor;
use crate::report::Blocked;
use crate::supabase::{Cli, PushMode, Remote};
use crate::target::Resolved;
use crate::tree::Repo;

impl flags::Drift {
    pub fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let repo = Repo::open(sh)?;
        let mut redactor = Redactor::from_env();
        let target = Resolved::resolve(sh, &repo, &self.target, &mut redactor)?;
        let cli = Cli::locate(sh, &repo.root)?;
        let live = catalog::read(sh, &repo, &target, &redactor)?;
        let head = if target.config.embedded {
            live.head.clone()
        } else {
            repo.lock()?.head(&target.name).map(str::to_string)
        };
        let replayed = replay(sh, &repo, &cli, head.as_deref(), &mut redactor)?;
        let expected = crate::diff::expected(&repo)?;
        // Extensions the platform installs (pg_graphql, ...) are no drift; ones the migrations create but the
        // target lacks are.
        let deltas =
            delta::diff(&replayed, &live).into_iter().filter(|d| d.kind != "extension" || d.change == Change::OnlyInA);
        let (drift, accepted) = crate::diff::split(deltas.collect(), &expected);
        let (a, b) =
            (format!("migrations up to {}", head.as_deref().unwrap_or("(none)")), format!("{} live", target.name));
        print!("{}", delta::render(&drift, self.output.format, &a, &b));
        eprintln!("drift: {} difference(s) between {a} and {b} ({accepted} expected)", drift.len());
        if drift.is_empty() {
            return Ok(());
        }
        Err(Blocked(format!(
            "drift: {} has {} change(s) no migration made. Capture each in a forward-fix migration (`cargo xtask new fix_drift_<what>`) \
             or revert it on the target; never leave manual DDL in place",
            target.name,
            drift.len()
        ))
        .into())
    }
}

/// A fresh shadow database in the embedded cluster, the files up to `head` pushed through the CLI, snapshotted.
fn replay(
    sh: &Shell,
    repo: &Repo,
    cli: &Cli,
    head: Option<&str>,
    redactor: &mut Redactor,
) -> anyhow::Result<catalog::Snapshot> {
    let admin = pg::Cluster::new(&repo.root).start(sh)?;
    redactor.add_url(&admin);
    let name = format!("xtask_drift_{}", std::process::id());
    let url = pg::create_database(&admin, &name)?;
    let dir = repo.root.join("target/xtask/stage").join(&name);
    let result = (|| {
        let files = repo.discover()?.migrations;
        let applied: Vec<_> = files.iter().filter(|m| head.is_some_and(|h| m.version.as_str() <= h)).collect();
        crate::promote::stage_workdir(&dir, &applied, &[])?;
        if !applied.is_empty() {
            let out = cli.push(sh, &dir, &Remote::Url(url.clone()), PushMode::Apply, redactor)?;
            anyhow::ensure!(
                out.success,
                "replaying the migrations on a shadow failed: {}",
                out.error.map(|e| crate::supabase::explain(&e)).unwrap_or(out.transcript)
            );
        }
        catalog::read_parallel(&url, &repo.config.catalog_excluded())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    pg::drop_database(&admin, &name)?;
    result
}
