//! `cargo xtask promote`: the runbook's standard path, step by step (see docs/design.md, "promote").

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use xshell::Shell;

use crate::findings::{Code, Severity};
use crate::flags::{self, LintScope};
use crate::lock::TargetState;
use crate::migrations::{self, Migration};
use crate::record::{Failure, Record, RecordFile};
use crate::redact::Redactor;
use crate::report::Blocked;
use crate::sql::{self, Fact, LintSettings};
use crate::supabase::{Cli, PushMode, Remote};
use crate::target::{Applied, Resolved, TOKEN_ENV};
use crate::tree::Repo;
use crate::{check, fsutil, git, pg, plan, rules};

/// Key of the session-level advisory lock held on a target while pushing ("xtask" + 1).
const ADVISORY_KEY: i64 = 0x7874_6173_6b00_0001;

impl flags::Promote {
    pub fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let repo = Repo::open(sh)?;
        let mut redactor = Redactor::from_env();
        let mode = if self.dry_run { Mode::DryRun } else { Mode::Push };
        let catalog = if self.skip_catalog { Catalog::Skip } else { Catalog::Refresh };
        let options = Options { until: self.until, mode, yes: self.confirm.yes, catalog };
        Promotion::new(sh, &repo, &mut redactor).run(&self.target.target, options)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    DryRun,
    Push,
}

struct Options {
    until: Option<String>,
    mode: Mode,
    yes: bool,
    catalog: Catalog,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Catalog {
    Refresh,
    Skip,
}

struct Promotion<'a> {
    sh: &'a Shell,
    repo: &'a Repo,
    redactor: &'a mut Redactor,
    started: Instant,
    step_started: Instant,
    record: Record,
    /// The findings of the `check` run in step 1, kept for the review of the batch.
    checked: Vec<crate::findings::Finding>,
}

/// What the live history says about the recorded head.
#[derive(Debug, PartialEq, Eq)]
pub enum Reconcile {
    InSync,
    /// The first `n` pending files are already applied: an earlier promotion was interrupted after them.
    Interrupted(usize),
}

/// Compares the target's live history with what the lock (or, for an embedded target, the history itself)
/// says is applied. `Err` explains a history this checkout cannot account for.
pub fn reconcile(
    files: &[Migration],
    head: Option<&str>,
    live: &[Applied],
    pending: &[&Migration],
) -> Result<Reconcile, String> {
    let known: BTreeSet<&str> = files.iter().map(|m| m.version.as_str()).collect();
    let live_versions: BTreeSet<&str> = live.iter().map(|a| a.version.as_str()).collect();
    let unknown: Vec<&str> = live_versions.iter().copied().filter(|v| !known.contains(v)).collect();
    if !unknown.is_empty() {
        return Err(format!(
            "the target has migration(s) {} that no file here has (pushed from another branch, or by hand): merge them into this branch first",
            unknown.join(", ")
        ));
    }
    let missing: Vec<&str> = files
        .iter()
        .filter(|m| head.is_some_and(|h| m.version.as_str() <= h) && !live_versions.contains(m.version.as_str()))
        .map(|m| m.file_name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} recorded as applied (at or before head {}) but missing from the target's history: wrong database, or one restored from a backup?",
            missing.join(", "),
            head.unwrap_or_default()
        ));
    }
    let ahead: Vec<&str> = live_versions.iter().copied().filter(|v| head.is_none_or(|h| *v > h)).collect();
    let prefix: Vec<&str> = pending.iter().take(ahead.len()).map(|m| m.version.as_str()).collect();
    match (ahead.is_empty(), ahead == prefix) {
        (true, _) => Ok(Reconcile::InSync),
        (false, true) => Ok(Reconcile::Interrupted(ahead.len())),
        (false, false) => Err(format!(
            "the target's history is ahead of the recorded head {} by {}, which are not the next pending files: push order was broken; inspect with `cargo xtask status --live`",
            head.unwrap_or("(none)"),
            ahead.join(", ")
        )),
    }
}

/// After a push: the batch's longest applied prefix, the file that failed, and those never attempted.
pub fn outcome<'m>(
    batch: &[&'m Migration],
    live: &BTreeSet<String>,
) -> (Vec<&'m Migration>, Option<&'m Migration>, Vec<&'m Migration>) {
    let applied = batch.iter().take_while(|m| live.contains(&m.version)).copied().collect::<Vec<_>>();
    let failed = batch.get(applied.len()).copied();
    let rest = batch.iter().skip(applied.len() + 1).copied().collect();
    (applied, failed, rest)
}

impl<'a> Promotion<'a> {
    fn new(sh: &'a Shell, repo: &'a Repo, redactor: &'a mut Redactor) -> Promotion<'a> {
        let now = Instant::now();
        let record = Record { started_at: utc_now(), ..Default::default() };
        Promotion { sh, repo, redactor, started: now, step_started: now, record, checked: Vec::new() }
    }

    fn step(&mut self, n: usize, what: &str) {
        let now = Instant::now();
        if let Some(last) = self.record.timings_ms.last_mut() {
            last.1 = (now - self.step_started).as_millis();
        }
        self.step_started = now;
        self.record.timings_ms.push((what.to_string(), 0));
        eprintln!("[{n}/8] {what}  (+{:.1}s)", (now - self.started).as_secs_f64());
    }

    fn run(mut self, name: &str, options: Options) -> anyhow::Result<()> {
        self.step(1, "preconditions");
        let (cli, target) = self.preconditions(name)?;
        self.record.target = name.to_string();
        self.record.endpoint = target.describe();
        self.record.cli_version = cli.version.to_string();
        self.record.git_commit = git::head_commit(self.sh);

        self.step(2, "batch: recorded head vs live history");
        let stage = StageDir(self.repo.root.join("target/xtask/stage").join(format!("{name}-{}", std::process::id())));
        let stage = &stage.0;
        let files = self.repo.discover()?.migrations;
        let mut lock = self.repo.lock()?;
        let live = target.history(self.sh, Some(&cli), stage, self.redactor)?;
        let head = if target.config.embedded {
            live.last().map(|a| a.version.clone())
        } else {
            lock.head(name).map(str::to_string)
        };
        let pending = plan::pending(&files, head.as_deref(), None)?;
        let reconciled = match reconcile(&files, head.as_deref(), &live, &pending) {
            Ok(Reconcile::InSync) => 0,
            Ok(Reconcile::Interrupted(n)) => n,
            Err(why) => return Err(Blocked(format!("promote: refused, nothing pushed: {why}")).into()),
        };
        self.record.reconciled = pending[..reconciled].iter().map(|m| m.file_name.clone()).collect();
        let head = pending[..reconciled].last().map(|m| m.version.clone()).or(head);
        self.record.head_before = head.clone();
        let batch = plan::pending(&files, head.as_deref(), options.until.as_deref())?;
        if batch.is_empty() {
            return self.up_to_date(&target, &files, &mut lock, head);
        }
        let analyses = analyze(&batch)?;
        self.phase_gate(&target, &batch, &analyses)?;
        self.record.batch = batch
            .iter()
            .map(|m| {
                Ok(RecordFile { file: m.file_name.clone(), sha256: migrations::checksum(&std::fs::read(&m.path)?) })
            })
            .collect::<anyhow::Result<_>>()?;
        self.record.findings = self.batch_findings(&batch);

        self.step(3, "staging the applied files and the batch");
        let applied: Vec<&Migration> =
            files.iter().filter(|m| head.as_deref().is_some_and(|h| m.version.as_str() <= h)).collect();
        stage_workdir(stage, &applied, &batch)?;

        self.step(
            4,
            if target.config.protected {
                "rehearsal on a local shadow"
            } else {
                "rehearsal: not required (target not protected); extension preflight"
            },
        );
        if target.config.protected {
            self.rehearse(&cli, &applied, &batch, name)?;
        }
        self.preflight_extensions(&target, &batch, &analyses)?;

        self.step(5, "dry-run through the CLI, review, confirmation");
        self.dry_run(&cli, &target, stage, &batch)?;
        self.review(&target, &batch);
        if options.mode == Mode::DryRun {
            eprintln!("dry run: nothing pushed, nothing recorded");
            return Ok(());
        }
        confirm(&target, batch.len(), options.yes)?;

        self.step(6, "promotion lock");
        let guard = self.lock_target(&target, &live.iter().map(|a| a.version.clone()).collect())?;

        self.step(7, "push and verify");
        let push = cli.push(self.sh, stage, &target.remote, PushMode::Apply, self.redactor)?;
        self.record.push_transcript = push.transcript.clone();
        let verified = target.history(self.sh, Some(&cli), stage, self.redactor);
        drop(guard);

        self.step(8, "record, catalog and docs");
        let verified_ok = verified.is_ok();
        let result = self.finish(&target, &files, &mut lock, &batch, push, verified);
        if options.catalog == Catalog::Refresh && verified_ok {
            self.refresh_catalog(&target);
        }
        result
    }

    fn preconditions(&mut self, name: &str) -> anyhow::Result<(Cli, Resolved<'a>)> {
        let mut problems = Vec::new();
        let cli = Cli::locate(self.sh, &self.repo.root).map_err(|e| problems.push(format!("{e:#}"))).ok();
        let config = self.repo.config.target(name)?;
        if (config.embedded || config.protected)
            && let Err(e) = pg::check_binaries(self.sh)
        {
            problems.push(format!(
                "{e:#} (needed for the {})",
                if config.protected { "rehearsal" } else { "embedded database" }
            ));
        }
        let target = if problems.is_empty() || !config.embedded {
            Resolved::resolve(self.sh, self.repo, name, self.redactor).map_err(|e| problems.push(format!("{e:#}"))).ok()
        } else {
            None
        };
        if matches!(target.as_ref().map(|t| &t.remote), Some(Remote::Project(_)))
            && std::env::var(TOKEN_ENV).map_or(true, |t| t.is_empty())
        {
            problems.push(format!("{TOKEN_ENV} is not set: the hosted target is reached through the Management API (or set ${} to a direct URL)", config.db_url_env.as_deref().unwrap_or("<db_url_env>")));
        }
        if config.protected {
            match git::dirty_paths(self.sh) {
                Err(_) => problems
                    .push("not a git checkout: a protected target is promoted only from a clean checkout".to_string()),
                Ok(dirty) if !dirty.is_empty() => problems.push(format!(
                    "the checkout is not clean ({}{}): commit or stash, so what is pushed is what was reviewed",
                    dirty.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
                    if dirty.len() > 5 { ", ..." } else { "" }
                )),
                Ok(_) => {}
            }
        }
        let report = check::check(self.repo, LintScope::Pending)?;
        self.checked = report.findings.clone();
        // The partition phase mix is judged on the batch this promotion pushes (step 2), not on all that is pending.
        let blocking = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error && f.code != Code::PartitionPhaseMix)
            .count();
        if blocking > 0 {
            eprint!("{}", report.render(flags::Format::Human));
            if config.protected {
                problems.push(format!("`cargo xtask check` has {blocking} blocking finding(s) (listed above)"));
            } else {
                eprintln!(
                    "note: {name} is not protected, so these findings do not stop this promotion; they would stop a protected one"
                );
            }
        }
        match (cli, target) {
            (Some(cli), Some(target)) if problems.is_empty() => Ok((cli, target)),
            _ => Err(Blocked(format!(
                "promote: preconditions not met; nothing was pushed:\n  - {}",
                problems.join("\n  - ")
            ))
            .into()),
        }
    }

    /// The runbook: never phase-1 partition setup and phase-2 cutover in one promotion batch.
    fn phase_gate(&self, target: &Resolved, batch: &[&Migration], analyses: &[sql::Analysis]) -> anyhow::Result<()> {
        let pairs: Vec<(&Migration, &sql::Analysis)> = batch.iter().copied().zip(analyses).collect();
        let mixed: Vec<_> =
            rules::partition_phase_mix(&pairs).into_iter().filter(|f| f.code == Code::PartitionPhaseMix).collect();
        if mixed.is_empty() {
            return Ok(());
        }
        let last_phase_one = rules::partition_phases(&pairs)
            .iter()
            .filter(|(_, _, phase)| matches!(phase, rules::Phase::One(_)))
            .map(|(i, _, _)| batch[*i].version.clone())
            .max();
        let until = last_phase_one
            .map(|v| format!("`cargo xtask promote --target {} --until {v}`", target.name))
            .unwrap_or_default();
        let files: BTreeSet<&str> = mixed.iter().map(|f| f.file.as_str()).collect();
        let what = format!(
            "this batch mixes phase-1 partition setup with phase-2 work in {}",
            files.into_iter().collect::<Vec<_>>().join(", ")
        );
        if target.config.protected {
            return Err(
                Blocked(format!("promote: {what}; nothing was pushed. Promote phase 1 alone first: {until}")).into()
            );
        }
        eprintln!("note: {what}; allowed on {} (not protected), refused on a protected target", target.name);
        Ok(())
    }

    fn batch_findings(&self, batch: &[&Migration]) -> Vec<crate::findings::Finding> {
        let files: BTreeSet<&str> = batch.iter().map(|m| m.rel_path.as_str()).collect();
        self.checked
            .iter()
            .filter(|f| files.contains(f.file.as_str()) && f.severity != Severity::Off)
            .cloned()
            .collect()
    }

    fn rehearse(&mut self, cli: &Cli, applied: &[&Migration], batch: &[&Migration], name: &str) -> anyhow::Result<()> {
        let cluster_url = pg::Cluster::new(&self.repo.root).start(self.sh)?;
        self.redactor.add_url(&cluster_url);
        let shadow = format!("xtask_rehearsal_{}", std::process::id());
        let shadow_url = pg::create_database(&cluster_url, &shadow)?;
        let dir = self.repo.root.join("target/xtask/stage").join(format!("rehearsal-{name}-{}", std::process::id()));
        let no_files: &[&Migration] = &[];
        let result = (|| {
            // Replay what the target has, then the batch, so a failure names the right part.
            for (phase, part) in [("applied history", no_files), ("batch", batch)] {
                stage_workdir(&dir, applied, part)?;
                let out = cli.push(self.sh, &dir, &Remote::Url(shadow_url.clone()), PushMode::Apply, self.redactor)?;
                if !out.success {
                    let err = out.error.map(|e| crate::supabase::explain(&e)).unwrap_or(out.transcript);
                    bail!("rehearsal of the {phase} failed on a local shadow; nothing was pushed to {name}:\n{err}");
                }
            }
            Ok(())
        })();
        let _ = std::fs::remove_dir_all(&dir);
        pg::drop_database(&cluster_url, &shadow)?;
        result
            .map_err(|e| Blocked(format!("promote: {e:#}")).into())
            .map(|()| self.record.rehearsal = Some("passed on a local shadow (history + batch)".into()))
    }

    /// Names every extension the batch creates that the target server cannot provide, before anything runs.
    fn preflight_extensions(
        &self,
        target: &Resolved,
        batch: &[&Migration],
        analyses: &[sql::Analysis],
    ) -> anyhow::Result<()> {
        let Remote::Url(url) = &target.remote else { return Ok(()) };
        let mut wanted = BTreeSet::new();
        for (m, analysis) in batch.iter().zip(analyses) {
            for (_, fact) in &analysis.facts {
                if let Fact::CreateExtension(name) = fact {
                    wanted.insert((name.clone(), m.file_name.clone()));
                }
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let mut client = pg::connect(url)?;
        let available: BTreeSet<String> =
            client.query("select name from pg_available_extensions", &[])?.iter().map(|r| r.get(0)).collect();
        let missing: Vec<String> =
            wanted.iter().filter(|(n, _)| !available.contains(n)).map(|(n, f)| format!("{n} (in {f})")).collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Blocked(format!("promote: the target server cannot provide extension(s) {}; nothing was pushed. Install them on the server first", missing.join(", "))).into())
    }

    fn dry_run(&mut self, cli: &Cli, target: &Resolved, stage: &Path, batch: &[&Migration]) -> anyhow::Result<()> {
        if let Remote::Project(project_ref) = &target.remote {
            cli.link(self.sh, stage, project_ref, self.redactor)?;
        }
        let out = cli.push(self.sh, stage, &target.remote, PushMode::DryRun, self.redactor)?;
        self.record.dry_run_transcript = out.transcript.clone();
        self.record.dry_run = out.migrations.clone();
        if let Some(err) = &out.error {
            return Err(Blocked(format!(
                "promote: the CLI's dry-run failed; nothing was pushed: {}",
                crate::supabase::explain(err)
            ))
            .into());
        }
        if let Some(why) = dry_run_mismatch(batch, &out.migrations) {
            return Err(Blocked(format!("promote: {why}; nothing was pushed")).into());
        }
        if let Some(mismatch) = target_mismatch(&target.remote, out.target.as_ref()) {
            return Err(Blocked(format!("promote: the CLI's dry-run targets {mismatch}; nothing was pushed")).into());
        }
        Ok(())
    }

    fn review(&self, target: &Resolved, batch: &[&Migration]) {
        let head = self.record.head_before.as_deref().unwrap_or("(none)");
        println!(
            "Promotion of {} migration(s) to {} ({}), after head {head}:\n",
            batch.len(),
            target.name,
            target.describe()
        );
        for (i, m) in batch.iter().enumerate() {
            println!("  {}. {}", i + 1, m.file_name);
        }
        if !self.record.findings.is_empty() {
            println!("\nTo review:");
            for f in &self.record.findings {
                println!("  {}[{}] {}:{}: {}", f.severity.as_str(), f.code, f.file, f.pos.line, f.message);
            }
        }
        println!(
            "\nThe CLI's dry-run (supabase {}) lists exactly these {} file(s).",
            self.record.cli_version,
            batch.len()
        );
        if let Some(r) = &self.record.rehearsal {
            println!("Rehearsal: {r}.");
        }
    }

    /// Holds a file lock (this machine) and, with a direct connection, an advisory lock on the target itself
    /// (every machine), then re-reads the history: it must not have moved since step 2.
    fn lock_target(&self, target: &Resolved, expected: &BTreeSet<String>) -> anyhow::Result<TargetLock> {
        let dir = self.repo.root.join("target/xtask/locks");
        std::fs::create_dir_all(&dir)?;
        let file = std::fs::File::create(dir.join(format!("{}.lock", target.name)))?;
        let busy = || {
            Blocked(format!(
                "promote: another promotion of {} is pushing right now; nothing was pushed. Wait for it, then re-run",
                target.name
            ))
        };
        if file.try_lock().is_err() {
            return Err(busy().into());
        }
        // A hosted project without a URL has no session to hold a lock in: the workflow's concurrency group
        // serialises CI, the file lock this machine.
        let Remote::Url(url) = &target.remote else { return Ok(TargetLock { _file: file, _client: None }) };
        let mut client = pg::connect(url)?;
        let got: bool = client.query_one("select pg_try_advisory_lock($1)", &[&ADVISORY_KEY])?.get(0);
        if !got {
            return Err(busy().into());
        }
        let now: BTreeSet<String> = crate::target::history_direct(url)?.into_iter().map(|a| a.version).collect();
        if now != *expected {
            return Err(Blocked(format!("promote: {}'s history changed while this promotion was being prepared (another promotion?); nothing was pushed. Re-run", target.name)).into());
        }
        Ok(TargetLock { _file: file, _client: Some(client) })
    }

    fn up_to_date(
        &mut self,
        target: &Resolved,
        files: &[Migration],
        lock: &mut crate::lock::Lock,
        head: Option<String>,
    ) -> anyhow::Result<()> {
        if !self.record.reconciled.is_empty() && !target.config.embedded {
            record_head(lock, &target.name, files, head.as_deref(), "promote (reconciled)")?;
            lock.write(&self.repo.lock_path())?;
            eprintln!("reconciled: recorded {} applied by an interrupted promotion", self.record.reconciled.join(", "));
        }
        self.record.head_after = head.clone();
        self.record.outcome = "up-to-date".into();
        println!("{} is up to date at {}: nothing to push.", target.name, head.as_deref().unwrap_or("(empty)"));
        if !self.record.reconciled.is_empty() {
            self.write_record(target)?;
        }
        Ok(())
    }

    /// The runbook's post-promotion refresh: snapshot and SCHEMA_CATALOG.<TARGET>.md. The push already happened,
    /// so a failure here is reported, not fatal.
    fn refresh_catalog(&self, target: &Resolved) {
        let result = crate::catalog::read(self.sh, self.repo, target, self.redactor).and_then(|snapshot| {
            let path = crate::catalog::write(self.repo, &target.name, &snapshot)?;
            crate::docs::refresh(self.repo, &target.name, flags::Mode::Write)?;
            Ok(path)
        });
        match result {
            Ok(path) => eprintln!(
                "catalog: refreshed {path} and {}",
                migrations::rel(&self.repo.root, &crate::docs::doc_path(self.repo, &target.name))
            ),
            Err(err) => eprintln!(
                "warning: the catalog refresh failed ({}); run `cargo xtask catalog --target {1}` and `cargo xtask docs-refresh --target {1}`",
                self.redactor.redact(&format!("{err:#}")),
                target.name
            ),
        }
    }

    fn finish(
        &mut self,
        target: &Resolved,
        files: &[Migration],
        lock: &mut crate::lock::Lock,
        batch: &[&Migration],
        push: crate::supabase::PushOutput,
        verified: anyhow::Result<Vec<Applied>>,
    ) -> anyhow::Result<()> {
        let live = match verified {
            Ok(live) => live.into_iter().map(|a| a.version).collect::<BTreeSet<_>>(),
            Err(err) => {
                self.record.outcome = "unverified".into();
                self.record.not_attempted = batch.iter().map(|m| m.file_name.clone()).collect();
                self.write_record(target)?;
                let cli_error = push.error.map(|e| crate::supabase::explain(&e)).unwrap_or_default();
                return Err(Blocked(format!(
                    "promote: the push did not finish cleanly ({cli_error}) and the target could not be read afterwards: {}\n\
                     Nothing new is recorded. When the target is reachable again, re-run `cargo xtask promote --target {}`: it reconciles what was applied",
                    self.redactor.redact(&format!("{err:#}")),
                    target.name
                ))
                .into());
            }
        };
        let (applied, failed, rest) = outcome(batch, &live);
        let new_head = applied.last().map(|m| m.version.clone()).or(self.record.head_before.clone());
        if !target.config.embedded && (!applied.is_empty() || !self.record.reconciled.is_empty()) {
            record_head(lock, &target.name, files, new_head.as_deref(), "promote")?;
            lock.write(&self.repo.lock_path())?;
        }
        self.record.applied = applied.iter().map(|m| m.file_name.clone()).collect();
        self.record.not_attempted = rest.iter().map(|m| m.file_name.clone()).collect();
        self.record.head_after = new_head.clone();
        let error = push.error.as_ref().map(crate::supabase::explain).unwrap_or_else(|| push.transcript.clone());
        self.record.failed = failed.map(|m| Failure { file: m.file_name.clone(), error: error.clone() });
        self.record.outcome = if failed.is_some() { "failed" } else { "promoted" }.into();
        let (md, _) = self.write_record(target)?;
        match failed {
            None => {
                println!("\nPromoted {} migration(s) to {}; head is now {}. Record: {md}", applied.len(), target.name, new_head.unwrap_or_default());
                Ok(())
            }
            Some(m) => Err(Blocked(format!(
                "promote: {} failed on {}: {error}\n{} file(s) before it are applied and recorded (head {}); {} not attempted.\n\
                 {} was rolled back and is not applied: correct it (or replace it with `cargo xtask new fix_{}`), then re-run promote. \
                 Never edit the applied files. Record: {md}",
                m.file_name,
                target.name,
                applied.len(),
                new_head.unwrap_or_else(|| "(none)".into()),
                rest.len(),
                m.file_name,
                m.name
            ))
            .into()),
        }
    }

    /// Hosted targets' records are committed beside the docs; the embedded database's stay under target/.
    fn write_record(&mut self, target: &Resolved) -> anyhow::Result<(String, String)> {
        if let Some(last) = self.record.timings_ms.last_mut() {
            last.1 = self.step_started.elapsed().as_millis();
        }
        let dir = if target.config.embedded {
            self.repo.root.join("target/xtask/promotions")
        } else {
            self.repo.root.join("docs/database/promotions")
        };
        std::fs::create_dir_all(&dir)?;
        let stem = format!("{}-{}", self.record.started_at.replace(':', ""), target.name);
        let json = self.redactor.redact(&serde_json::to_string_pretty(&self.record)?);
        let md = self.redactor.redact(&self.record.render_md());
        let (json_path, md_path) = (dir.join(format!("{stem}.json")), dir.join(format!("{stem}.md")));
        fsutil::write_atomic(&json_path, json.as_bytes())?;
        fsutil::write_atomic(&md_path, md.as_bytes())?;
        Ok((migrations::rel(&self.repo.root, &md_path), migrations::rel(&self.repo.root, &json_path)))
    }
}

struct TargetLock {
    _file: std::fs::File,
    _client: Option<postgres::Client>,
}

/// The batch's statements, parsed once for the phase gate and the extension preflight.
fn analyze(batch: &[&Migration]) -> anyhow::Result<Vec<sql::Analysis>> {
    batch
        .iter()
        .map(|m| {
            let text = std::fs::read_to_string(&m.path).with_context(|| format!("reading {}", m.rel_path))?;
            Ok(sql::analyze(&text, &LintSettings { squawk_rules: &[] }))
        })
        .collect()
}

/// The staged workdir, removed however the promotion ends.
struct StageDir(PathBuf);

impl Drop for StageDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Moves `target`'s head to `head` and records the checksum of every file up to it.
fn record_head(
    lock: &mut crate::lock::Lock,
    target: &str,
    files: &[Migration],
    head: Option<&str>,
    by: &str,
) -> anyhow::Result<()> {
    let Some(head) = head else { return Ok(()) };
    for m in files.iter().filter(|m| m.version.as_str() <= head) {
        if !lock.files.contains_key(&m.file_name) {
            lock.files.insert(
                m.file_name.clone(),
                migrations::checksum(&std::fs::read(&m.path).with_context(|| format!("reading {}", m.rel_path))?),
            );
        }
    }
    lock.targets.insert(
        target.to_string(),
        TargetState { head: head.to_string(), recorded_at: utc_now(), recorded_by: by.to_string() },
    );
    Ok(())
}

/// `dir/supabase/migrations/` holding exactly `applied` + `batch`, so the CLI cannot push anything unreviewed.
pub fn stage_workdir(dir: &Path, applied: &[&Migration], batch: &[&Migration]) -> anyhow::Result<PathBuf> {
    let migrations_dir = dir.join("supabase/migrations");
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(&migrations_dir).with_context(|| format!("creating {}", migrations_dir.display()))?;
    for m in applied.iter().chain(batch) {
        std::fs::copy(&m.path, migrations_dir.join(&m.file_name)).with_context(|| format!("staging {}", m.rel_path))?;
    }
    Ok(migrations_dir)
}

/// The CLI's list must be the reviewed batch, file for file and in order.
fn dry_run_mismatch(batch: &[&Migration], listed: &[String]) -> Option<String> {
    let ours: Vec<&str> = batch.iter().map(|m| m.file_name.as_str()).collect();
    (listed != ours.as_slice()).then(|| {
        format!("the CLI's dry-run would push [{}], but the reviewed batch is [{}]", listed.join(", "), ours.join(", "))
    })
}

/// The CLI's idea of its target must be ours: same host and port, or same project.
fn target_mismatch(remote: &Remote, reported: Option<&serde_json::Value>) -> Option<String> {
    let reported = reported?;
    match remote {
        Remote::Url(url) => {
            let authority = url.split("://").nth(1)?.split(['/', '?']).next()?;
            let host_port = authority.rsplit('@').next()?;
            let (host, port) = host_port.rsplit_once(':').map_or((host_port, "5432"), |(h, p)| (h, p));
            let same = reported["host"].as_str() == Some(host)
                && reported["port"].as_u64().map(|p| p.to_string()).as_deref() == Some(port);
            (!same).then(|| format!("{}:{} instead of {host}:{port}", reported["host"], reported["port"]))
        }
        Remote::Project(r) => {
            let theirs = reported["project_ref"].as_str()?;
            (theirs != r).then(|| format!("project {theirs} instead of {r}"))
        }
    }
}

fn confirm(target: &Resolved, count: usize, yes: bool) -> anyhow::Result<()> {
    // The embedded database is the xtask's own, recreated by `db reset`: nothing to protect.
    if yes || target.config.embedded {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Blocked("promote: confirmation required and there is no terminal: re-run with --yes (CI) or interactively. Nothing was pushed".into()).into());
    }
    let expected = if target.config.protected {
        target.config.project_ref.clone().unwrap_or_else(|| target.name.clone())
    } else {
        "y".to_string()
    };
    if target.config.protected {
        eprint!("Type `{expected}` to push {count} migration(s) to {}: ", target.name);
    } else {
        eprint!("Push {count} migration(s) to {}? [y/N] ", target.name);
    }
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() != expected {
        return Err(Blocked("promote: not confirmed; nothing was pushed".into()).into());
    }
    Ok(())
}

fn utc_now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(version: &str) -> Migration {
        Migration {
            version: version.into(),
            name: format!("m{version}"),
            file_name: format!("{version}_m.sql"),
            rel_path: format!("migrations/{version}_m.sql"),
            path: Default::default(),
        }
    }

    fn live(versions: &[&str]) -> Vec<Applied> {
        versions.iter().map(|v| Applied { version: v.to_string(), name: String::new() }).collect()
    }

    #[test]
    fn reconcile_accepts_sync_and_interrupted_prefixes_only() {
        let files = [m("1"), m("2"), m("3"), m("4")];
        let pending: Vec<&Migration> = files[2..].iter().collect();
        assert_eq!(reconcile(&files, Some("2"), &live(&["1", "2"]), &pending), Ok(Reconcile::InSync));
        assert_eq!(reconcile(&files, Some("2"), &live(&["1", "2", "3"]), &pending), Ok(Reconcile::Interrupted(1)));
        let err = reconcile(&files, Some("2"), &live(&["1", "2", "4"]), &pending).unwrap_err();
        assert!(err.contains("ahead of the recorded head 2 by 4"), "{err}");
        let err = reconcile(&files, Some("2"), &live(&["1", "2", "9"]), &pending).unwrap_err();
        assert!(err.starts_with("the target has migration(s) 9 that no file here has"), "{err}");
        let err = reconcile(&files, Some("2"), &live(&["2"]), &pending).unwrap_err();
        assert!(err.starts_with("1_m.sql recorded as applied"), "{err}");
    }

    #[test]
    fn outcome_splits_the_batch_at_the_first_unapplied_file() {
        let files = [m("3"), m("4"), m("5")];
        let batch: Vec<&Migration> = files.iter().collect();
        let live: BTreeSet<String> = ["1", "2", "3"].iter().map(|s| s.to_string()).collect();
        let (applied, failed, rest) = outcome(&batch, &live);
        assert_eq!((applied.len(), failed.map(|m| m.version.as_str()), rest.len()), (1, Some("4"), 1));
    }

    #[test]
    fn dry_run_list_must_equal_the_batch() {
        let files = [m("3"), m("4")];
        let batch: Vec<&Migration> = files.iter().collect();
        assert_eq!(dry_run_mismatch(&batch, &["3_m.sql".into(), "4_m.sql".into()]), None);
        assert_eq!(
            dry_run_mismatch(&batch, &["4_m.sql".into()]),
            Some("the CLI's dry-run would push [4_m.sql], but the reviewed batch is [3_m.sql, 4_m.sql]".into())
        );
        assert!(dry_run_mismatch(&batch, &["4_m.sql".into(), "3_m.sql".into()]).is_some(), "order matters");
    }

    #[test]
    fn target_mismatch_compares_host_port_and_project() {
        let url = Remote::Url("postgresql://u:p@127.0.0.1:5433/db".into());
        assert_eq!(
            target_mismatch(&url, Some(&serde_json::json!({"kind":"db-url","host":"127.0.0.1","port":5433}))),
            None
        );
        assert!(
            target_mismatch(&url, Some(&serde_json::json!({"kind":"db-url","host":"127.0.0.1","port":54322})))
                .is_some()
        );
        let project = Remote::Project("srcaoozjkrughebmbvfb".into());
        assert_eq!(
            target_mismatch(&project, Some(&serde_json::json!({"kind":"linked","project_ref":"srcaoozjkrughebmbvfb"}))),
            None
        );
        assert!(
            target_mismatch(&project, Some(&serde_json::json!({"kind":"linked","project_ref":"aaaaaaaaaaaaaaaaaaaa"})))
                .is_some()
        );
    }
}
