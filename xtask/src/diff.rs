//! `cargo xtask diff A B`: schema deltas between two snapshots (the runbook's "DEV vs PROD deltas reviewed for
//! expected differences only").

use std::fmt::Write;
use std::path::Path;

use xshell::Shell;

use crate::blocked::blocked;
use crate::catalog;
use crate::domain::refusal::Refusal;
use crate::domain::schema::catalog::Snapshot;
use serde::Serialize;

use crate::domain::schema::delta::{self, Change, Delta, Expected};
use crate::edges::output::report;
use crate::edges::output::report::{Annotation, Level, Report, md_cell, render_annotations};
use crate::edges::repo::Repo;
use crate::flags;

impl flags::Diff {
    pub fn run(self, _sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let (a, b) = (snapshot(repo, &self.a)?, snapshot(repo, &self.b)?);
        let expected = expected(repo)?;
        let (unexpected, accepted) = split(delta::diff(&a, &b), &expected);
        let count = unexpected.len();
        let report = DeltaReport { deltas: unexpected, a: self.a.clone(), b: self.b.clone() };
        report::emit(&report, self.output.format)?;
        let listed_in = repo.rel(&repo.expected_deltas_path());
        eprintln!("diff: {count} unexpected delta(s), {accepted} expected (listed in {listed_in})");
        if count == 0 {
            return Ok(());
        }
        Err(blocked(Refusal::UnexpectedDeltas { count, a: self.a, b: self.b, listed_in }))
    }
}

/// A snapshot file, or the committed snapshot of a target.
fn snapshot(repo: &Repo, arg: &str) -> anyhow::Result<Snapshot> {
    let as_path = Path::new(arg);
    if arg.ends_with(".json") || as_path.is_file() {
        let path = if as_path.is_absolute() { as_path.to_path_buf() } else { repo.root.join(as_path) };
        return catalog::load(&path, arg, "<target>");
    }
    repo.config.target(arg)?;
    let path = repo.catalog_path(arg);
    catalog::load(&path, &repo.rel(&path), arg)
}

/// `docs/database/expected-deltas.toml`, or nothing expected when it does not exist.
pub fn expected(repo: &Repo) -> anyhow::Result<Expected> {
    let path = repo.expected_deltas_path();
    match std::fs::read_to_string(&path) {
        Ok(text) => Expected::parse(&text, &repo.rel(&path)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Expected::default()),
        Err(err) => Err(err.into()),
    }
}

/// (unexpected deltas, how many were expected)
pub fn split(deltas: Vec<Delta>, expected: &Expected) -> (Vec<Delta>, usize) {
    let total = deltas.len();
    let unexpected: Vec<Delta> = deltas.into_iter().filter(|d| !expected.covers(d)).collect();
    let accepted = total - unexpected.len();
    (unexpected, accepted)
}

/// What `diff` and `drift` report: the unexpected deltas between `a` and `b` (as JSON: the array of deltas).
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct DeltaReport {
    pub deltas: Vec<Delta>,
    #[serde(skip)]
    pub a: String,
    #[serde(skip)]
    pub b: String,
}

impl Report for DeltaReport {
    fn human(&self) -> String {
        let (a, b) = (&self.a, &self.b);
        let mut out = String::new();
        for d in &self.deltas {
            let _ = match &d.change {
                Change::OnlyInA => writeln!(out, "{} {}: only in {a}", d.kind, d.object),
                Change::OnlyInB => writeln!(out, "{} {}: only in {b}", d.kind, d.object),
                Change::Changed { a: va, b: vb } => {
                    writeln!(out, "{} {}: differs\n    {a}: {va}\n    {b}: {vb}", d.kind, d.object)
                }
            };
        }
        out
    }

    fn annotations(&self) -> Vec<Annotation> {
        let title = |d: &Delta| format!("schema delta ({})", d.kind);
        let message = |d: &Delta| format!("{} {} differs between {} and {}", d.kind, d.object, self.a, self.b);
        self.deltas.iter().map(|d| Annotation::run(Level::Error, &title(d), message(d))).collect()
    }

    /// One annotation per delta; the details are in the summary.
    fn github(&self) -> String {
        render_annotations(&self.annotations())
    }

    fn summary_md(&self) -> String {
        let mut out = format!("### Schema deltas: {} vs {}\n\n", self.a, self.b);
        if self.deltas.is_empty() {
            out.push_str("None unexpected.\n");
            return out;
        }
        out.push_str("| kind | object | change |\n|---|---|---|\n");
        for d in &self.deltas {
            let change = match &d.change {
                Change::OnlyInA => format!("only in {}", self.a),
                Change::OnlyInB => format!("only in {}", self.b),
                Change::Changed { .. } => "differs".to_string(),
            };
            let _ = writeln!(out, "| {} | `{}` | {change} |", d.kind, md_cell(&d.object));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::schema::delta::Change;
    use crate::edges::output::report::{Format, render};

    #[test]
    fn delta_report_in_every_format() {
        let report = DeltaReport {
            deltas: vec![
                Delta {
                    kind: "policy",
                    object: "public.problems.\"members read\"".into(),
                    change: Change::Changed { a: "{\"using\":\"x\"}".into(), b: "{\"using\":\"true\"}".into() },
                },
                Delta { kind: "table", object: "public.debug".into(), change: Change::OnlyInB },
            ],
            a: "dev".into(),
            b: "prod".into(),
        };
        expect_test::expect![[r#"
            policy public.problems."members read": differs
                dev: {"using":"x"}
                prod: {"using":"true"}
            table public.debug: only in prod
        "#]]
        .assert_eq(&render(&report, Format::Human));
        expect_test::expect![[r#"
            ::error title=schema delta (policy)::policy public.problems."members read" differs between dev and prod
            ::error title=schema delta (table)::table public.debug differs between dev and prod
        "#]]
        .assert_eq(&render(&report, Format::Github));
        expect_test::expect![[r#"
            [
              {
                "kind": "policy",
                "object": "public.problems.\"members read\"",
                "change": "changed",
                "a": "{\"using\":\"x\"}",
                "b": "{\"using\":\"true\"}"
              },
              {
                "kind": "table",
                "object": "public.debug",
                "change": "only-in-b"
              }
            ]
        "#]]
        .assert_eq(&render(&report, Format::Json));
    }
}
