//! One report path for every command that reports: a report renders itself for people (`human`), programs
//! (`json`) and GitHub (`github`: workflow annotations, plus Markdown appended to `$GITHUB_STEP_SUMMARY`).
//! Rendering is pure; `emit` is the only place that prints a report.

use std::fmt::Write as _;
use std::io::Write as _;

use serde::Serialize;

/// How a report is rendered: for people, for programs, or for GitHub Actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Github,
}

/// Where GitHub Actions collects a job's Markdown summary.
pub const STEP_SUMMARY_ENV: &str = "GITHUB_STEP_SUMMARY";

pub trait Report: Serialize {
    /// The text people read.
    fn human(&self) -> String;

    /// Workflow annotations: the findings a pull request shows inline.
    fn annotations(&self) -> Vec<Annotation> {
        Vec::new()
    }

    /// The `github` format: the annotations, then the human text.
    fn github(&self) -> String {
        render_annotations(&self.annotations()) + &self.human()
    }

    /// Markdown for the job summary page.
    fn summary_md(&self) -> String;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub level: Level,
    /// The file it points at, relative to the repository; none for a whole-run annotation.
    pub file: Option<String>,
    /// 1-based; 0 for "the whole file".
    pub line: usize,
    pub col: usize,
    pub title: String,
    pub message: String,
}

impl Annotation {
    /// An annotation about the whole run, not a file.
    pub fn run(level: Level, title: &str, message: impl Into<String>) -> Annotation {
        Annotation { level, file: None, line: 0, col: 0, title: title.to_string(), message: message.into() }
    }
}

/// The report in `format`. Pure.
pub fn render<R: Report>(report: &R, format: Format) -> String {
    match format {
        Format::Human => report.human(),
        Format::Json => serde_json::to_string_pretty(report).unwrap_or_default() + "\n",
        Format::Github => report.github(),
    }
}

/// Prints the report on stdout (secrets from the environment masked) and, for `github`, appends its Markdown
/// to `$GITHUB_STEP_SUMMARY` when that is set.
pub fn emit<R: Report>(report: &R, format: Format) -> anyhow::Result<()> {
    print!("{}", crate::edges::output::redact::redact(&render(report, format)));
    if format == Format::Github
        && let Some(path) = std::env::var_os(STEP_SUMMARY_ENV).filter(|p| !p.is_empty())
    {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| {
            anyhow::anyhow!("appending to ${STEP_SUMMARY_ENV} ({}): {e}", std::path::Path::new(&path).display())
        })?;
        file.write_all(crate::edges::output::redact::redact(&(report.summary_md() + "\n")).as_bytes())?;
    }
    Ok(())
}

/// `::error file=F,line=L,col=C,title=T::message`, one line each, as GitHub reads workflow commands.
pub fn render_annotations(annotations: &[Annotation]) -> String {
    let mut out = String::new();
    for a in annotations {
        let level = match a.level {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        };
        let mut props = Vec::new();
        if let Some(file) = &a.file {
            props.push(format!("file={}", escape_property(file)));
            if a.line > 0 {
                props.push(format!("line={},col={}", a.line, a.col));
            }
        }
        props.push(format!("title={}", escape_property(&a.title)));
        let _ = writeln!(out, "::{level} {}::{}", props.join(","), escape_data(&a.message));
    }
    out
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// A Markdown table cell: no pipes or line breaks (the domain's rendering uses the same).
pub use crate::domain::markdown::cell as md_cell;
