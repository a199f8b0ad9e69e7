//! The exposure section as people read it: lines for a terminal, a table for the pull request.

use std::fmt::Write;

use super::{Exposure, ExposureReview};
use crate::domain::markdown::cell;

impl ExposureReview {
    /// `2 error(s), 1 warning(s), 3 note(s); 4 finding(s) the target already had are not repeated`.
    pub fn tally(&self) -> String {
        let count = |s| self.findings.iter().filter(|f| f.severity == s).count();
        let mut out = format!(
            "{} error(s), {} warning(s), {} note(s)",
            count(super::Severity::Error),
            count(super::Severity::Warning),
            count(super::Severity::Note)
        );
        if self.of_other_files > 0 {
            let _ =
                write!(out, "; {} finding(s) of the batch's files already on the base, not shown", self.of_other_files);
        }
        if self.preexisting > 0 {
            let _ = write!(out, "; {} finding(s) the target already had are not repeated", self.preexisting);
        }
        out
    }

    fn sources(&self) -> String {
        format!(
            "exposed schemas {} ({}); privileges from {}",
            self.inputs.schemas.join(", "),
            self.inputs.schemas_from,
            self.inputs.privileges_from
        )
    }
}

fn what(f: &Exposure) -> String {
    let mut out = f.message.clone();
    if let Some(reason) = &f.acknowledged {
        let _ = write!(out, " (acknowledged: {reason})");
    }
    out
}

/// The section for a terminal.
pub fn human(review: &ExposureReview) -> String {
    let mut out = format!("Exposure through the Data API ({}):\n", review.sources());
    if review.findings.is_empty() {
        out.push_str("  nothing the API roles reach changes\n");
    }
    for f in &review.findings {
        let file = f.file.as_deref().map(|f| format!("{f}: ")).unwrap_or_default();
        let _ = writeln!(out, "  {file}{}[{}]: {}", f.severity.as_str(), f.kind, what(f));
    }
    let _ = writeln!(out, "  exposure: {}", review.tally());
    out
}

/// The section for a pull request: one row per finding.
pub fn markdown(review: &ExposureReview) -> String {
    let mut out =
        format!("#### Exposure through the Data API\n\n{}: **{}**.\n", cell(&review.sources()), review.tally());
    if review.findings.is_empty() {
        out.push_str("\nNothing the API roles reach changes.\n");
        return out;
    }
    out.push_str("\n| severity | kind | object | roles | before | after | file |\n|---|---|---|---|---|---|---|\n");
    for f in &review.findings {
        let opt = |v: &Option<String>| v.as_deref().map_or("".to_string(), cell);
        let _ = writeln!(
            out,
            "| {} | `{}` | `{}` | {} | {} | {} | {} |",
            f.severity.as_str(),
            f.kind,
            f.object,
            opt(&f.role),
            opt(&f.before),
            opt(&f.after),
            f.file.as_deref().map_or("".to_string(), |file| format!("`{file}`"))
        );
    }
    out.push('\n');
    for f in review.findings.iter().filter(|f| f.severity != super::Severity::Note || f.acknowledged.is_some()) {
        let _ = writeln!(out, "- **{}** `{}`: {}", f.severity.as_str(), f.object, cell(&what(f)));
    }
    out
}
