//! `cargo xtask reconcile`, decided over data: each disagreement between a target's history and the files, with
//! the one repair its evidence allows, or the refusal that says why none is safe. Versions the target has that no
//! file has are matched to a pending file by their statements (a rename), adopted (`--adopt V`), or refused with
//! the nearest file's first difference; versions after the recorded head are recorded when their statements
//! equal their file's; what is left pending after the new head is what the edge may prove applied by hand
//! (`Diagnosis::to_prove`). Every repair is history only: the files' names, the lock, the history rows.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::domain::history::batch::next_version;
use crate::domain::history::live::Applied;
use crate::domain::history::migrations::{Migration, snake_case};
use crate::domain::history::statements::{self, Verdict};

/// What `diagnose` reads: the target, the files, what the lock and the records say, and what the target holds.
pub struct Facts<'a> {
    pub target: &'a str,
    pub dir: &'a str,
    pub files: &'a [Migration],
    /// The target's recorded head.
    pub head: Option<&'a str>,
    pub live: &'a [Applied],
    /// The stored statements of every version after the head and of every version no file has.
    pub stored: &'a BTreeMap<String, Vec<String>>,
    /// The targets that applied each file (the lock's heads, the records), by file name.
    pub applied_on: &'a BTreeMap<String, BTreeSet<String>>,
    /// The files a record of ours says a promotion pushed to this target.
    pub pushed_by_us: &'a BTreeSet<String>,
    /// Whether the lock records the file as applied somewhere.
    pub recorded: &'a dyn Fn(&Migration) -> bool,
    /// `--adopt V` (each V given).
    pub adopt: &'a [String],
    /// Every target's recorded head (target, head), and the time a renumbered file's new version is taken from
    /// (`new`'s rule).
    pub heads: &'a [(String, String)],
    pub now: chrono::DateTime<chrono::Utc>,
}

/// One disagreement, what shows it, and what is done about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    pub version: String,
    /// What was found, in a sentence.
    pub what: String,
    /// Fingerprints, comparisons: why the repair is safe, or why none is.
    pub evidence: Vec<String>,
    pub repair: Repair,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Repair {
    /// (a) The local file is renamed to the version and name the target ran it under.
    Rename { from: String, to: String },
    /// A pending file no target applied sorts before a version the target ran: it gets a new version after
    /// every version and head, keeping its name (as `cargo xtask fix --renumber` does), so the head can move.
    Renumber { from: String, to: String },
    /// The target ran the file under its own version (another tool, or an interrupted promotion of ours):
    /// the lock records it.
    Record { file: String, by: Applier },
    /// (b) The file's effect is on the target with no history row: the row is written (history only).
    WriteHistory { file: String },
    /// (c) with `--adopt`: the file is written from the statements the target stored.
    Adopt { file: String, sql: String },
    /// No repair is safe: why, and what to do.
    Refused { refusal: &'static str, fix: String },
}

impl Found {
    /// No repair is safe for it.
    pub fn refused(&self) -> bool {
        matches!(self.repair, Repair::Refused { .. })
    }
}

/// Who applied a version that no promotion of ours recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Applier {
    /// A promotion of ours whose record lists the file, interrupted before it recorded it.
    InterruptedPromotion,
    /// The dashboard, the SQL editor, an assistant's `apply_migration`, the platform's GitHub integration.
    AnotherTool,
}

/// Every disagreement found, the head the lock records once the repairs are made, and the pending files the
/// edge may try to prove applied by hand (in order, from the first after that head, by the names they will have).
#[derive(Debug, Default)]
pub struct Diagnosis {
    pub found: Vec<Found>,
    pub head_after: Option<String>,
    pub to_prove: Vec<String>,
}

impl Diagnosis {
    pub fn refused(&self) -> bool {
        self.found.iter().any(Found::refused)
    }
}

pub fn diagnose(facts: &Facts) -> Diagnosis {
    let live: BTreeSet<&str> = facts.live.iter().map(|a| a.version.as_str()).collect();
    let by_version: BTreeMap<&str, &Migration> = facts.files.iter().map(|m| (m.version.as_str(), m)).collect();
    let mut found = before_head(facts, &live);
    // Each file's version once the renames are made; adopted files join them.
    let mut moved: BTreeMap<String, String> = BTreeMap::new();
    for applied in facts.live.iter().filter(|a| !by_version.contains_key(a.version.as_str())) {
        let one = unknown(facts, applied, &live, &moved);
        if let Repair::Rename { from, .. } = &one.repair {
            moved.insert(from.clone(), applied.version.clone());
        }
        found.push(one);
    }
    let adopted: Vec<&str> =
        found.iter().filter(|f| matches!(f.repair, Repair::Adopt { .. })).map(|f| f.version.as_str()).collect();
    let renamed: BTreeSet<String> = moved.keys().cloned().collect();
    let (head_after, walked) = walk(facts, &live, (&renamed, &mut moved), &adopted);
    found.extend(walked);
    let refused = found.iter().any(Found::refused);
    let to_prove = if refused {
        Vec::new()
    } else {
        // In the order they will have: renumbered files come last.
        let mut pending: Vec<(String, &Migration)> = facts
            .files
            .iter()
            .filter(|m| !renamed.contains(&m.rel_path) && !live.contains(m.version.as_str()))
            .map(|m| (moved.get(&m.rel_path).cloned().unwrap_or_else(|| m.version.clone()), m))
            .filter(|(v, _)| head_after.as_deref().is_none_or(|h| v.as_str() > h))
            .collect();
        pending.sort_by(|a, b| a.0.cmp(&b.0));
        pending.into_iter().map(|(v, m)| format!("{v}_{}.sql", m.name)).collect()
    };
    Diagnosis { found, head_after, to_prove }
}

/// Files at or before the recorded head that the target lacks: missing (the lock records them: a wrong database,
/// a restored backup) or out of order (never applied: `fix --renumber` moves them). Neither is a history repair.
fn before_head(facts: &Facts, live: &BTreeSet<&str>) -> Vec<Found> {
    let Some(head) = facts.head else { return Vec::new() };
    let lacking = facts.files.iter().filter(|m| m.version.as_str() <= head && !live.contains(m.version.as_str()));
    lacking
        .map(|m| {
            let what = format!("{} is at or before {}'s head {head} but not on it", m.rel_path, facts.target);
            if (facts.recorded)(m) {
                let fix = format!(
                    "it is recorded as applied (migrations/promotion.lock): is `{}` the database it was? `cargo xtask status --target {} --live`",
                    facts.target, facts.target
                );
                refused(&m.version, what, vec!["recorded as applied, missing from the target's history".into()], "missing", fix)
            } else {
                let fix = format!("give it a version after the head, keeping its name and SQL: `cargo xtask fix --renumber {}`", m.rel_path);
                refused(&m.version, what, vec!["never applied anywhere (the lock)".into()], "out_of_order", fix)
            }
        })
        .collect()
}

/// A version the target has that no file has: (a) a pending file with its statements is renamed to it; with
/// `--adopt` it becomes a file; otherwise (c) refused, beside the nearest file.
fn unknown(facts: &Facts, applied: &Applied, live: &BTreeSet<&str>, moved: &BTreeMap<String, String>) -> Found {
    let v = &applied.version;
    let stored = facts.stored.get(v).filter(|s| !s.is_empty());
    // The name becomes part of a path: `new`'s rule (lower-case snake_case), whatever the tool that ran it wrote.
    let name = match snake_case(&applied.name) {
        n if n.is_empty() => "adopted".to_string(),
        n => n,
    };
    let what = format!("{v} `{}` is on {} but no file here has it", applied.name, facts.target);
    let fingerprint = applied.fingerprint.as_deref();
    // A file recorded at V says every target whose head is at or past V ran it.
    let past: Vec<&str> = facts
        .heads
        .iter()
        .filter(|(t, h)| t != facts.target && h.as_str() >= v.as_str())
        .map(|(t, _)| t.as_str())
        .collect();
    let adopting = facts.adopt.iter().any(|a| a == v);
    if adopting {
        let Some(stored) = stored else {
            let fix = format!(
                "nothing to adopt: restore the file that ran from where it was written, as `{}/{v}_{name}.sql`",
                facts.dir
            );
            return refused(v, what, vec![NONE_STORED.into()], "nothing_stored", fix);
        };
        if !past.is_empty() {
            return past_another_head(v, what, &past);
        }
        let file = format!("{}/{v}_{name}.sql", facts.dir);
        let evidence = vec![format!("{} statement(s) stored, fingerprint {}", stored.len(), short(fingerprint))];
        return Found { version: v.clone(), what, evidence, repair: Repair::Adopt { file, sql: adopted_sql(stored) } };
    }
    let equal = facts.files.iter().find(|m| {
        !live.contains(m.version.as_str())
            && !moved.contains_key(&m.rel_path)
            && m.text().is_ok_and(|t| Some(statements::fingerprint(t).as_str()) == fingerprint)
    });
    if let Some(m) = equal {
        let evidence = vec![format!(
            "its statements equal {}'s (fingerprint {}, whitespace and `;` aside, as `promote` compares)",
            m.rel_path,
            short(fingerprint)
        )];
        let elsewhere: Vec<&str> = facts
            .applied_on
            .get(&m.file_name)
            .into_iter()
            .flatten()
            .map(String::as_str)
            .filter(|t| *t != facts.target)
            .collect();
        if !elsewhere.is_empty() {
            let fix = format!(
                "{} applied {} as {}: renaming it would leave that history without its file. Keep the file; adopt {v} as a file of its own (`cargo xtask reconcile --target {} --adopt {v}`) and make it a no-op where it already ran",
                elsewhere.join(", "),
                m.file_name,
                m.version,
                facts.target
            );
            return refused(v, what, evidence, "applied_elsewhere", fix);
        }
        if !past.is_empty() {
            return past_another_head(v, what, &past);
        }
        let to = format!("{}/{v}_{name}.sql", facts.dir);
        return Found { version: v.clone(), what, evidence, repair: Repair::Rename { from: m.rel_path.clone(), to } };
    }
    let Some(stored) = stored else {
        let fix = format!(
            "restore the file that ran, as `{}/{v}_{name}.sql`, from where it was written (the dashboard's or the assistant's history); nothing here can prove what ran",
            facts.dir
        );
        return refused(v, what, vec![NONE_STORED.into()], "nothing_stored", fix);
    };
    let evidence = vec![nearest(facts, stored, live)];
    let fix = format!(
        "review what ran and make it a file: `cargo xtask reconcile --target {} --adopt {v}` writes `{}/{v}_{name}.sql` from the stored statements",
        facts.target, facts.dir
    );
    refused(v, what, evidence, "statements_differ", fix)
}

/// A file cannot be recorded at `v` while another target's head is at or past it without having run it.
fn past_another_head(v: &str, what: String, past: &[&str]) -> Found {
    let evidence = vec![format!("{} recorded at or past {v} (migrations/promotion.lock)", past.join(", "))];
    let fix = format!(
        "a file at {v} would be recorded as run on {} too, which never ran it: decide by hand which history is right; nothing here rewrites an applied one",
        past.join(", ")
    );
    refused(v, what, evidence, "out_of_order", fix)
}

const NONE_STORED: &str =
    "the target stored no statements for it (applied before the CLI stored them, or by a tool that does not)";

fn refused(version: &str, what: String, evidence: Vec<String>, refusal: &'static str, fix: String) -> Found {
    Found { version: version.to_string(), what, evidence, repair: Repair::Refused { refusal, fix } }
}

/// The stored statements as a file: each with its `;`, a blank line between them (its fingerprint is theirs).
fn adopted_sql(stored: &[String]) -> String {
    stored.iter().map(|s| format!("{};\n", s.trim_end())).collect::<Vec<_>>().join("\n")
}

/// The pending file whose statements agree longest with `stored`, and the first statement where they part.
fn nearest(facts: &Facts, stored: &[String], live: &BTreeSet<&str>) -> String {
    let candidates = facts.files.iter().filter(|m| !live.contains(m.version.as_str()));
    let judged = candidates.filter_map(|m| Some((m, statements::first_difference(m.text().ok()?, stored))));
    let best = judged.max_by_key(|(_, v)| match v {
        Verdict::Differs { statement, .. } => *statement,
        _ => usize::MAX,
    });
    let Some((m, Verdict::Differs { statement, live, file })) = best else {
        return format!("{} statement(s) stored; no pending file is near them", stored.len());
    };
    let ran = live.as_deref().map_or("(nothing more)".into(), |s| format!("`{}`", clip(s)));
    let has = file.as_deref().map_or("(nothing more)".into(), |s| format!("`{}`", clip(s)));
    format!(
        "nearest file: {}, which differs at statement {statement}: the target ran {ran}, the file has {has}",
        m.rel_path
    )
}

/// The versions after the recorded head, in order: each recorded when its statements equal its file's and no
/// file before it is missing from the target. Returns the head the lock then records. `renamed`: the files
/// renamed to a version the target ran; `moved`: every file's new version, renumbered ones added here.
fn walk(
    facts: &Facts,
    live: &BTreeSet<&str>,
    (renamed, moved): (&BTreeSet<String>, &mut BTreeMap<String, String>),
    adopted: &[&str],
) -> (Option<String>, Vec<Found>) {
    let mut taken: Vec<String> = facts.files.iter().map(|m| m.version.clone()).collect();
    taken.extend(live.iter().map(|v| v.to_string()).chain(facts.heads.iter().map(|(_, h)| h.clone())));
    let mut head = facts.head.map(str::to_string);
    let mut out = Vec::new();
    for applied in facts.live.iter().filter(|a| facts.head.is_none_or(|h| a.version.as_str() > h)) {
        let v = applied.version.as_str();
        let version_of = |m: &Migration| moved.get(&m.rel_path).cloned().unwrap_or_else(|| m.version.clone());
        let file = facts.files.iter().find(|m| version_of(m) == v);
        if file.is_none() && !adopted.contains(&v) {
            // A version no file has stops the head: refused above, or to be adopted first.
            break;
        }
        let skipped: Vec<&str> = facts
            .files
            .iter()
            .filter(|f| version_of(f).as_str() < v && !live.contains(version_of(f).as_str()))
            .filter(|f| head.as_deref().is_none_or(|h| version_of(f).as_str() > h) || !(facts.recorded)(f))
            .map(|f| f.rel_path.as_str())
            .collect();
        let what = format!("{v} `{}` is on {} but no promotion recorded it", applied.name, facts.target);
        let applied_somewhere = |rel: &str| {
            let applied = |f: &Migration| (facts.recorded)(f) || facts.applied_on.contains_key(&f.file_name);
            facts.files.iter().any(|f| f.rel_path == rel && applied(f))
        };
        if !skipped.is_empty() && !skipped.iter().any(|f| applied_somewhere(f)) {
            for rel in &skipped {
                let Some(f) = facts.files.iter().find(|f| f.rel_path == *rel) else { continue };
                let Ok(version) = next_version(facts.now, taken.iter().map(String::as_str)) else { break };
                let dir = rel.rsplit_once('/').map_or("", |(dir, _)| dir);
                let to = format!("{dir}/{version}_{}.sql", f.name);
                let what = format!("{rel} is pending but sorts before {v}, which {} ran", facts.target);
                let evidence = vec![format!("no target applied {} (the lock, the records)", f.file_name)];
                out.push(Found {
                    version: f.version.clone(),
                    what,
                    evidence,
                    repair: Repair::Renumber { from: rel.to_string(), to },
                });
                moved.insert(rel.to_string(), version.clone());
                taken.push(version);
            }
        }
        let skipped: Vec<&str> = skipped.into_iter().filter(|rel| !moved.contains_key(*rel)).collect();
        if !skipped.is_empty() {
            let fix = format!(
                "{} cannot move (another target applied it under its version) and the CLI pushes no file older than {}'s last version: decide by hand which history is right; nothing here rewrites an applied one",
                skipped.join(", "),
                facts.target
            );
            let evidence = vec![format!(
                "{} sort(s) before it, are not on {} and are applied elsewhere (the lock, the records)",
                skipped.join(", "),
                facts.target
            )];
            out.push(refused(v, what, evidence, "out_of_order", fix));
            break;
        }
        let Some(m) = file.filter(|m| !renamed.contains(&m.rel_path)) else {
            // Renamed to it, or adopted: the file is what ran.
            head = Some(v.to_string());
            continue;
        };
        let text = String::from_utf8_lossy(m.bytes()).into_owned();
        match statements::judge(&text, applied.fingerprint.as_deref()) {
            Verdict::Same => {
                let by = if facts.pushed_by_us.contains(&m.file_name) {
                    Applier::InterruptedPromotion
                } else {
                    Applier::AnotherTool
                };
                let evidence = vec![format!(
                    "its stored statements equal {} (fingerprint {})",
                    m.rel_path,
                    short(applied.fingerprint.as_deref())
                )];
                let repair = Repair::Record { file: m.file_name.clone(), by };
                out.push(Found { version: v.to_string(), what, evidence, repair });
                head = Some(v.to_string());
            }
            Verdict::Unverifiable => {
                let fix =
                    format!("nothing proves {} ran as it is: compare by hand, then `cargo xtask baseline`", m.rel_path);
                out.push(refused(v, what, vec![NONE_STORED.into()], "nothing_stored", fix));
                break;
            }
            Verdict::Differs { .. } => {
                let stored = facts.stored.get(v).map_or(&[][..], Vec::as_slice);
                let difference = match statements::first_difference(&text, stored) {
                    Verdict::Differs { statement, live, file } => format!(
                        "{} differs at statement {statement}: the target ran {}, the file has {}",
                        m.rel_path,
                        live.as_deref().map_or("(nothing more)".into(), |s| format!("`{}`", clip(s))),
                        file.as_deref().map_or("(nothing more)".into(), |s| format!("`{}`", clip(s)))
                    ),
                    _ => format!("{} differs from what ran (comments aside, they agree)", m.rel_path),
                };
                let fix = format!(
                    "make {} what {} ran (the statements above: the target keeps its row); a change belongs in a new migration (`cargo xtask new`)",
                    m.rel_path, facts.target
                );
                out.push(refused(v, what, vec![difference], "statements_differ", fix));
                break;
            }
        }
    }
    (head, out)
}

/// A database's rows of `xtask/sql/proof.sql`: (kind, object) to its description (owner, grants, definition).
pub type Rows = BTreeMap<(String, String), String>;

/// A file's effect (what differs between a shadow before and after it) held against the target, object by object.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// Objects the file creates, changes or drops.
    pub effect: usize,
    /// Of those, the ones the target holds as the file leaves them.
    pub present: usize,
    /// The others: what the file makes of each, and what the target has.
    pub differing: Vec<String>,
}

pub fn compare(before: &Rows, after: &Rows, target: &Rows) -> Comparison {
    let keys: BTreeSet<&(String, String)> = before.keys().chain(after.keys()).collect();
    let mut out = Comparison::default();
    for key in keys.into_iter().filter(|k| before.get(*k) != after.get(*k)) {
        out.effect += 1;
        let (made, has) = (after.get(key), target.get(key));
        if made == has {
            out.present += 1;
        } else {
            let show = |d: Option<&String>| d.map_or("(absent)".to_string(), |d| format!("`{}`", clip(d)));
            out.differing.push(format!(
                "{} {}: the file makes {}, the target has {}",
                key.0,
                key.1,
                show(made),
                show(has)
            ));
        }
    }
    out
}

/// What a proof says of a pending file: `None` when none of its effect is on the target (it is simply pending,
/// `promote` pushes it); a history row to write when all of it is and nothing in it escapes the comparison
/// (`unseen`: its statements that change data or run code, with their lines); otherwise refused.
pub fn judge_proof(
    file: &Migration,
    target: &str,
    comparison: &Comparison,
    unseen: &[(usize, String)],
) -> Option<Found> {
    if comparison.present == 0 {
        return None;
    }
    let what =
        format!("{} is pending, but its effect is on {target} with no history row (run by hand?)", file.rel_path);
    let mut evidence = vec![format!(
        "on a shadow at the head it creates, changes or drops {} object(s) (owners and grants included); {target} holds {} of them as it leaves them",
        comparison.effect, comparison.present
    )];
    evidence.extend(comparison.differing.iter().take(10).cloned());
    let version = file.version.clone();
    if comparison.present < comparison.effect {
        let fix = format!(
            "{target} holds part of what {} does: make {target} what the file makes it, or write a migration that finishes the work from there (`cargo xtask new`) and move this one aside",
            file.rel_path
        );
        return Some(refused(&version, what, evidence, "unproven", fix));
    }
    if !unseen.is_empty() {
        let lines: Vec<String> = unseen.iter().map(|(line, what)| format!("{what} at line {line}")).collect();
        evidence.push(format!("the comparison cannot see what {} also does: {}", file.rel_path, lines.join(", ")));
        let fix = format!(
            "nothing here can prove those statements ran on {target}: move them into a migration of their own (`cargo xtask new`) so the rest of {} can be proven, and make that one safe to run again",
            file.rel_path
        );
        return Some(refused(&version, what, evidence, "unproven", fix));
    }
    Some(Found { version, what, evidence, repair: Repair::WriteHistory { file: file.file_name.clone() } })
}

fn short(fingerprint: Option<&str>) -> String {
    fingerprint.map_or("(none)".into(), |f| f[..f.len().min(12)].to_string())
}

/// A statement on one line, cut at 120 characters.
fn clip(statement: &str) -> String {
    let one: String = statement.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= 120 { one } else { format!("{}…", one.chars().take(120).collect::<String>()) }
}

#[cfg(test)]
mod tests;
