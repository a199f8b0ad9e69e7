//! `partition prune`: retention from a reviewed plan. `--dry-run` writes the plan (never the newest partition,
//! never the default one) with a digest; `--execute` runs exactly that plan, after checking nobody edited it and
//! every partition still has the reviewed bound.

use std::path::Path;

use anyhow::{Context, bail};
use serde::Serialize;
use xshell::Shell;

use crate::blocked::blocked;
use crate::domain::refusal::Refusal;
use crate::edges::os::clock;
use crate::edges::output::evidence;
use crate::edges::output::report::{self, Report};
use crate::edges::repo::Repo;
use crate::edges::supabase::management_api::Access;
use crate::edges::target::Resolved;
use crate::flags;

use super::TableRef;
use crate::domain::partition::prune::{
    Executed, KeptPartition, PlanFile, PlannedPartition, PrunePlan, bound_order, render_executed, render_plan,
};
use crate::domain::partition::windows::{Bound, parse_range_bound};
use crate::domain::promotion::duration::Span;

impl flags::Prune {
    pub(super) fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let target = Resolved::resolve(sh, repo, &self.target)?;
        let table = TableRef::parse(&self.table)?;
        // Prune detaches and drops: with a token only, a read-write login role for as long as it runs.
        let access = if self.execute.is_some() { Access::ReadWrite } else { Access::ReadOnly };
        let direct = target.direct(access)?;
        let mut client = direct.connect()?;
        let report = match &self.execute {
            None => {
                let older_than = self.older_than.as_ref().context("--dry-run needs --older-than (e.g. 90d)")?;
                let plan = plan(&mut client, &target.name, &table, older_than)?;
                let stem = format!("{}-prune-{table}.plan", clock::file_stamp(plan.created_at));
                let file = PlanFile { digest: plan.digest(), plan };
                let dir = repo.evidence_dir(target.record_place());
                let written = evidence::write(&dir, &stem, &file, &render_plan(&file.plan))?;
                let rel = repo.rel(&written.json);
                eprintln!(
                    "prune: plan written to {rel}; nothing changed. After review: cargo xtask partition prune --target {} --table {table} --execute {rel}",
                    target.name
                );
                PruneReport::Planned { plan_file: rel, plan: file.plan }
            }
            Some(plan_path) => execute(repo, &target, &mut client, &table, plan_path)?,
        };
        report::emit(&report, self.output.format)
    }
}

/// What `prune` reports: the plan it wrote (`--dry-run`), or what it did (`--execute`).
#[derive(Debug, Serialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum PruneReport {
    Planned { plan_file: String, plan: PrunePlan },
    Executed { record: String, executed: Executed },
}

impl Report for PruneReport {
    fn human(&self) -> String {
        match self {
            PruneReport::Planned { plan, .. } => render_plan(plan),
            PruneReport::Executed { executed, .. } => render_executed(executed) + "\n",
        }
    }

    fn summary_md(&self) -> String {
        match self {
            PruneReport::Planned { plan, .. } => render_plan(plan),
            PruneReport::Executed { executed, .. } => render_executed(executed),
        }
    }
}

struct LivePartition {
    name: String,
    bound: String,
    upper_older: Option<bool>,
}

fn live_partitions(
    client: &mut postgres::Client,
    table: &TableRef,
    cutoff_sql: &str,
) -> anyhow::Result<Vec<LivePartition>> {
    let kind: Option<String> = client
        .query_opt("select c.relkind::text from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relname = $2", &[&table.schema, &table.name])?
        .map(|r| r.get(0));
    match kind.as_deref() {
        None => bail!("table {table} does not exist in the target"),
        Some("p") => {}
        Some(_) => bail!("{table} is not a partitioned table"),
    }
    let rows = client.query(
        "select c.relname::text, pg_get_expr(c.relpartbound, c.oid) from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = $1::text::regclass order by 1",
        &[&table.sql()],
    )?;
    let mut out = Vec::new();
    for r in rows {
        let (name, bound): (String, String) = (r.get(0), r.get(1));
        let upper_older = match parse_range_bound(&bound)? {
            Some((_, Bound::Literal(upper))) => {
                Some(client.query_one(&format!("select {upper}::timestamptz <= {cutoff_sql}"), &[])?.get(0))
            }
            Some(_) => Some(false),
            None => None,
        };
        out.push(LivePartition { name, bound, upper_older });
    }
    Ok(out)
}

fn plan(client: &mut postgres::Client, target: &str, table: &TableRef, older_than: &Span) -> anyhow::Result<PrunePlan> {
    let d = older_than.duration;
    let cutoff: String =
        client.query_one(&format!("select (now() - interval '{} seconds')::text", d.num_seconds()), &[])?.get(0);
    let cutoff_sql = format!("timestamptz '{cutoff}'");
    let parts = live_partitions(client, table, &cutoff_sql)?;
    // The newest partition (highest upper bound) always stays: new rows land there.
    let newest = parts
        .iter()
        .filter_map(|p| parse_range_bound(&p.bound).ok().flatten().map(|(_, upper)| (p.name.clone(), upper)))
        .max_by(|a, b| bound_order(&a.1).cmp(&bound_order(&b.1)).then_with(|| upper_cmp(client, &a.1, &b.1)))
        .map(|(n, _)| n);
    let mut plan = PrunePlan {
        target: target.into(),
        table: table.to_string(),
        older_than: older_than.text.clone(),
        cutoff,
        created_at: clock::now(),
        partitions: vec![],
        kept: vec![],
    };
    for p in parts {
        if p.upper_older.is_none() {
            plan.kept.push(KeptPartition { name: p.name, reason: "the default partition is never pruned".into() });
        } else if Some(&p.name) == newest.as_ref() {
            plan.kept.push(KeptPartition { name: p.name, reason: "the newest partition is never pruned".into() });
        } else if p.upper_older == Some(true) {
            let part = TableRef { schema: table.schema.clone(), name: p.name.clone() };
            let row = client.query_one(
                &format!(
                    "select count(*), pg_total_relation_size({}::regclass) from {}",
                    postgres_protocol::escape::escape_literal(&part.sql()),
                    part.sql()
                ),
                &[],
            )?;
            plan.partitions.push(PlannedPartition {
                name: p.name,
                bound: p.bound,
                rows: row.get(0),
                bytes: row.get(1),
            });
        }
    }
    Ok(plan)
}

fn upper_cmp(client: &mut postgres::Client, a: &Bound, b: &Bound) -> std::cmp::Ordering {
    match (a, b) {
        (Bound::Literal(x), Bound::Literal(y)) => {
            let sql = format!("select sign(extract(epoch from {x}::timestamptz - {y}::timestamptz))::int");
            match client.query_one(&sql, &[]).map(|r| r.get::<_, i32>(0)) {
                Ok(1) => std::cmp::Ordering::Greater,
                Ok(-1) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Equal,
            }
        }
        _ => std::cmp::Ordering::Equal,
    }
}

fn execute(
    repo: &Repo,
    resolved: &Resolved,
    client: &mut postgres::Client,
    table: &TableRef,
    plan_path: &Path,
) -> anyhow::Result<PruneReport> {
    let target = resolved.name.as_str();
    let rel = plan_path.display().to_string();
    let path = if plan_path.is_absolute() { plan_path.to_path_buf() } else { repo.root.join(plan_path) };
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {rel}"))?;
    let plan = PrunePlan::load(&text, &rel)?;
    if plan.target != target || plan.table != table.to_string() {
        bail!("{rel} is a plan for {} on {}, not {table} on {target}", plan.table, plan.target);
    }
    // Every partition must still exist, attached, with the bound that was reviewed; otherwise nothing runs.
    let live = live_partitions(client, table, "now()")?;
    let changed: Vec<String> = plan
        .partitions
        .iter()
        .filter(|p| !live.iter().any(|l| l.name == p.name && l.bound == p.bound))
        .map(|p| p.name.clone())
        .collect();
    if !changed.is_empty() {
        return Err(blocked(Refusal::PlanChanged { partitions: changed, table: table.to_string() }));
    }
    let has_default = live.iter().any(|l| l.upper_older.is_none());
    let mut done = Executed {
        plan: rel.clone(),
        target: target.into(),
        table: table.to_string(),
        started_at: clock::now(),
        steps: vec![],
        finished: false,
    };
    let result = (|| -> anyhow::Result<()> {
        for p in &plan.partitions {
            let part = TableRef { schema: table.schema.clone(), name: p.name.clone() };
            // CONCURRENTLY keeps writers running; Postgres refuses it while the table has a default partition.
            let how = if has_default { "" } else { " concurrently" };
            client.batch_execute(&format!("alter table {} detach partition {}{how}", table.sql(), part.sql()))?;
            done.steps.push(format!("detached {}{how}", p.name));
            client.batch_execute(&format!("drop table {}", part.sql()))?;
            done.steps.push(format!("dropped {} ({} rows)", p.name, p.rows));
        }
        Ok(())
    })();
    done.finished = result.is_ok();
    let stem = format!("{}-prune-{table}.executed", clock::file_stamp(done.started_at));
    let dir = repo.evidence_dir(resolved.record_place());
    let written = evidence::write(&dir, &stem, &done, &render_executed(&done))?;
    let record = repo.rel(&written.md);
    result.with_context(|| format!("prune stopped; what was done is recorded in {record}"))?;
    eprintln!("prune: done; recorded in {record}");
    Ok(PruneReport::Executed { record, executed: done })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_report_in_every_format() {
        use crate::edges::output::report::Format;
        use crate::edges::output::report::render;
        let planned = PruneReport::Planned {
            plan_file: "docs/database/evidence/x.plan.json".into(),
            plan: crate::domain::partition::prune::sample_plan(),
        };
        let executed = PruneReport::Executed {
            record: "docs/database/evidence/y.executed.md".into(),
            executed: Executed {
                plan: "docs/database/evidence/x.plan.json".into(),
                target: "prod".into(),
                table: "public.audit_log".into(),
                started_at: "2026-11-24T01:00:00Z".parse().unwrap(),
                steps: vec![
                    "detached audit_log_2026_01 concurrently".into(),
                    "dropped audit_log_2026_01 (5 rows)".into(),
                ],
                finished: true,
            },
        };
        let all = [Format::Human, Format::Github, Format::Json]
            .map(|f| render(&planned, f) + &render(&executed, f))
            .join("---\n");
        expect_test::expect![[r##"
            # Retention plan: public.audit_log on prod

            Partitions whose upper bound is at or before 2026-08-26 (now - 90d), written 2026-11-24T00:00:00Z. Nothing has changed yet.

            | partition | bound | rows | size |
            |---|---|---|---|
            | audit_log_2026_01 | `FOR VALUES ...` | 5 | 8 kB |

            Kept: audit_log_2026_11 (the newest partition is never pruned)
            # Retention executed: public.audit_log on prod

            Plan: `docs/database/evidence/x.plan.json`

            - detached audit_log_2026_01 concurrently
            - dropped audit_log_2026_01 (5 rows)

            ---
            # Retention plan: public.audit_log on prod

            Partitions whose upper bound is at or before 2026-08-26 (now - 90d), written 2026-11-24T00:00:00Z. Nothing has changed yet.

            | partition | bound | rows | size |
            |---|---|---|---|
            | audit_log_2026_01 | `FOR VALUES ...` | 5 | 8 kB |

            Kept: audit_log_2026_11 (the newest partition is never pruned)
            # Retention executed: public.audit_log on prod

            Plan: `docs/database/evidence/x.plan.json`

            - detached audit_log_2026_01 concurrently
            - dropped audit_log_2026_01 (5 rows)

            ---
            {
              "mode": "planned",
              "plan_file": "docs/database/evidence/x.plan.json",
              "plan": {
                "target": "prod",
                "table": "public.audit_log",
                "older_than": "90d",
                "cutoff": "2026-08-26",
                "created_at": "2026-11-24T00:00:00Z",
                "partitions": [
                  {
                    "name": "audit_log_2026_01",
                    "bound": "FOR VALUES ...",
                    "rows": 5,
                    "bytes": 8192
                  }
                ],
                "kept": [
                  {
                    "name": "audit_log_2026_11",
                    "reason": "the newest partition is never pruned"
                  }
                ]
              }
            }
            {
              "mode": "executed",
              "record": "docs/database/evidence/y.executed.md",
              "executed": {
                "plan": "docs/database/evidence/x.plan.json",
                "target": "prod",
                "table": "public.audit_log",
                "started_at": "2026-11-24T01:00:00Z",
                "steps": [
                  "detached audit_log_2026_01 concurrently",
                  "dropped audit_log_2026_01 (5 rows)"
                ],
                "finished": true
              }
            }
        "##]]
        .assert_eq(&all);
    }
}
