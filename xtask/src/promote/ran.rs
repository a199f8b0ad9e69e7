//! What the target ran against what the files say (`domain::statements`): in step 2 for every applied file (the
//! reconciled prefix included) and after the push for the batch. A difference is refused; a file applied before
//! the CLI stored statements is named as unverifiable, never taken as a match. The fix depends on whose history
//! it is (`live::Owner`): the embedded database is rebuilt, a kept history is fixed forward.

use crate::blocked::blocked;
use crate::domain::history::live::{self, Mismatch, Owner, Protected};
use crate::domain::history::lock::Lock;
use crate::domain::history::migrations::Migration;
use crate::domain::refusal::Refusal;
use crate::edges::target::Resolved;

use super::Promotion;
use crate::edges::target::history::{self, Applied};

/// When the check runs: it words the refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum When {
    BeforePush,
    AfterPush,
}

impl Promotion<'_> {
    /// Refuses when a file in `files` that `live` holds is not what the target ran; notes the unverifiable.
    pub(super) fn verify_ran(
        &mut self,
        target: &Resolved,
        files: &[&Migration],
        live: &[Applied],
        when: When,
    ) -> anyhow::Result<()> {
        let verdicts = history::verify_on(target, files, live)?;
        let unverifiable = history::unverifiable(&verdicts);
        if !unverifiable.is_empty() && when == When::BeforePush {
            eprintln!(
                "note: {} applied file(s) were pushed before the CLI stored statements, so what {} ran cannot be compared with them: {}",
                unverifiable.len(),
                target.name,
                unverifiable.join(", ")
            );
        }
        self.record.unverifiable.extend(unverifiable);
        let Some(why) = history::describe_differences(&target.name, &verdicts) else { return Ok(()) };
        let protected = crate::edges::target::protected_history(&self.repo.config, &self.repo.lock()?);
        let fix = live::fix_differences(&verdicts, &owner(target, &protected));
        Err(match when {
            When::BeforePush => blocked(Refusal::HistoryDiffers { why, fix }),
            When::AfterPush => blocked(Refusal::HistoryChangedDuringPush { why, target: target.name.clone() }),
        })
    }
}

impl Promotion<'_> {
    /// Step 2's refusal of a history it cannot account for, worded for whose history it is.
    pub(super) fn refuse_mismatch(&self, target: &Resolved, lock: &Lock, why: &Mismatch) -> anyhow::Error {
        let protected = crate::edges::target::protected_history(&self.repo.config, lock);
        blocked(Refusal::HistoryMismatch { mismatch: why.clone(), explained: why.explain(&owner(target, &protected)) })
    }
}

/// The embedded database is disposable but for what protected targets applied; any other history is kept.
fn owner<'p>(target: &Resolved, protected: &'p Protected) -> Owner<'p> {
    if target.config.embedded { Owner::Embedded(protected) } else { Owner::Kept }
}
