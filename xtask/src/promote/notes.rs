//! What the record notes about the database a batch ran on: its PostgreSQL major and role model, the stand-in
//! extensions it holds, and the applied history files today's platform would refuse.

use crate::domain::history::migrations::Migration;
use crate::domain::platform::{RoleModel, Supautils};
use crate::edges::target::Resolved;

use super::Promotion;

impl Promotion<'_> {
    /// Under the platform's model, the applied history's statements today's rules refuse, said and recorded.
    pub(super) fn note_history(&mut self, model: RoleModel, applied: &[&Migration]) {
        if model != RoleModel::Platform {
            return;
        }
        let supautils = self.repo.baseline().map(|b| b.supautils()).unwrap_or_else(|_| Supautils::shipped());
        let note = crate::check::platform::history_note(&crate::check::platform::history_refusals(applied, &supautils));
        if let Some(note) = &note {
            eprintln!("{note}");
        }
        self.record.history_note = note;
    }

    /// The target's PostgreSQL major into the record, once (read live for all but the embedded target; a
    /// failure to read leaves the lock's recorded major as it was).
    pub(super) fn note_major(&mut self, target: &Resolved) {
        if self.record.postgres.is_none() {
            self.record.postgres = target.major().ok().map(|m| m.number());
        }
        if self.record.role_model.is_none() {
            self.record.role_model = target.role_model().ok();
        }
    }

    /// Which stand-in extensions the database at `url` holds, into the record (a failure to read is said).
    pub(super) fn note_stand_ins(&mut self, url: &str) {
        match crate::edges::postgres::connect(url)
            .and_then(|mut c| crate::edges::postgres::standins::in_database(&mut c))
        {
            Ok(list) => self.record.stand_ins = list,
            Err(err) => eprintln!(
                "warning: the stand-in extensions could not be listed: {}",
                crate::edges::output::redact::redact(&format!("{err:#}"))
            ),
        }
    }
}
