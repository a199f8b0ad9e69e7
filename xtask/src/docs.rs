//! `cargo xtask docs-refresh`: `docs/database/SCHEMA_CATALOG.<TARGET>.md` rendered from the catalog snapshot.
//! Rendering is a pure function; `--check` fails with a diff and the command to run when the file is stale.

use std::fmt::Write;

use xshell::Shell;

use serde::Serialize;

use crate::blocked::blocked;
use crate::catalog;
use crate::domain::refusal::Refusal;
use crate::domain::schema::docs::render;
use crate::edges::os::fsutil;
use crate::edges::os::fsutil::{FileState, Mode};
use crate::edges::output::report::{self, Report};
use crate::edges::repo::Repo;
use crate::flags;

impl flags::DocsRefresh {
    pub fn run(self, _sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let mode = if self.check { Mode::Check } else { Mode::Write };
        let report = refresh(repo, &self.target.target, mode)?;
        report::emit(&report, self.output.format)?;
        if report.state != FileState::Stale {
            return Ok(());
        }
        Err(blocked(Refusal::StaleDoc { doc: report.doc, target: report.target }))
    }
}

/// What `docs-refresh` reports: the doc, what happened to it, and for a stale one the differing lines.
#[derive(Debug, Clone, Serialize)]
pub struct DocsReport {
    pub target: String,
    pub doc: String,
    pub state: FileState,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub diff: String,
}

impl Report for DocsReport {
    fn human(&self) -> String {
        match self.state {
            FileState::Written => format!("docs-refresh: wrote {}\n", self.doc),
            FileState::Unchanged => format!("docs-refresh: {} is unchanged (already up to date)\n", self.doc),
            FileState::UpToDate => format!("docs-refresh: {} is up to date\n", self.doc),
            FileState::Stale => self.diff.clone(),
        }
    }

    fn annotations(&self) -> Vec<crate::edges::output::report::Annotation> {
        if self.state != FileState::Stale {
            return Vec::new();
        }
        let fix = format!("regenerate it with `cargo xtask docs-refresh --target {}`", self.target);
        vec![crate::edges::output::report::Annotation {
            level: crate::edges::output::report::Level::Error,
            file: Some(self.doc.clone()),
            line: 0,
            col: 0,
            title: "xtask docs-refresh".into(),
            message: format!("stale; {fix}"),
        }]
    }

    fn summary_md(&self) -> String {
        let state = match self.state {
            FileState::Written => "written",
            FileState::Unchanged => "unchanged (already up to date)",
            FileState::UpToDate => "up to date",
            FileState::Stale => "**stale**",
        };
        format!("### {}\n\n`{}` is {state}.\n", self.target, self.doc)
    }
}

/// Renders the target's doc from its committed snapshot; writes it (`Write`), or compares it with the
/// committed one (`Check`, `DryRun`).
pub fn refresh(repo: &Repo, target: &str, mode: Mode) -> anyhow::Result<DocsReport> {
    repo.config.target(target)?;
    let snapshot_path = repo.catalog_path(target);
    let snapshot_rel = repo.rel(&snapshot_path);
    let snapshot = catalog::load(&snapshot_path, &snapshot_rel, target)?;
    let rendered = render(&snapshot, target, &snapshot_rel);
    let path = repo.doc_path(target);
    let state = fsutil::ensure_file_contents(&path, &rendered, mode)?;
    let diff = match state {
        FileState::Stale => line_diff(&std::fs::read_to_string(&path).unwrap_or_default(), &rendered, 40),
        _ => String::new(),
    };
    Ok(DocsReport { target: target.to_string(), doc: repo.rel(&path), state, diff })
}

/// The lines that differ (the first `limit`), each with its line number in the committed file (`-`) or the
/// rendered one (`+`): a real diff, so one inserted line is one line of output, not every line after it.
fn line_diff(old: &str, new: &str, limit: usize) -> String {
    use similar::ChangeTag;
    let mut out = String::new();
    let diff = similar::TextDiff::from_lines(old, new);
    for (shown, change) in diff.iter_all_changes().filter(|c| c.tag() != ChangeTag::Equal).enumerate() {
        if shown == limit {
            let _ = writeln!(out, "... (more differences)");
            break;
        }
        let (sign, index) = match change.tag() {
            ChangeTag::Delete => ('-', change.old_index()),
            _ => ('+', change.new_index()),
        };
        let _ = writeln!(out, "{sign}{:>5} {}", index.map_or(0, |i| i + 1), change.value().trim_end_matches('\n'));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_report_in_every_format() {
        use crate::edges::output::report::Format;
        use crate::edges::output::report::render;
        let stale = DocsReport {
            target: "prod".into(),
            doc: "docs/database/SCHEMA_CATALOG.PROD.md".into(),
            state: FileState::Stale,
            diff: "-   12 | org_id | uuid | no |\n+   12 | org_id | uuid | yes |\n".into(),
        };
        let written = DocsReport { state: FileState::Written, diff: String::new(), ..stale.clone() };
        let unchanged = DocsReport { state: FileState::Unchanged, ..written.clone() };
        let all = [Format::Human, Format::Github, Format::Json]
            .map(|f| render(&stale, f) + &render(&written, f) + &render(&unchanged, f))
            .join("---\n");
        expect_test::expect![[r#"
            -   12 | org_id | uuid | no |
            +   12 | org_id | uuid | yes |
            docs-refresh: wrote docs/database/SCHEMA_CATALOG.PROD.md
            docs-refresh: docs/database/SCHEMA_CATALOG.PROD.md is unchanged (already up to date)
            ---
            ::error file=docs/database/SCHEMA_CATALOG.PROD.md,title=xtask docs-refresh::stale; regenerate it with `cargo xtask docs-refresh --target prod`
            -   12 | org_id | uuid | no |
            +   12 | org_id | uuid | yes |
            docs-refresh: wrote docs/database/SCHEMA_CATALOG.PROD.md
            docs-refresh: docs/database/SCHEMA_CATALOG.PROD.md is unchanged (already up to date)
            ---
            {
              "target": "prod",
              "doc": "docs/database/SCHEMA_CATALOG.PROD.md",
              "state": "stale",
              "diff": "-   12 | org_id | uuid | no |\n+   12 | org_id | uuid | yes |\n"
            }
            {
              "target": "prod",
              "doc": "docs/database/SCHEMA_CATALOG.PROD.md",
              "state": "written"
            }
            {
              "target": "prod",
              "doc": "docs/database/SCHEMA_CATALOG.PROD.md",
              "state": "unchanged"
            }
        "#]]
        .assert_eq(&all);
    }

    #[test]
    fn line_diff_lists_changed_lines() {
        assert_eq!(line_diff("a\nb\nc\n", "a\nB\nc\nd\n", 10), "-    2 b\n+    2 B\n+    4 d\n");
        // One inserted line is one line of the diff, not every line after it.
        assert_eq!(line_diff("a\nb\nc\nd\n", "a\nnew\nb\nc\nd\n", 10), "+    2 new\n");
        assert_eq!(line_diff("a\nb\nc\n", "x\ny\nz\n", 2), "-    1 a\n-    2 b\n... (more differences)\n");
    }
}
