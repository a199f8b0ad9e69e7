//! `platform-refuses` in `check`: the files a Supabase target (hosted, or the embedded default) has not applied
//! yet, judged by `domain::lint::rules::platform`. A plain-Postgres URL target runs as its own user under its
//! own rules: its heads do not make a file judged. Judged by the supautils lists that apply to the repository
//! (a captured `platform-baseline`'s, else the shipped ones). Also the rehearsal's note on the applied history.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::domain::config::Config;
use crate::domain::findings::Finding;
use crate::domain::history::lock::Lock;
use crate::domain::history::migrations::Migration;
use crate::domain::lint::rules::platform::{self, Class, Refusal};
use crate::domain::lint::sql::{self, Analysis, LintSettings};
use crate::domain::platform::Supautils;

/// The findings for the judged files among `analysed` (in version order). Whether an object of a restricted
/// schema belongs to `postgres` depends on the files before: those are parsed only when a refusal of that kind
/// comes up, so an ordinary check reads no applied file twice.
pub fn findings(
    config: &Config,
    migrations: &[Migration],
    analysed: &[(&Migration, &Analysis)],
    lock: &Lock,
    supautils: &Supautils,
) -> Vec<Finding> {
    let judged =
        |file: &str| migrations.iter().find(|m| m.rel_path == file).is_some_and(|m| is_judged(m, config, lock));
    let slice = analysed.iter().map(|(m, a)| (m.rel_path.as_str(), *a));
    let mut refused: Vec<Refusal> =
        platform::refusals(slice, supautils).into_iter().filter(|r| judged(&r.file)).collect();
    let earlier_matter = refused.iter().any(|r| r.class == Class::Ownership);
    if earlier_matter && analysed.len() < migrations.len() {
        let history = analyse_the_rest(migrations, analysed);
        let by_file: HashMap<&str, &Analysis> = analysed.iter().map(|(m, a)| (m.rel_path.as_str(), *a)).collect();
        let slice = migrations.iter().filter_map(|m| {
            let a = by_file.get(m.rel_path.as_str()).copied().or_else(|| history.get(m.rel_path.as_str()));
            a.map(|a| (m.rel_path.as_str(), a))
        });
        refused = platform::refusals(slice, supautils).into_iter().filter(|r| judged(&r.file)).collect();
    }
    platform::findings(&refused)
}

/// The statements of the applied `history` (in version order) the platform refuses today, judged by
/// `supautils`: for the rehearsal's note. A file that cannot be read or is not UTF-8 adds nothing.
pub fn history_refusals(history: &[&Migration], supautils: &Supautils) -> Vec<Refusal> {
    let parsed = parse(history);
    let slice = history.iter().zip(&parsed).filter_map(|(m, a)| a.as_ref().map(|a| (m.rel_path.as_str(), a)));
    platform::refusals(slice, supautils)
}

/// How many refusals the note names before it counts the rest.
const NOTE_NAMES: usize = 10;

/// The rehearsal's one-line note on `history_refusals`; `None` when there are none.
pub fn history_note(refusals: &[Refusal]) -> Option<String> {
    if refusals.is_empty() {
        return None;
    }
    let files = refusals.iter().map(|r| r.file.as_str()).collect::<BTreeSet<_>>().len();
    let mut named: Vec<String> = refusals
        .iter()
        .take(NOTE_NAMES)
        .map(|r| format!("{}:{} ({}: {})", r.file, r.pos.line, r.class.as_str(), r.object))
        .collect();
    if refusals.len() > NOTE_NAMES {
        named.push(format!("and {} more", refusals.len() - NOTE_NAMES));
    }
    Some(format!(
        "note: {files} applied history file(s) hold statements today's platform refuses to `postgres` (they were applied under the rules of their day and are replayed so; a fresh project or a preview branch replaying the history fails on them): {}",
        named.join(", ")
    ))
}

/// Whether `m` is still to be pushed to a Supabase target: unknown to the lock (the embedded default records
/// nothing, so every such file is its next), or after the recorded head of a hosted one.
fn is_judged(m: &Migration, config: &Config, lock: &Lock) -> bool {
    let supabase: Vec<&str> =
        config.targets.iter().filter(|(_, t)| t.is_supabase()).map(|(name, _)| name.as_str()).collect();
    if supabase.is_empty() {
        return false; // no Supabase target: nothing is pushed under the platform's rules
    }
    if !lock.files.contains_key(&m.file_name) {
        return true;
    }
    supabase.iter().filter_map(|name| lock.head(name)).any(|head| m.version.as_str() > head)
}

/// The facts of every file `check` did not lint. A file that cannot be read or is not UTF-8 adds no facts:
/// at worst an object it created is taken for the platform's, and `check` reports the file itself elsewhere.
fn analyse_the_rest(migrations: &[Migration], analysed: &[(&Migration, &Analysis)]) -> HashMap<String, Analysis> {
    let done: HashSet<&str> = analysed.iter().map(|(m, _)| m.rel_path.as_str()).collect();
    let rest: Vec<&Migration> = migrations.iter().filter(|m| !done.contains(m.rel_path.as_str())).collect();
    let parsed = parse(&rest);
    rest.iter().zip(parsed).filter_map(|(m, a)| Some((m.rel_path.clone(), a?))).collect()
}

/// Each file parsed for its facts (no squawk rule), in parallel as `check` parses; `None` for a file that
/// cannot be read or is not UTF-8. A protected rehearsal parses its whole history for the note (`check`
/// lints the 1,014 files of `bench rehearsal` in 0.25 s on two cores this way).
fn parse(files: &[&Migration]) -> Vec<Option<Analysis>> {
    use rayon::prelude::*;
    let settings = LintSettings { squawk_rules: &[] };
    files.par_iter().map(|m| Some(sql::analyze(m.text().ok()?, &settings))).collect()
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    fn file(name: &str, sql: &str) -> Migration {
        Migration::with_sql(name, sql)
    }

    #[test]
    fn the_history_note_names_each_refused_statement() {
        let old = file(
            "20230101000000_old.sql",
            "create table auth.legacy (id int);\nalter table auth.legacy add column note text;\n",
        );
        let unreadable = Migration::new(
            crate::domain::history::migrations::MigrationFile::named("20230201000000_gone.sql"),
            vec![0xff, 0xfe],
        );
        let newer = file(
            "20240101000000_newer.sql",
            "select 1;\ncreate policy p on auth.mfa_factors using (true);\nalter role supabase_admin rename to x;\n",
        );
        let fine = file("20240201000000_fine.sql", "create table public.t (id int);\n");
        let history = [&old, &unreadable, &newer, &fine];

        let refused = history_refusals(&history, &Supautils::shipped());
        expect!["note: 2 applied history file(s) hold statements today's platform refuses to `postgres` (they were applied under the rules of their day and are replayed so; a fresh project or a preview branch replaying the history fails on them): migrations/20230101000000_old.sql:1 (restricted-schema: auth.legacy), migrations/20240101000000_newer.sql:2 (ownership: auth.mfa_factors), migrations/20240101000000_newer.sql:3 (reserved-role: supabase_admin)"].assert_eq(&history_note(&refused).unwrap_or_default());

        let mut captured = Supautils::shipped();
        captured.policy_grants.push("auth.mfa_factors".into());
        let refused = history_refusals(&history, &captured);
        expect!["note: 2 applied history file(s) hold statements today's platform refuses to `postgres` (they were applied under the rules of their day and are replayed so; a fresh project or a preview branch replaying the history fails on them): migrations/20230101000000_old.sql:1 (restricted-schema: auth.legacy), migrations/20240101000000_newer.sql:3 (reserved-role: supabase_admin)"].assert_eq(&history_note(&refused).unwrap_or_default());

        assert_eq!(history_note(&history_refusals(&[&fine, &unreadable], &Supautils::shipped())), None);

        let many = file("20240301000000_many.sql", &"alter system set work_mem = '1MB';\n".repeat(12));
        let note = history_note(&history_refusals(&[&many], &Supautils::shipped())).unwrap_or_default();
        assert!(note.starts_with("note: 1 applied history file(s)"), "{note}");
        assert!(note.ends_with("_many.sql:10 (superuser: alter system), and 2 more"), "{note}");
    }
}
