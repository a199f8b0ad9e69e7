//! What the record notes about the database a batch ran on: its PostgreSQL major and role model, the stand-in
//! extensions it holds, the applied history files today's platform would refuse, and the invalid indexes a
//! failed push left. Each is returned as a value; nothing here fails a promotion.

use crate::domain::history::migrations::Migration;
use crate::domain::major::Major;
use crate::domain::platform::{RoleModel, Supautils};
use crate::edges::repo::Repo;
use crate::edges::target::Resolved;

/// The target's PostgreSQL major and role model, each once known.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Noted {
    pub postgres: Option<u32>,
    pub role_model: Option<RoleModel>,
}

impl Noted {
    /// What `self` knows, and what `other` knows that `self` does not.
    pub(super) fn or(self, other: Noted) -> Noted {
        Noted { postgres: self.postgres.or(other.postgres), role_model: self.role_model.or(other.role_model) }
    }
}

impl From<(Major, RoleModel)> for Noted {
    fn from((major, model): (Major, RoleModel)) -> Noted {
        Noted { postgres: Some(major.number()), role_model: Some(model) }
    }
}

/// What `known` lacks of the target's major and role model, read from the target (live for all but the
/// embedded target; a failure to read leaves it unknown, and the lock's recorded major as it was).
pub(super) fn major(target: &Resolved, known: Noted) -> Noted {
    Noted {
        postgres: known.postgres.or_else(|| target.major().ok().map(|m| m.number())),
        role_model: known.role_model.or_else(|| target.role_model().ok()),
    }
}

/// Under the platform's model, the applied history's statements today's rules refuse, said and returned.
pub(super) fn history_note(repo: &Repo, model: RoleModel, applied: &[&Migration]) -> Option<String> {
    if model != RoleModel::Platform {
        return None;
    }
    let supautils = repo.baseline().map(|b| b.supautils()).unwrap_or_else(|_| Supautils::shipped());
    let note = crate::check::platform::history_note(&crate::check::platform::history_refusals(applied, &supautils));
    if let Some(note) = &note {
        eprintln!("{note}");
    }
    note
}

/// Which stand-in extensions the database at `url` holds (a failure to read is said, and is `None`).
pub(super) fn stand_ins(url: &str) -> Option<Vec<String>> {
    match crate::edges::postgres::connect(url).and_then(|mut c| crate::edges::postgres::standins::in_database(&mut c)) {
        Ok(list) => Some(list),
        Err(err) => {
            eprintln!(
                "warning: the stand-in extensions could not be listed: {}",
                crate::edges::output::redact::redact(&format!("{err:#}"))
            );
            None
        }
    }
}

/// INVALID indexes a CONCURRENTLY build of the batch left behind (cancelled, or failed on its data): `if not
/// exists` would keep them as they are on the next push, so they are named.
pub(super) fn invalid_indexes(session: &mut postgres::Client, batch: &[&Migration]) -> Vec<String> {
    let names: Vec<String> = batch
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
