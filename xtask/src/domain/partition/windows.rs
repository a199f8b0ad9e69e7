//! A partitioned shadow's windows, decided over its bounds: the range bounds Postgres prints, one window per
//! partition in bound order, the default partition's (or the uncovered rows') window, and each window's SQL
//! predicate. Comparing two scans of a window is `domain::partition::compare`'s.

use anyhow::bail;
use serde::{Deserialize, Serialize};

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

/// The recent and overlap windows, measured back from the snapshot's `now()` (`recent_from`, `overlap_from`: the
/// times as the session prints them): their bounds are literals like a partition's, so the evidence shows when
/// each window starts and ends. `recent` and `overlap` are the durations as the user wrote them.
pub fn time_windows(recent: &str, overlap: &str, recent_from: &str, overlap_from: &str) -> [Window; 2] {
    let literal = |time: &str| Some(format!("'{time}'"));
    let window = |name: String, kind, from, to| Window { name, kind, from, to, excluded: vec![], relation: None };
    [
        window(format!("recent {recent}"), WindowKind::Recent, literal(recent_from), None),
        window(format!("overlap {overlap}"), WindowKind::Overlap, literal(overlap_from), literal(recent_from)),
    ]
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

    #[test]
    fn the_time_windows_end_at_the_snapshot_and_the_overlap_ends_where_recent_starts() {
        let [recent, overlap] = time_windows("30d", "7d", "2026-11-01 00:00:00+00", "2026-10-25 00:00:00+00");
        assert_eq!((recent.name.as_str(), recent.kind, recent.to), ("recent 30d", WindowKind::Recent, None));
        assert_eq!(recent.from.as_deref(), Some("'2026-11-01 00:00:00+00'"));
        assert_eq!((overlap.name.as_str(), &overlap.kind), ("overlap 7d", &WindowKind::Overlap));
        assert_eq!(overlap.to.as_deref(), Some("'2026-11-01 00:00:00+00'"));
        assert_eq!(overlap.from.as_deref(), Some("'2026-10-25 00:00:00+00'"));
        assert_eq!(
            overlap.predicate("t", "date"),
            "t >= '2026-10-25 00:00:00+00'::date and t < '2026-11-01 00:00:00+00'::date"
        );
    }
}
