//! The runbook's partition steps 2 and 3 as decisions over data: which live tables a phase-2 batch swaps a
//! shadow into, whether the parity evidence on file covers each swap for this database, and whether the rollback
//! each cutover file declares is usable. Pure: the files are read and the clock is looked at by the caller.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::findings::Pos;
use crate::domain::history::identity::Identity;
use crate::domain::history::migrations::Migration;
use crate::domain::lint::sql::{Analysis, Fact};

/// A shadow put in a live table's place: found from the renames, or named by `-- xtask: partition-cutover`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swap {
    /// The batch file (repository-relative) that makes the swap.
    pub file: String,
    pub pos: Pos,
    /// The live table, `schema.table`.
    pub source: String,
    /// The shadow that takes its name, `schema.table`.
    pub shadow: String,
}

/// `audit_log` -> `public.audit_log`: the names people type into `partition parity`.
pub fn qualified(name: &str) -> String {
    if name.contains('.') { name.to_string() } else { format!("public.{name}") }
}

/// Every swap in the batch, in order: a table renamed into a name the batch renamed away earlier (the live
/// table moves aside, the shadow takes its name), and each `partition-cutover` directive.
pub fn swaps(batch: &[(&Migration, &Analysis)]) -> Vec<Swap> {
    let mut vacated = BTreeMap::new();
    let mut out = Vec::new();
    for (m, a) in batch {
        for (pos, source, shadow) in &a.directives.partition_cutover {
            let (source, shadow) = (qualified(source), qualified(shadow));
            out.push(Swap { file: m.rel_path.clone(), pos: *pos, source, shadow });
        }
        for (pos, fact) in &a.facts {
            let Fact::RenameTable { from, to } = fact else { continue };
            let (from, to) = (qualified(from), qualified(&in_schema_of(from, to)));
            if vacated.remove(&to).is_some() && !out.iter().any(|s: &Swap| s.source == to) {
                out.push(Swap { file: m.rel_path.clone(), pos: *pos, source: to, shadow: from.clone() });
            }
            vacated.insert(from, ());
        }
    }
    out
}

/// `ALTER TABLE s.t RENAME TO u` renames within `s`.
fn in_schema_of(from: &str, to: &str) -> String {
    match from.rsplit_once('.') {
        Some((schema, _)) if !to.contains('.') => format!("{schema}.{to}"),
        _ => to.to_string(),
    }
}

/// The file (of `files`: name and text, in order) that creates `shadow` (`schema.table`), and the column the
/// shadow is partitioned by when the statement says it plainly: what the gate's parity command needs.
pub fn shadow_origin<'a>(files: &[(&'a str, &str)], shadow: &str) -> Option<(&'a str, Option<String>)> {
    let bare = shadow.strip_prefix("public.").unwrap_or(shadow);
    let wanted = [
        format!("create table {shadow} "),
        format!("create table {shadow}("),
        format!("create table {bare} "),
        format!("create table {bare}("),
    ];
    files.iter().find_map(|(name, text)| {
        let flat = text.to_lowercase().replace('"', "").split_whitespace().collect::<Vec<_>>().join(" ");
        let at = wanted.iter().filter_map(|w| flat.find(w.as_str())).min()?;
        let rest = &flat[at..];
        let statement = &rest[..rest.find(';').unwrap_or(rest.len())];
        let column = statement.split_once("partition by range").and_then(|(_, key)| {
            let key = key.trim_start().strip_prefix('(')?;
            let column = key[..key.find(')')?].trim();
            column.chars().all(|c| c.is_alphanumeric() || c == '_').then(|| column.to_string())
        });
        Some((*name, column))
    })
}

/// The fields of a parity evidence file (`partition parity`'s JSON) that the gate reads.
#[derive(Debug, Clone, Deserialize)]
pub struct ParityDoc {
    pub kind: String,
    /// When the snapshot was taken, by the target's clock (`now()` in the snapshot).
    pub snapshot_time: String,
    /// The database the evidence is about; evidence written before identities were kept has none.
    #[serde(default)]
    pub identity: Option<Identity>,
    pub source: String,
    pub shadow: String,
    pub time_column: String,
    pub passed: bool,
}

/// One evidence file on disk, with its repository-relative path and digest.
#[derive(Debug, Clone)]
pub struct EvidenceFile {
    pub path: String,
    pub sha256: String,
    pub doc: ParityDoc,
    pub taken_at: DateTime<Utc>,
}

/// Evidence the record links: which file, its digest, what it showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Linked {
    pub source: String,
    pub shadow: String,
    pub path: String,
    pub sha256: String,
    pub snapshot_time: String,
}

/// Why a swap is not covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gap {
    Missing,
    /// The newest evidence for this database failed.
    Failing {
        path: String,
    },
    /// Taken before the phase-1 promotion that created the shadow.
    BeforePhaseOne {
        path: String,
        phase_one: String,
    },
    Stale {
        path: String,
        age: String,
        max: String,
    },
    /// Only evidence about other databases.
    OtherDatabase {
        path: String,
        identity: String,
    },
}

/// What the gate needs to judge one swap.
pub struct Judge<'a> {
    pub identity: Option<&'a Identity>,
    pub now: DateTime<Utc>,
    pub max_age: chrono::Duration,
    /// When the phase-1 promotion that created each shadow was recorded, by shadow.
    pub phase_one: &'a BTreeMap<String, DateTime<Utc>>,
}

impl Judge<'_> {
    /// The newest evidence about this database for exactly this source and shadow decides.
    pub fn judge(&self, swap: &Swap, files: &[EvidenceFile]) -> Result<Linked, Gap> {
        let same_tables =
            |e: &&EvidenceFile| e.doc.kind == "parity" && e.doc.source == swap.source && e.doc.shadow == swap.shadow;
        let candidates: Vec<&EvidenceFile> = files.iter().filter(same_tables).collect();
        let ours = |e: &&&EvidenceFile| match (self.identity, &e.doc.identity) {
            (Some(mine), Some(theirs)) => theirs.matches(mine) && mine.matches(theirs),
            _ => false,
        };
        let Some(newest) = candidates.iter().filter(ours).max_by_key(|e| e.taken_at) else {
            return Err(match candidates.iter().max_by_key(|e| e.taken_at) {
                None => Gap::Missing,
                Some(e) => Gap::OtherDatabase {
                    path: e.path.clone(),
                    identity: e.doc.identity.as_ref().map_or_else(|| "(no identity)".to_string(), |i| i.to_string()),
                },
            });
        };
        let path = newest.path.clone();
        if !newest.doc.passed {
            return Err(Gap::Failing { path });
        }
        if let Some(phase_one) = self.phase_one.get(&swap.shadow).filter(|t| newest.taken_at <= **t) {
            return Err(Gap::BeforePhaseOne { path, phase_one: phase_one.format("%Y-%m-%dT%H:%M:%SZ").to_string() });
        }
        let age = self.now - newest.taken_at;
        if age > self.max_age {
            return Err(Gap::Stale { path, age: human(age), max: human(self.max_age) });
        }
        Ok(Linked {
            source: swap.source.clone(),
            shadow: swap.shadow.clone(),
            path,
            sha256: newest.sha256.clone(),
            snapshot_time: newest.doc.snapshot_time.clone(),
        })
    }
}

impl std::fmt::Display for Gap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Gap::Missing => write!(f, "no parity evidence"),
            Gap::Failing { path } => write!(f, "the newest parity evidence failed ({path})"),
            Gap::BeforePhaseOne { path, phase_one } => {
                write!(f, "the newest parity evidence ({path}) predates the phase-1 promotion of {phase_one}")
            }
            Gap::Stale { path, age, max } => {
                write!(f, "the newest parity evidence ({path}) is {age} old; [partition] evidence_max_age is {max}")
            }
            Gap::OtherDatabase { path, identity } => {
                write!(f, "parity evidence only for another database ({path}: {identity})")
            }
        }
    }
}

/// `90061s` -> `25h 1m`.
fn human(d: chrono::Duration) -> String {
    let (h, m, s) = (d.num_hours(), d.num_minutes() % 60, d.num_seconds() % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m"),
    }
}

/// How a cutover file is undone: a companion file under `<migrations>/rollback/`, or SQL in the directive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rollback {
    /// Relative to the migrations directory, e.g. `rollback/20260615090000_x.sql`.
    File(String),
    Sql(String),
}

impl Rollback {
    /// A single `.sql` path under `rollback/` is a file; anything else is SQL. A path elsewhere is refused.
    pub fn parse(value: &str) -> Result<Rollback, String> {
        let is_path = !value.contains(char::is_whitespace) && value.ends_with(".sql");
        if !is_path {
            return Ok(Rollback::Sql(value.to_string()));
        }
        match value.strip_prefix("rollback/") {
            Some(name) if !name.is_empty() && !name.contains("..") => Ok(Rollback::File(value.to_string())),
            _ => Err(format!(
                "`rollback: {value}`: a rollback file lives in the migrations' rollback/ folder (`rollback: rollback/<file>.sql`), where the CLI never pushes it"
            )),
        }
    }
}

/// `sat,sun 02:00-04:00` or `daily 22:00-23:30`: a window declared for a target, in UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    days: Vec<chrono::Weekday>,
    start: chrono::NaiveTime,
    end: chrono::NaiveTime,
    text: String,
}

impl Window {
    pub fn parse(text: &str) -> Result<Window, String> {
        let usage = || format!("`{text}` is not a window like \"sat,sun 02:00-04:00\" or \"daily 22:00-23:30\" (UTC)");
        let (days, times) = text.trim().split_once(' ').ok_or_else(usage)?;
        let days: Vec<chrono::Weekday> = match days {
            "daily" => vec![],
            list => list.split(',').map(|d| d.parse().map_err(|_| usage())).collect::<Result<_, _>>()?,
        };
        let (start, end) = times.trim().split_once('-').ok_or_else(usage)?;
        let time = |t: &str| chrono::NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| usage());
        let (start, end) = (time(start)?, time(end)?);
        if end <= start {
            return Err(format!("`{text}`: the window ends before it starts; split one across midnight into two"));
        }
        Ok(Window { days, start, end, text: text.trim().to_string() })
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        use chrono::Datelike;
        let (day, time) = (at.weekday(), at.time());
        (self.days.is_empty() || self.days.contains(&day)) && self.start <= time && time < self.end
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} UTC", self.text)
    }
}

#[cfg(test)]
mod tests;
