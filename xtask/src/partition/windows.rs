//! The pure part of parity: partition bounds, the windows compared, and the comparison of two scans of one
//! window (counts within the threshold, sampled rows both ways).

use std::collections::BTreeMap;

use anyhow::bail;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::history::migrations;

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
    /// Source rows no partition of the shadow can hold (there is no default partition): the shadow has none.
    Outside,
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
    /// The shadow's partition (`schema.name`, quoted) that holds exactly this window, read without a predicate.
    #[serde(skip)]
    pub relation: Option<String>,
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
            // NULL times belong here too: a range-partitioned table routes them to its default partition.
            // Written as the gaps between the ranges, not `not (...)`, so an index on the column can serve it.
            WindowKind::Default | WindowKind::Outside => {
                let gaps: Vec<String> =
                    gaps(&self.excluded).iter().map(|(f, t)| format!("({})", range(f, t))).collect();
                match gaps.is_empty() {
                    true => format!("{column} is null"),
                    false => format!("({column} is null or {})", gaps.join(" or ")),
                }
            }
            _ => range(&self.from, &self.to),
        }
    }
}

type Range = (Option<String>, Option<String>);

/// The complement of ranges sorted by their lower bound (`None` = unbounded): adjacent ranges merge, since
/// Postgres prints equal bounds as equal text.
fn gaps(ranges: &[Range]) -> Vec<Range> {
    if ranges.is_empty() {
        return vec![(None, None)];
    }
    let mut gaps = Vec::new();
    let mut covered_to: Option<Option<String>> = None;
    for (from, to) in ranges {
        match (&covered_to, from) {
            (None, Some(f)) => gaps.push((None, Some(f.clone()))),
            (Some(Some(t)), Some(f)) if t != f => gaps.push((Some(t.clone()), Some(f.clone()))),
            _ => {}
        }
        covered_to = Some(to.clone());
    }
    if let Some(Some(t)) = covered_to {
        gaps.push((Some(t), None));
    }
    gaps
}

/// One of the shadow's partitions: its name, its relation (`schema.name`, quoted) and its bound expression.
pub struct Partition {
    pub name: String,
    pub relation: String,
    pub bound: String,
}

/// One partition window per partition of the shadow, in bound order, then the default partition's window or,
/// without one, the source's rows outside every range (which the shadow cannot hold).
pub fn partition_windows(partitions: &[Partition]) -> anyhow::Result<Vec<Window>> {
    let lit = |b: &Bound| match b {
        Bound::Literal(l) => Some(l.clone()),
        _ => None,
    };
    let mut ranges = Vec::new();
    let mut default = None;
    for p in partitions {
        match parse_range_bound(&p.bound)? {
            Some((from, to)) => ranges.push(Window {
                name: p.name.clone(),
                kind: WindowKind::Partition,
                from: lit(&from),
                to: lit(&to),
                excluded: Vec::new(),
                relation: Some(p.relation.clone()),
            }),
            None => default = Some(p),
        }
    }
    ranges.sort_by(|a, b| (a.from.is_some(), &a.from).cmp(&(b.from.is_some(), &b.from)));
    let excluded = ranges.iter().map(|w| (w.from.clone(), w.to.clone())).collect();
    let (name, kind, relation) = match default {
        Some(p) => (p.name.clone(), WindowKind::Default, Some(p.relation.clone())),
        None => ("(outside every partition)".to_string(), WindowKind::Outside, None),
    };
    ranges.push(Window { name, kind, from: None, to: None, excluded, relation });
    Ok(ranges)
}

/// One aggregate pass over a window of one table: its count, how many rows the key hash sampled, and the sum
/// of those rows' SHA-256 digests' first 64 bits, each taken as unsigned (exact: Postgres sums into `numeric`). Equal sums over equal counts
/// mean the same sampled rows with the same text, in both directions, without moving a row to the client.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub count: i64,
    pub sampled: i64,
    pub fingerprint: u128,
}

impl std::ops::AddAssign for Summary {
    fn add_assign(&mut self, other: Summary) {
        self.count += other.count;
        self.sampled += other.sampled;
        self.fingerprint = self.fingerprint.wrapping_add(other.fingerprint);
    }
}

/// The sampled rows of a window whose sums differ, read to name the keys: key -> (key hash, row SHA-256).
#[derive(Debug, Default)]
pub struct Sample {
    pub rows: BTreeMap<String, (i64, String)>,
}

/// The key hash below which a row is sampled: `pct` percent of the signed 64-bit range, so the same seed picks
/// the same rows on both tables. `None` samples every row.
pub fn sample_threshold(pct: f64) -> Option<i64> {
    // In whole millionths of a percent, so the threshold is exact integer arithmetic, not f64 rounding.
    let millionths = (pct * 1_000_000.0).round() as i128;
    let span = (1i128 << 64) * millionths / 100_000_000;
    let threshold = i64::MIN as i128 + span;
    (threshold <= i64::MAX as i128).then_some(threshold as i64)
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
    pub sampled_source: i64,
    pub sampled_shadow: i64,
    /// Every sampled row is compared (through the sums); the keys are listed only when the sums differ.
    pub samples_match: bool,
    pub compared: i64,
    pub only_in_source: Vec<String>,
    pub only_in_shadow: Vec<String>,
    pub differing: Vec<String>,
    /// Mismatching keys found among the listed rows (at most `sample_cap` per direction).
    pub mismatches: usize,
    /// SHA-256 of the source sample's count and sum: equal inputs give an equal sample.
    pub sample_digest: String,
    pub passed: bool,
}

pub struct Thresholds {
    pub pct: f64,
    pub rows: i64,
    pub cap: usize,
}

/// Counts within max(pct of the source's count, rows), and the samples equal in both directions. `detail`, the
/// sampled rows read only for a window whose sums differ, names the mismatching keys.
pub fn judge(source: Summary, shadow: Summary, t: &Thresholds, detail: Option<(&Sample, &Sample)>) -> WindowResult {
    let mut r = WindowResult {
        source_rows: source.count,
        shadow_rows: shadow.count,
        variance: shadow.count - source.count,
        sampled_source: source.sampled,
        sampled_shadow: shadow.sampled,
        samples_match: source.sampled == shadow.sampled && source.fingerprint == shadow.fingerprint,
        ..Default::default()
    };
    r.allowed_variance = (source.count as f64 * t.pct / 100.0).max(t.rows as f64);
    r.counts_ok = (r.variance.abs() as f64) <= r.allowed_variance;
    r.sample_digest = migrations::hex(&Sha256::digest(format!("{}:{}", source.sampled, source.fingerprint)));
    r.compared = source.sampled;
    if let (false, Some((s, h))) = (r.samples_match, detail) {
        list_mismatches(&mut r, s, h, t.cap);
    }
    r.passed = r.counts_ok && r.samples_match;
    r
}

impl WindowResult {
    /// No row may differ at all: for the rows outside every partition, which the shadow can never hold, any
    /// count is a defect, not replication lag.
    pub fn allow_no_variance(&mut self) {
        self.allowed_variance = 0.0;
        self.counts_ok = self.variance == 0;
        self.passed = self.counts_ok && self.samples_match;
    }
}

/// The sampled rows with the lowest key hashes, at most `cap`: the same keys on every run.
fn capped(sample: &Sample, cap: usize) -> Vec<(&String, &(i64, String))> {
    let mut v: Vec<(&String, &(i64, String))> = sample.rows.iter().collect();
    v.sort_by(|a, b| (a.1.0, a.0).cmp(&(b.1.0, b.0)));
    v.truncate(cap);
    v
}

/// Keys only in one sample or with a differing row hash, both directions, the first `LISTED` of each kind.
fn list_mismatches(r: &mut WindowResult, source: &Sample, shadow: &Sample, cap: usize) {
    let (s, h) = (capped(source, cap), capped(shadow, cap));
    let mut compared = 0;
    for (key, (_, hash)) in &s {
        match shadow.rows.get(*key) {
            None => r.only_in_source.push((*key).clone()),
            Some((_, other)) if other != hash => r.differing.push((*key).clone()),
            Some(_) => compared += 1,
        }
    }
    for (key, _) in &h {
        if !source.rows.contains_key(*key) {
            r.only_in_shadow.push((*key).clone());
        }
    }
    r.compared = (compared + r.differing.len()) as i64;
    r.mismatches = r.only_in_source.len() + r.only_in_shadow.len() + r.differing.len();
    for list in [&mut r.only_in_source, &mut r.only_in_shadow, &mut r.differing] {
        list.truncate(LISTED);
    }
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
        let part = |name: &str, bound: &str| Partition {
            name: name.to_string(),
            relation: format!("public.{name}"),
            bound: bound.to_string(),
        };
        let parts = vec![
            part("p2", "FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')"),
            part("pd", "DEFAULT"),
            part("p1", "FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')"),
        ];
        let w = partition_windows(&parts).unwrap();
        assert_eq!(w.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(), ["p1", "p2", "pd"]);
        assert_eq!(w[0].relation.as_deref(), Some("public.p1"));
        assert_eq!(
            w[0].predicate("\"at\"", "timestamptz"),
            "\"at\" >= '2026-01-01'::timestamptz and \"at\" < '2026-02-01'::timestamptz"
        );
        assert_eq!(
            w[2].predicate("\"at\"", "date"),
            "(\"at\" is null or (\"at\" < '2026-01-01'::date) or (\"at\" >= '2026-03-01'::date))"
        );
        let lit = |s: &str| Some(format!("'{s}'"));
        assert_eq!(
            gaps(&[(None, lit("a")), (lit("b"), lit("c")), (lit("c"), None)]),
            vec![(lit("a"), lit("b"))],
            "open ends cover the rest; c..c merges"
        );
        assert_eq!(gaps(&[]), vec![(None, None)]);
        let without_default = partition_windows(&parts[..1]).unwrap();
        assert_eq!(without_default[1].kind, WindowKind::Outside, "the source's rows no partition can hold");
        assert_eq!(without_default[1].relation, None);
    }

    fn summary(count: i64, sampled: i64, fingerprint: u128) -> Summary {
        Summary { count, sampled, fingerprint }
    }

    fn sample(rows: &[(&str, i64, &str)]) -> Sample {
        Sample { rows: rows.iter().map(|(k, h, r)| (k.to_string(), (*h, r.to_string()))).collect() }
    }

    #[test]
    fn compare_counts_at_and_past_the_threshold() {
        let t = Thresholds { pct: 0.1, rows: 100, cap: 10 };
        let judge_counts = |s, h| judge(summary(s, 0, 0), summary(h, 0, 0), &t, None);
        assert!(judge_counts(1000, 900).passed, "exactly 100 rows apart");
        assert!(!judge_counts(1000, 899).passed, "101 rows apart");
        let big = judge_counts(1_000_000, 999_000);
        assert!(big.passed && big.allowed_variance == 1000.0, "0.1% of a million is 1000");
    }

    #[test]
    fn equal_sums_pass_without_reading_rows_and_differing_sums_list_the_keys() {
        let t = Thresholds { pct: 0.1, rows: 100, cap: 10 };
        let same = judge(summary(10, 3, 77), summary(10, 3, 77), &t, None);
        assert!(same.passed && same.samples_match && same.compared == 3 && same.mismatches == 0);
        let source = sample(&[("(1)", 5, "a"), ("(2)", 3, "b"), ("(3)", 9, "c")]);
        let shadow = sample(&[("(1)", 5, "a"), ("(2)", 3, "B"), ("(4)", 1, "d")]);
        let r = judge(summary(10, 3, 77), summary(10, 3, 78), &t, Some((&source, &shadow)));
        assert_eq!(
            (r.only_in_source.clone(), r.only_in_shadow.clone(), r.differing.clone()),
            (vec!["(3)".to_string()], vec!["(4)".to_string()], vec!["(2)".to_string()])
        );
        assert_eq!((r.mismatches, r.samples_match, r.passed), (3, false, false));
        let capped =
            judge(summary(10, 3, 77), summary(10, 3, 78), &Thresholds { cap: 1, ..t }, Some((&source, &shadow)));
        assert_eq!(capped.differing, ["(2)"], "the lowest key hash only: (2)");
        assert_eq!(capped.sampled_source, 3, "the sampled count is the whole sample's");
    }

    #[test]
    fn a_difference_beyond_the_listing_cap_still_fails() {
        let t = Thresholds { pct: 0.1, rows: 100, cap: 1 };
        let (source, shadow) =
            (sample(&[("(1)", 1, "a"), ("(2)", 2, "b")]), sample(&[("(1)", 1, "a"), ("(2)", 2, "B")]));
        let r = judge(summary(2, 2, 5), summary(2, 2, 6), &t, Some((&source, &shadow)));
        assert_eq!((r.mismatches, r.passed), (0, false));
    }

    #[test]
    fn sample_thresholds() {
        assert_eq!(sample_threshold(100.0), None);
        assert_eq!(sample_threshold(50.0), Some(0));
        assert_eq!(sample_threshold(1.0), Some(-9_038_904_596_117_680_292));
    }
}
