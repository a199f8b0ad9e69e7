//! `platform-refuses` in `check`: the files a Supabase target (hosted, or the embedded default) has not applied
//! yet, judged by `domain::lint::rules::platform`. A plain-Postgres URL target runs as its own user under its
//! own rules: its heads do not make a file judged.

use std::collections::HashMap;

use crate::domain::config::Config;
use crate::domain::findings::Finding;
use crate::domain::history::lock::Lock;
use crate::domain::history::migrations::Migration;
use crate::domain::lint::rules::platform::{self, Class, Refusal};
use crate::domain::lint::sql::{self, Analysis, LintSettings};

/// The findings for the judged files among `analysed` (in version order). Whether an object of a restricted
/// schema belongs to `postgres` depends on the files before: those are parsed only when a refusal of that kind
/// comes up, so an ordinary check reads no applied file twice.
pub fn findings(
    config: &Config,
    migrations: &[Migration],
    analysed: &[(&Migration, &Analysis)],
    lock: &Lock,
) -> Vec<Finding> {
    let judged =
        |file: &str| migrations.iter().find(|m| m.rel_path == file).is_some_and(|m| is_judged(m, config, lock));
    let slice = analysed.iter().map(|(m, a)| (m.rel_path.as_str(), *a));
    let mut refused: Vec<Refusal> = platform::refusals(slice).into_iter().filter(|r| judged(&r.file)).collect();
    let earlier_matter = refused.iter().any(|r| r.class == Class::Ownership);
    if earlier_matter && analysed.len() < migrations.len() {
        let history = analyse_the_rest(migrations, analysed);
        let by_file: HashMap<&str, &Analysis> = analysed.iter().map(|(m, a)| (m.rel_path.as_str(), *a)).collect();
        let slice = migrations.iter().filter_map(|m| {
            let a = by_file.get(m.rel_path.as_str()).copied().or_else(|| history.get(m.rel_path.as_str()));
            a.map(|a| (m.rel_path.as_str(), a))
        });
        refused = platform::refusals(slice).into_iter().filter(|r| judged(&r.file)).collect();
    }
    platform::findings(&refused)
}

/// Whether `m` is still to be pushed to a Supabase target: unknown to the lock (the embedded default records
/// nothing, so every such file is its next), or after the recorded head of a hosted one.
fn is_judged(m: &Migration, config: &Config, lock: &Lock) -> bool {
    if !lock.files.contains_key(&m.file_name) {
        return true;
    }
    let supabase = config.targets.iter().filter(|(_, t)| t.embedded || t.project_ref.is_some());
    supabase.filter_map(|(name, _)| lock.head(name)).any(|head| m.version.as_str() > head)
}

/// The facts of every file `check` did not lint. A file that cannot be read or is not UTF-8 adds no facts:
/// at worst an object it created is taken for the platform's, and `check` reports the file itself elsewhere.
fn analyse_the_rest(migrations: &[Migration], analysed: &[(&Migration, &Analysis)]) -> HashMap<String, Analysis> {
    let settings = LintSettings { squawk_rules: &[] };
    let done: Vec<&str> = analysed.iter().map(|(m, _)| m.rel_path.as_str()).collect();
    let mut out = HashMap::new();
    for m in migrations.iter().filter(|m| !done.contains(&m.rel_path.as_str())) {
        let bytes = match &m.source {
            Some(source) => Some(source.bytes.to_vec()),
            None => std::fs::read(&m.path).ok(),
        };
        if let Some(text) = bytes.as_deref().and_then(|b| std::str::from_utf8(b).ok()) {
            out.insert(m.rel_path.clone(), sql::analyze(text, &settings));
        }
    }
    out
}
