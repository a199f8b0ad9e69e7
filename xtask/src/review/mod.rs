//! `cargo xtask review --base REF`: what a branch's migrations will do to a target, before the merge. The files
//! it adds or changes since the merge base; `check`'s findings on them; the batch `promote` would push after the
//! target's recorded head, applied file by file on a local shadow at that head (the lock report, no production
//! access needed), joined with the target's table sizes when its credentials are present; and the safe form of
//! every flagged statement. With `--format github`, the review also goes to one pull-request comment.

mod report;

use crate::domain::major::Major;
use crate::domain::platform::RoleModel;
use crate::edges::postgres as pg;
use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use xshell::Shell;

use crate::check;
use crate::domain::exposure::ExposureReview;
use crate::domain::findings::Finding;
use crate::domain::history::batch;
use crate::domain::history::migrations::Migration;
use crate::domain::lint::sql::{self, Fact, LintCacheUse, LintScope, LintSettings};
use crate::domain::rewrites::{self, Context, Suggestion};
use crate::edges::os::git;
use crate::edges::output::report::Format;
use crate::edges::postgres::impact::{self, Size};
use crate::edges::repo::Repo;
use crate::edges::shadow::Shadow;
use crate::edges::supabase::cli::Cli;
use crate::edges::supabase::management_api::Access;
use crate::edges::target::{Resolved, exposure};
use crate::flags;

pub use report::{ChangedFile, Impact, ReviewReport, Sizes};

impl flags::Review {
    pub fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let github = self.output.format == Format::Github;
        let report = match review(sh, repo, &self.base, &self.target) {
            Ok(report) => report,
            Err(err) if github => {
                // The comment of an earlier push must not stand as if it were this one's.
                let why = crate::edges::output::redact::redact(&format!("{err:#}"));
                let body = format!(
                    "{}\n### Migration review for `{}`\n\n**The review failed:** {why}\n",
                    report::marker(&self.target),
                    self.target
                );
                crate::edges::github::publish(&report::marker(&self.target), &body);
                return Err(err);
            }
            Err(err) => return Err(err),
        };
        crate::edges::output::report::emit(&report, self.output.format)?;
        if github {
            let run = crate::edges::github::run_url();
            crate::edges::github::publish(&report::marker(&self.target), &report.comment_md(run.as_deref()));
        }
        report.verdict()
    }
}

/// The review of the branch checked out in `repo` against `base`, for target `name`.
pub fn review(sh: &Shell, repo: &Repo, base: &str, name: &str) -> anyhow::Result<ReviewReport> {
    repo.config.target(name)?;
    let merge_base = git::merge_base(sh, base)?;
    let dir = repo.migrations_rel();
    let files = changed_files(sh, &merge_base, &dir)?;
    // Every file read once: the check, the shadow, the lock report and the rewrites work from these bytes.
    let discovery = repo.discover()?;
    let check::Checked { report: checked, analyses } =
        check::check_files(repo, &discovery, LintScope::Pending, LintCacheUse::On)?;
    let changed: BTreeSet<&str> = files.iter().map(|f| f.file.as_str()).collect();
    let findings: Vec<Finding> = checked.findings.into_iter().filter(|f| changed.contains(f.file.as_str())).collect();
    let all = discovery.migrations;
    let lock = repo.lock()?;
    let head = lock.head(name).map(str::to_string);
    let pending = batch::pending(&all, head.as_deref(), None)?;
    let ours: Vec<&Migration> = pending.iter().copied().filter(|m| changed.contains(m.rel_path.as_str())).collect();
    let mut report = ReviewReport {
        base: base.to_string(),
        merge_base,
        target: name.to_string(),
        head: head.clone(),
        files: files.iter().map(|f| f.with_batch(&ours)).collect(),
        others_in_batch: pending.len() - ours.len(),
        findings,
        impact: Impact::Nothing,
        sizes: Sizes::Unavailable { why: String::new() },
        suggestions: Vec::new(),
        postgres: String::new(),
        roles: String::new(),
        stand_ins: Vec::new(),
        exposure: None,
    };
    if ours.is_empty() {
        return Ok(report);
    }
    let applied: Vec<&Migration> =
        all.iter().filter(|m| head.as_deref().is_some_and(|h| m.version.as_str() <= h)).collect();
    let (major, source) = shadow_major(repo, name, &lock)?;
    report.postgres = format!("{major} ({source})");
    let (model, source) = shadow_role_model(repo, name, &lock)?;
    report.roles = format!("{} ({source})", model.describe());
    let readable = readable(sh, repo, name);
    let setup = exposure::setup(repo, name, readable.as_ref().ok())?;
    let measured = measure(sh, repo, (major, model), (&applied, &pending), (&setup, &changed))?;
    (report.impact, report.stand_ins) = (measured.impact, measured.stand_ins);
    if let Some(review) = measured.exposure {
        let acks = exposure_acks(&pending, &analyses)?;
        report.exposure = Some(review.acknowledge(&acks).only_files(&changed));
    }
    if let Impact::Measured { files } = &mut report.impact {
        // The files the branch does not touch went first, as in the push; their locks are not shown.
        let names: BTreeSet<String> = ours.iter().map(|m| m.file_name.clone()).collect();
        files.retain(|f| names.contains(&f.file));
        let analysed = ours.iter().map(|m| analysis(m, &analyses)).collect::<anyhow::Result<Vec<_>>>()?;
        let supautils = repo.baseline()?.supautils();
        let analysed = ours.iter().copied().zip(analysed.iter().map(|a| &**a));
        *files = impact::for_target(std::mem::take(files), (model, &supautils), analysed);
    }
    report.sizes = match readable.and_then(|target| target_sizes(&target)) {
        Ok((from, sizes)) => {
            if let Impact::Measured { files } = &mut report.impact {
                *files = impact::with_sizes(std::mem::take(files), &sizes);
            }
            Sizes::Available { from }
        }
        Err(why) => Sizes::Unavailable { why },
    };
    report.suggestions = suggestions(&ours, &report.findings, &rewrite_context(&all))?;
    Ok(report)
}

/// The `.sql` files directly in the migrations folder that the branch adds, changes or deletes.
fn changed_files(sh: &Shell, merge_base: &str, dir: &str) -> anyhow::Result<Vec<ChangedFile>> {
    let prefix = format!("{}/", dir.trim_end_matches('/'));
    Ok(git::changed_since(sh, merge_base, dir)?
        .into_iter()
        .filter(|(_, path)| {
            path.strip_prefix(&prefix).is_some_and(|name| !name.contains('/') && name.ends_with(".sql"))
        })
        .map(|(change, file)| ChangedFile { file, change, in_batch: false })
        .collect())
}

/// What the batch does on a shadow at the target's head.
struct Measured {
    impact: Impact,
    stand_ins: Vec<String>,
    /// What it makes reachable through the Data API; `None` when the batch failed on the shadow.
    exposure: Option<ExposureReview>,
}

/// The lock report and the exposure review of the batch, on a shadow at the head given the target's grants; the
/// files the branch does not touch are applied too (they go first in the same push), their locks not shown. A
/// shadow that cannot be made is an error; a batch file that fails on it is the review's finding (`promote`
/// would refuse it too).
fn measure(
    sh: &Shell,
    repo: &Repo,
    shadow_of: (Major, RoleModel),
    (applied, pending): (&[&Migration], &[&Migration]),
    (setup, ours): (&exposure::Setup, &BTreeSet<&str>),
) -> anyhow::Result<Measured> {
    let cli = Cli::locate(sh, &repo.root)?;
    let (shadow, _) = Shadow::at_history(sh, repo, &cli, shadow_of, applied, "review")
        .context("building a local shadow at the target's recorded head (the applied files, replayed)")?;
    let inputs = (&setup.inputs.schemas[..], &setup.grants[..]);
    match pg::exposure::measure(shadow.url(), pending, inputs, pg::exposure::ReadAfter::Around(ours)) {
        Ok(measured) => {
            let stand_ins = pg::connect(shadow.url()).and_then(|mut c| pg::standins::in_database(&mut c))?;
            let review = crate::domain::exposure::judge(setup.inputs.clone(), &measured.before, &measured.after);
            Ok(Measured { impact: Impact::Measured { files: measured.impacts }, stand_ins, exposure: Some(review) })
        }
        Err(err) => Ok(Measured {
            impact: Impact::Failed { why: crate::edges::output::redact::redact(&format!("{err:#}")) },
            stand_ins: Vec::new(),
            exposure: None,
        }),
    }
}

/// A pending file's analysis: the one `check` made, else (a file it did not lint) made here.
fn analysis<'a>(m: &Migration, analyses: &'a check::Analyses) -> anyhow::Result<std::borrow::Cow<'a, sql::Analysis>> {
    Ok(match analyses.get(&m.file_name) {
        Some(analysis) => std::borrow::Cow::Borrowed(analysis),
        None => std::borrow::Cow::Owned(sql::analyze(m.text()?, &LintSettings { squawk_rules: &[] })),
    })
}

/// The `ack exposure` reasons of the batch's files, by path, from their analyses.
fn exposure_acks(pending: &[&Migration], analyses: &check::Analyses) -> anyhow::Result<BTreeMap<String, String>> {
    let analysed = pending.iter().map(|m| Ok((m.rel_path.as_str(), analysis(m, analyses)?)));
    let analysed = analysed.collect::<anyhow::Result<Vec<_>>>()?;
    Ok(crate::domain::exposure::acks(analysed.iter().map(|(f, a)| (*f, &a.directives))))
}

/// The role model the review's shadow runs under without reading the target: the one recorded for it in the
/// lock, a Supabase project's for the embedded default and hosted targets, else assumed (a URL target's is read
/// at its first promotion).
fn shadow_role_model(
    repo: &Repo,
    name: &str,
    lock: &crate::domain::history::lock::Lock,
) -> anyhow::Result<(RoleModel, String)> {
    if let Some(model) = lock.targets.get(name).and_then(|s| s.role_model) {
        return Ok((model, format!("recorded for {name} in the lock")));
    }
    let target = repo.config.target(name)?;
    if target.is_supabase() {
        return Ok((RoleModel::Platform, format!("{name} is a Supabase project")));
    }
    Ok((RoleModel::Platform, format!("assumed: nothing is recorded for {name} yet")))
}

/// The major the review's shadow runs without reading the target: the one recorded for it in the lock, the
/// embedded target's own, else the embedded default's, said to be assumed.
fn shadow_major(repo: &Repo, name: &str, lock: &crate::domain::history::lock::Lock) -> anyhow::Result<(Major, String)> {
    if let Some(major) = lock.targets.get(name).and_then(|s| s.major) {
        return Ok((major, format!("recorded for {name} in the lock")));
    }
    if repo.config.target(name)?.embedded {
        let (major, source) = repo.embedded_major(name)?;
        return Ok((major, source.to_string()));
    }
    let (major, _) = repo.default_major()?;
    Ok((major, format!("assumed: no major is recorded for {name} yet; the embedded default's")))
}

/// The target, when its credentials are at hand, or why it cannot be read: no credentials (a fork's pull request
/// has no secrets), or it could not be resolved.
fn readable<'a>(sh: &Shell, repo: &'a Repo, name: &str) -> Result<Resolved<'a>, String> {
    let config = repo.config.target(name).map_err(|e| e.to_string())?;
    let set = |var: &str| std::env::var(var).is_ok_and(|v| !v.is_empty());
    let url_env = config.db_url_env.as_deref();
    let has_url = url_env.is_some_and(set);
    let has_token = config.project_ref.is_some() && set(crate::edges::supabase::management_api::TOKEN_ENV);
    if !config.embedded && !has_url && !has_token {
        let mut vars: Vec<String> = url_env.map(|v| format!("${v}")).into_iter().collect();
        if config.project_ref.is_some() {
            vars.push(format!("${}", crate::edges::supabase::management_api::TOKEN_ENV));
        }
        let missing = match &vars[..] {
            [] => "none is configured".to_string(),
            [one] => format!("{one} is not set"),
            many => format!("neither {} is set", many.join(" nor ")),
        };
        return Err(format!("no credentials for {name} ({missing}; a pull request from a fork gets no secrets)"));
    }
    Resolved::resolve(sh, repo, name)
        .map_err(|e| crate::edges::output::redact::redact(&format!("{name} could not be read: {e:#}")))
}

/// The target's table sizes through a read-only session.
fn target_sizes(target: &Resolved) -> Result<(String, BTreeMap<String, Size>), String> {
    let read = || -> anyhow::Result<(String, BTreeMap<String, Size>)> {
        let direct = target.direct(Access::ReadOnly)?;
        let sizes = impact::target_sizes(&mut direct.connect()?)?;
        Ok((target.describe(), sizes))
    };
    read().map_err(|e| crate::edges::output::redact::redact(&format!("{} could not be read: {e:#}", target.name)))
}

/// What the rewrites need to know of the whole tree: the tables declared `PARTITION BY`.
pub fn rewrite_context(all: &[Migration]) -> Context {
    let mut ctx = Context::default();
    for m in all {
        let Ok(text) = m.text() else { continue };
        if !text.to_ascii_lowercase().contains("partition by") {
            continue;
        }
        for (_, fact) in crate::domain::lint::sql::analyze(text, &LintSettings { squawk_rules: &[] }).facts {
            if let Fact::CreateTable { name, partitioned: true, .. } = fact {
                ctx.partitioned.insert(name);
            }
        }
    }
    ctx
}

/// The safe form of each flagged statement of the branch's pending files.
fn suggestions(ours: &[&Migration], findings: &[Finding], ctx: &Context) -> anyhow::Result<Vec<Suggestion>> {
    let mut out = Vec::new();
    for m in ours {
        let theirs: Vec<Finding> = findings.iter().filter(|f| f.file == m.rel_path).cloned().collect();
        if theirs.is_empty() {
            continue;
        }
        out.extend(rewrites::suggest(&m.rel_path, m.text()?, &rewrites::flags(&theirs), ctx));
    }
    Ok(out)
}
