//! Deltas between two catalog snapshots, minus the expected ones (`docs/database/expected-deltas.toml`). Pure.

use std::collections::BTreeMap;

use anyhow::bail;
use serde::{Deserialize, Serialize};

use crate::domain::schema::catalog::Snapshot;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delta {
    /// table, column, constraint, index, policy, trigger, grant, function, sequence, enum, extension, cron, publication
    pub kind: &'static str,
    pub object: String,
    #[serde(flatten)]
    pub change: Change,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "change")]
pub enum Change {
    OnlyInA,
    OnlyInB,
    Changed { a: String, b: String },
}

/// Every comparable object of a snapshot, keyed by (kind, object), valued by its canonical description.
fn flatten(s: &Snapshot) -> BTreeMap<(&'static str, String), String> {
    let mut m = BTreeMap::new();
    for t in &s.tables {
        let name = format!("{}.{}", t.schema, t.name);
        m.insert(
            ("table", name.clone()),
            format!("{} rls={} forced={} definition={:?}", t.kind, t.rls_enabled, t.rls_forced, t.definition),
        );
        for c in &t.columns {
            m.insert(("column", format!("{name}.{}", c.name)), json(c));
        }
        for k in &t.constraints {
            m.insert(("constraint", format!("{name}.{}", k.name)), k.definition.clone());
        }
        for i in &t.indexes {
            m.insert(("index", format!("{name}.{}", i.name)), format!("{} valid={}", i.definition, i.valid));
        }
        for p in &t.policies {
            m.insert(("policy", format!("{name}.\"{}\"", p.name)), json(p));
        }
        for tr in &t.triggers {
            m.insert(("trigger", format!("{name}.{}", tr.name)), format!("{} enabled={}", tr.definition, tr.enabled));
        }
        for g in &t.grants {
            m.insert(("grant", format!("{name} to {}", g.grantee)), g.privileges.join(", "));
        }
    }
    for f in &s.functions {
        let sig = format!("{}.{}({})", f.schema, f.name, f.arguments);
        for role in &f.execute {
            m.insert(("grant", format!("execute on {sig} to {role}")), "EXECUTE".into());
        }
        let mut f = f.clone();
        f.execute.clear();
        m.insert(("function", sig), json(&f));
    }
    for q in &s.sequences {
        m.insert(("sequence", format!("{}.{}", q.schema, q.name)), json(q));
    }
    for e in &s.enums {
        m.insert(("enum", format!("{}.{}", e.schema, e.name)), e.values.join(", "));
    }
    for e in &s.extensions {
        m.insert(("extension", e.name.clone()), format!("{} in {}", e.version, e.schema));
    }
    for j in s.cron_jobs.iter().flatten() {
        m.insert(("cron", j.name.clone().unwrap_or_else(|| j.command.clone())), json(j));
    }
    for p in &s.publications {
        for t in &p.tables {
            m.insert(("publication", format!("{} {t}", p.name)), String::new());
        }
    }
    m
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// What differs between `a` and `b`. Cron jobs are compared only when both databases have pg_cron.
pub fn diff(a: &Snapshot, b: &Snapshot) -> Vec<Delta> {
    let (mut fa, mut fb) = (flatten(a), flatten(b));
    if a.cron_jobs.is_none() || b.cron_jobs.is_none() {
        fa.retain(|(kind, _), _| *kind != "cron");
        fb.retain(|(kind, _), _| *kind != "cron");
    }
    let mut out = Vec::new();
    for ((kind, object), va) in &fa {
        match fb.get(&(kind, object.clone())) {
            None => out.push(Delta { kind, object: object.clone(), change: Change::OnlyInA }),
            Some(vb) if vb != va => out.push(Delta {
                kind,
                object: object.clone(),
                change: Change::Changed { a: va.clone(), b: vb.clone() },
            }),
            Some(_) => {}
        }
    }
    for ((kind, object), _) in fb.iter().filter(|(k, _)| !fa.contains_key(k)) {
        out.push(Delta { kind, object: object.clone(), change: Change::OnlyInB });
    }
    out
}

/// `docs/database/expected-deltas.toml`: differences reviewed and accepted, each with its reason.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    #[serde(default)]
    pub expected: Vec<ExpectedDelta>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedDelta {
    pub kind: String,
    /// The delta's object; `*` matches any run of characters.
    pub object: String,
    pub reason: Option<String>,
}

/// The kinds a delta can have (`facts`): an expected delta of another kind would match nothing, silently.
pub const KINDS: &[&str] = &[
    "table",
    "column",
    "constraint",
    "index",
    "policy",
    "trigger",
    "grant",
    "function",
    "sequence",
    "enum",
    "extension",
    "cron",
    "publication",
];

impl Expected {
    pub fn parse(text: &str, rel: &str) -> anyhow::Result<Expected> {
        let expected: Expected = toml::from_str(text).map_err(|e| anyhow::anyhow!("{rel}: {e}"))?;
        let unknown: Vec<String> = expected
            .expected
            .iter()
            .enumerate()
            .filter(|(_, e)| !KINDS.contains(&e.kind.as_str()))
            .map(|(i, e)| format!("entry {} ({} {}) has kind `{}`", i + 1, e.kind, e.object, e.kind))
            .collect();
        if !unknown.is_empty() {
            bail!("{rel}: {}, which matches nothing; use one of {}", unknown.join(", "), KINDS.join(", "));
        }
        let missing: Vec<String> = expected
            .expected
            .iter()
            .enumerate()
            .filter(|(_, e)| e.reason.as_deref().is_none_or(|r| r.trim().is_empty()))
            .map(|(i, e)| format!("entry {} ({} {})", i + 1, e.kind, e.object))
            .collect();
        if !missing.is_empty() {
            bail!(
                "{rel}: {} has no reason; every expected delta says why it is expected (reason = \"...\")",
                missing.join(", ")
            );
        }
        Ok(expected)
    }

    pub fn covers(&self, d: &Delta) -> bool {
        self.expected.iter().any(|e| e.kind == d.kind && glob(&e.object, &d.object))
    }
}

/// `*` matches any run of characters (dots and quotes too); every other character is itself: object names hold
/// `?`, `[` and `{` literally, so only the star is globset's.
fn glob(pattern: &str, text: &str) -> bool {
    let escaped: Vec<String> = pattern.split('*').map(globset::escape).collect();
    globset::Glob::new(&escaped.join("*")).is_ok_and(|g| g.compile_matcher().is_match(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("public.debug_*", "public.debug_events"));
        assert!(glob("*.\"dev only\"", "public.t.\"dev only\""));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxc"));
        assert!(!glob("public.t", "public.tt"));
        assert!(glob("public.\"a[1]?\"", "public.\"a[1]?\""));
        assert!(!glob("public.\"a[1]?\"", "public.\"a1x\""));
    }

    #[test]
    fn expected_deltas_need_reasons() {
        let err = Expected::parse(
            "[[expected]]\nkind = \"table\"\nobject = \"public.x\"\n",
            "docs/database/expected-deltas.toml",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "docs/database/expected-deltas.toml: entry 1 (table public.x) has no reason; every expected delta says why it is expected (reason = \"...\")"
        );
        let ok = Expected::parse(
            "[[expected]]\nkind = \"table\"\nobject = \"public.debug_*\"\nreason = \"dev only\"\n",
            "f",
        )
        .unwrap();
        assert!(ok.covers(&Delta { kind: "table", object: "public.debug_events".into(), change: Change::OnlyInA }));
        assert!(!ok.covers(&Delta { kind: "policy", object: "public.debug_events".into(), change: Change::OnlyInA }));
    }
}
