//! Judging a batch's exposure: the standing problems of a database (a table reachable without RLS, a
//! `security definer` function the API roles may call, ...) that the batch adds, and what it changes besides
//! (privileges, RLS, policies, schema usage, default privileges), each named with the file that made it so.

use std::collections::{BTreeMap, BTreeSet};

use super::{API_ROLES, Access, Exposure, ExposureReview, Inputs, RelKind, Severity, Snapshot};

/// What the batch changed: `before` is the shadow at the target's head, `after` its state after each file of
/// the batch, in order.
pub fn judge(inputs: Inputs, before: &Snapshot, after: &[(String, Snapshot)]) -> ExposureReview {
    let Some((_, last)) = after.last() else { return ExposureReview { inputs, ..ExposureReview::default() } };
    let standing_before = standing(before);
    let standing_after = standing(last);
    let states: Vec<&Snapshot> = std::iter::once(before).chain(after.iter().map(|(_, s)| s)).collect();
    let files: Vec<&str> = after.iter().map(|(f, _)| f.as_str()).collect();
    let mut findings = Vec::new();
    let mut preexisting = 0;
    for (key, issue) in &standing_after {
        if standing_before.get(key) == Some(issue) {
            preexisting += usize::from(issue.severity != Severity::Note);
            continue;
        }
        let file = last_change(&states, &files, |s| standing(s).remove(key));
        findings.push(issue.clone().finding(key, file));
    }
    let flagged: BTreeSet<&str> = findings.iter().map(|f| f.object.as_str()).collect();
    let mut changes = changes(before, last, &flagged);
    for change in &mut changes {
        change.file = last_change(&states, &files, |s| fingerprint(s, change));
    }
    findings.extend(changes);
    findings.sort_by(|a, b| (a.severity, &a.object, a.kind).cmp(&(b.severity, &b.object, b.kind)));
    ExposureReview { inputs, findings, preexisting, of_other_files: 0 }
}

/// The last file after which `state_of` differs from what it was before that file.
fn last_change<T: PartialEq>(
    states: &[&Snapshot],
    files: &[&str],
    state_of: impl Fn(&Snapshot) -> T,
) -> Option<String> {
    let seen: Vec<T> = states.iter().map(|s| state_of(s)).collect();
    (1..seen.len()).rev().find(|&i| seen[i] != seen[i - 1]).map(|i| files[i - 1].to_string())
}

/// A problem a database has as it stands, whatever made it so.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Issue {
    severity: Severity,
    role: Option<String>,
    after: String,
    message: String,
}

impl Issue {
    fn finding(self, (kind, object): &(&'static str, String), file: Option<String>) -> Exposure {
        Exposure {
            kind,
            object: object.clone(),
            role: self.role,
            before: None,
            after: Some(self.after),
            severity: self.severity,
            acknowledged: None,
            file,
            message: self.message,
        }
    }
}

type Issues = BTreeMap<(&'static str, String), Issue>;

/// The API roles that reach a relation (their schema's `USAGE` and a privilege on it), with what they may do.
fn reach<'a>(s: &'a Snapshot, name: &str) -> Vec<(&'a str, &'a Access)> {
    let Some(rel) = s.relations.get(name) else { return Vec::new() };
    let schema = name.split('.').next().unwrap_or_default();
    let usage = s.schemas.get(schema);
    rel.access
        .iter()
        .filter(|(role, access)| !access.is_empty() && usage.is_some_and(|u| u.contains(role)))
        .map(|(role, access)| (role.as_str(), access))
        .collect()
}

fn roles_of(reached: &[(&str, &Access)]) -> String {
    reached.iter().map(|(r, _)| *r).collect::<Vec<_>>().join(", ")
}

fn access_of(reached: &[(&str, &Access)]) -> String {
    reached.iter().map(|(r, a)| format!("{r}: {}", a.describe())).collect::<Vec<_>>().join("; ")
}

/// Every standing problem of `s`, by kind and object.
fn standing(s: &Snapshot) -> Issues {
    let mut out = Issues::new();
    for (name, rel) in &s.relations {
        let reached = reach(s, name);
        if reached.is_empty() {
            continue;
        }
        let (roles, access) = (roles_of(&reached), access_of(&reached));
        let mut add = |kind: &'static str, severity: Severity, after: String, message: String| {
            out.insert((kind, name.clone()), Issue { severity, role: Some(roles.clone()), after, message });
        };
        let guarded: Vec<&str> = rel.reads.iter().filter(|(_, rls)| **rls).map(|(t, _)| t.as_str()).collect();
        let reads = rel.reads.keys().cloned().collect::<Vec<_>>().join(", ");
        match rel.kind {
            RelKind::Table | RelKind::ForeignTable if !rel.rls => add(
                "table-without-rls",
                Severity::Error,
                format!("{access}; RLS off"),
                format!(
                    "{} {name} is reachable by {roles} through the Data API without row-level security: every row is theirs to {}. Enable RLS (`alter table {name} enable row level security`) and add policies, or revoke the grants",
                    rel.kind.word(),
                    if reached.iter().any(|(_, a)| a.writes()) { "read or write" } else { "read" }
                ),
            ),
            RelKind::Table | RelKind::ForeignTable => {
                if reached.iter().any(|(_, a)| !a.columns.is_empty()) {
                    add(
                        "column-grant",
                        Severity::Warning,
                        access.clone(),
                        format!("{name} is partly reachable by {roles}: privileges on some columns only ({access})"),
                    );
                }
            }
            RelKind::View if !rel.security_invoker && !guarded.is_empty() => add(
                "view-bypasses-rls",
                Severity::Error,
                format!("{access}; reads {reads} as its owner"),
                format!(
                    "view {name} is reachable by {roles} and reads {} as its owner, so their row-level security does not apply: `alter view {name} set (security_invoker = on)`, or revoke the grants",
                    guarded.join(", ")
                ),
            ),
            RelKind::View if !rel.security_invoker => add(
                "view-as-owner",
                Severity::Warning,
                format!("{access}; reads {reads} as its owner"),
                format!(
                    "view {name} is reachable by {roles} and reads {reads} as its owner, whatever those grant them; `security_invoker = on` makes it read as the caller"
                ),
            ),
            RelKind::View => add(
                "view-as-invoker",
                Severity::Note,
                format!("{access}; reads {reads} as the caller"),
                format!(
                    "view {name} is reachable by {roles} and judged by what it reads ({reads}): their grants and RLS apply"
                ),
            ),
            RelKind::MaterializedView => add(
                "materialized-view",
                if guarded.is_empty() { Severity::Warning } else { Severity::Error },
                format!("{access}; reads {reads}"),
                if guarded.is_empty() {
                    format!("materialized view {name} is reachable by {roles}; it has no row-level security")
                } else {
                    format!(
                        "materialized view {name} is reachable by {roles} and holds rows of {}, whose row-level security it cannot have: revoke the grants or move it out of the exposed schemas",
                        guarded.join(", ")
                    )
                },
            ),
        }
    }
    functions(s, &mut out);
    policies(s, &mut out);
    out
}

fn functions(s: &Snapshot, out: &mut Issues) {
    for (name, f) in &s.functions {
        let schema = name.split('.').next().unwrap_or_default();
        let usage = s.schemas.get(schema);
        let callers: Vec<&str> =
            f.executable_by.iter().filter(|r| usage.is_some_and(|u| u.contains(r))).map(String::as_str).collect();
        if f.security_definer && !callers.is_empty() {
            let roles = callers.join(", ");
            out.insert(
                ("security-definer-executable", name.clone()),
                Issue {
                    severity: Severity::Error,
                    role: Some(roles.clone()),
                    after: format!("executable by {roles}; security definer"),
                    message: format!(
                        "security definer function {name} can be called by {roles} through the Data API (`/rpc`) and runs as its owner: `revoke execute on function {name} from public, anon, authenticated`, or make it `security invoker`"
                    ),
                },
            );
        }
        if !f.search_path_fixed {
            out.insert(
                ("search-path-not-fixed", name.clone()),
                Issue {
                    severity: Severity::Warning,
                    role: None,
                    after: "search_path not set".into(),
                    message: format!(
                        "function {name} in an exposed schema has no fixed search_path, so the caller's decides what its names mean: add `set search_path = ''` and qualify the names"
                    ),
                },
            );
        }
    }
}

fn policies(s: &Snapshot, out: &mut Issues) {
    for (name, p) in &s.policies {
        if !(p.for_api() && p.permissive && p.always_true()) {
            continue;
        }
        let (kind, severity) = if p.writes() {
            ("always-true-write-policy", Severity::Error)
        } else {
            ("always-true-select-policy", Severity::Warning)
        };
        out.insert(
            (kind, name.clone()),
            Issue {
                severity,
                role: Some(p.roles.join(", ")),
                after: p.describe(),
                message: format!(
                    "policy {name} lets {} {} every row ({}){}",
                    p.roles.join(", "),
                    p.command,
                    p.describe(),
                    if p.writes() {
                        ": write a condition that ties the row to the user, e.g. `(select auth.uid()) = owner`"
                    } else {
                        ""
                    }
                ),
            },
        );
    }
}

/// What `change` concerns in `s`, to find the file that last changed it.
fn fingerprint(s: &Snapshot, change: &Exposure) -> String {
    let json = |v: Option<String>| v.unwrap_or_default();
    match change.kind {
        "policy-added" | "policy-changed" | "policy-dropped" => {
            json(s.policies.get(&change.object).and_then(|p| serde_json::to_string(p).ok()))
        }
        "schema-usage" => format!("{:?}", s.schemas.get(&change.object)),
        "default-privileges" => format!("{:?}", s.defaults.get(&change.object)),
        "execute" => json(s.functions.get(&change.object).and_then(|f| serde_json::to_string(f).ok())),
        _ => json(s.relations.get(&change.object).and_then(|r| serde_json::to_string(r).ok())),
    }
}

/// What the batch changed that no standing problem already names (`flagged`).
fn changes(before: &Snapshot, after: &Snapshot, flagged: &BTreeSet<&str>) -> Vec<Exposure> {
    let mut out = Vec::new();
    relation_changes(before, after, flagged, &mut out);
    policy_changes(before, after, &mut out);
    for (name, f) in &after.functions {
        let was = before.functions.get(name).map(|f| f.executable_by.clone()).unwrap_or_default();
        if was != f.executable_by && !flagged.contains(name.as_str()) && !(was.is_empty() && f.executable_by.is_empty())
        {
            out.push(change(
                "execute",
                name,
                None,
                Some(was.join(", ")),
                Some(f.executable_by.join(", ")),
                Severity::Note,
                format!("function {name} is executable by {}", or_nobody(&f.executable_by.join(", "))),
            ));
        }
    }
    for (schema, roles) in map_diff(&before.schemas, &after.schemas) {
        let (was, now) = (roles.0.map(|r| r.join(", ")), roles.1.map(|r| r.join(", ")));
        let gained = now.as_deref().is_some_and(|n| !n.is_empty() && Some(n) != was.as_deref());
        out.push(change(
            "schema-usage",
            schema,
            None,
            was,
            now.clone(),
            if gained { Severity::Warning } else { Severity::Note },
            format!(
                "schema {schema} may be used by {}: what it holds is reachable as far as its grants go",
                or_nobody(now.as_deref().unwrap_or(""))
            ),
        ));
    }
    for (key, grants) in map_diff(&before.defaults, &after.defaults) {
        let gained = grants.1.is_some_and(|g| !g.is_empty());
        out.push(change(
            "default-privileges",
            key,
            None,
            grants.0.cloned(),
            grants.1.cloned(),
            if gained { Severity::Warning } else { Severity::Note },
            format!(
                "default privileges {key}: every new object gets {}",
                grants.1.map_or("no grant to the API roles".to_string(), |g| g.clone())
            ),
        ));
    }
    out
}

fn or_nobody(roles: &str) -> &str {
    if roles.is_empty() { "no API role" } else { roles }
}

/// A key's value before and after.
type Both<'a, V> = (Option<&'a V>, Option<&'a V>);

/// The keys whose values differ, with both values.
fn map_diff<'a, V: PartialEq>(
    before: &'a BTreeMap<String, V>,
    after: &'a BTreeMap<String, V>,
) -> Vec<(&'a str, Both<'a, V>)> {
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter().map(|k| (k.as_str(), (before.get(k), after.get(k)))).filter(|(_, (b, a))| b != a).collect()
}

fn change(
    kind: &'static str,
    object: &str,
    role: Option<String>,
    before: Option<String>,
    after: Option<String>,
    severity: Severity,
    message: String,
) -> Exposure {
    Exposure {
        kind,
        object: object.to_string(),
        role,
        before,
        after,
        severity,
        acknowledged: None,
        file: None,
        message,
    }
}

fn relation_changes(before: &Snapshot, after: &Snapshot, flagged: &BTreeSet<&str>, out: &mut Vec<Exposure>) {
    let names: BTreeSet<&String> = before.relations.keys().chain(after.relations.keys()).collect();
    for name in names {
        let (was, now) = (before.relations.get(name), after.relations.get(name));
        if let (Some(was), Some(now)) = (was, now) {
            let flip = |on: bool, off_kind: &'static str, on_kind: &'static str, what: &str| {
                let (kind, severity, now_word) =
                    if on { (on_kind, Severity::Note, "on") } else { (off_kind, Severity::Warning, "off") };
                change(
                    kind,
                    name,
                    None,
                    Some(if on { "off" } else { "on" }.into()),
                    Some(now_word.into()),
                    severity,
                    format!("{what} is {now_word} for {name}"),
                )
            };
            if was.rls != now.rls {
                out.push(flip(now.rls, "rls-disabled", "rls-enabled", "row-level security"));
            }
            if was.force != now.force {
                out.push(flip(now.force, "force-rls-removed", "force-rls-added", "forced row-level security"));
            }
        }
        if flagged.contains(name.as_str()) {
            continue;
        }
        privilege_changes(after, name, was.map(|r| &r.access), now, out);
    }
}

/// Per API role, what it may do on `name` before and after; roles whose change is the same are one finding.
fn privilege_changes(
    after: &Snapshot,
    name: &str,
    was: Option<&BTreeMap<String, Access>>,
    now: Option<&super::Relation>,
    out: &mut Vec<Exposure>,
) {
    let empty = Access::default();
    let mut by_change: BTreeMap<(String, String), Vec<&str>> = BTreeMap::new();
    for role in API_ROLES {
        let b = was.and_then(|a| a.get(role)).unwrap_or(&empty);
        let a = now.and_then(|r| r.access.get(role)).unwrap_or(&empty);
        if a != b {
            by_change.entry((b.describe(), a.describe())).or_default().push(role);
        }
    }
    for ((b, a), roles) in by_change {
        let roles = roles.join(", ");
        let lost = a == "nothing";
        let (kind, message) = match now {
            Some(rel) if !lost && rel.rls => {
                let policies: Vec<String> = after
                    .policies
                    .iter()
                    .filter(|(k, _)| k.ends_with(&format!(" on {name}")))
                    .map(|(k, p)| format!("{} ({})", k.split(" on ").next().unwrap_or(k), p.describe()))
                    .collect();
                let policies = if policies.is_empty() {
                    "no policy: no row is reachable".to_string()
                } else {
                    format!("policies: {}", policies.join("; "))
                };
                (
                    "reachable-with-rls",
                    format!(
                        "{} {name} is reachable by {roles} ({a}) under row-level security; {policies}",
                        rel.kind.word()
                    ),
                )
            }
            _ if lost => ("privileges-lost", format!("{roles} can no longer {b} on {name}")),
            _ => ("privileges", format!("{roles} may now {a} on {name} (before: {b})")),
        };
        out.push(change(kind, name, Some(roles), Some(b), Some(a), Severity::Note, message));
    }
}

fn policy_changes(before: &Snapshot, after: &Snapshot, out: &mut Vec<Exposure>) {
    for (name, (was, now)) in map_diff(&before.policies, &after.policies) {
        let kind = match (was, now) {
            (None, _) => "policy-added",
            (_, None) => "policy-dropped",
            _ => "policy-changed",
        };
        let roles = now.or(was).map(|p| p.roles.join(", "));
        out.push(change(
            kind,
            name,
            roles,
            was.map(|p| p.describe()),
            now.map(|p| p.describe()),
            Severity::Note,
            format!(
                "policy {name} {}",
                match kind {
                    "policy-added" => "added",
                    "policy-dropped" => "dropped",
                    _ => "changed",
                }
            ),
        ));
    }
}
