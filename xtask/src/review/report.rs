//! What `review` reports, in every format, and the pull-request comment made of it. Pure.

use std::fmt::Write;

use serde::Serialize;

use crate::blocked::blocked;
use crate::domain::exposure::{self, ExposureReview};
use crate::domain::findings::{Finding, Severity};
use crate::domain::history::migrations::Migration;
use crate::domain::refusal::Refusal;
use crate::domain::rewrites::Suggestion;
use crate::edges::os::git::Change;
use crate::edges::output::report::{Annotation, Level, Report, md_cell};
use crate::edges::postgres::impact::FileImpact;

#[derive(Debug, Clone, Serialize)]
pub struct ChangedFile {
    /// Path relative to the repository root.
    pub file: String,
    pub change: Change,
    /// Whether the file is in the batch `promote` would push to the target next.
    pub in_batch: bool,
}

impl ChangedFile {
    pub fn with_batch(&self, ours: &[&Migration]) -> ChangedFile {
        ChangedFile { in_batch: ours.iter().any(|m| m.rel_path == self.file), ..self.clone() }
    }
}

/// The lock report of the branch's files.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Impact {
    /// No file of the branch is in the batch.
    Nothing,
    Measured {
        files: Vec<FileImpact>,
    },
    /// The batch could not be applied on the shadow (the error says which file and why).
    Failed {
        why: String,
    },
}

/// The target's table sizes, joined into the lock report, or why there are none.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Sizes {
    /// Read from the target as described (never with a password).
    Available {
        from: String,
    },
    Unavailable {
        why: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct ReviewReport {
    /// `--base` as given, and the commit the branch left it at.
    pub base: String,
    pub merge_base: String,
    pub target: String,
    /// The target's recorded head: the batch follows it.
    pub head: Option<String>,
    pub files: Vec<ChangedFile>,
    /// Pending files of the batch the branch does not touch: they go first in the same push, and are not shown.
    pub others_in_batch: usize,
    pub findings: Vec<Finding>,
    pub impact: Impact,
    pub sizes: Sizes,
    pub suggestions: Vec<Suggestion>,
    /// The shadow's PostgreSQL major and where it came from, e.g. "17 (recorded for prod)".
    pub postgres: String,
    /// Under which role model the shadow ran the files, and why, e.g. "applied as the platform's `postgres` ...".
    pub roles: String,
    /// The stand-in extensions the shadow held: their objects exist, their calls are not made.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stand_ins: Vec<String>,
    /// What the batch makes reachable through the Data API (`exposure`, `exposure_inputs`,
    /// `exposure_preexisting` in json); none when no file of the branch is in the batch or the batch failed.
    #[serde(flatten)]
    pub exposure: Option<ExposureReview>,
}

/// The hidden first line that finds the review's pull-request comment again: one comment per target, so a
/// workflow that reviews two targets keeps two.
pub fn marker(target: &str) -> String {
    format!("<!-- cargo-xtask-review {target} -->")
}

impl ReviewReport {
    fn count(&self, severity: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == severity).count()
    }

    /// `Err(Blocked)` when any finding is an error, as `check`, or when the batch fails on the shadow.
    pub fn verdict(&self) -> anyhow::Result<()> {
        if let Impact::Failed { .. } = self.impact {
            return Err(blocked(Refusal::ReviewBatchFails { target: self.target.clone(), base: self.base.clone() }));
        }
        if let count @ 1.. = self.count(Severity::Error) {
            return Err(blocked(Refusal::ReviewFindings { count, base: self.base.clone() }));
        }
        match self.exposure.as_ref().and_then(|e| exposure::refusal(e, "review", &self.target, "")) {
            Some(refusal) => Err(blocked(refusal)),
            None => Ok(()),
        }
    }

    /// Whether the exposure section leads the pull request's comment: it has errors.
    fn exposure_first(&self) -> bool {
        self.exposure.as_ref().is_some_and(|e| !e.unacknowledged_errors().is_empty())
    }

    fn sizes_on(&self) -> Option<&str> {
        matches!(self.sizes, Sizes::Available { .. }).then_some(self.target.as_str())
    }

    fn headline(&self) -> String {
        let head = self.head.as_deref().map_or("no recorded head".to_string(), |h| format!("recorded head {h}"));
        format!(
            "{} migration file(s) changed since {} (merge base {}), for {} after its {head}",
            self.files.len(),
            self.base,
            short(&self.merge_base),
            self.target
        )
    }

    fn tally(&self) -> String {
        let mechanical = self.suggestions.iter().filter(|s| s.mechanical).count();
        let exposure = self.exposure.as_ref().map(|e| format!("; exposure: {}", e.tally())).unwrap_or_default();
        format!(
            "{} error(s), {} warning(s), {} note(s); {} safe rewrite(s), {mechanical} of them written by `cargo xtask fix`{exposure}",
            self.count(Severity::Error),
            self.count(Severity::Warning),
            self.count(Severity::Note),
            self.suggestions.len()
        )
    }

    fn impact_intro(&self) -> String {
        let sizes = match &self.sizes {
            Sizes::Available { from } => format!("sizes on {} ({from})", self.target),
            Sizes::Unavailable { why } => format!("sizes unavailable: {why}"),
        };
        format!(
            "each file applied in its own transaction on a local PostgreSQL {} shadow at {}'s recorded head, {}; {sizes}",
            self.postgres, self.target, self.roles
        )
    }

    /// The pull request's comment: the summary, its secrets masked, behind the marker that finds it again, then
    /// cut to GitHub's limit (pointing at `run`, the Actions run whose summary has it all, when known). Masked
    /// before the cut, so no secret can be cut in two and slip through.
    pub fn comment_md(&self, run: Option<&str>) -> String {
        let summary = crate::edges::output::redact::redact(&self.summary_md());
        cut_for_github(&format!("{}\n{summary}", marker(&self.target)), run)
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

fn change_word(change: Change) -> &'static str {
    match change {
        Change::Added => "added",
        Change::Modified => "changed",
        Change::Deleted => "deleted",
    }
}

impl Report for ReviewReport {
    fn human(&self) -> String {
        let mut out = format!("Review: {}.\n", self.headline());
        for f in &self.files {
            let batch = if f.in_batch { "" } else { "  (not in the batch)" };
            let _ = writeln!(out, "  {:<8} {}{batch}", change_word(f.change), f.file);
        }
        if self.others_in_batch > 0 {
            let _ = writeln!(
                out,
                "The batch also holds {} pending file(s) already on the base: pushed first, not shown.",
                self.others_in_batch
            );
        }
        if !self.findings.is_empty() {
            let _ = writeln!(out, "\nFindings:");
            for f in &self.findings {
                let _ =
                    writeln!(out, "  {}:{}: {}[{}]: {}", f.file, f.pos.line, f.severity.as_str(), f.code, f.message);
            }
        }
        if let Some(review) = &self.exposure {
            let _ = write!(out, "\n{}", exposure::human(review));
        }
        match &self.impact {
            Impact::Nothing => {}
            Impact::Measured { files } => {
                let _ = writeln!(out, "\nLocks and rewrites ({}):", self.impact_intro());
                out.push_str(&crate::edges::postgres::impact::render(files, self.sizes_on()));
                if !self.stand_ins.is_empty() {
                    let _ = writeln!(out, "Stand-in extensions on the shadow (their calls are not made):");
                    out.push_str(&crate::promote::record::stand_in_lines(&self.stand_ins));
                }
            }
            Impact::Failed { why } => {
                let _ =
                    writeln!(out, "\nLocks and rewrites: not measured, the batch failed on a local shadow:\n  {why}");
            }
        }
        for s in &self.suggestions {
            let _ = writeln!(out, "\n{}:{} [{}]\n  {}", s.file, s.line, s.codes.join(", "), s.statement);
            let _ = writeln!(out, "  avoids: {}", s.avoids);
            let _ = writeln!(
                out,
                "  {}:",
                if s.mechanical { "safe form (`cargo xtask fix` writes it)" } else { "safe form (by hand)" }
            );
            for line in s.safe.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
        let _ = writeln!(out, "\nreview: {}", self.tally());
        out
    }

    fn annotations(&self) -> Vec<Annotation> {
        let mut out: Vec<Annotation> = self.findings.iter().map(crate::check::report::annotation).collect();
        out.extend(self.suggestions.iter().map(|s| Annotation {
            level: Level::Notice,
            file: Some(s.file.clone()),
            line: s.line as usize,
            col: 1,
            title: format!("xtask review: safe form ({})", s.codes.join(", ")),
            message: format!("avoids {}\n{}", s.avoids, s.safe),
        }));
        if let Impact::Failed { why } = &self.impact {
            out.push(Annotation::run(Level::Error, "xtask review: the batch fails on a shadow", why.clone()));
        }
        let exposed = self.exposure.iter().flat_map(|e| &e.findings).filter(|f| f.severity != Severity::Note);
        out.extend(exposed.map(|f| Annotation {
            level: if f.severity == Severity::Error { Level::Error } else { Level::Warning },
            file: f.file.clone(),
            line: 1,
            col: 1,
            title: format!("xtask review: exposure ({})", f.kind),
            message: f.message.clone(),
        }));
        out
    }

    /// The annotations and the one-line tally: the whole review is in the summary and the comment.
    fn github(&self) -> String {
        crate::edges::output::report::render_annotations(&self.annotations()) + &format!("review: {}\n", self.tally())
    }

    fn summary_md(&self) -> String {
        let mut out = format!(
            "### Migration review for `{}`\n\n{}: **{}**.\n",
            self.target,
            md_cell(&self.headline()),
            self.tally()
        );
        // What the batch exposes leads when it is wrong: it is what a reviewer must not miss.
        let exposure_md = self.exposure.as_ref().map(|e| format!("\n{}", exposure::markdown(e)));
        if self.exposure_first() {
            out.push_str(exposure_md.as_deref().unwrap_or_default());
        }
        if !self.files.is_empty() {
            out.push_str("\n| file | change | in the batch |\n|---|---|---|\n");
            for f in &self.files {
                let _ = writeln!(
                    out,
                    "| `{}` | {} | {} |",
                    f.file,
                    change_word(f.change),
                    if f.in_batch { "yes" } else { "no" }
                );
            }
        }
        if self.others_in_batch > 0 {
            let _ = writeln!(
                out,
                "\nThe batch also holds {} pending file(s) already on the base (pushed first).",
                self.others_in_batch
            );
        }
        if !self.findings.is_empty() {
            out.push_str("\n#### Findings\n\n");
            out.push_str(&crate::check::report::findings_md(&self.findings));
        }
        if !self.exposure_first() {
            out.push_str(exposure_md.as_deref().unwrap_or_default());
        }
        match &self.impact {
            Impact::Nothing => {}
            Impact::Measured { files } => {
                let render = crate::edges::postgres::impact::render(files, self.sizes_on());
                let _ = write!(
                    out,
                    "\n#### Locks and rewrites\n\n{}.\n\n```text\n{render}```\n",
                    md_cell(&self.impact_intro())
                );
                if !self.stand_ins.is_empty() {
                    let _ = write!(
                        out,
                        "\nStand-in extensions on the shadow (their calls are not made):\n\n{}",
                        self.stand_ins.iter().map(|s| format!("- {s}\n")).collect::<String>()
                    );
                }
            }
            Impact::Failed { why } => {
                let _ = write!(
                    out,
                    "\n#### Locks and rewrites\n\nNot measured: the batch failed on a local shadow.\n\n```text\n{why}\n```\n"
                );
            }
        }
        if !self.suggestions.is_empty() {
            out.push_str("\n#### Safe rewrites\n");
            for s in &self.suggestions {
                let how = if s.mechanical {
                    format!("`cargo xtask fix {}` writes it", s.file)
                } else {
                    "by hand".to_string()
                };
                let _ = write!(
                    out,
                    "\n`{}` line {} (`{}`): `{}`\navoids {}; {how}:\n\n```sql\n{}\n```\n",
                    s.file,
                    s.line,
                    s.codes.join("`, `"),
                    md_cell(&s.statement),
                    md_cell(&s.avoids),
                    s.safe
                );
            }
        }
        out
    }
}

/// GitHub refuses a comment over 65,536 characters: a longer one is cut at a line, its code block closed, and
/// the reader sent to the job summary, which has the whole review.
pub fn cut_for_github(text: &str, run: Option<&str>) -> String {
    const LIMIT: usize = 60_000;
    if text.chars().count() <= LIMIT {
        return text.to_string();
    }
    let cut: String = text.chars().take(LIMIT).collect();
    let mut kept = cut.rsplit_once('\n').map_or(cut.as_str(), |(head, _)| head).to_string();
    if kept.matches("```").count() % 2 == 1 {
        kept.push_str("\n```");
    }
    let summary = run.map_or("this run's job summary".to_string(), |url| format!("[this run's job summary]({url})"));
    kept + &format!("\n\n**The review is longer than a comment can be: the rest is in {summary}.**\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comment_over_githubs_limit_is_cut_at_a_line_with_its_code_block_closed() {
        let short = "### Migration review\n\nall fine\n";
        assert_eq!(cut_for_github(short, None), short);
        let long = format!("### Migration review\n\n```sql\n{}```\n", "select 1;\n".repeat(10_000));
        let cut = cut_for_github(&long, Some("https://github.com/acme/app/actions/runs/7"));
        assert!(cut.chars().count() < 65_536, "{}", cut.len());
        assert!(cut.ends_with(
            "select 1;\n```\n\n**The review is longer than a comment can be: the rest is in [this run's job summary](https://github.com/acme/app/actions/runs/7).**\n"
        ));
        assert_eq!(cut.matches("```").count() % 2, 0, "every code block is closed");
    }
}
