//! The pure part of parity: partition bounds, the windows compared, and the comparison of two scans of one
//! window (counts within the threshold, sampled rows both ways).

use std::collections::BTreeMap;

use anyhow::bail;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::migrations;

/// Mismatching keys listed per window and kind; the totals are always complete.
pub const LISTED: usize = 20;

/// A range partition's bound: a literal as Postgres prints it (`'2026-01-01 00:00:00+00'`), or open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Bound {
    Min,
    Max,
    Literal(String),
}

/// `FOR VALUES FROM ('a') TO ('b')` -> (from, to); `DEFAULT` -> None; other strategies are refused.
pub fn parse_range_bound(expr: &str) -> anyhow::Result<Option<(Bound, Bound)>> {
    if expr.trim() == "DEFAULT" {
        return Ok(None);
    }
    let inner = expr.strip_prefix("FOR VALUES FROM (").and_then(|rest| rest.strip_suffix(')'));
    let Some((from, to)) = inner.and_then(|i| i.split_once(") TO (")) else {
        bail!("partition bound `{expr}`: only range partitions on one time column are supported");
    };
    let bound = |text: &str| -> anyhow::Result<Bound> {
        match text.trim() {
            "MINVALUE" => Ok(Bound::Min),
            "MAXVALUE" => Ok(Bound::Max),
            lit if lit.starts_with('\'') && lit.ends_with('\'') && !lit[1..lit.len() - 1].contains(',') => {
                Ok(Bound::Literal(lit.to_string()))
            }
            other => bail!("partition bound `{other}`: only range partitions on one time column are supported"),
        }
    };
    Ok(Some((bound(from)?, bound(to)?)))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowKind {
    Partition,
    Default,
    Recent,
    Overlap,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    pub name: String,
    pub kind: WindowKind,
    pub from: Option<String>,
    pub to: Option<String>,
    /// For the default partition: the ranges of the other partitions, which it excludes.
    #[serde(skip)]
    pub excluded: Vec<(Option<String>, Option<String>)>,
}

impl Window {
    /// The SQL predicate; always present, with constants, so the planner prunes partitions.
    pub fn predicate(&self, column: &str, ty: &str) -> String {
        let range = |from: &Option<String>, to: &Option<String>| {
            let mut parts = Vec::new();
            if let Some(f) = from {
                parts.push(format!("{column} >= {f}::{ty}"));
            }
            if let Some(t) = to {
                parts.push(format!("{column} < {t}::{ty}"));
            }
            if parts.is_empty() { "true".to_string() } else { parts.join(" and ") }
        };
        match self.kind {
            WindowKind::Default => {
                let others: Vec<String> = self.excluded.iter().map(|(f, t)| format!("({})", range(f, t))).collect();
                if others.is_empty() {
                    format!("{column} is not null")
                } else {
                    format!("{column} is not null and not ({})", others.join(" or "))
                }
            }
            _ => range(&self.from, &self.to),
        }
    }
}

/// One partition window per partition of the shadow, in bound order, the default partition last.
pub fn partition_windows(partitions: &[(String, String)]) -> anyhow::Result<Vec<Window>> {
    let lit = |b: &Bound| match b {
        Bound::Literal(l) => Some(l.clone()),
        _ => None,
    };
    let mut ranges = Vec::new();
    let mut default = None;
    for (name, expr) in partitions {
        match parse_range_bound(expr)? {
            Some((from, to)) => ranges.push(Window {
                name: name.clone(),
                kind: WindowKind::Partition,
                from: lit(&from),
                to: lit(&to),
                excluded: Vec::new(),
            }),
            None => default = Some(name.clone()),
        }
    }
    ranges.sort_by(|a, b| (a.from.is_some(), &a.from).cmp(&(b.from.is_some(), &b.from)));
    if let Some(name) = default {
        let excluded = ranges.iter().map(|w| (w.from.clone(), w.to.clone())).collect();
        ranges.push(Window { name, kind: WindowKind::Default, from: None, to: None, excluded });
    }
    Ok(ranges)
}

/// What one scan of one table over one window yields: its count, and the sampled rows (key, key hash, row hash).
#[derive(Debug, Default)]
pub struct Scan {
    pub count: i64,
    pub sample: BTreeMap<String, (i64, String)>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct WindowResult {
    #[serde(flatten)]
    pub window: Option<Window>,
    pub source_rows: i64,
    pub shadow_rows: i64,
    pub variance: i64,
    pub allowed_variance: f64,
    pub counts_ok: bool,
    pub sampled_source: usize,
    pub sampled_shadow: usize,
    pub compared: usize,
    pub only_in_source: Vec<String>,
    pub only_in_shadow: Vec<String>,
    pub differing: Vec<String>,
    pub mismatches: usize,
    /// SHA-256 of the compared source keys: equal inputs give an equal sample.
    pub sample_digest: String,
    pub passed: bool,
}

/// The sampled rows with the lowest key hashes, at most `cap`: the same keys on every run.
fn capped(scan: &Scan, cap: usize) -> Vec<(&String, &(i64, String))> {
    let mut v: Vec<(&String, &(i64, String))> = scan.sample.iter().collect();
    v.sort_by(|a, b| (a.1.0, a.0).cmp(&(b.1.0, b.0)));
    v.truncate(cap);
    v
}

pub struct Thresholds {
    pub pct: f64,
    pub rows: i64,
    pub cap: usize,
}

/// Counts within max(pct of the source's count, rows), and the capped samples compared in both directions.
pub fn compare(source: &Scan, shadow: &Scan, t: &Thresholds) -> WindowResult {
    let (s, h) = (capped(source, t.cap), capped(shadow, t.cap));
    let mut r = WindowResult {
        source_rows: source.count,
        shadow_rows: shadow.count,
        sampled_source: s.len(),
        sampled_shadow: h.len(),
        ..Default::default()
    };
    r.variance = shadow.count - source.count;
    r.allowed_variance = (source.count as f64 * t.pct / 100.0).max(t.rows as f64);
    r.counts_ok = (r.variance.abs() as f64) <= r.allowed_variance;
    let mut keys = Sha256::new();
    for (key, (_, hash)) in &s {
        keys.update(key.as_bytes());
        keys.update(b"\n");
        match shadow.sample.get(*key) {
            None => r.only_in_source.push((*key).clone()),
            Some((_, other)) if other != hash => r.differing.push((*key).clone()),
            Some(_) => r.compared += 1,
        }
    }
    for (key, _) in &h {
        if !source.sample.contains_key(*key) {
            r.only_in_shadow.push((*key).clone());
        }
    }
    r.compared += r.differing.len();
    r.mismatches = r.only_in_source.len() + r.only_in_shadow.len() + r.differing.len();
    r.sample_digest = migrations::hex(&keys.finalize());
    for list in [&mut r.only_in_source, &mut r.only_in_shadow, &mut r.differing] {
        list.truncate(LISTED);
    }
    r.passed = r.counts_ok && r.mismatches == 0;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_bounds() {
        assert_eq!(
            parse_range_bound("FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00')").unwrap(),
            Some((
                Bound::Literal("'2026-01-01 00:00:00+00'".into()),
                Bound::Literal("'2026-02-01 00:00:00+00'".into())
            ))
        );
        assert_eq!(
            parse_range_bound("FOR VALUES FROM (MINVALUE) TO ('2026-01-01')").unwrap(),
            Some((Bound::Min, Bound::Literal("'2026-01-01'".into())))
        );
        assert_eq!(parse_range_bound("DEFAULT").unwrap(), None);
        assert!(parse_range_bound("FOR VALUES IN ('a')").is_err());
        assert!(parse_range_bound("FOR VALUES FROM ('a', 1) TO ('b', 2)").is_err());
    }

    #[test]
    fn windows_and_predicates() {
        let parts = vec![
            ("p2".to_string(), "FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')".to_string()),
            ("pd".to_string(), "DEFAULT".to_string()),
            ("p1".to_string(), "FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')".to_string()),
        ];
        let w = partition_windows(&parts).unwrap();
        assert_eq!(w.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(), ["p1", "p2", "pd"]);
        assert_eq!(
            w[0].predicate("\"at\"", "timestamptz"),
            "\"at\" >= '2026-01-01'::timestamptz and \"at\" < '2026-02-01'::timestamptz"
        );
        assert_eq!(
            w[2].predicate("\"at\"", "date"),
            "\"at\" is not null and not ((\"at\" >= '2026-01-01'::date and \"at\" < '2026-02-01'::date) or (\"at\" >= '2026-02-01'::date and \"at\" < '2026-03-01'::date))"
        );
    }

    fn scan(rows: &[(&str, i64, &str)], count: i64) -> Scan {
        Scan { count, sample: rows.iter().map(|(k, h, r)| (k.to_string(), (*h, r.to_string()))).collect() }
    }

    #[test]
    fn compare_counts_at_and_past_the_threshold() {
        let t = Thresholds { pct: 0.1, rows: 100, cap: 10 };
        assert!(compare(&scan(&[], 1000), &scan(&[], 900), &t).passed, "exactly 100 rows apart");
        assert!(!compare(&scan(&[], 1000), &scan(&[], 899), &t).passed, "101 rows apart");
        let big = compare(&scan(&[], 1_000_000), &scan(&[], 999_000), &t);
        assert!(big.passed && big.allowed_variance == 1000.0, "0.1% of a million is 1000");
    }

    #[test]
    fn compare_samples_both_ways() {
        let t = Thresholds { pct: 0.1, rows: 100, cap: 10 };
        let source = scan(&[("(1)", 5, "a"), ("(2)", 3, "b"), ("(3)", 9, "c")], 3);
        let shadow = scan(&[("(1)", 5, "a"), ("(2)", 3, "B"), ("(4)", 1, "d")], 3);
        let r = compare(&source, &shadow, &t);
        assert_eq!(
            (r.only_in_source.clone(), r.only_in_shadow.clone(), r.differing.clone()),
            (vec!["(3)".to_string()], vec!["(4)".to_string()], vec!["(2)".to_string()])
        );
        assert_eq!(r.mismatches, 3);
        assert!(!r.passed);
        let capped = compare(&source, &shadow, &Thresholds { cap: 1, ..t });
        assert_eq!(capped.sampled_source, 1, "the lowest key hash only: (2)");
        assert_eq!(capped.differing, ["(2)"]);
    }
}
