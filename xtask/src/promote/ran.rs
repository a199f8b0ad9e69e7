//! What the target ran against what the files say (`crate::domain::history::statements`, through
//! `crate::edges::target::history::verify_on`): in step 2 for every applied file (the reconciled prefix included)
//! and after the push for the batch. A difference is refused; a file applied before the CLI stored statements is
//! named as unverifiable, never taken as a match. The fix depends on whose history it is
//! (`crate::domain::history::live::Owner`): the embedded database is rebuilt, a kept history is fixed forward.

use crate::blocked::blocked;
use crate::domain::history::live::{self, Mismatch, Owner, Protected};
use crate::domain::history::lock::Lock;
use crate::domain::history::migrations::Migration;
use crate::domain::refusal::Refusal;
use crate::edges::target::Resolved;
use crate::edges::target::history::{self, Applied};

use super::Ctx;

/// When the check runs: it words the refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum When {
    BeforePush,
    AfterPush,
}

/// The files in `files` that `live` holds but whose statements the target did not store (the record names them),
/// and the refusal when one of them is not what the target ran.
pub(super) fn verify(
    ctx: &Ctx,
    target: &Resolved,
    files: &[&Migration],
    live: &[Applied],
    when: When,
) -> (Vec<String>, anyhow::Result<()>) {
    let verdicts = match history::verify_on(target, files, live) {
        Ok(verdicts) => verdicts,
        Err(err) => return (Vec::new(), Err(err)),
    };
    let unverifiable = history::unverifiable(&verdicts);
    if !unverifiable.is_empty() && when == When::BeforePush {
        eprintln!(
            "note: {} applied file(s) were pushed before the CLI stored statements, so what {} ran cannot be compared with them: {}",
            unverifiable.len(),
            target.name,
            unverifiable.join(", ")
        );
    }
    let Some(why) = history::describe_differences(&target.name, &verdicts) else { return (unverifiable, Ok(())) };
    let lock = match ctx.repo.lock() {
        Ok(lock) => lock,
        Err(err) => return (unverifiable, Err(err)),
    };
    let protected = crate::edges::target::protected_history(&ctx.repo.config, &lock);
    let fix = live::fix_differences(&verdicts, &owner(target, &protected));
    let refusal = match when {
        When::BeforePush => blocked(Refusal::HistoryDiffers { why, fix }),
        When::AfterPush => blocked(Refusal::HistoryChangedDuringPush { why, target: target.name.clone() }),
    };
    (unverifiable, Err(refusal))
}

/// Step 2's refusal of a history it cannot account for, worded for whose history it is.
pub(super) fn refuse_mismatch(ctx: &Ctx, target: &Resolved, lock: &Lock, why: &Mismatch) -> anyhow::Error {
    let protected = crate::edges::target::protected_history(&ctx.repo.config, lock);
    blocked(Refusal::HistoryMismatch { mismatch: why.clone(), explained: why.explain(&owner(target, &protected)) })
}

/// The embedded database is disposable but for what protected targets applied; any other history is kept.
fn owner<'p>(target: &Resolved, protected: &'p Protected) -> Owner<'p> {
    if target.config.embedded { Owner::Embedded(protected) } else { Owner::Kept }
}
