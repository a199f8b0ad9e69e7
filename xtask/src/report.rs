//! Rendering findings for people (human), programs (json) and GitHub (workflow annotations). Pure.

use std::fmt::{self, Write};

use serde::Serialize;

use crate::findings::{Finding, Severity};
use crate::flags::Format;

/// A command ran to the end and its answer is "no" (blocking findings, a stale file, a mismatch): exit 1.
#[derive(Debug)]
pub struct Blocked(pub String);

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Blocked {}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub linted: usize,
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

impl CheckReport {
    pub fn new(mut findings: Vec<Finding>, linted: usize, hashed: usize) -> CheckReport {
        findings.sort_by(|a, b| (&a.file, a.pos, a.code.to_string()).cmp(&(&b.file, b.pos, b.code.to_string())));
        findings.dedup();
        let count = |sev| findings.iter().filter(|f| f.severity == sev).count();
        let summary = Summary {
            linted,
            hashed,
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            notes: count(Severity::Note),
        };
        CheckReport { summary, findings }
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Human => self.human(),
            Format::Json => serde_json::to_string_pretty(self).unwrap_or_default() + "\n",
            Format::Github => self.github(),
        }
    }

    /// `Err(Blocked)` when any finding is an error.
    pub fn verdict(&self) -> anyhow::Result<()> {
        match self.summary.errors {
            0 => Ok(()),
            n => {
                Err(Blocked(format!("check: {n} blocking finding(s); fix them and run `cargo xtask check` again"))
                    .into())
            }
        }
    }

    fn human(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let place =
                if f.pos.line == 0 { f.file.clone() } else { format!("{}:{}:{}", f.file, f.pos.line, f.pos.col) };
            let _ = writeln!(out, "{place}: {}[{}]: {}", f.severity.as_str(), f.code, f.message);
            if !f.fix.is_empty() {
                let _ = writeln!(out, "    fix: {}", f.fix);
            }
        }
        if !self.findings.is_empty() {
            out.push('\n');
        }
        let s = &self.summary;
        let _ = writeln!(
            out,
            "check: {} file(s) linted, {} applied file(s) hashed: {} error(s), {} warning(s), {} note(s)",
            s.linted, s.hashed, s.errors, s.warnings, s.notes
        );
        out
    }

    fn github(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let level = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Note | Severity::Off => "notice",
            };
            let mut props = format!("file={}", escape_property(&f.file));
            if f.pos.line > 0 {
                let _ = write!(props, ",line={},col={}", f.pos.line, f.pos.col);
            }
            let _ = write!(props, ",title={}", escape_property(&format!("xtask check: {}", f.code)));
            let mut message = f.message.clone();
            if !f.fix.is_empty() {
                let _ = write!(message, "\nfix: {}", f.fix);
            }
            let _ = writeln!(out, "::{level} {props}::{}", escape_data(&message));
        }
        let s = &self.summary;
        let _ = writeln!(out, "check: {} error(s), {} warning(s), {} note(s)", s.errors, s.warnings, s.notes);
        out
    }
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::{Code, Pos};
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
            14,
            9,
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

            check: 14 file(s) linted, 9 applied file(s) hashed: 2 error(s), 0 warning(s), 1 note(s)
        "#]]
        .assert_eq(&sample().render(Format::Human));
    }

    #[test]
    fn json() {
        expect![[r#"
            {
              "summary": {
                "linted": 14,
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
        .assert_eq(&sample().render(Format::Json));
    }

    #[test]
    fn github_annotations_escape_their_fields() {
        expect![[r#"
            ::error file=migrations/20260105090000_core.sql,title=xtask check%3A applied-modified::applied, but its content changed%0Afix: restore it with `git checkout -- migrations/20260105090000_core.sql`
            ::error file=migrations/20260513050000_idx.sql,line=2,col=5,title=xtask check%3A concurrently::CREATE INDEX CONCURRENTLY shares its file, with 1 other%0Afix: move it into a migration of its own
            ::notice file=migrations/20260513132700_fix.sql,line=3,col=1,title=xtask check%3A destructive::`drop function f(uuid)` (acknowledged: replaced, 100%25 of callers moved)
            check: 2 error(s), 0 warning(s), 1 note(s)
        "#]]
        .assert_eq(&sample().render(Format::Github));
    }

    #[test]
    fn verdict_blocks_only_on_errors() {
        assert!(sample().verdict().is_err());
        assert!(CheckReport::new(vec![], 0, 0).verdict().is_ok());
    }
}
