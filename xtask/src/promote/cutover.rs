//! The runbook's partition steps 2 and 3 as a gate: a batch holding phase-2 work reaches a protected target only
//! in a declared maintenance window, with passing parity evidence about this very database for every table it
//! swaps, newer than the shadow's phase-1 promotion and younger than `[partition] evidence_max_age`, and with
//! rollback criteria and a rollback declared by each cutover file. The rollback is rehearsed in step 4
//! (`rehearse_rollbacks`): after the cutover on a local shadow, it must give back the schema from before.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::blocked::blocked;
use crate::domain::history::migrations::{self, Migration};
use crate::domain::lint::rules::{self, Phase};
use crate::domain::promotion::cutover::{self, EvidenceFile, Judge, Linked, ParityDoc, Rollback, Swap, Window};
use crate::domain::refusal::Refusal;
use crate::domain::schema::delta;
use crate::edges::shadow::Shadow;
use crate::edges::target::Resolved;

use crate::domain::history::identity::Identity;
use crate::edges::repo::Repo;

use super::Ctx;
use super::plan::Plan;

/// What the record keeps of a phase-2 promotion.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Cutover {
    pub window: Option<WindowRecord>,
    /// The parity evidence each swap was promoted on (path and digest).
    pub evidence: Vec<Linked>,
    /// Each cutover file's rollback criteria and rollback.
    pub files: Vec<CutoverFile>,
    pub rollback_rehearsal: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowRecord {
    /// `--maintenance-window`'s reason, or the window `xtask.toml` declares.
    pub declared: String,
    pub start: DateTime<Utc>,
    /// When the promotion ended (set as the record is written).
    pub end: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CutoverFile {
    pub file: String,
    pub criteria: String,
    pub rollback: Rollback,
    /// The rollback file's digest as rehearsed; `partition rollback` runs only these bytes.
    pub rollback_sha256: Option<String>,
    /// The SQL that undoes the file, as rehearsed.
    #[serde(skip)]
    pub sql: String,
}

/// A batch with phase-2 partition work: the window, the evidence and the rollbacks, every gap named at once.
/// Refused on a protected target; said (and recorded) elsewhere. Returns what the record keeps, refused or not.
pub(super) fn gate(
    ctx: &Ctx,
    target: &Resolved,
    plan: &Plan,
    identity: Option<&Identity>,
) -> (Option<Cutover>, anyhow::Result<()>) {
    match judge(ctx, target, plan, identity) {
        Ok(None) => (None, Ok(())),
        Ok(Some((cutover, gaps))) => (Some(cutover), refuse(ctx, target, &gaps)),
        Err(err) => (None, Err(err)),
    }
}

/// The cutover's window, rollbacks and evidence, and the gaps in them; `None` without phase-2 work.
fn judge(
    ctx: &Ctx,
    target: &Resolved,
    plan: &Plan,
    identity: Option<&Identity>,
) -> anyhow::Result<Option<(Cutover, Vec<String>)>> {
    let pairs: Vec<(&Migration, &crate::domain::lint::sql::Analysis)> = plan.analysed().collect();
    let phase_two = rules::partition_phases(&pairs).iter().any(|(_, _, p)| matches!(p, Phase::Two(_)));
    let swaps = cutover::swaps(&pairs);
    if !phase_two && swaps.is_empty() {
        return Ok(None);
    }
    let mut gaps = Vec::new();
    let mut record = Cutover::default();
    match window(ctx, target) {
        Ok(window) => record.window = Some(window),
        Err(gap) => gaps.push(gap),
    }
    let (files, mut file_gaps) = rollbacks(ctx.repo, &pairs, &swaps);
    record.files = files;
    gaps.append(&mut file_gaps);
    let (evidence, mut evidence_gaps) = evidence(ctx.repo, target, plan, &swaps, identity)?;
    record.evidence = evidence;
    gaps.append(&mut evidence_gaps);
    Ok(Some((record, gaps)))
}

/// The gaps refuse a protected target's push; elsewhere, and in a dry run, they are said.
fn refuse(ctx: &Ctx, target: &Resolved, gaps: &[String]) -> anyhow::Result<()> {
    if gaps.is_empty() {
        return Ok(());
    }
    let list = gaps.iter().map(|g| format!("\n  - {g}")).collect::<String>();
    if !target.config.protected {
        eprintln!("note: phase-2 partition work; on a protected target this would be refused:{list}");
        return Ok(());
    }
    // A dry run pushes nothing: it shows the review, and what the real run would refuse.
    if ctx.options.mode == crate::edges::os::fsutil::Mode::DryRun {
        eprintln!("warning: the push itself would be refused until these are met:{list}");
        return Ok(());
    }
    Err(blocked(Refusal::CutoverNotReady { target: target.name.clone(), list }))
}

/// `--maintenance-window WHY`, or a window `xtask.toml` declares for the target that holds now.
fn window(ctx: &Ctx, target: &Resolved) -> Result<WindowRecord, String> {
    let start = crate::edges::os::clock::now();
    if let Some(why) = &ctx.options.maintenance_window {
        return Ok(WindowRecord { declared: format!("--maintenance-window \"{why}\""), start, end: None });
    }
    let windows: Vec<Window> = target.config.maintenance_windows.iter().filter_map(|w| Window::parse(w).ok()).collect();
    if let Some(w) = windows.iter().find(|w| w.contains(Utc::now())) {
        return Ok(WindowRecord { declared: format!("xtask.toml: {w}"), start, end: None });
    }
    let declared = if windows.is_empty() {
        format!("none is declared for {}", target.name)
    } else {
        format!("now ({}) is outside {}", Utc::now().format("%a %H:%M UTC"), list(&windows))
    };
    Err(format!(
        "phase-2 partition work runs in a maintenance window, and {declared}: pass `--maintenance-window \"<why or ticket>\"`, or declare one in xtask.toml ([targets.{}] maintenance_windows = [\"sat,sun 02:00-04:00\"])",
        target.name
    ))
}

/// Each file that swaps a table declares when and how it is rolled back; a rollback file must exist.
fn rollbacks(
    repo: &Repo,
    pairs: &[(&Migration, &crate::domain::lint::sql::Analysis)],
    swaps: &[Swap],
) -> (Vec<CutoverFile>, Vec<String>) {
    let (mut files, mut gaps) = (Vec::new(), Vec::new());
    for (m, a) in pairs.iter().filter(|(m, _)| swaps.iter().any(|s| s.file == m.rel_path)) {
        let criteria = a.directives.rollback_criteria.as_ref().map(|(_, c)| c.clone());
        let rollback = a.directives.rollback.as_ref().map(|(_, r)| Rollback::parse(r));
        let (criteria, rollback) = match (criteria, rollback) {
            (Some(c), Some(Ok(r))) => (c, r),
            (_, Some(Err(why))) => {
                gaps.push(format!("{}: {why}", m.rel_path));
                continue;
            }
            (c, r) => {
                let missing = [
                    (c.is_none(), "`-- xtask: rollback-criteria: <when to roll back>`"),
                    (r.is_none(), "`-- xtask: rollback: rollback/<file>.sql`"),
                ];
                let missing: Vec<&str> = missing.iter().filter(|(m, _)| *m).map(|(_, d)| *d).collect();
                gaps.push(format!(
                    "{} swaps a table and declares no rollback: add {}",
                    m.rel_path,
                    missing.join(" and ")
                ));
                continue;
            }
        };
        match repo.read_rollback(&rollback) {
            Ok((sql, sha256)) => {
                files.push(CutoverFile { file: m.file_name.clone(), criteria, rollback, rollback_sha256: sha256, sql })
            }
            Err(why) => gaps.push(format!("{}: {why:#}", m.rel_path)),
        }
    }
    (files, gaps)
}

/// The evidence for each swap, judged against this target's identity, the phase-1 promotion and the age.
fn evidence(
    repo: &Repo,
    target: &Resolved,
    plan: &Plan,
    swaps: &[Swap],
    identity: Option<&Identity>,
) -> anyhow::Result<(Vec<Linked>, Vec<String>)> {
    let files = read_evidence(repo, target)?;
    let max_age = repo.config.partition.evidence_max_age()?;
    let texts: Vec<(String, String)> =
        plan.files.iter().map(|m| Ok((m.file_name.clone(), m.text()?.to_string()))).collect::<anyhow::Result<_>>()?;
    let texts: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let origins: BTreeMap<&str, (&str, Option<String>)> =
        swaps.iter().filter_map(|s| Some((s.shadow.as_str(), cutover::shadow_origin(&texts, &s.shadow)?))).collect();
    let phase_one: BTreeMap<String, DateTime<Utc>> = origins
        .iter()
        .filter_map(|(shadow, (file, _))| Some((shadow.to_string(), promoted_at(repo, target, file)?)))
        .collect();
    let judge = Judge { identity, now: Utc::now(), max_age, phase_one: &phase_one };
    let (mut linked, mut gaps) = (Vec::new(), Vec::new());
    for swap in swaps {
        match judge.judge(swap, &files) {
            Ok(l) => linked.push(l),
            Err(gap) => {
                let column = origins.get(swap.shadow.as_str()).and_then(|(_, c)| c.clone());
                let column = column.unwrap_or_else(|| "<the column it is partitioned by>".into());
                // The embedded database's evidence stays under target/: there is nothing to commit.
                let keep = match target.record_place() {
                    crate::edges::repo::RecordPlace::Committed => "commit docs/database/evidence/, ",
                    crate::edges::repo::RecordPlace::Scratch => "",
                };
                gaps.push(format!(
                        "{}:{} swaps {} into {}: {gap}. Produce it: `cargo xtask partition parity --target {} --source {} --shadow {} --time-column {column}`, {keep}re-run",
                        swap.file, swap.pos.line, swap.shadow, swap.source, target.name, swap.source, swap.shadow
                    ))
            }
        }
    }
    Ok((linked, gaps))
}

/// When the promotion that applied `file` to this target ended, from its record.
fn promoted_at(repo: &Repo, target: &Resolved, file: &str) -> Option<DateTime<Utc>> {
    let dir = repo.promotions_dir(target.record_place());
    let suffix = format!("-{}.json", target.name);
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(&suffix))
        .filter_map(|e| serde_json::from_slice::<RecordTimes>(&std::fs::read(e.path()).ok()?).ok())
        .filter(|r| r.applied.iter().any(|f| f == file))
        .map(|r| r.finished_at.unwrap_or(r.started_at))
        .min()
}

/// What [`promoted_at`] reads of a promotion record.
#[derive(serde::Deserialize)]
struct RecordTimes {
    #[serde(default)]
    applied: Vec<String>,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

/// Step 4 for a cutover: on a copy of the shadow at the head, the batch up to each cutover file, the file,
/// then its rollback; the schema must come back as it was (the catalog, compared as `drift` does). Returns
/// what the record says of it; `None` without cutover files.
pub(super) fn rehearse_rollbacks(
    ctx: &Ctx,
    at_head: &Shadow,
    plan: &Plan,
    files: &[CutoverFile],
) -> anyhow::Result<Option<String>> {
    if files.is_empty() {
        return Ok(None);
    }
    let _spinner =
        crate::edges::output::progress::Spinner::start("rehearsing the cutover's rollback", ctx.options.format);
    let copy = at_head.clone_as("rollback")?;
    let excluded = ctx.repo.config.catalog_excluded();
    let mut client = crate::edges::postgres::connect(copy.url())?;
    let mut compared = 0;
    for m in plan.batch() {
        let text = m.text()?;
        let Some(cf) = files.iter().find(|f| f.file == m.file_name) else {
            client.batch_execute(text).with_context(|| format!("applying {}", m.file_name))?;
            continue;
        };
        let before = crate::edges::target::catalog::read_parallel(copy.url(), &excluded)?;
        client.batch_execute(text).with_context(|| format!("applying {}", m.file_name))?;
        if let Err(err) = client.batch_execute(&cf.sql) {
            return Err(blocked(Refusal::RollbackFailsOnShadow {
                file: m.file_name.clone(),
                target: ctx.name.to_string(),
                error: format!("{:#}", anyhow::Error::from(err)),
            }));
        }
        let after = crate::edges::target::catalog::read_parallel(copy.url(), &excluded)?;
        let deltas = delta::diff(&before, &after);
        if !deltas.is_empty() {
            let shown: String = deltas.iter().take(20).map(|d| format!("\n  - {}", describe(d))).collect();
            return Err(blocked(Refusal::RollbackDoesNotRestore {
                file: m.file_name.clone(),
                count: deltas.len(),
                target: ctx.name.to_string(),
                shown,
            }));
        }
        compared += 1;
        // The rest of the batch runs after the cutover, as on the target.
        client.batch_execute(text).with_context(|| format!("applying {} again after its rollback", m.file_name))?;
    }
    Ok(Some(format!(
        "{compared} cutover file(s) applied, then rolled back, on a local shadow: the schema came back as before, object for object; then applied again"
    )))
}

/// `table public.audit_log: only before`.
fn describe(d: &delta::Delta) -> String {
    let change = match &d.change {
        delta::Change::OnlyInA => "there before the cutover, missing after the rollback".to_string(),
        delta::Change::OnlyInB => "left behind by the rollback".to_string(),
        delta::Change::Changed { a, b } => format!("was {a}, is {b} after the rollback"),
    };
    format!("{} {}: {change}", d.kind, d.object)
}

fn list(windows: &[Window]) -> String {
    windows.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// `2026-06-01 10:00:00.123+00` (Postgres' `now()::text`, as parity evidence quotes the snapshot), or RFC 3339.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Every parity evidence file about any database, with its digest; other JSON files there are skipped.
fn read_evidence(repo: &crate::edges::repo::Repo, target: &Resolved) -> anyhow::Result<Vec<EvidenceFile>> {
    let dir = repo.evidence_dir(target.record_place());
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", repo.rel(&path)))?;
        let Ok(doc) = serde_json::from_slice::<ParityDoc>(&bytes) else { continue };
        let Some(taken_at) = parse_time(&doc.snapshot_time) else { continue };
        out.push(EvidenceFile { path: repo.rel(&path), sha256: migrations::checksum(&bytes), doc, taken_at });
    }
    Ok(out)
}

impl Cutover {
    pub fn render_md(&self, out: &mut String) {
        let _ = writeln!(out, "\n## Partition cutover\n");
        if let Some(w) = &self.window {
            let end = w.end.map_or_else(|| "(not ended)".to_string(), crate::edges::os::clock::utc);
            let start = crate::edges::os::clock::utc(w.start);
            let _ = writeln!(out, "- maintenance window: {} (from {start} to {end})", w.declared);
        }
        for e in &self.evidence {
            let _ = writeln!(
                out,
                "- parity evidence for {} -> {}: `{}` (sha256 `{}`, snapshot {})",
                e.shadow,
                e.source,
                e.path,
                &e.sha256[..12.min(e.sha256.len())],
                e.snapshot_time
            );
        }
        for f in &self.files {
            let how = match &f.rollback {
                Rollback::File(rel) => format!("`{rel}`"),
                Rollback::Sql(sql) => format!("`{sql}`"),
            };
            let _ = writeln!(out, "- `{}`: roll back when {}; rollback: {how}", f.file, f.criteria);
        }
        if let Some(r) = &self.rollback_rehearsal {
            let _ = writeln!(out, "- rollback rehearsal: {r}");
        }
    }
}
