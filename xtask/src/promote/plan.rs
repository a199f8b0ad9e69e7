//! Step 2's plan, made once: the recorded head, the live history reconciled with it, and the files pending
//! after it, cut by `--until` into the batch and the files beyond it (shown, not promoted now). Every later
//! step reads the batch from here; nothing computes it again.

use std::borrow::Cow;

use crate::check::Analyses;
use crate::domain::history::batch;
use crate::domain::history::lock::Lock;
use crate::domain::history::migrations::Migration;
use crate::domain::lint::sql::{self, Analysis, LintSettings};
use crate::edges::supabase::cli::Cli;
use crate::edges::supabase::stage::Stage;
use crate::edges::target::Resolved;
use crate::edges::target::history::{self, Applied, Reconcile};

use super::Ctx;
use super::record::RecordFile;

pub(super) struct Plan<'f> {
    /// Every migration file, as step 1 read them.
    pub files: &'f [Migration],
    pub lock: Lock,
    /// The target's history as step 2 read it.
    pub live: Vec<Applied>,
    /// What the batch goes after: the recorded head, moved past the prefix an interrupted promotion applied.
    pub head: Option<String>,
    /// The files at or before `head`.
    pub applied: Vec<&'f Migration>,
    /// The files after the recorded head: the reconciled prefix, then the batch, then the files beyond it.
    pending: Vec<&'f Migration>,
    reconciled: usize,
    /// Where the batch ends in `pending`.
    cut: usize,
    /// The batch's statements as `check` parsed them in step 1 (a file it did not lint is parsed here, once),
    /// for the phase and cutover gates, the extension preflight, the lock report and the push's segments.
    analyses: Vec<Cow<'f, Analysis>>,
}

/// The recorded head, the live history and the reconciled prefix; the batch is everything pending until
/// `Plan::until` cuts it. A history this checkout cannot account for is refused (`super::ran::refuse_mismatch`).
/// `appeared`: versions another promotion of ours applied while this one waited for its lock (its record is in
/// its own checkout).
pub(super) fn read<'f>(
    ctx: &Ctx,
    cli: &Cli,
    target: &Resolved,
    files: &'f [Migration],
    appeared: &[String],
) -> anyhow::Result<Plan<'f>> {
    let lock = ctx.repo.lock()?;
    let live = read_live(ctx, cli, target)?;
    let recorded_head = history::head(ctx.name, target.config, &lock, live.last().map(|a| a.version.as_str()));
    let pending = batch::pending(files, recorded_head.as_deref(), None)?;
    // Pending files found applied are an interrupted promotion's only when its record says it pushed them.
    let pushed = crate::edges::records::pushed_to(
        &crate::edges::records::read_promotions_of(ctx.repo, target.record_place(), ctx.name)?,
        ctx.name,
    );
    let known = history::Known {
        recorded: |m: &Migration| !target.config.embedded && lock.files.contains_key(&m.file_name),
        pushed_by_us: |m: &Migration| pushed.contains(&m.file_name) || appeared.contains(&m.version),
    };
    let reconciled = match history::reconcile(ctx.name, (files, recorded_head.as_deref()), &live, &pending, known) {
        Ok(Reconcile::InSync) => 0,
        Ok(Reconcile::Interrupted(n)) => n,
        Err(why) => return Err(super::ran::refuse_mismatch(ctx, target, &lock, &why)),
    };
    let head = pending[..reconciled].last().map(|m| m.version.clone()).or(recorded_head);
    // The files are in version order, so the files at or before the head are a prefix.
    let applied = files.iter().filter(|m| head.as_deref().is_some_and(|h| m.version.as_str() <= h)).collect();
    let cut = pending.len();
    Ok(Plan { files, lock, live, head, applied, pending, reconciled, cut, analyses: Vec::new() })
}

/// The target's live history, read directly or through the CLI from a scratch workdir (`reconcile` reads it so too).
pub(super) fn read_live(ctx: &Ctx, cli: &Cli, target: &Resolved) -> anyhow::Result<Vec<Applied>> {
    let workdir = Stage::empty(ctx.repo.stage_dir(&format!("{}-history", ctx.name)))?;
    history::read(ctx.sh, target, Some(cli), workdir.path())
}

impl<'f> Plan<'f> {
    /// The batch cut at `--until` (an `until` that is not pending is an error), with `check`'s analysis of each
    /// file.
    pub(super) fn until(self, until: Option<&str>, checked: &'f Analyses) -> anyhow::Result<Plan<'f>> {
        let cut = self.reconciled + batch::up_to(&self.pending[self.reconciled..], until)?;
        let analyses = self.pending[self.reconciled..cut]
            .iter()
            .map(|m| match checked.get(&m.file_name) {
                Some(analysis) => Ok(Cow::Borrowed(analysis)),
                None => Ok(Cow::Owned(sql::analyze(m.text()?, &LintSettings { squawk_rules: &[] }))),
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Plan { cut, analyses, ..self })
    }

    /// Each batch file with its statements.
    pub(super) fn analysed(&self) -> impl Iterator<Item = (&'f Migration, &Analysis)> + '_ {
        self.batch().iter().copied().zip(self.analyses.iter().map(|a| &**a))
    }

    /// Applied by an earlier, interrupted promotion: recorded by this one.
    pub(super) fn reconciled(&self) -> &[&'f Migration] {
        &self.pending[..self.reconciled]
    }

    /// What this promotion pushes, in order.
    pub(super) fn batch(&self) -> &[&'f Migration] {
        &self.pending[self.reconciled..self.cut]
    }

    /// Pending files after `--until`: shown, not promoted now.
    pub(super) fn beyond(&self) -> &[&'f Migration] {
        &self.pending[self.cut..]
    }

    /// Per batch file: whether it runs CONCURRENTLY statements (pushed on its own, without a lock budget).
    pub(super) fn concurrent(&self) -> Vec<bool> {
        let concurrently = |f: &sql::Fact| matches!(f, sql::Fact::Concurrently { .. });
        self.analyses.iter().map(|a| a.facts.iter().any(|(_, f)| concurrently(f))).collect()
    }

    /// The batch as the record names it: each file with its checksum.
    pub(super) fn record_files(&self) -> Vec<RecordFile> {
        self.batch()
            .iter()
            .map(|m| RecordFile { file: m.file_name.clone(), sha256: m.checksum().to_string() })
            .collect()
    }
}
