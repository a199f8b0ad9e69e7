//! `cargo xtask check`: every local rule over the tree, every offender reported in one run.

mod cache;
pub mod platform;
pub mod report;

use std::collections::HashMap;

use rayon::prelude::*;
use xshell::Shell;

use crate::domain::findings::{Code, Finding, LineIndex, Severity};
use crate::domain::history::lock::Lock;
use crate::domain::history::migrations::{self, Migration};
use crate::domain::lint::rules;
use crate::domain::lint::sql::{self, Analysis, LintCacheUse, LintScope, LintSettings};
use crate::edges::repo::Repo;
use crate::flags;

use cache::{LintCache, content_hash};
pub use report::{CheckReport, Counts};

impl flags::Check {
    pub fn run(self, _sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let cache = if self.no_cache { LintCacheUse::Off } else { LintCacheUse::On };
        let report = check(repo, self.lint, cache)?;
        crate::edges::output::report::emit(&report, self.output.format)?;
        report.verdict()
    }
}

/// One file's share of the check: its checksum when the lock knows it, its analysis (and the hash the cache
/// keeps it under) when it is linted.
struct Loaded {
    checksum: Option<String>,
    analysis: Option<(String, Analysis)>,
    /// Whether the analysis came from the lint cache.
    cached: bool,
    findings: Vec<Finding>,
}

/// What `check` found, and the analysis of each file it linted: a promotion takes these instead of parsing its
/// batch again (the squawk findings ride along; the facts are the same as a squawk-free parse's).
pub struct Checked {
    pub report: CheckReport,
    pub analyses: Analyses,
}

/// Each linted file's analysis, by file name.
#[derive(Debug, Default)]
pub struct Analyses(HashMap<String, Analysis>);

impl Analyses {
    pub fn get(&self, file_name: &str) -> Option<&Analysis> {
        self.0.get(file_name)
    }
}

pub fn check(repo: &Repo, scope: LintScope, cache: LintCacheUse) -> anyhow::Result<CheckReport> {
    Ok(check_files(repo, &repo.discover()?, scope, cache)?.report)
}

/// `check` over files already listed and read (a promotion's): what is judged is exactly what the promotion
/// goes on to stage and push.
pub fn check_files(
    repo: &Repo,
    discovery: &migrations::Discovery,
    scope: LintScope,
    cache: LintCacheUse,
) -> anyhow::Result<Checked> {
    let lock = repo.lock()?;
    let overrides = repo.config.severities();
    let squawk_rules = rules::squawk_rules(&overrides);
    let settings = LintSettings { squawk_rules: &squawk_rules };
    let cache = match cache {
        LintCacheUse::On => LintCache::open(repo.check_cache_path(), &squawk_rules),
        LintCacheUse::Off => LintCache::off(),
    };
    let max_bytes = repo.config.max_file_bytes();
    let migrations = &discovery.migrations;
    let listing = discovery.listing();

    let lint_it = |m: &Migration| scope == LintScope::All || is_pending_somewhere(m, &lock);
    let loaded: Vec<Loaded> = migrations
        .par_iter()
        .map(|m| load(m, lint_it(m), lock.files.contains_key(&m.file_name), max_bytes, (&settings, &cache)))
        .collect();

    let mut findings = discovery.findings.clone();
    findings.extend(discovery.unread.iter().map(|u| u.why.finding(&u.file.rel_path)));
    findings.extend(rules::file_names(&listing, chrono::Utc::now().naive_utc()));
    findings.extend(rules::duplicate_versions(&listing));
    findings.extend(rules::out_of_order(&listing, &lock));
    // File name -> checksum; `None` for a file present but unreadable (reported as such, not as missing).
    let current: HashMap<&str, Option<&str>> = migrations
        .iter()
        .zip(&loaded)
        .map(|(m, l)| (m.file_name.as_str(), l.checksum.as_deref()))
        .chain(discovery.unread.iter().map(|u| (u.file.file_name.as_str(), None)))
        .collect();
    findings.extend(rules::applied_history(&current, &lock, &repo.migrations_rel()));

    let analysed: Vec<(&Migration, &Analysis)> =
        migrations.iter().zip(&loaded).filter_map(|(m, l)| l.analysis.as_ref().map(|(_, a)| (m, a))).collect();
    // A cache that cannot be written costs the next run its speed, not this run its answer.
    if let Err(err) = cache.save(loaded.iter().filter_map(|l| l.analysis.as_ref().map(|(h, a)| (h.as_str(), a)))) {
        eprintln!("note: the lint cache was not written ({err:#}); the next check lints every file again");
    }
    for (m, a) in &analysed {
        findings.extend(rules::destructive(m, a));
        findings.extend(rules::concurrently(m, a));
        findings.extend(rules::transaction_control(m, a));
        findings.extend(rules::parse_errors(m, a));
        findings.extend(rules::squawk(m, a));
    }
    // supautils' lists as a captured `platform-baseline` holds them; the shipped ones without one (or if unreadable).
    let supautils =
        repo.baseline().map(|b| b.supautils()).unwrap_or_else(|_| crate::domain::platform::Supautils::shipped());
    findings.extend(platform::findings(&repo.config, migrations, &analysed, &lock, &supautils));
    for batch in batches(&analysed, &lock) {
        findings.extend(rules::partition_phase_mix(&batch));
    }
    findings.extend(loaded.iter().flat_map(|l| l.findings.iter().cloned()));

    let counts = Counts {
        linted: analysed.len(),
        cached: loaded.iter().filter(|l| l.cached).count(),
        hashed: current.values().filter(|c| c.is_some()).count(),
    };
    let report = CheckReport::new(rules::apply_severities(findings, &overrides), counts);
    let analyses =
        migrations.iter().zip(loaded).filter_map(|(m, l)| Some((m.file_name.clone(), l.analysis?.1))).collect();
    Ok(Checked { report, analyses: Analyses(analyses) })
}

/// Pending for at least one recorded target, or unknown to the lock altogether.
fn is_pending_somewhere(m: &Migration, lock: &Lock) -> bool {
    !lock.files.contains_key(&m.file_name) || lock.lowest_head().is_none_or(|head| m.version.as_str() > head)
}

/// The batch each recorded target would receive next; the whole tree when no target is recorded yet.
fn batches<'a>(analysed: &[(&'a Migration, &'a Analysis)], lock: &Lock) -> Vec<Vec<(&'a Migration, &'a Analysis)>> {
    if lock.targets.is_empty() {
        return vec![analysed.to_vec()];
    }
    lock.targets
        .values()
        .map(|state| analysed.iter().filter(|(m, _)| m.version > state.head).copied().collect())
        .collect()
}

/// What `check` takes from one file read once: its checksum if the lock knows it, its analysis if it is
/// linted and not over the size limit.
fn load(
    m: &Migration,
    lint: bool,
    hash: bool,
    max_bytes: u64,
    (settings, cache): (&LintSettings, &LintCache),
) -> Loaded {
    let mut out = Loaded { checksum: None, analysis: None, cached: false, findings: Vec::new() };
    let len = m.bytes().len() as u64;
    let too_large = len > max_bytes;
    if too_large && lint {
        out.findings.push(too_large_finding(m, len, max_bytes));
    }
    if hash {
        out.checksum = Some(m.checksum().to_string());
    }
    if lint && !too_large {
        analyse(m, (settings, cache), &mut out);
    }
    out
}

fn too_large_finding(m: &Migration, len: u64, max_bytes: u64) -> Finding {
    Finding::new(
        Code::FileTooLarge,
        Severity::Error,
        &m.rel_path,
        format!("{len} bytes is over the limit of {max_bytes} ([check] max_file_bytes in xtask.toml)"),
    )
    .fix("load bulk data outside migrations (or split the file); raise max_file_bytes only if this really is schema")
}

/// The file's analysis, from the lint cache when it holds these bytes, and the findings only the text shows.
fn analyse(m: &Migration, (settings, cache): (&LintSettings, &LintCache), out: &mut Loaded) {
    let finding = |code, sev, msg: String| Finding::new(code, sev, &m.rel_path, msg);
    match m.text() {
        Ok(text) => {
            out.findings.extend(not_for_the_server(m, text));
            let key = if cache.is_on() { content_hash(m.bytes()) } else { String::new() };
            let kept = cache.get(&key);
            out.cached = kept.is_some();
            let analysis = kept.unwrap_or_else(|| sql::analyze(text, settings));
            if analysis.statement_count == 0 && analysis.parse_errors.is_empty() {
                out.findings.push(
                    finding(
                        Code::EmptyFile,
                        Severity::Warning,
                        "has no SQL statement; it would still be recorded as applied".into(),
                    )
                    .fix("write the migration, or delete the file"),
                );
            }
            out.analysis = Some((key, analysis));
        }
        Err(err) => {
            let valid = &m.bytes()[..err.valid_up_to];
            let text = String::from_utf8_lossy(valid);
            let pos = LineIndex::new(&text).pos(&text, text.len());
            out.findings.push(
                finding(Code::ParseError, Severity::Error, format!("not valid UTF-8 (byte {})", err.valid_up_to))
                    .at(pos)
                    .fix("save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"),
            );
        }
    }
}

/// What the CLI would send to the server as it is, and the server cannot take: a byte-order mark, NUL bytes,
/// psql meta-commands, `COPY ... FROM stdin` with inline data.
fn not_for_the_server(m: &Migration, text: &str) -> Vec<Finding> {
    // Only found problems need line numbers: the index is built on the first one (most files have none).
    let index = std::cell::OnceCell::new();
    let finding = |offset: usize, message: String, fix: &str| {
        let pos = index.get_or_init(|| LineIndex::new(text)).pos(text, offset);
        Finding::new(Code::ParseError, Severity::Error, &m.rel_path, message).at(pos).fix(fix)
    };
    let mut out = Vec::new();
    if text.starts_with('\u{feff}') {
        out.push(finding(
            0,
            "starts with a UTF-8 byte-order mark, which the server reads as part of the first statement".into(),
            "save the file as UTF-8 without a BOM",
        ));
    }
    if let Some(offset) = text.find('\0') {
        out.push(finding(
            offset,
            "contains a NUL byte, which Postgres refuses in a statement".into(),
            "remove it (a binary file saved as .sql?)",
        ));
    }
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let at = offset + (line.len() - trimmed.len());
        offset += line.len();
        if let Some(command) = trimmed.strip_prefix('\\').and_then(|rest| rest.split_whitespace().next()) {
            out.push(finding(
                at,
                format!("psql meta-command `\\{command}` is not SQL: the CLI sends the file to the server as it is"),
                "write the SQL itself (a file that `\\i`ncludes another becomes one migration per file)",
            ));
        }
        let copy = trimmed.get(..5).is_some_and(|head| head.eq_ignore_ascii_case("copy "));
        if copy && trimmed.to_ascii_lowercase().contains(" from stdin") {
            out.push(finding(
                at,
                "COPY ... FROM stdin with inline data: the CLI does not send the data lines that follow".into(),
                "insert the rows with INSERT ... VALUES, or load bulk data outside migrations",
            ));
        }
    }
    out
}
