//! `cargo xtask reconcile --target T`: the target's history against the files, the lock and the records
//! (`domain::history::repair` decides), a pending file's effect proven on a shadow when it is already on the
//! target (`prove`), then the repairs, history only, as a promotion makes its writes: under the promotion's
//! locks (step 5's), the history re-read under them, the identity pin checked, the history rows written by the
//! pinned CLI (`edges::supabase::repair`), the files renamed or adopted, the lock moved, and a record
//! `<utc>-<target>-reconcile.{md,json}` (`report`). Never any DDL on the target.

mod prove;
mod report;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use xshell::Shell;

use crate::blocked::blocked;
use crate::domain::history::lock::Lock;
use crate::domain::history::migrations::{Migration, MigrationFile};
use crate::domain::history::repair::{self, Diagnosis, Facts, Found, Repair};
use crate::domain::refusal::Refusal;
use crate::edges::os::fsutil::{self, Mode};
use crate::edges::os::interrupt::{Interrupt, Interrupted};
use crate::edges::output::report as output;
use crate::edges::repo::Repo;
use crate::edges::supabase::cli::Cli;
use crate::edges::supabase::management_api::Access;
use crate::edges::supabase::stage::Stage;
use crate::edges::target::Resolved;
use crate::edges::target::history::{self, Applied};
use crate::flags;

use super::gates::{self, Ready};
use super::{AfterPush, Ctx, Options};
use report::ReconcileRecord;

impl flags::Reconcile {
    pub fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let options = Options {
            until: None,
            mode: if self.dry_run { Mode::DryRun } else { Mode::Write },
            yes: self.confirm.yes,
            after_push: AfterPush::Nothing,
            format: self.output.format,
            repin: None,
            maintenance_window: None,
            wait: self.wait.wait,
            interrupt: Interrupt::install()?,
        };
        let ctx = Ctx { sh, repo, name: &self.target.target, options };
        let mut record = ReconcileRecord::new(ctx.name, self.adopt.clone());
        let result = reconcile(&ctx, &self.adopt, &mut record);
        report::emit(&ctx, &mut record, result)
    }
}

/// Reads, decides, proves, shows; then, unless this is a dry run or something is refused, writes.
fn reconcile(ctx: &Ctx, adopt: &[String], record: &mut ReconcileRecord) -> anyhow::Result<()> {
    let (endpoint, ready) = gates::preconditions(ctx);
    record.endpoint = endpoint;
    let Ready { cli, target, files, tools, .. } = ready?;
    if target.config.embedded {
        anyhow::bail!(
            "reconcile: `{}` is the embedded database, which is disposable: rebuild it from the files with `cargo xtask db reset`",
            ctx.name
        );
    }
    record.cli_version = tools.cli_version.clone();
    record.git_commit = tools.git_commit.clone();
    let (pinned, connected) = gates::connect(ctx, &target);
    record.identity = pinned.as_ref().and_then(|p| p.seen.as_ref()).map(ToString::to_string);
    connected?;
    let lock = ctx.repo.lock()?;
    let live = super::plan::read_live(ctx, &cli, &target)?;
    if let Some(v) =
        adopt.iter().find(|v| files.iter().any(|m| m.version == **v) || !live.iter().any(|a| a.version == **v))
    {
        anyhow::bail!(
            "--adopt {v}: {} has no version {v} that no file here has (only such a version is adopted); `cargo xtask status --target {} --live` compares its history with the files",
            ctx.name,
            ctx.name
        );
    }
    let diagnosis = diagnose(ctx, &target, (&files, &lock), &live, adopt)?;
    record.head_before = lock.head(ctx.name).map(str::to_string);
    let Diagnosis { mut found, head_after, to_prove } = diagnosis;
    // The files as the repairs leave them: what the proof replays, and what history rows are written for.
    let effective = renamed(&files, &found);
    if !to_prove.is_empty() {
        found.extend(prove::prove(ctx, (&cli, &target), &effective, head_after.as_deref(), &to_prove)?);
    }
    record.found = found.clone();
    record.head_after = head_after_repairs(head_after, &found);
    if ctx.options.format != output::Format::Json {
        print!("{}", crate::edges::output::redact::redact(&report::render_found(ctx.name, &found)));
    }
    let refused: Vec<&Found> = found.iter().filter(|f| f.refused()).collect();
    if !refused.is_empty() {
        let listed = refused.iter().map(|f| report::one_line(f)).collect::<Vec<_>>().join("\n");
        return Err(blocked(Refusal::NoSafeRepair { count: refused.len(), target: ctx.name.to_string(), listed }));
    }
    if found.is_empty() {
        record.outcome = report::Outcome::InSync;
        return Ok(());
    }
    if ctx.options.mode == Mode::DryRun {
        record.outcome = report::Outcome::DryRun;
        eprintln!("dry run: nothing written");
        return Ok(());
    }
    let what = format!("make {} history repair(s) for {}", found.len(), target.name);
    gates::ask(ctx, &target, &what, (Refusal::ReconcileNoTerminal, Refusal::ReconcileNotConfirmed))?;
    write(ctx, (&cli, &target), (&effective, &lock), &live, record)
}

/// `domain::history::repair::diagnose` over what the target, the lock and the records say.
fn diagnose(
    ctx: &Ctx,
    target: &Resolved,
    (files, lock): (&[Migration], &Lock),
    live: &[Applied],
    adopt: &[String],
) -> anyhow::Result<Diagnosis> {
    let head = lock.head(ctx.name);
    let known: BTreeSet<&str> = files.iter().map(|m| m.version.as_str()).collect();
    let wanted: Vec<&str> =
        live.iter().map(|a| a.version.as_str()).filter(|v| !known.contains(v) || head.is_none_or(|h| *v > h)).collect();
    let stored = stored_statements(target, &wanted)?;
    let records = crate::edges::records::read(ctx.repo, target.record_place())?;
    let mut applied_on = crate::edges::records::applied(&records);
    for m in files.iter().filter(|m| lock.files.contains_key(&m.file_name)) {
        applied_on
            .entry(m.file_name.clone())
            .or_default()
            .extend(lock.recorded_on(&m.version).iter().map(|t| t.to_string()));
    }
    let pushed_by_us = crate::edges::records::pushed_to(&records, ctx.name);
    let recorded = |m: &Migration| lock.files.contains_key(&m.file_name);
    let dir = ctx.repo.migrations_rel();
    Ok(repair::diagnose(&Facts {
        target: ctx.name,
        dir: &dir,
        files,
        head,
        live,
        stored: &stored,
        applied_on: &applied_on,
        pushed_by_us: &pushed_by_us,
        recorded: &recorded,
        adopt,
        heads: &lock.targets.iter().map(|(t, s)| (t.clone(), s.head.clone())).collect::<Vec<_>>(),
        now: crate::edges::os::clock::now(),
    }))
}

/// The stored statements of `versions`, over a read-only session of the xtask's own.
fn stored_statements(target: &Resolved, versions: &[&str]) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    if versions.is_empty() {
        return Ok(BTreeMap::new());
    }
    let direct = target.direct(Access::ReadOnly)?;
    let mut client = direct.connect().context("reading the statements the target stored")?;
    let sql =
        "select version, coalesce(statements, '{}') from supabase_migrations.schema_migrations where version = any($1)";
    // A failed read is an error, never "nothing stored".
    let rows = client.query(sql, &[&versions]).context("reading the statements the target stored")?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The files as they are once the renames are made (and adopted files written): what a shadow at the new head
/// replays.
fn renamed(files: &[Migration], found: &[Found]) -> Vec<Migration> {
    let mut out: Vec<Migration> = files
        .iter()
        .map(|m| {
            let to = found.iter().find_map(|f| match &f.repair {
                Repair::Rename { from, to } | Repair::Renumber { from, to } if *from == m.rel_path => Some(to.clone()),
                _ => None,
            });
            match to.and_then(|to| with_name(&to, m.bytes().to_vec())) {
                // Still at its old path until the repairs are made: staged from there.
                Some(mut moved) => {
                    moved.file.path = m.path.clone();
                    moved
                }
                None => m.clone(),
            }
        })
        .collect();
    out.extend(found.iter().filter_map(|f| match &f.repair {
        Repair::Adopt { file, sql } => with_name(file, sql.as_bytes().to_vec()),
        _ => None,
    }));
    out.sort_by(|a, b| a.version.cmp(&b.version));
    out
}

fn with_name(rel_path: &str, bytes: Vec<u8>) -> Option<Migration> {
    let name = rel_path.rsplit('/').next().unwrap_or(rel_path);
    Some(Migration::new(MigrationFile::new(name, rel_path.to_string(), rel_path.into())?, bytes))
}

/// The head once the repairs are made: past the last file whose history row is written.
fn head_after_repairs(head: Option<String>, found: &[Found]) -> Option<String> {
    let written = found.iter().filter(|f| matches!(f.repair, Repair::WriteHistory { .. })).map(|f| f.version.clone());
    written.max().or(head)
}

/// The repairs, under the promotion's locks: the history rows (one transaction, by the CLI), read back; then the
/// files renamed or adopted, the lock moved, the record written. `effective`: the files as the repairs leave them.
fn write(
    ctx: &Ctx,
    (cli, target): (&Cli, &Resolved),
    (effective, lock): (&[Migration], &Lock),
    live: &[Applied],
    record: &mut ReconcileRecord,
) -> anyhow::Result<()> {
    let (waited, taken) = super::lock::take(ctx, target, live);
    record.waited = waited;
    let (mut guard, taken) = taken?;
    if let super::lock::Taken::Moved { appeared } = taken {
        return Err(blocked(Refusal::ReconcileMoved { target: ctx.name.to_string(), appeared: appeared.join(", ") }));
    }
    if ctx.options.interrupt.requested() {
        return Err(Interrupted(NOTHING_WRITTEN.into()).into());
    }
    let found = record.found.clone();
    // By the names the repairs give them: a proven file may be renumbered too, and its row is written under its
    // new version before the file moves.
    let rows: Vec<&Migration> = found
        .iter()
        .filter_map(|f| match &f.repair {
            Repair::WriteHistory { file } => effective.iter().find(|m| m.file_name == *file),
            _ => None,
        })
        .collect();
    if !rows.is_empty() {
        write_rows(ctx, (cli, target), &rows, &mut guard.session, record)?;
    }
    // What is left is local and short: a second signal now changes nothing, so the repair is finished and recorded.
    ctx.options.interrupt.ending();
    let moved = move_files(ctx.repo, &found)?;
    record.renamed = moved.renamed;
    record.adopted = moved.adopted;
    let now = ctx.repo.discover()?.migrations;
    let mut lock = lock.clone();
    for (from, _) in &record.renamed {
        lock.files.remove(from.rsplit('/').next().unwrap_or(from));
    }
    let known = super::finish::Known { identity: None, noted: Default::default() };
    let head = record.head_after.clone();
    super::finish::record_head(ctx, (&mut lock, target), &now, (head.as_deref(), "reconcile"), &known)?;
    ctx.repo.write_lock(&lock)?;
    record.recorded = recorded_files(&found, &now, &record.renamed);
    record.outcome = report::Outcome::Reconciled;
    drop(guard);
    Ok(())
}

const NOTHING_WRITTEN: &str =
    "reconcile: interrupted before anything was written: the history, the files and the lock are as they were";

/// The history rows of `rows`, written by the pinned CLI through the push's own route, then read back under the
/// lock: all of them are there with the files' statements, or none is (one transaction).
fn write_rows(
    ctx: &Ctx,
    (cli, target): (&Cli, &Resolved),
    rows: &[&Migration],
    session: &mut postgres::Client,
    record: &mut ReconcileRecord,
) -> anyhow::Result<()> {
    let stage = Stage::new(ctx.repo.stage_dir(ctx.name), &[], rows)?;
    let cli_target = target.cli_target()?;
    let versions: Vec<String> = rows.iter().map(|m| m.version.clone()).collect();
    ctx.options.interrupt.pushing(ctx.name);
    let written = cli.repair_applied(ctx.sh, stage.path(), &cli_target.remote, &versions);
    drop(cli_target);
    let now = history::read_client(session).context("reading the history back")?;
    let there: Vec<&Migration> = rows.iter().copied().filter(|m| now.iter().any(|a| a.version == m.version)).collect();
    let differs = history::verify(&there, &now, |_| None)?;
    record.history_written = there.iter().map(|m| m.version.clone()).collect();
    record.history_through = Some(format!("supabase migration repair --status applied (CLI {})", cli.version));
    match (written, there.len() == rows.len() && differs.is_empty()) {
        (_, true) => Ok(()),
        // The CLI was ended with the group: whatever it said, the history is as it was.
        (_, false) if there.is_empty() && ctx.options.interrupt.requested() => {
            Err(Interrupted(NOTHING_WRITTEN.into()).into())
        }
        (Err(err), false) if there.is_empty() => {
            Err(err.context("no history row was written: the history is as it was"))
        }
        (result, false) => anyhow::bail!(
            "the history rows read back are not what was written ({} of {} there{}): nothing else was changed; see `cargo xtask status --live --target {}`, then run `cargo xtask reconcile` again",
            there.len(),
            rows.len(),
            result.err().map(|e| format!("; {e:#}")).unwrap_or_default(),
            ctx.name
        ),
    }
}

/// What moved in the tree.
struct Moved {
    renamed: Vec<(String, String)>,
    adopted: Vec<String>,
}

/// The renames, all or none (a failed one puts back those made), then the adopted files, each atomically.
fn move_files(repo: &Repo, found: &[Found]) -> anyhow::Result<Moved> {
    let mut renamed: Vec<(String, String)> = Vec::new();
    for f in found {
        let (Repair::Rename { from, to } | Repair::Renumber { from, to }) = &f.repair else { continue };
        if let Err(err) = std::fs::rename(repo.root.join(from), repo.root.join(to)) {
            for (done_from, done_to) in renamed.iter().rev() {
                let _ = std::fs::rename(repo.root.join(done_to), repo.root.join(done_from));
            }
            return Err(anyhow::Error::new(err).context(format!(
                "renaming {from} to {to}; nothing was renamed (any history rows are written: run `cargo xtask reconcile` again to finish)"
            )));
        }
        renamed.push((from.clone(), to.clone()));
    }
    let mut adopted = Vec::new();
    for f in found {
        let Repair::Adopt { file, sql } = &f.repair else { continue };
        fsutil::write_atomic(&repo.root.join(file), sql.as_bytes())?;
        adopted.push(file.clone());
    }
    Ok(Moved { renamed, adopted })
}

/// Every file the lock now records for the target because of this reconcile, by its name now.
fn recorded_files(found: &[Found], now: &[Migration], renamed: &[(String, String)]) -> Vec<String> {
    let name = |path: &str| path.rsplit('/').next().unwrap_or(path).to_string();
    let mut out: Vec<String> = found
        .iter()
        .filter_map(|f| match &f.repair {
            Repair::Record { file, .. } | Repair::WriteHistory { file } => Some(file.clone()),
            Repair::Adopt { file, .. } => Some(name(file)),
            _ => None,
        })
        .collect();
    out.extend(renamed.iter().map(|(_, to)| name(to)));
    out.retain(|f| now.iter().any(|m| m.file_name == *f));
    out.sort();
    out
}
