//! What `check` reports: its findings and a summary, in every format. Pure.

use std::fmt::Write;

use serde::Serialize;

use crate::blocked::blocked;
use crate::domain::findings::{Finding, Severity};
use crate::domain::refusal::Refusal;
use crate::edges::output::report::{Annotation, Level, Report, md_cell, render_annotations};

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub linted: usize,
    /// Of `linted`, the files whose analysis came from the lint cache.
    pub cached: usize,
    pub hashed: usize,
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
}

#[derive(Debug, Default, Serialize)]
pub struct CheckReport {
    pub summary: Summary,
    pub findings: Vec<Finding>,
}

/// What a check looked at: files linted (and how many of those answers the lint cache gave), applied files hashed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub linted: usize,
    pub cached: usize,
    pub hashed: usize,
}

impl Summary {
    pub fn counts(&self) -> Counts {
        Counts { linted: self.linted, cached: self.cached, hashed: self.hashed }
    }
}

impl CheckReport {
    pub fn new(mut findings: Vec<Finding>, counts: Counts) -> CheckReport {
        findings.sort_by(|a, b| (&a.file, a.pos, a.code.to_string()).cmp(&(&b.file, b.pos, b.code.to_string())));
        findings.dedup();
        let count = |sev| findings.iter().filter(|f| f.severity == sev).count();
        let Counts { linted, cached, hashed } = counts;
        let summary = Summary {
            linted,
            cached,
            hashed,
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            notes: count(Severity::Note),
        };
        CheckReport { summary, findings }
    }

    /// The findings alone, a line each with its fix: what a command shows of the findings it judged (its own
    /// message says what they do to it).
    pub fn findings_text(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let place =
                if f.pos.line == 0 { f.file.clone() } else { format!("{}:{}:{}", f.file, f.pos.line, f.pos.col) };
            let _ = writeln!(out, "{place}: {}[{}]: {}", f.severity.as_str(), f.code, f.message);
            if !f.fix.is_empty() {
                let _ = writeln!(out, "    fix: {}", f.fix);
            }
        }
        out
    }

    /// What was checked and what it found, in one line.
    pub fn summary_line(&self) -> String {
        let s = &self.summary;
        format!(
            "check: {} file(s) linted ({} from the lint cache), {} applied file(s) hashed: {} error(s), {} warning(s), {} note(s)\n",
            s.linted, s.cached, s.hashed, s.errors, s.warnings, s.notes
        )
    }

    /// `Err(Blocked)` when any finding is an error.
    pub fn verdict(&self) -> anyhow::Result<()> {
        match self.summary.errors {
            0 => Ok(()),
            count => Err(blocked(Refusal::CheckFindings { count })),
        }
    }
}

impl Report for CheckReport {
    fn human(&self) -> String {
        let mut out = self.findings_text();
        if !self.findings.is_empty() {
            out.push('\n');
        }
        out + &self.summary_line()
    }

    fn annotations(&self) -> Vec<Annotation> {
        self.findings.iter().map(annotation).collect()
    }

    /// The annotations and the one-line summary (the human text would repeat every finding in the log).
    fn github(&self) -> String {
        let s = &self.summary;
        render_annotations(&self.annotations())
            + &format!("check: {} error(s), {} warning(s), {} note(s)\n", s.errors, s.warnings, s.notes)
    }

    fn summary_md(&self) -> String {
        let s = &self.summary;
        let mut out = format!(
            "### cargo xtask check\n\n{} file(s) linted ({} from the lint cache), {} applied file(s) hashed: {} error(s), {} warning(s), {} note(s)\n",
            s.linted, s.cached, s.hashed, s.errors, s.warnings, s.notes
        );
        if !self.findings.is_empty() {
            out.push('\n');
            out.push_str(&findings_md(&self.findings));
        }
        out
    }
}

/// The findings as a Markdown table, as the job summary and a pull request's comment show them.
pub fn findings_md(findings: &[Finding]) -> String {
    let mut out = String::from("| file | line | severity | code | message |\n|---|---|---|---|---|\n");
    for f in findings {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | `{}` | {} |",
            f.file,
            f.pos.line,
            f.severity.as_str(),
            f.code,
            md_cell(&f.message)
        );
    }
    out
}

/// A finding as GitHub shows it inline.
pub fn annotation(f: &Finding) -> Annotation {
    let level = match f.severity {
        Severity::Error => Level::Error,
        Severity::Warning => Level::Warning,
        Severity::Note | Severity::Off => Level::Notice,
    };
    let mut message = f.message.clone();
    if !f.fix.is_empty() {
        let _ = write!(message, "\nfix: {}", f.fix);
    }
    Annotation {
        level,
        file: Some(f.file.clone()),
        line: f.pos.line as usize,
        col: f.pos.col as usize,
        title: format!("xtask check: {}", f.code),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::findings::{Code, Pos};
    use crate::edges::output::report::Format;
    use crate::edges::output::report::render;
    use expect_test::expect;

    fn sample() -> CheckReport {
        CheckReport::new(
            vec![
                Finding::new(
                    Code::Destructive,
                    Severity::Note,
                    "migrations/20260513132700_fix.sql",
                    "`drop function f(uuid)` (acknowledged: replaced, 100% of callers moved)",
                )
                .at(Pos { line: 3, col: 1 }),
                Finding::new(
                    Code::AppliedModified,
                    Severity::Error,
                    "migrations/20260105090000_core.sql",
                    "applied, but its content changed",
                )
                .fix("restore it with `git checkout -- migrations/20260105090000_core.sql`"),
                Finding::new(
                    Code::Concurrently,
                    Severity::Error,
                    "migrations/20260513050000_idx.sql",
                    "CREATE INDEX CONCURRENTLY shares its file, with 1 other",
                )
                .at(Pos { line: 2, col: 5 })
                .fix("move it into a migration of its own"),
            ],
            Counts { linted: 14, cached: 12, hashed: 9 },
        )
    }

    #[test]
    fn human() {
        expect![[r#"
            migrations/20260105090000_core.sql: error[applied-modified]: applied, but its content changed
                fix: restore it with `git checkout -- migrations/20260105090000_core.sql`
            migrations/20260513050000_idx.sql:2:5: error[concurrently]: CREATE INDEX CONCURRENTLY shares its file, with 1 other
                fix: move it into a migration of its own
            migrations/20260513132700_fix.sql:3:1: note[destructive]: `drop function f(uuid)` (acknowledged: replaced, 100% of callers moved)

            check: 14 file(s) linted (12 from the lint cache), 9 applied file(s) hashed: 2 error(s), 0 warning(s), 1 note(s)
        "#]]
        .assert_eq(&render(&sample(), Format::Human));
    }

    #[test]
    fn json() {
        expect![[r#"
            {
              "summary": {
                "linted": 14,
                "cached": 12,
                "hashed": 9,
                "errors": 2,
                "warnings": 0,
                "notes": 1
              },
              "findings": [
                {
                  "code": "applied-modified",
                  "severity": "error",
                  "file": "migrations/20260105090000_core.sql",
                  "line": 0,
                  "col": 0,
                  "message": "applied, but its content changed",
                  "fix": "restore it with `git checkout -- migrations/20260105090000_core.sql`"
                },
                {
                  "code": "concurrently",
                  "severity": "error",
                  "file": "migrations/20260513050000_idx.sql",
                  "line": 2,
                  "col": 5,
                  "message": "CREATE INDEX CONCURRENTLY shares its file, with 1 other",
                  "fix": "move it into a migration of its own"
                },
                {
                  "code": "destructive",
                  "severity": "note",
                  "file": "migrations/20260513132700_fix.sql",
                  "line": 3,
                  "col": 1,
                  "message": "`drop function f(uuid)` (acknowledged: replaced, 100% of callers moved)",
                  "fix": ""
                }
              ]
            }
        "#]]
        .assert_eq(&render(&sample(), Format::Json));
    }

    #[test]
    fn github_annotations_escape_their_fields() {
        expect![[r#"
            ::error file=migrations/20260105090000_core.sql,title=xtask check%3A applied-modified::applied, but its content changed%0Afix: restore it with `git checkout -- migrations/20260105090000_core.sql`
            ::error file=migrations/20260513050000_idx.sql,line=2,col=5,title=xtask check%3A concurrently::CREATE INDEX CONCURRENTLY shares its file, with 1 other%0Afix: move it into a migration of its own
            ::notice file=migrations/20260513132700_fix.sql,line=3,col=1,title=xtask check%3A destructive::`drop function f(uuid)` (acknowledged: replaced, 100%25 of callers moved)
            check: 2 error(s), 0 warning(s), 1 note(s)
        "#]]
        .assert_eq(&render(&sample(), Format::Github));
    }

    #[test]
    fn verdict_blocks_only_on_errors() {
        let err = sample().verdict().unwrap_err();
        let refusal = crate::blocked::refusal(&err);
        assert!(matches!(refusal, Some(Refusal::CheckFindings { count: 2 })), "{refusal:?}");
        assert_eq!(refusal.map(Refusal::kind), Some("blocking_findings"));
        assert!(CheckReport::new(vec![], Counts::default()).verdict().is_ok());
    }
}
