//! `cargo xtask status`: a target's recorded head and the batch a promotion would push next.

use std::fmt::Write;

use serde::Serialize;
use xshell::Shell;

use crate::flags::{self, Format};
use crate::plan;
use crate::promote::{Reconcile, reconcile};
use crate::redact::Redactor;
use crate::report::Blocked;
use crate::supabase::Cli;
use crate::target::Resolved;
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
        let live = if self.live { Some(live_check(sh, &repo, &name, &discovery.migrations, head)?) } else { None };
        match self.output.format {
            Format::Json => {
                let mut json = serde_json::to_value(&report)?;
                if let Some(live) = &live {
                    json["live"] = serde_json::to_value(live)?;
                }
                println!("{}", serde_json::to_string_pretty(&json)?)
            }
            Format::Human | Format::Github => {
                print!("{}", report.render());
                if let Some(live) = &live {
                    println!(
                        "\nLive: head {} ({} applied). {}",
                        live.head.as_deref().unwrap_or("(empty)"),
                        live.applied,
                        live.verdict
                    );
                }
            }
        }
        if let Some(live) = live.filter(|l| !l.matches) {
            return Err(Blocked(format!(
                "status: {name}'s live history does not match the recorded head: {}",
                live.verdict
            ))
            .into());
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

#[derive(Debug, Serialize)]
pub struct LiveReport {
    pub head: Option<String>,
    pub applied: usize,
    pub matches: bool,
    pub verdict: String,
}

/// Reads the target's history (directly, or through `supabase db query`) and compares it with the record.
fn live_check(
    sh: &Shell,
    repo: &Repo,
    name: &str,
    files: &[crate::migrations::Migration],
    head: Option<&str>,
) -> anyhow::Result<LiveReport> {
    let mut redactor = Redactor::from_env();
    let target = Resolved::resolve(sh, repo, name, &mut redactor)?;
    let cli = Cli::locate(sh, &repo.root).ok();
    let workdir = repo.root.join("target/xtask/stage").join(format!("status-{}", std::process::id()));
    let live = target.history(sh, cli.as_ref(), &workdir, &redactor);
    let _ = std::fs::remove_dir_all(&workdir);
    let live = live?;
    let head = if target.config.embedded { live.last().map(|a| a.version.as_str()) } else { head };
    let pending = plan::pending(files, head, None)?;
    let (matches, verdict) = match reconcile(files, head, &live, &pending) {
        Ok(Reconcile::InSync) => (true, "It matches the recorded head.".to_string()),
        Ok(Reconcile::Interrupted(n)) => (
            false,
            format!(
                "{n} pending file(s) are applied but not recorded (an interrupted promotion): `cargo xtask promote --target {name}` records them"
            ),
        ),
        Err(why) => (false, why),
    };
    Ok(LiveReport { head: live.last().map(|a| a.version.clone()), applied: live.len(), matches, verdict })
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
