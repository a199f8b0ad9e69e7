//! What must hold before anything is pushed: step 1's preconditions and connection, step 2's gates (the push
//! breaking findings, the check gate, the partition phase gate), the extension preflight, the CLI's dry-run (its
//! list and its target must be ours) and the confirmation. Each refuses with `Blocked`, naming the fix; none of
//! them writes to the target. Each returns what it learned; `super::Learned` keeps it.

use crate::edges::output::confirm::{self, Answer};
use std::collections::BTreeSet;

use crate::blocked::blocked;
use crate::check;
use crate::check::{CheckReport, Checked};
use crate::domain::findings::{Code, Finding, Severity};
use crate::domain::history::identity::Identity;
use crate::domain::history::migrations::Migration;
use crate::domain::lint::rules;
use crate::domain::lint::sql::Fact;
use crate::domain::lint::sql::{LintCacheUse, LintScope};
use crate::domain::refusal::Refusal;
use crate::edges::os::git;
use crate::edges::postgres as pg;
use crate::edges::postgres::pooler::Connection;
use crate::edges::supabase::cli::{self, Cli, Push, PushOutput, Remote, ReportedTarget};
use crate::edges::supabase::management_api::Access;
use crate::edges::supabase::stage::Stage;
use crate::edges::target::{PROJECT_ID_ENV, Resolved, TOKEN_ENV};

use super::Ctx;
use super::notes::{self, Noted};
use super::plan::Plan;

/// What step 1 found: the CLI and the target, ready; every migration file, read once; the check run on them (its
/// findings judged in step 2 on the batch and shown in the review, its analyses the batch's).
pub(super) struct Ready<'a> {
    pub cli: Cli,
    pub target: Resolved<'a>,
    pub checked: Checked,
    pub files: Vec<Migration>,
    pub tools: Tools,
}

/// What the record names the promotion's tools by.
pub(super) struct Tools {
    pub cli_version: String,
    pub git_commit: Option<String>,
}

/// The database the target is (pinned in the lock when the head is recorded), and a `--repin`'s account.
pub(super) struct Pinned {
    pub seen: Option<Identity>,
    pub repinned: Option<String>,
}

/// How the target is reached, and its major and role model when a URL target says them at once.
pub(super) struct Connected {
    pub connection: Option<Connection>,
    pub noted: Noted,
}

/// What the CLI's dry-run listed, and its transcript.
pub(super) struct DryRun {
    pub listed: Vec<String>,
    pub transcript: String,
}

impl From<PushOutput> for DryRun {
    fn from(out: PushOutput) -> DryRun {
        DryRun { listed: out.migrations, transcript: out.transcript }
    }
}

/// The major the embedded database or the rehearsal is expected to run before any session says: the embedded
/// target's, else the one recorded for the target, else the embedded default's.
fn expected_major(ctx: &Ctx, config: &crate::domain::config::Target) -> anyhow::Result<crate::domain::major::Major> {
    if config.embedded {
        return Ok(ctx.repo.embedded_major(ctx.name)?.0);
    }
    match ctx.repo.lock()?.targets.get(ctx.name).and_then(|s| s.major) {
        Some(major) => Ok(major),
        None => Ok(ctx.repo.default_major()?.0),
    }
}

/// Step 1: tools, credentials and a clean checkout, all reported at once. Runs `check` too; its findings are
/// judged in step 2, on the batch. Returns the target as people see it (once resolved) whatever the outcome.
pub(super) fn preconditions<'a>(ctx: &Ctx<'a>) -> (String, anyhow::Result<Ready<'a>>) {
    let found = match look(ctx) {
        Ok(found) => found,
        Err(err) => return (String::new(), Err(err)),
    };
    let endpoint = found.target.as_ref().map(Resolved::describe).unwrap_or_default();
    let ready = match (found.cli, found.target) {
        (Some(cli), Some(target)) if found.problems.is_empty() => {
            let cli = target.cli(&cli);
            let tools = Tools { cli_version: cli.version.to_string(), git_commit: git::head_commit(ctx.sh) };
            Ok(Ready { cli, target, checked: found.checked, files: found.files, tools })
        }
        _ => Err(blocked(Refusal::Preconditions { problems: found.problems })),
    };
    (endpoint, ready)
}

/// What step 1 looked at, with every problem found.
struct Found<'a> {
    cli: Option<Cli>,
    target: Option<Resolved<'a>>,
    problems: Vec<String>,
    checked: Checked,
    files: Vec<Migration>,
}

fn look<'a>(ctx: &Ctx<'a>) -> anyhow::Result<Found<'a>> {
    let config = ctx.repo.config.target(ctx.name)?;
    // A second name for a database must not reach it around the first name's gates: before anything else.
    crate::edges::target::check_aliases(&ctx.repo.config, &ctx.repo.lock()?, ctx.name)?;
    let mut problems = Vec::new();
    let cli = Cli::locate(ctx.sh, &ctx.repo.root).map_err(|e| problems.push(format!("{e:#}"))).ok();
    if (config.embedded || config.protected)
        && let Err(e) = expected_major(ctx, config).and_then(pg::check_binaries)
    {
        let what = if config.protected { "rehearsal" } else { "embedded database" };
        problems.push(format!("{e:#} (needed for the {what})"));
    }
    let target = if problems.is_empty() || !config.embedded {
        Resolved::resolve(ctx.sh, ctx.repo, ctx.name).map_err(|e| problems.push(format!("{e:#}"))).ok()
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
        problems.extend(clean_checkout(ctx.sh));
    }
    // Every file is read here, once: the check below, the stage, the rehearsal, the lock report and the
    // record all work from these bytes.
    let discovery = ctx.repo.discover()?;
    if config.protected {
        problems.extend(uncommitted_bytes(ctx.sh, ctx.repo, &discovery.migrations));
    }
    let checked = check::check_files(ctx.repo, &discovery, LintScope::Pending, LintCacheUse::On)?;
    if let Some(project_ref) = config.project_ref.as_deref().filter(|_| config.protected)
        && std::env::var(PROJECT_ID_ENV).map_or(true, |v| v.is_empty())
    {
        eprintln!(
            "note: ${PROJECT_ID_ENV} is not set (the runbook lists it as a precondition); promoting project {project_ref} from xtask.toml. Set it in CI so a mismatch is caught"
        );
    }
    Ok(Found { cli, target, problems, checked, files: discovery.migrations })
}

/// Before anything reads the target: it must be the database pinned in the lock, and no other name for it may
/// disagree. Then how it is reached is decided (a hosted project: its direct host, else its pooler in session
/// mode); unreachable both ways is an error naming each attempt. The pin is returned whatever the outcome.
pub(super) fn connect(ctx: &Ctx, target: &Resolved) -> (Option<Pinned>, anyhow::Result<Connected>) {
    let pinned = ctx.repo.lock().and_then(|lock| {
        let seen = target.check_pin(&lock, ctx.options.repin.is_some())?;
        let repinned = ctx.options.repin.as_ref().map(|reason| {
            let before = lock.targets.get(ctx.name).and_then(|s| s.pinned());
            let repinned = format!(
                "from {} to {}: {reason}",
                before.map_or_else(|| "(nothing pinned)".to_string(), |p| p.to_string()),
                seen.as_ref().map_or_else(|| "(no identity)".to_string(), ToString::to_string)
            );
            eprintln!("re-pinning {}: {repinned}", ctx.name);
            repinned
        });
        Ok(Pinned { seen, repinned })
    });
    let pinned = match pinned {
        Ok(pinned) => pinned,
        Err(err) => return (None, Err(err)),
    };
    let noted = match &target.remote {
        Remote::Project(_) => match target.route() {
            Ok(_) => Noted::default(),
            Err(err) => return (Some(pinned), Err(err)),
        },
        Remote::Url(_) => notes::major(target, Noted::default()),
    };
    (Some(pinned), Ok(Connected { connection: target.connection(), noted }))
}

/// The findings a gate judged, then the line of the whole check (its counts are of every finding, as the review
/// lists them, not of these alone).
fn show_findings(checked: &Checked, judged: Vec<Finding>) {
    eprint!("{}", CheckReport::new(judged, checked.report.summary.counts()).findings_text());
    eprint!("\n{}", checked.report.summary_line());
}

/// Findings the CLI itself would fail on, or silently skip a file for, stop every target, protected or not,
/// before any comparison with a database: a duplicate version or a file that does not parse is named as what it
/// is, never as a difference from what the target ran. (Policy findings, judged by `check_gate` on the batch,
/// stop protected targets only.)
pub(super) fn push_breaking_gate(ctx: &Ctx, checked: &Checked, files: &[Migration]) -> anyhow::Result<()> {
    // Files after `--until` are not staged, so the CLI never sees them.
    let beyond: BTreeSet<&str> = files
        .iter()
        .filter(|m| ctx.options.until.as_deref().is_some_and(|until| m.version.as_str() > until))
        .map(|m| m.rel_path.as_str())
        .collect();
    let breaking: Vec<Finding> = crate::domain::history::live::before_comparison(&checked.report.findings)
        .into_iter()
        .filter(|f| !beyond.contains(f.file.as_str()))
        .collect();
    if breaking.is_empty() {
        return Ok(());
    }
    show_findings(checked, breaking.clone());
    Err(blocked(Refusal::PushBreakingFindings { count: breaking.len() }))
}

/// The findings in the batch's files: the review lists them and the record keeps them.
pub(super) fn batch_findings(checked: &Checked, plan: &Plan) -> Vec<Finding> {
    let batch_files: BTreeSet<&str> = plan.batch().iter().map(|m| m.rel_path.as_str()).collect();
    checked
        .report
        .findings
        .iter()
        .filter(|f| batch_files.contains(f.file.as_str()) && f.severity != Severity::Off)
        .cloned()
        .collect()
}

/// The check gate judges what this promotion pushes. Blocking findings in pending files beyond `--until` are
/// shown and do not block; anything else blocking (in the batch, or about the tree) does, on a protected
/// target. The partition phase mix is judged on the batch by `phase_gate`.
pub(super) fn check_gate(target: &Resolved, checked: &Checked, plan: &Plan) -> anyhow::Result<()> {
    let (blocking, beyond) = split_blocking(&checked.report.findings, plan.beyond());
    if !beyond.is_empty() {
        show_findings(checked, beyond.clone());
        eprintln!(
            "note: {} blocking finding(s) above are in pending files beyond --until; they are not promoted now and do not block",
            beyond.len()
        );
    }
    if blocking.is_empty() {
        return Ok(());
    }
    show_findings(checked, blocking.clone());
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
pub(super) fn phase_gate(target: &Resolved, plan: &Plan) -> anyhow::Result<()> {
    let pairs: Vec<(&Migration, &crate::domain::lint::sql::Analysis)> = plan.analysed().collect();
    let mixed: Vec<_> =
        rules::partition_phase_mix(&pairs).into_iter().filter(|f| f.code == Code::PartitionPhaseMix).collect();
    if mixed.is_empty() {
        return Ok(());
    }
    let last_phase_one = rules::partition_phases(&pairs)
        .iter()
        .filter(|(_, _, phase)| matches!(phase, rules::Phase::One(_)))
        .map(|(i, _, _)| plan.batch()[*i].version.clone())
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

/// Names every extension the batch creates that the target server cannot provide, before anything runs.
pub(super) fn preflight_extensions(target: &Resolved, plan: &Plan) -> anyhow::Result<()> {
    let wanted: BTreeSet<(String, String)> = plan
        .analysed()
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

/// Step 6: the CLI's own dry-run against the target; `judge_dry_run` holds it to the batch and the target.
pub(super) fn dry_run(
    ctx: &Ctx,
    cli: &Cli,
    target: &Resolved,
    remote: &Remote,
    stage: &Stage,
) -> anyhow::Result<PushOutput> {
    if let Remote::Project(project_ref) = &target.remote {
        cli.link(ctx.sh, stage.path(), project_ref)?;
    }
    cli.push(ctx.sh, stage.path(), remote, Push::DryRun)
}

/// The dry-run must have succeeded, listed the batch and aimed at our target.
pub(super) fn judge_dry_run(out: &PushOutput, batch: &[&Migration], remote: &Remote) -> anyhow::Result<()> {
    if let Some(err) = &out.error {
        return Err(blocked(Refusal::DryRunFailed { explained: cli::explain(err) }));
    }
    if let Some(why) = dry_run_mismatch(batch, &out.migrations) {
        return Err(blocked(Refusal::DryRunList { why }));
    }
    if let Some(mismatch) = target_mismatch(remote, out.target.as_ref()) {
        return Err(blocked(Refusal::DryRunTarget { mismatch }));
    }
    Ok(())
}

/// Default No; `--yes` for CI; protected targets ask for the project ref to be typed; the embedded target asks
/// nothing (it is the xtask's own database, recreated by `db reset`).
pub(super) fn confirm(ctx: &Ctx, target: &Resolved, count: usize) -> anyhow::Result<()> {
    let what = format!("push {count} migration(s) to {}", target.name);
    ask(ctx, target, &what, (Refusal::PromoteNoTerminal, Refusal::PromoteNotConfirmed))
}

/// The confirmation of `what` (`push 3 migration(s) to prod`): the project ref (or the name) typed on a protected
/// target, `y` on another; `refused` says which refusal answers no terminal, and which a no.
pub(super) fn ask(ctx: &Ctx, target: &Resolved, what: &str, refused: (Refusal, Refusal)) -> anyhow::Result<()> {
    if ctx.options.yes || target.config.embedded {
        return Ok(());
    }
    let expected = match (target.config.protected, &target.config.project_ref) {
        (true, Some(project_ref)) => project_ref.clone(),
        (true, None) => target.name.clone(),
        (false, _) => "y".to_string(),
    };
    let prompt = if target.config.protected {
        format!("Type `{expected}` to {what}: ")
    } else {
        let mut chars = what.chars();
        let first = chars.next().map(|c| c.to_uppercase().collect::<String>()).unwrap_or_default();
        format!("{first}{}? [y/N] ", chars.as_str())
    };
    let (no_terminal, not_confirmed) = refused;
    match confirm::ask(&prompt, &expected)? {
        Answer::Confirmed => Ok(()),
        Answer::NoTerminal => Err(blocked(no_terminal)),
        Answer::Refused => Err(blocked(not_confirmed)),
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
pub(super) fn split_blocking(findings: &[Finding], beyond: &[&Migration]) -> (Vec<Finding>, Vec<Finding>) {
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
