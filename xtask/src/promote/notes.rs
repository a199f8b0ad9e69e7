//! What the record notes about the database a batch ran on: its PostgreSQL major and role model, the stand-in
//! extensions it holds, the applied history files today's platform would refuse, and the invalid indexes a
//! failed push left.

use crate::domain::history::migrations::Migration;
use crate::domain::platform::{RoleModel, Supautils};
use crate::edges::target::Resolved;

use super::{Batch, Promotion};

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

/// INVALID indexes a CONCURRENTLY build of the batch left behind (cancelled, or failed on its data): `if not
/// exists` would keep them as they are on the next push, so they are named.
pub(super) fn invalid_indexes(session: &mut postgres::Client, plan: &Batch) -> Vec<String> {
    let names: Vec<String> = plan
        .batch
        .iter()
        .filter_map(|m| m.text().ok())
        .flat_map(crate::domain::promotion::budget::concurrent_index_names)
        .collect();
    if names.is_empty() {
        return Vec::new();
    }
    let sql = "select format('%I.%I', n.nspname, c.relname) from pg_index i join pg_class c on c.oid = i.indexrelid \
               join pg_namespace n on n.oid = c.relnamespace where not i.indisvalid and c.relname = any($1) order by 1";
    session.query(sql, &[&names]).map(|rows| rows.iter().map(|r| r.get(0)).collect()).unwrap_or_default()
}
