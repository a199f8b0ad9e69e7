//! The exposure review: what a batch makes reachable through the Data API. On Supabase every table, view and
//! function of an exposed schema is one HTTP request away from anyone holding the `anon` key, guarded only by
//! grants and row-level security. A `Snapshot` is what `anon` and `authenticated` can reach in one database
//! (read by `edges::postgres::exposure`); `judge` compares the shadow's before the batch with its state after
//! each file and says what changed, how bad it is, and which file did it. Pure.

mod judge;
mod render;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::domain::findings::Severity;
pub use judge::judge;

/// The roles the Data API signs requests in as: with the public key, and with a user's token.
pub const API_ROLES: [&str; 2] = ["anon", "authenticated"];

/// The schemas the platform's Data API exposes when a project does not say otherwise.
pub const DEFAULT_SCHEMAS: [&str; 2] = ["public", "graphql_public"];

/// What the API roles can reach in the exposed schemas of one database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// `schema.name` -> the relation.
    #[serde(default)]
    pub relations: BTreeMap<String, Relation>,
    /// `schema.name(argument types)` -> the function.
    #[serde(default)]
    pub functions: BTreeMap<String, Function>,
    /// `policy on schema.table` -> the policy.
    #[serde(default)]
    pub policies: BTreeMap<String, Policy>,
    /// Exposed schema -> the API roles that may use it (`USAGE`).
    #[serde(default)]
    pub schemas: BTreeMap<String, Vec<String>>,
    /// `for role R [in schema S] on tables|sequences|functions` -> what it grants the API roles (and `PUBLIC`):
    /// what every new object gets.
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelKind {
    Table,
    View,
    MaterializedView,
    ForeignTable,
}

impl RelKind {
    pub fn word(self) -> &'static str {
        match self {
            RelKind::Table => "table",
            RelKind::View => "view",
            RelKind::MaterializedView => "materialized view",
            RelKind::ForeignTable => "foreign table",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relation {
    pub kind: RelKind,
    /// Row-level security enabled, and forced on the owner too.
    pub rls: bool,
    pub force: bool,
    /// A view with `security_invoker`: it reads as the caller, so its tables' RLS applies.
    #[serde(default)]
    pub security_invoker: bool,
    /// API role -> what it may do, `PUBLIC`'s grants included (only roles that may do something).
    #[serde(default)]
    pub access: BTreeMap<String, Access>,
    /// The tables (and views) a view or materialized view reads, with whether RLS guards them.
    #[serde(default)]
    pub reads: BTreeMap<String, bool>,
}

/// A role's privileges on a relation: on the whole of it, and on some columns only.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Access {
    /// `SELECT`, `INSERT`, `UPDATE`, `DELETE` on the relation.
    #[serde(default)]
    pub table: Vec<String>,
    /// Privileges held on some columns only (`SELECT (a, b)`).
    #[serde(default)]
    pub columns: Vec<String>,
}

impl Access {
    pub fn is_empty(&self) -> bool {
        self.table.is_empty() && self.columns.is_empty()
    }

    /// `SELECT, INSERT; UPDATE (email)`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.table.is_empty() {
            parts.push(self.table.join(", "));
        }
        parts.extend(self.columns.iter().cloned());
        if parts.is_empty() { "nothing".into() } else { parts.join("; ") }
    }

    /// Whether a write is among them.
    pub fn writes(&self) -> bool {
        let write = |p: &String| !p.starts_with("SELECT");
        self.table.iter().any(write) || self.columns.iter().any(write)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    pub security_definer: bool,
    /// `search_path` set on the function (`set search_path = ...`).
    pub search_path_fixed: bool,
    /// The API roles that may execute it (`PUBLIC`'s grant included).
    #[serde(default)]
    pub executable_by: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// `SELECT`, `INSERT`, `UPDATE`, `DELETE` or `ALL`.
    pub command: String,
    /// The roles it applies to (`public` for every role).
    pub roles: Vec<String>,
    pub permissive: bool,
    #[serde(rename = "using")]
    pub using_expr: Option<String>,
    pub with_check: Option<String>,
}

impl Policy {
    /// Whether it applies to an API role.
    pub fn for_api(&self) -> bool {
        self.roles.iter().any(|r| r == "public" || API_ROLES.contains(&r.as_str()))
    }

    /// Whether it lets every row through for what it governs: its conditions, as the server prints them, are
    /// `true` (or absent where the other one governs).
    pub fn always_true(&self) -> bool {
        let open = |e: &Option<String>| e.as_deref().is_none_or(is_true);
        match self.command.as_str() {
            "SELECT" | "DELETE" => open(&self.using_expr),
            "INSERT" => open(&self.with_check),
            _ => open(&self.using_expr) && (self.with_check.is_none() || open(&self.with_check)),
        }
    }

    pub fn writes(&self) -> bool {
        self.command != "SELECT"
    }

    /// `SELECT to authenticated using ((select auth.uid()) = owner)`, on one line.
    pub fn describe(&self) -> String {
        self.describe_lines().split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn describe_lines(&self) -> String {
        let mut out = format!("{} to {}", self.command, self.roles.join(", "));
        if !self.permissive {
            out.push_str(" (restrictive)");
        }
        if let Some(using) = &self.using_expr {
            out.push_str(&format!(" using ({using})"));
        }
        if let Some(check) = &self.with_check {
            out.push_str(&format!(" with check ({check})"));
        }
        out
    }
}

/// A condition that holds for every row: `true`, `1 = 1` and the like, in the server's own printing.
fn is_true(expr: &str) -> bool {
    let bare: String = expr.chars().filter(|c| !c.is_whitespace() && *c != '(' && *c != ')').collect();
    matches!(bare.to_ascii_lowercase().as_str(), "true" | "1=1" | "'t'::boolean" | "'true'::boolean")
}

/// One thing the batch changes in what the API roles reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exposure {
    /// What kind of change: `table-without-rls`, `view-bypasses-rls`, `security-definer-executable`, ... (the
    /// table in docs/design.md).
    pub kind: &'static str,
    pub object: String,
    /// The API roles it concerns, `anon, authenticated`; `None` when it concerns no role in particular.
    pub role: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub severity: Severity,
    /// The reason of the file's `-- xtask: ack exposure: <reason>`, when it acknowledged an error.
    pub acknowledged: Option<String>,
    /// The batch file whose statements made it so (the last one that changed it).
    pub file: Option<String>,
    pub message: String,
}

/// Where the review's inputs came from, as people read it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Inputs {
    pub schemas: Vec<String>,
    /// `[targets.prod] exposed_schemas`, the Management API's PostgREST configuration, or the platform default.
    pub schemas_from: String,
    /// The capture, the built-in baseline, or the target itself.
    pub privileges_from: String,
}

/// The exposure section of a review: what changed, and how many findings the target had already.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExposureReview {
    #[serde(rename = "exposure_inputs")]
    pub inputs: Inputs,
    #[serde(rename = "exposure")]
    pub findings: Vec<Exposure>,
    /// Errors and warnings that stood before the batch and still stand: not repeated.
    #[serde(rename = "exposure_preexisting")]
    pub preexisting: usize,
    /// Findings of batch files the review does not show (a branch's review: the files already on its base,
    /// which their own review showed).
    #[serde(rename = "exposure_of_other_files")]
    pub of_other_files: usize,
}

impl ExposureReview {
    /// Errors no `ack exposure` covers: what `review` and a protected target's promotion refuse.
    pub fn unacknowledged_errors(&self) -> Vec<&Exposure> {
        self.findings.iter().filter(|f| f.severity == Severity::Error).collect()
    }

    /// Only the findings of `files` (a branch's own); the others are counted.
    pub fn only_files(mut self, files: &std::collections::BTreeSet<&str>) -> ExposureReview {
        let before = self.findings.len();
        self.findings.retain(|f| f.file.as_deref().is_some_and(|file| files.contains(file)));
        self.of_other_files += before - self.findings.len();
        self
    }

    /// Errors of files the lock records as applied (a target ran them; their bytes may not change) are warnings:
    /// production has them already, and only a forward fix changes them (a fresh project's batch is the history).
    pub fn in_applied_history(mut self, applied: &std::collections::BTreeSet<&str>) -> ExposureReview {
        for f in &mut self.findings {
            if f.severity == Severity::Error && f.file.as_deref().is_some_and(|file| applied.contains(file)) {
                f.severity = Severity::Warning;
                f.message.push_str(" (in applied history, which cannot be edited: a forward fix changes it)");
            }
        }
        self
    }

    /// A file's `ack exposure` turns its errors into notes carrying the reason.
    pub fn acknowledge(mut self, acks: &BTreeMap<String, String>) -> ExposureReview {
        for f in &mut self.findings {
            let reason = f.file.as_ref().and_then(|file| acks.get(file));
            if let (Severity::Error, Some(reason)) = (f.severity, reason) {
                f.severity = Severity::Note;
                f.acknowledged = Some(reason.clone());
            }
        }
        self.findings.sort_by(|a, b| (a.severity, &a.object, a.kind).cmp(&(b.severity, &b.object, b.kind)));
        self
    }
}

pub use render::{human, markdown};

/// Each file's `ack exposure` reason (its first), by the file's path.
pub fn acks<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a crate::domain::lint::sql::Directives)>,
) -> BTreeMap<String, String> {
    files
        .into_iter()
        .filter_map(|(file, d)| d.exposure_acks.first().map(|(_, reason)| (file.to_string(), reason.clone())))
        .collect()
}

/// The refusal of a batch with unacknowledged exposure errors, by `command` (`review`, `promote`).
pub fn refusal(
    review: &ExposureReview,
    command: &str,
    target: &str,
    nothing: &str,
) -> Option<crate::domain::refusal::Refusal> {
    let errors = review.unacknowledged_errors();
    if errors.is_empty() {
        return None;
    }
    let objects: Vec<String> = errors.iter().map(|e| e.object.clone()).collect();
    Some(crate::domain::refusal::Refusal::Exposure {
        command: command.to_string(),
        count: errors.len(),
        objects: objects.join(", "),
        target: target.to_string(),
        nothing: nothing.to_string(),
    })
}

#[cfg(test)]
mod tests;
