//! `cargo xtask status`: a target's recorded head and the batch a promotion would push next.

use std::fmt::Write;

use serde::Serialize;
use xshell::Shell;

use crate::flags::{self, Format};
use crate::plan;
use crate::report::Blocked;
use crate::tree::Repo;

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub target: String,
    pub project_ref: Option<String>,
    pub protected: bool,
    pub head: Option<String>,
    pub recorded_at: Option<String>,
    pub pending: Vec<PendingFile>,
    /// Files the lock does not know that sort at or before the head: the CLI would refuse the push.
    pub unapplied_before_head: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct PendingFile {
    pub version: String,
    pub name: String,
    pub file: String,
}

impl flags::Status {
    pub fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let repo = Repo::open(sh)?;
        let name = self.target.target;
        let target = repo.config.target(&name)?;
        let lock = repo.lock()?;
        let discovery = repo.discover()?;
        let state = lock.targets.get(&name);
        let head = state.map(|s| s.head.as_str());
        let pending = plan::pending(&discovery.migrations, head, None)?;
        let report = StatusReport {
            target: name.clone(),
            project_ref: target.project_ref.clone(),
            protected: target.protected,
            head: head.map(str::to_string),
            recorded_at: state.map(|s| format!("{} by {}", s.recorded_at, s.recorded_by)),
            pending: pending
                .iter()
                .map(|m| PendingFile { version: m.version.clone(), name: m.name.clone(), file: m.file_name.clone() })
                .collect(),
            unapplied_before_head: discovery
                .migrations
                .iter()
                .filter(|m| head.is_some_and(|h| m.version.as_str() <= h) && !lock.files.contains_key(&m.file_name))
                .map(|m| m.file_name.clone())
                .collect(),
        };
        match self.output.format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
            Format::Human | Format::Github => print!("{}", report.render()),
        }
        if !report.unapplied_before_head.is_empty() {
            return Err(Blocked(format!(
                "status: {} file(s) sort before {name}'s head but were never applied; run `cargo xtask check` for the fix",
                report.unapplied_before_head.len()
            ))
            .into());
        }
        Ok(())
    }
}

impl StatusReport {
    /// The runbook's own layout: "Current catch-up batch (after PROD <head>)" and a numbered list.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let upper = self.target.to_uppercase();
        let what = match (&self.project_ref, self.protected) {
            (Some(r), true) => format!("project {r}, protected"),
            (Some(r), false) => format!("project {r}"),
            (None, true) => "protected".to_string(),
            (None, false) => "local".to_string(),
        };
        let _ = writeln!(out, "Target: {} ({what})", self.target);
        match (&self.head, &self.recorded_at) {
            (Some(head), Some(at)) => {
                let _ = writeln!(out, "Recorded head: {head} (recorded {at})\n");
            }
            _ => {
                let _ = writeln!(out, "Recorded head: none (never promoted or baselined; every file is pending)\n");
            }
        }
        if self.pending.is_empty() {
            let _ = writeln!(out, "{upper} is up to date: nothing pending.");
        } else {
            let after =
                self.head.as_deref().map_or_else(|| "from the start".to_string(), |h| format!("after {upper} {h}"));
            let _ = writeln!(out, "Current catch-up batch ({after})\n");
            for (i, file) in self.pending.iter().enumerate() {
                let _ = writeln!(out, "  {}. {}", i + 1, file.file);
            }
        }
        for file in &self.unapplied_before_head {
            let _ = writeln!(out, "\nNot applied but before the head (the CLI refuses the push): {file}");
        }
        out
    }
}
