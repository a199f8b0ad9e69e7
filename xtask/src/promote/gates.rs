//! What must hold before anything is pushed: preconditions, the check gate, the partition phase gate, the
//! rehearsal, the extension preflight, the CLI's dry-run (its list and its target must be ours) and the
//! confirmation. Each refuses with `Blocked`, naming the fix; none of them writes to the target.

use crate::domain::refusal::Refusal;
use crate::edges::output::confirm::{self, Answer};
use std::collections::BTreeSet;

use crate::blocked::blocked;
use crate::check;
use crate::check::CheckReport;
use crate::domain::findings::{Code, Finding, Severity};
use crate::domain::history::migrations::Migration;
use crate::domain::lint::rules;
use crate::domain::lint::sql::Fact;
use crate::domain::lint::sql::{LintCacheUse, LintScope};
use crate::edges::os::git;
use crate::edges::postgres as pg;
use crate::edges::shadow::{Shadow, Template};
use crate::edges::supabase::cli::{self, Cli, Push, Remote, ReportedTarget};
use crate::edges::supabase::management_api::Access;
use crate::edges::target::{PROJECT_ID_ENV, Resolved, TOKEN_ENV};

use super::{Batch, Promotion};
use crate::edges::supabase::stage::Stage;
use crate::edges::target::history;

impl<'a> Promotion<'a> {
    /// The major the embedded database or the rehearsal is expected to run before any session says: the
    /// embedded target's, else the one recorded for the target, else the embedded default's.
    fn expected_major(&self, config: &crate::domain::config::Target) -> anyhow::Result<crate::domain::major::Major> {
        if config.embedded {
            return Ok(self.repo.embedded_major(&self.name)?.0);
        }
        match self.repo.lock()?.targets.get(&self.name).and_then(|s| s.major) {
            Some(major) => Ok(major),
            None => Ok(self.repo.default_major()?.0),
        }
    }

    /// Step 1: tools, credentials and a clean checkout, all reported at once. Runs `check` too; its findings
    /// are judged in step 2, on the batch.
    pub(super) fn preconditions(&mut self) -> anyhow::Result<(Cli, Resolved<'a>)> {
        let config = self.repo.config.target(&self.name)?;
        // A second name for a database must not reach it around the first name's gates: before anything else.
        crate::edges::target::check_aliases(&self.repo.config, &self.repo.lock()?, &self.name)?;
        let mut problems = Vec::new();
        let cli = Cli::locate(self.sh, &self.repo.root).map_err(|e| problems.push(format!("{e:#}"))).ok();
        if (config.embedded || config.protected)
            && let Err(e) = self.expected_major(config).and_then(pg::check_binaries)
        {
            let what = if config.protected { "rehearsal" } else { "embedded database" };
            problems.push(format!("{e:#} (needed for the {what})"));
        }
        let target = if problems.is_empty() || !config.embedded {
            Resolved::resolve(self.sh, self.repo, &self.name).map_err(|e| problems.push(format!("{e:#}"))).ok()
        } else {
            None
        };
        let token = std::env::var(TOKEN_ENV).unwrap_or_default();
        let hosted = matches!(target.as_ref().map(|t| &t.remote), Some(Remote::Project(_)));
        if hosted && !token.is_empty() {
            problems.extend(crate::edges::supabase::management_api::check_token(&token).err().map(|e| e.to_string()));
        }
        if hosted && token.is_empty() {
            problems.push(format!("{TOKEN_ENV} is not set: the hosted target is reached through the Management API (or set ${} to a direct URL)", config.db_url_env.as_deref().unwrap_or("<db_url_env>")));
        }
        if config.protected {
            problems.extend(clean_checkout(self.sh));
        }
        // Every file is read here, once: the check below, the stage, the rehearsal, the lock report and the
        // record all work from these bytes.
        let discovery = self.repo.discover()?;
        if config.protected {
            problems.extend(uncommitted_bytes(self.sh, self.repo, &discovery.migrations));
        }
        let report = check::check_files(self.repo, &discovery, LintScope::Pending, LintCacheUse::On)?.report;
        (self.checked, self.check_counts) = (report.findings, report.summary.counts());
        self.files = discovery.migrations;
        if let Some(target) = &target {
            self.record.endpoint = target.describe();
        }
        if let Some(project_ref) = config.project_ref.as_deref().filter(|_| config.protected)
            && std::env::var(PROJECT_ID_ENV).map_or(true, |v| v.is_empty())
        {
            eprintln!(
                "note: ${PROJECT_ID_ENV} is not set (the runbook lists it as a precondition); promoting project {project_ref} from xtask.toml. Set it in CI so a mismatch is caught"
            );
        }
        match (cli, target) {
            (Some(cli), Some(target)) if problems.is_empty() => {
                let cli = target.cli(&cli);
                self.record.cli_version = cli.version.to_string();
                self.record.git_commit = git::head_commit(self.sh);
                Ok((cli, target))
            }
            _ => Err(blocked(Refusal::Preconditions { problems })),
        }
    }

    /// The findings a gate judged, then the line of the whole check (its counts are of every finding, as the review
    /// lists them, not of these alone).
    fn show_findings(&self, judged: Vec<Finding>) {
        eprint!("{}", CheckReport::new(judged, self.check_counts).findings_text());
        eprint!("\n{}", CheckReport::new(self.checked.clone(), self.check_counts).summary_line());
    }

    /// Findings the CLI itself would fail on, or silently skip a file for, stop every target, protected or not,
    /// before any comparison with a database: a duplicate version or a file that does not parse is named as what
    /// it is, never as a difference from what the target ran. (Policy findings, judged by `check_gate` on the
    /// batch, stop protected targets only.)
    pub(super) fn push_breaking_gate(&self) -> anyhow::Result<()> {
        // Files after `--until` are not staged, so the CLI never sees them.
        let beyond: BTreeSet<&str> = self
            .files
            .iter()
            .filter(|m| self.options.until.as_deref().is_some_and(|until| m.version.as_str() > until))
            .map(|m| m.rel_path.as_str())
            .collect();
        let breaking: Vec<Finding> = crate::domain::history::live::before_comparison(&self.checked)
            .into_iter()
            .filter(|f| !beyond.contains(f.file.as_str()))
            .collect();
        if breaking.is_empty() {
            return Ok(());
        }
        self.show_findings(breaking.clone());
        Err(blocked(Refusal::PushBreakingFindings { count: breaking.len() }))
    }

    /// The check gate judges what this promotion pushes. Blocking findings in pending files beyond `--until`
    /// are shown and do not block; anything else blocking (in the batch, or about the tree) does, on a
    /// protected target. The partition phase mix is judged on the batch by `phase_gate`.
    pub(super) fn check_gate(&mut self, target: &Resolved, plan: &Batch) -> anyhow::Result<()> {
        let (blocking, beyond) = split_blocking(&self.checked, &plan.beyond);
        let batch_files: BTreeSet<&str> = plan.batch.iter().map(|m| m.rel_path.as_str()).collect();
        self.record.findings = self
            .checked
            .iter()
            .filter(|f| batch_files.contains(f.file.as_str()) && f.severity != Severity::Off)
            .cloned()
            .collect();
        if !beyond.is_empty() {
            self.show_findings(beyond.clone());
            eprintln!(
                "note: {} blocking finding(s) above are in pending files beyond --until; they are not promoted now and do not block",
                beyond.len()
            );
        }
        if blocking.is_empty() {
            return Ok(());
        }
        self.show_findings(blocking.clone());
        if target.config.protected {
            return Err(blocked(Refusal::PromoteFindings { count: blocking.len() }));
        }
        eprintln!(
            "note: {} is not protected, so these findings do not stop this promotion; they would stop a protected one",
            target.name
        );
        Ok(())
    }

    /// The runbook: never phase-1 partition setup and phase-2 cutover in one promotion batch.
    pub(super) fn phase_gate(&self, target: &Resolved, plan: &Batch) -> anyhow::Result<()> {
        let pairs: Vec<(&Migration, &crate::domain::lint::sql::Analysis)> =
            plan.batch.iter().zip(&plan.analyses).collect();
        let mixed: Vec<_> =
            rules::partition_phase_mix(&pairs).into_iter().filter(|f| f.code == Code::PartitionPhaseMix).collect();
        if mixed.is_empty() {
            return Ok(());
        }
        let last_phase_one = rules::partition_phases(&pairs)
            .iter()
            .filter(|(_, _, phase)| matches!(phase, rules::Phase::One(_)))
            .map(|(i, _, _)| plan.batch[*i].version.clone())
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
            return Err(blocked(Refusal::PhaseMix { what, until: until.to_string() }));
        }
        eprintln!("note: {what}; allowed on {} (not protected), refused on a protected target", target.name);
        Ok(())
    }

    /// Step 4 on protected targets: on the target named by `rehearse_on` (the batch must already be applied
    /// there, statement for statement), or by default on a throwaway local database.
    pub(super) fn rehearse(&mut self, cli: &Cli, target: &Resolved, plan: &Batch) -> anyhow::Result<()> {
        match target.config.rehearse_on.as_deref() {
            None | Some("local") => self.rehearse_locally(cli, target, plan),
            Some(other) => {
                self.rehearsed_on(other, plan)?;
                self.rehearse_rollbacks_locally(cli, target, plan)
            }
        }
    }

    /// A cutover rehearsed on `rehearse_on` still has its rollback rehearsed here, on a local shadow at the head.
    fn rehearse_rollbacks_locally(&mut self, cli: &Cli, target: &Resolved, plan: &Batch) -> anyhow::Result<()> {
        if self.record.cutover.as_ref().is_none_or(|c| c.files.is_empty()) {
            return Ok(());
        }
        let (at_head, _) =
            Shadow::at_history(self.sh, self.repo, cli, target.shadow_of()?, &plan.applied(), "rollback")?;
        self.rehearse_rollbacks(&at_head, plan)
    }

    /// The batch as applied on `other`: every file in its history, with the statements this checkout holds.
    fn rehearsed_on(&mut self, other: &str, plan: &Batch) -> anyhow::Result<()> {
        let evidence = Resolved::resolve(self.sh, self.repo, other)?;
        let direct = evidence.direct(Access::ReadOnly)?;
        let applied = history::read_statements(&mut direct.connect()?)?;
        let mut problems = Vec::new();
        for m in &plan.batch {
            let text = m.text()?;
            match applied.get(&m.version) {
                None => problems.push(format!("{} is not applied on {other}", m.file_name)),
                // Compared as the live history is: a comment edited since is no difference.
                Some(statements)
                    if crate::domain::history::statements::first_difference(text, statements)
                        != crate::domain::history::statements::Verdict::Same =>
                {
                    problems.push(format!("{} differs on {other} from this checkout", m.file_name))
                }
                Some(_) => {}
            }
        }
        if !problems.is_empty() {
            return Err(blocked(Refusal::NotRehearsed { other: other.to_string(), problems: problems.join("; ") }));
        }
        self.record.rehearsal = Some(format!(
            "applied on {other} ({}) with identical statements: {} file(s)",
            evidence.describe(),
            plan.batch.len()
        ));
        Ok(())
    }

    /// What the target has, then the batch, replayed on a throwaway local database, so a failure names the part.
    /// Then, on a copy taken at the head, each batch file applied in its own transaction: the lock report.
    fn rehearse_locally(&mut self, cli: &Cli, target: &Resolved, plan: &Batch) -> anyhow::Result<()> {
        let (applied, batch) = (plan.applied(), plan.batch());
        let (major, model) = target.shadow_of()?;
        self.record.postgres = Some(major.number());
        self.record.role_model = Some(model);
        self.note_history(model, &applied);
        let refused = |part: &str, err: anyhow::Error| {
            blocked(Refusal::RehearsalFailed {
                part: part.to_string(),
                target: self.name.clone(),
                error: format!("{err:#}"),
            })
        };
        let (shadow, template) = {
            let _spinner =
                crate::edges::output::progress::Spinner::start("rehearsing the applied history", self.options.format);
            Shadow::at_history(self.sh, self.repo, cli, (major, model), &applied, "rehearsal")
                .map_err(|e| refused("applied history", e))?
        };
        eprintln!(
            "       history: {}",
            match template {
                Template::Copied => "copied from the template kept at this head",
                Template::Built => "replayed, and kept as a template for the next rehearsal at this head",
            }
        );
        let at_head = shadow.twin("impact")?;
        {
            let _spinner = crate::edges::output::progress::Spinner::start("rehearsing the batch", self.options.format);
            shadow.replay(self.sh, cli, &applied, &batch).map_err(|e| refused("batch", e))?;
        }
        self.check_ownership(target, plan)?;
        self.record.rehearsal = Some(format!("passed on a local PostgreSQL {major} shadow (history + batch)"));
        self.note_stand_ins(shadow.url());
        self.rehearse_rollbacks(&at_head, plan)?;
        self.measure_impact(target, &at_head, plan);
        Ok(())
    }

    /// The lock and rewrite report; it informs the review, so a failure to measure is said, not fatal.
    fn measure_impact(&mut self, target: &Resolved, at_head: &Shadow, plan: &Batch) {
        let _spinner =
            crate::edges::output::progress::Spinner::start("measuring locks and rewrites", self.options.format);
        let measured = pg::impact::measure(at_head.url(), &plan.batch()).and_then(|impacts| {
            let direct = target.direct(Access::ReadOnly)?;
            let sizes = pg::impact::target_sizes(&mut direct.connect()?)?;
            let files = plan.batch.iter().zip(&plan.analyses);
            let supautils = self.repo.baseline()?.supautils();
            let on = (target.role_model()?, &supautils);
            Ok(pg::impact::for_target(pg::impact::with_sizes(impacts, &sizes), on, files))
        });
        match measured {
            Ok(impacts) => self.record.impact = impacts,
            Err(err) => {
                eprintln!(
                    "warning: the lock report could not be made: {}",
                    crate::edges::output::redact::redact(&format!("{err:#}"))
                )
            }
        }
    }

    /// Names every extension the batch creates that the target server cannot provide, before anything runs.
    pub(super) fn preflight_extensions(&mut self, target: &Resolved, plan: &Batch) -> anyhow::Result<()> {
        let wanted: BTreeSet<(String, String)> = plan
            .batch
            .iter()
            .zip(&plan.analyses)
            .flat_map(|(m, analysis)| {
                analysis.facts.iter().filter_map(move |(_, fact)| match fact {
                    Fact::CreateExtension(name) => Some((name.clone(), m.file_name.clone())),
                    _ => None,
                })
            })
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let direct = target.direct(Access::ReadOnly)?;
        let mut client = direct.connect()?;
        let available: BTreeSet<String> =
            client.query("select name from pg_available_extensions", &[])?.iter().map(|r| r.get(0)).collect();
        let missing: Vec<String> =
            wanted.iter().filter(|(n, _)| !available.contains(n)).map(|(n, f)| format!("{n} (in {f})")).collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(blocked(Refusal::MissingExtensions { missing }))
    }

    /// Step 5: the CLI's own dry-run against the target. Its list must be the batch and its target ours.
    pub(super) fn dry_run(
        &mut self,
        cli: &Cli,
        target: &Resolved,
        remote: &Remote,
        stage: &Stage,
        plan: &Batch,
    ) -> anyhow::Result<()> {
        if let Remote::Project(project_ref) = &target.remote {
            cli.link(self.sh, stage.path(), project_ref)?;
        }
        let out = cli.push(self.sh, stage.path(), remote, Push::DryRun)?;
        self.record.dry_run_transcript = out.transcript.clone();
        self.record.dry_run = out.migrations.clone();
        if let Some(err) = &out.error {
            return Err(blocked(Refusal::DryRunFailed { explained: cli::explain(err) }));
        }
        if let Some(why) = dry_run_mismatch(&plan.batch(), &out.migrations) {
            return Err(blocked(Refusal::DryRunList { why }));
        }
        if let Some(mismatch) = target_mismatch(remote, out.target.as_ref()) {
            return Err(blocked(Refusal::DryRunTarget { mismatch }));
        }
        Ok(())
    }

    /// Default No; `--yes` for CI; protected targets ask for the project ref to be typed; the embedded target
    /// asks nothing (it is the xtask's own database, recreated by `db reset`).
    pub(super) fn confirm(&self, target: &Resolved, count: usize) -> anyhow::Result<()> {
        if self.options.yes || target.config.embedded {
            return Ok(());
        }
        let expected = match (target.config.protected, &target.config.project_ref) {
            (true, Some(project_ref)) => project_ref.clone(),
            (true, None) => target.name.clone(),
            (false, _) => "y".to_string(),
        };
        let prompt = if target.config.protected {
            format!("Type `{expected}` to push {count} migration(s) to {}: ", target.name)
        } else {
            format!("Push {count} migration(s) to {}? [y/N] ", target.name)
        };
        match confirm::ask(&prompt, &expected)? {
            Answer::Confirmed => {}
            Answer::NoTerminal => {
                return Err(blocked(Refusal::PromoteNoTerminal));
            }
            Answer::Refused => return Err(blocked(Refusal::PromoteNotConfirmed)),
        }
        Ok(())
    }
}

/// Problems with the checkout a protected target is promoted from.
fn clean_checkout(sh: &xshell::Shell) -> Option<String> {
    match git::dirty_paths(sh) {
        Err(_) => Some("not a git checkout: a protected target is promoted only from a clean checkout".to_string()),
        Ok(dirty) if !dirty.is_empty() => Some(format!(
            "the checkout is not clean ({}{}): commit or stash, so what is pushed is what was reviewed",
            dirty.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
            if dirty.len() > 5 { ", ..." } else { "" }
        )),
        Ok(_) => None,
    }
}

/// For a protected target, the bytes that will be pushed must be the ones committed at `HEAD` (a clean checkout
/// says so for the moment it is looked at; this compares the very bytes read): each file's git blob id.
fn uncommitted_bytes(sh: &xshell::Shell, repo: &crate::edges::repo::Repo, files: &[Migration]) -> Vec<String> {
    let committed = match git::committed_blobs(sh, &repo.migrations_rel()) {
        Ok(committed) => committed,
        Err(e) => return vec![format!("the committed migrations could not be read from git ({e:#})")],
    };
    let differing: Vec<&str> = files
        .iter()
        .filter(|m| committed.get(&m.file_name) != Some(&git::blob_id(m.bytes())))
        .map(|m| m.file_name.as_str())
        .collect();
    if differing.is_empty() {
        return Vec::new();
    }
    vec![format!(
        "{} not as committed at HEAD: commit them, so what is pushed is what was reviewed",
        differing.join(", ")
    )]
}

/// The blocking findings that stop this promotion, and those in pending files beyond `--until` that do not.
/// The partition phase mix is left out of both: `phase_gate` judges it on the batch.
pub(super) fn split_blocking(findings: &[Finding], beyond: &[Migration]) -> (Vec<Finding>, Vec<Finding>) {
    let beyond: BTreeSet<&str> = beyond.iter().map(|m| m.rel_path.as_str()).collect();
    findings
        .iter()
        .filter(|f| f.severity == Severity::Error && f.code != Code::PartitionPhaseMix)
        .cloned()
        .partition(|f| !beyond.contains(f.file.as_str()))
}

/// The CLI's list must be the reviewed batch, file for file and in order.
pub(super) fn dry_run_mismatch(batch: &[&Migration], listed: &[String]) -> Option<String> {
    let ours: Vec<&str> = batch.iter().map(|m| m.file_name.as_str()).collect();
    (listed != ours.as_slice()).then(|| {
        format!("the CLI's dry-run would push [{}], but the reviewed batch is [{}]", listed.join(", "), ours.join(", "))
    })
}

/// The CLI's idea of its target must be ours: same host and port, or same project. It fails closed: a target the
/// CLI does not report, or reports without a host or project, is a mismatch.
pub(super) fn target_mismatch(remote: &Remote, reported: Option<&ReportedTarget>) -> Option<String> {
    let Some(reported) = reported else { return Some("no target at all (the CLI reported none)".into()) };
    match remote {
        Remote::Url(url) => {
            let ours = url::Url::parse(url).ok().and_then(|parsed| {
                Some((parsed.host_str()?.trim_matches(['[', ']']).to_string(), parsed.port().unwrap_or(5432)))
            });
            let Some((host, port)) = ours else { return Some(format!("{reported}, and our URL names no host")) };
            let same = reported.host.as_deref() == Some(host.as_str()) && reported.port == Some(port);
            (!same).then(|| format!("{reported} instead of {host}:{port}"))
        }
        Remote::Project(r) => match reported.project_ref.as_deref() {
            Some(theirs) if theirs == r => None,
            Some(theirs) => Some(format!("project {theirs} instead of {r}")),
            None => Some(format!("{reported} instead of project {r}")),
        },
    }
}
