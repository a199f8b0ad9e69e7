//! `partition prune`'s plan: what a reviewed plan holds, its digest (an edited plan is refused), the record of
//! its execution, and both rendered. The reads and the detach/drop are `partition/prune.rs`'s.

use std::fmt::Write as _;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::history::migrations;
use crate::domain::partition::windows::Bound;

/// A retention plan as `--dry-run` writes it and people review it: what `--execute` will detach and drop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrunePlan {
    pub target: String,
    pub table: String,
    pub older_than: String,
    pub cutoff: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub partitions: Vec<PlannedPartition>,
    pub kept: Vec<KeptPartition>,
}

/// A partition the plan drops, with the bound that was reviewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedPartition {
    pub name: String,
    pub bound: String,
    pub rows: i64,
    pub bytes: i64,
}

/// A partition the plan keeps, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeptPartition {
    pub name: String,
    pub reason: String,
}

/// The plan file: the plan and its digest, so an edit after review is refused.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    pub digest: String,
    pub plan: PrunePlan,
}

impl PrunePlan {
    pub fn digest(&self) -> String {
        migrations::hex(&Sha256::digest(serde_json::to_vec(self).unwrap_or_default()))
    }

    /// A plan file as written by `--dry-run`; an edited one is refused.
    pub fn load(text: &str, rel: &str) -> anyhow::Result<PrunePlan> {
        let file: PlanFile = serde_json::from_str(text).with_context(|| format!("{rel} is not a prune plan"))?;
        if file.plan.digest() != file.digest {
            bail!(
                "{rel} was edited after `--dry-run` wrote it (digest mismatch); write a new plan with `cargo xtask partition prune --dry-run` and review that"
            );
        }
        Ok(file.plan)
    }
}

/// Where a bound sorts among the kinds: MINVALUE, a literal, MAXVALUE.
pub fn bound_order(b: &Bound) -> u8 {
    match b {
        Bound::Min => 0,
        Bound::Literal(_) => 1,
        Bound::Max => 2,
    }
}

/// The plan as people review it (Markdown).
pub fn render_plan(plan: &PrunePlan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Retention plan: {} on {}\n", plan.table, plan.target);
    let _ = writeln!(
        out,
        "Partitions whose upper bound is at or before {} (now - {}), written {}. Nothing has changed yet.\n",
        plan.cutoff,
        plan.older_than,
        plan.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    if plan.partitions.is_empty() {
        let _ = writeln!(out, "No partition is old enough.\n");
    } else {
        let _ = writeln!(out, "| partition | bound | rows | size |\n|---|---|---|---|");
        for p in &plan.partitions {
            let _ = writeln!(out, "| {} | `{}` | {} | {} kB |", p.name, p.bound, p.rows, p.bytes / 1024);
        }
        out.push('\n');
    }
    for k in &plan.kept {
        let _ = writeln!(out, "Kept: {} ({})", k.name, k.reason);
    }
    out
}

/// What `--execute` did, step by step: the record it leaves.
#[derive(Debug, Serialize)]
pub struct Executed {
    pub plan: String,
    pub target: String,
    pub table: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub steps: Vec<String>,
    pub finished: bool,
}

/// The record of an execution (Markdown).
pub fn render_executed(done: &Executed) -> String {
    format!(
        "# Retention executed: {} on {}\n\nPlan: `{}`\n\n{}\n",
        done.table,
        done.target,
        done.plan,
        done.steps.iter().map(|s| format!("- {s}")).collect::<Vec<_>>().join("\n")
    )
}

/// A plan of one partition to drop and one kept, for the tests of its file and its reports.
#[cfg(test)]
pub(crate) fn sample_plan() -> PrunePlan {
    PrunePlan {
        target: "prod".into(),
        table: "public.audit_log".into(),
        older_than: "90d".into(),
        cutoff: "2026-08-26".into(),
        created_at: "2026-11-24T00:00:00Z".parse().unwrap(),
        partitions: vec![PlannedPartition {
            name: "audit_log_2026_01".into(),
            bound: "FOR VALUES ...".into(),
            rows: 5,
            bytes: 8192,
        }],
        kept: vec![KeptPartition {
            name: "audit_log_2026_11".into(),
            reason: "the newest partition is never pruned".into(),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan file as `--dry-run` writes it.
    fn render_file(plan: &PrunePlan) -> String {
        serde_json::to_string_pretty(&PlanFile { digest: plan.digest(), plan: plan.clone() }).unwrap() + "\n"
    }

    #[test]
    fn plans_refuse_hand_edits() {
        let plan = sample_plan();
        let text = render_file(&plan);
        assert_eq!(PrunePlan::load(&text, "p.json").unwrap(), plan);
        let edited = text.replace("audit_log_2026_01", "audit_log_2026_02");
        assert!(
            PrunePlan::load(&edited, "p.json")
                .unwrap_err()
                .to_string()
                .contains("was edited after `--dry-run` wrote it")
        );
    }
}
