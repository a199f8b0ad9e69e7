//! The rules of `check`, each a pure function from files, analyses and the lock to findings.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use squawk_linter::Rule;

use crate::domain::findings::{Code, Finding, Severity};
use crate::domain::history::lock::Lock;
use crate::domain::history::migrations::{self, Migration, MigrationFile};
use crate::domain::lint::sql::{Analysis, Fact};

pub mod platform;

/// squawk's lock-safety rules we run unless `xtask.toml` says otherwise. Its rules that duplicate ours
/// (ban-drop-*, changing-column-type, transaction-nesting, ...) stay off so nothing is reported twice.
pub const DEFAULT_SQUAWK: &[(Rule, Severity)] = &[
    (Rule::RequireConcurrentIndexCreation, Severity::Warning),
    (Rule::RequireConcurrentIndexDeletion, Severity::Warning),
    (Rule::ConstraintMissingNotValid, Severity::Warning),
    (Rule::AddingForeignKeyConstraint, Severity::Warning),
    (Rule::AddingRequiredField, Severity::Error),
    (Rule::AddingNotNullableField, Severity::Warning),
    (Rule::AddingSerialPrimaryKeyField, Severity::Warning),
    (Rule::AddingFieldWithDefault, Severity::Warning),
    (Rule::DisallowedUniqueConstraint, Severity::Warning),
    (Rule::RenamingColumn, Severity::Warning),
    (Rule::RenamingTable, Severity::Warning),
    (Rule::BanDropDatabase, Severity::Error),
    (Rule::BanTruncateCascade, Severity::Warning),
    (Rule::BanCreateDomainWithConstraint, Severity::Warning),
    (Rule::BanAlterDomainWithAddConstraint, Severity::Warning),
    (Rule::RequireConcurrentReindex, Severity::Warning),
];

/// The squawk rules to run: the defaults plus any configured, minus those configured `off`.
pub fn squawk_rules(overrides: &HashMap<String, Severity>) -> Vec<Rule> {
    let configured = overrides.iter().filter_map(|(code, sev)| match Code::parse(code) {
        Some(Code::Squawk(rule)) => Some((rule, *sev)),
        _ => None,
    });
    let mut rules: BTreeMap<String, (Rule, Severity)> =
        DEFAULT_SQUAWK.iter().map(|&(rule, sev)| (rule.to_string(), (rule, sev))).collect();
    rules.extend(configured.map(|(rule, sev)| (rule.to_string(), (rule, sev))));
    rules.into_values().filter(|(_, sev)| *sev != Severity::Off).map(|(rule, _)| rule).collect()
}

fn squawk_default_severity(rule: Rule) -> Severity {
    DEFAULT_SQUAWK.iter().find(|(r, _)| *r == rule).map_or(Severity::Warning, |(_, sev)| *sev)
}

/// Applies `xtask.toml`'s severities: `off` drops a finding; notes (acknowledged items) stay notes.
pub fn apply_severities(findings: Vec<Finding>, overrides: &HashMap<String, Severity>) -> Vec<Finding> {
    let mut out = Vec::with_capacity(findings.len());
    for mut finding in findings {
        match overrides.get(&finding.code.to_string()) {
            Some(Severity::Off) => continue,
            Some(sev) if finding.severity != Severity::Note => finding.severity = *sev,
            _ => {}
        }
        out.push(finding);
    }
    out
}

const NEW_FIX: &str = "create a correctly named file with `cargo xtask new <name>` and move the SQL into it";

pub fn file_names(migrations: &[&MigrationFile], now: chrono::NaiveDateTime) -> Vec<Finding> {
    let mut out = Vec::new();
    for m in migrations {
        let warn = |code, msg: String| Finding::new(code, Severity::Warning, &m.rel_path, msg);
        if m.version.len() != 14 || !migrations::is_canonical_name(&m.name) {
            out.push(
                warn(
                    Code::FileName,
                    format!("`{}` is not `<14-digit UTC timestamp>_<lower_snake_name>.sql`", m.file_name),
                )
                .fix(NEW_FIX),
            );
        } else if let Some(time) = migrations::version_time(&m.version) {
            if time > now + chrono::Duration::hours(1) {
                out.push(
                    warn(
                        Code::FutureVersion,
                        format!(
                            "version {} is in the future ({time} UTC): every later migration must sort after it",
                            m.version
                        ),
                    )
                    .fix(NEW_FIX),
                );
            }
        } else {
            out.push(
                warn(Code::FileName, format!("version {} is not a valid UTC time (YYYYMMDDHHMMSS)", m.version))
                    .fix(NEW_FIX),
            );
        }
    }
    out
}

pub fn duplicate_versions(migrations: &[&MigrationFile]) -> Vec<Finding> {
    let mut by_version: BTreeMap<&str, Vec<&MigrationFile>> = BTreeMap::new();
    for m in migrations.iter().copied() {
        by_version.entry(&m.version).or_default().push(m);
    }
    let mut out = Vec::new();
    for (version, files) in by_version.into_iter().filter(|(_, files)| files.len() > 1) {
        for m in &files {
            let others: Vec<&str> =
                files.iter().filter(|o| o.file_name != m.file_name).map(|o| o.file_name.as_str()).collect();
            out.push(
                Finding::new(
                    Code::DuplicateVersion,
                    Severity::Error,
                    &m.rel_path,
                    format!("version {version} is also used by {}: the dry-run passes, the real push fails on the history table's primary key", others.join(", ")),
                )
                .fix("give the unapplied file a new version with `cargo xtask new <name>`"),
            );
        }
    }
    out
}

/// Files the lock does not know that sort at or before a recorded head: the CLI refuses the whole push. One
/// finding per file, naming every head it is behind and the `cargo xtask fix --renumber` that moves it.
pub fn out_of_order(migrations: &[&MigrationFile], lock: &Lock) -> Vec<Finding> {
    let mut out = Vec::new();
    for m in migrations.iter().filter(|m| !lock.files.contains_key(&m.file_name)) {
        let behind = lock.heads_not_before(&m.version);
        if behind.is_empty() {
            continue;
        }
        let heads = if behind.len() == 1 { "head" } else { "heads" };
        out.push(
            Finding::new(
                Code::OutOfOrder,
                Severity::Error,
                &m.rel_path,
                format!(
                    "not applied, but its version is at or before the recorded {heads} of {}: the CLI refuses the push",
                    and_list(&behind)
                ),
            )
            .fix(format!(
                "give it a version after the {heads}, keeping its name and SQL: `cargo xtask fix --renumber {}`",
                m.rel_path
            )),
        );
    }
    out
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Applied files (in the lock) that changed or disappeared. `current` maps each file present to its checksum,
/// `None` when it could not be read (reported elsewhere).
pub fn applied_history(current: &HashMap<&str, Option<&str>>, lock: &Lock, migrations_dir: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    for (file, recorded) in &lock.files {
        let rel_path = format!("{migrations_dir}/{file}");
        match current.get(file.as_str()) {
            None => out.push(
                Finding::new(Code::AppliedMissing, Severity::Error, &rel_path, "applied (recorded in promotion.lock) but the file is gone")
                    .fix(format!("restore it with `git checkout -- {rel_path}`; undo its effect with a forward-fix migration (`cargo xtask new fix_<name>`)")),
            ),
            Some(Some(now)) if now != recorded => out.push(
                Finding::new(Code::AppliedModified, Severity::Error, &rel_path, "applied, but its content changed since it was applied; the database will never run the new text")
                    .fix(format!("restore it with `git checkout -- {rel_path}` and put the change in a forward-fix migration (`cargo xtask new fix_<name>`)")),
            ),
            Some(_) => {}
        }
    }
    out
}

pub fn destructive(m: &Migration, a: &Analysis) -> Vec<Finding> {
    let reason = a.directives.destructive_acks.iter().find_map(|(_, reason)| reason.clone());
    let mut out: Vec<Finding> = a
        .directives
        .destructive_acks
        .iter()
        .filter(|(_, reason)| reason.is_none())
        .map(|(pos, _)| {
            Finding::new(Code::Destructive, Severity::Error, &m.rel_path, "acknowledgement without a reason")
                .at(*pos)
                .fix("say why it is safe: `-- xtask: ack destructive: <reason>`")
        })
        .collect();
    for (pos, fact) in &a.facts {
        let Fact::Destructive(stmt) = fact else { continue };
        let finding = match &reason {
            Some(reason) => Finding::new(
                Code::Destructive,
                Severity::Note,
                &m.rel_path,
                format!("`{stmt}` (acknowledged: {reason})"),
            ),
            None => Finding::new(
                Code::Destructive,
                Severity::Error,
                &m.rel_path,
                format!("`{stmt}` destroys data or breaks readers"),
            )
            .fix("after review, acknowledge it in the file: `-- xtask: ack destructive: <reason>`; or avoid it"),
        };
        out.push(finding.at(*pos));
    }
    out
}

pub fn concurrently(m: &Migration, a: &Analysis) -> Vec<Finding> {
    let mut out = Vec::new();
    for (pos, fact) in &a.facts {
        let Fact::Concurrently { what, rerunnable } = fact else { continue };
        if a.statement_count > 1 {
            out.push(
                Finding::new(
                    Code::Concurrently,
                    Severity::Error,
                    &m.rel_path,
                    format!("{what} shares its file with {} other statement(s); the CLI runs it outside the file's transaction, so the file is no longer atomic", a.statement_count - 1),
                )
                .at(*pos)
                .fix("move it into a migration of its own (`cargo xtask new <name>`)"),
            );
        }
        if !rerunnable {
            out.push(
                Finding::new(
                    Code::Concurrently,
                    Severity::Error,
                    &m.rel_path,
                    format!("{what} is not re-runnable; a failed concurrent build leaves state behind"),
                )
                .at(*pos)
                .fix("add IF NOT EXISTS (create) or IF EXISTS (drop)"),
            );
        }
    }
    out
}

pub fn transaction_control(m: &Migration, a: &Analysis) -> Vec<Finding> {
    a.facts
        .iter()
        .filter_map(|(pos, fact)| match fact {
            Fact::TransactionControl("LOCK TABLE") => Some(
                Finding::new(
                    Code::TransactionControl,
                    Severity::Error,
                    &m.rel_path,
                    "LOCK TABLE fails under the CLI: it runs a file as one implicit transaction, not a transaction block",
                )
                .at(*pos)
                .fix("drop it and put first the statement that takes the lock (ALTER TABLE takes ACCESS EXCLUSIVE)"),
            ),
            Fact::TransactionControl(what) => Some(
                Finding::new(
                    Code::TransactionControl,
                    Severity::Error,
                    &m.rel_path,
                    format!("{what}: the CLI already runs each file in one transaction; after an explicit COMMIT the rest runs in autocommit"),
                )
                .at(*pos)
                .fix("remove the statement; split work that must not share a transaction into separate migrations"),
            ),
            _ => None,
        })
        .collect()
}

pub fn parse_errors(m: &Migration, a: &Analysis) -> Vec<Finding> {
    let syntax = a.parse_errors.iter().map(|(pos, msg)| {
        Finding::new(Code::ParseError, Severity::Error, &m.rel_path, msg.clone())
            .at(*pos)
            .fix("fix the SQL; if Postgres accepts it, the parser is wrong: set `parse-error = \"warning\"` under [check.severity] in xtask.toml until squawk is updated")
    });
    let directives = a.directives.malformed.iter().map(|(pos, msg)| {
        Finding::new(Code::ParseError, Severity::Error, &m.rel_path, msg.clone())
            .at(*pos)
            .fix("correct the `-- xtask:` comment")
    });
    syntax.chain(directives).collect()
}

pub fn squawk(m: &Migration, a: &Analysis) -> Vec<Finding> {
    a.violations
        .iter()
        .map(|v| {
            let fix = v.help.clone().unwrap_or_else(|| format!("see https://squawkhq.com/docs/{}", v.rule));
            Finding::new(Code::Squawk(v.rule), squawk_default_severity(v.rule), &m.rel_path, v.message.clone())
                .at(v.pos)
                .fix(fix)
        })
        .collect()
}

/// Which phase of the runbook's two-phase partition procedure a file belongs to, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    One(String),
    Two(String),
    Unstated(String),
}

/// Classifies each file of one batch; names of partitioned tables come from the batch itself.
pub fn partition_phases(batch: &[(&Migration, &Analysis)]) -> Vec<(usize, crate::domain::findings::Pos, Phase)> {
    let all_facts = || batch.iter().flat_map(|(_, a)| a.facts.iter().map(|(_, f)| f));
    let mut partitioned = BTreeSet::new();
    let mut partitions = BTreeSet::new();
    for fact in all_facts() {
        if let Fact::CreateTable { name, partitioned: p, partition_of } = fact {
            if *p {
                partitioned.insert(name.clone());
            }
            if partition_of.is_some() {
                partitions.insert(name.clone());
            }
        }
    }
    let sync_fns: BTreeSet<&String> = all_facts()
        .filter_map(|f| match f {
            Fact::CreateFunction { name, returns_trigger: true, body, .. }
                if partitioned.iter().any(|t| mentions(body, t)) =>
            {
                Some(name)
            }
            _ => None,
        })
        .collect();
    let synced: BTreeSet<&String> = all_facts()
        .filter_map(|f| match f {
            Fact::CreateTrigger { table, function } if sync_fns.contains(function) => Some(table),
            _ => None,
        })
        .collect();
    let involved = |t: &String| partitioned.contains(t) || partitions.contains(t) || synced.contains(t);
    let touches_partitions = |body: &str| body.contains("partition") || partitioned.iter().any(|t| mentions(body, t));

    let mut out = Vec::new();
    for (i, (_, a)) in batch.iter().enumerate() {
        if let Some((pos, phase)) = a.directives.partition_phase {
            let why = "stated in the file".to_string();
            out.push((i, pos, if phase == 1 { Phase::One(why) } else { Phase::Two(why) }));
            continue;
        }
        for (pos, fact) in &a.facts {
            let phase = match fact {
                Fact::CreateTable { name, partitioned: true, .. } => {
                    Phase::One(format!("creates partitioned table {name}"))
                }
                Fact::CreateTable { name, partition_of: Some(parent), .. } => {
                    Phase::One(format!("creates partition {name} of {parent}"))
                }
                Fact::CreateFunction { name, .. } if sync_fns.contains(name) => {
                    Phase::One(format!("sync trigger function {name}"))
                }
                Fact::CreateTrigger { table, function } if sync_fns.contains(function) => {
                    Phase::One(format!("sync trigger on {table}"))
                }
                Fact::CreateFunction { name, dynamic_sql: true, body, .. } if touches_partitions(body) => {
                    Phase::Unstated(format!("function {name} runs dynamic SQL on partitions"))
                }
                Fact::DoBlock { body } if touches_partitions(body) => {
                    Phase::Unstated("DO block touches partitions".to_string())
                }
                Fact::RenameTable { from, to } if involved(from) || involved(to) => {
                    Phase::Two(format!("renames {from} to {to}"))
                }
                Fact::AttachPartition { parent } => Phase::Two(format!("attaches a partition to {parent}")),
                Fact::DetachPartition { parent } => Phase::Two(format!("detaches a partition of {parent}")),
                Fact::DropTables(names) if names.iter().any(|n| partitions.contains(n)) => {
                    Phase::Two("drops a partition".to_string())
                }
                _ => continue,
            };
            out.push((i, *pos, phase));
        }
    }
    out
}

pub fn partition_phase_mix(batch: &[(&Migration, &Analysis)]) -> Vec<Finding> {
    let phases = partition_phases(batch);
    let mut out = Vec::new();
    let phase_one: Vec<&str> = phases
        .iter()
        .filter(|(_, _, p)| matches!(p, Phase::One(_)))
        .map(|(i, _, _)| batch[*i].0.file_name.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let last_phase_one = phase_one.last().and_then(|f| migrations::parse_file_name(f)).map_or("", |(v, _)| v);
    for (i, pos, phase) in &phases {
        let m = batch[*i].0;
        match phase {
            Phase::Two(why) if !phase_one.is_empty() => out.push(
                Finding::new(
                    Code::PartitionPhaseMix,
                    Severity::Error,
                    &m.rel_path,
                    format!("phase-2 partition work ({why}) in the same batch as phase-1 work in {}", phase_one.join(", ")),
                )
                .at(*pos)
                .fix(format!(
                    "promote phase 1 first (`cargo xtask promote --target <t> --until {}`), run `cargo xtask partition parity`, then promote the cutover as its own reviewed batch",
                    last_phase_one
                )),
            ),
            Phase::Unstated(why) => out.push(
                Finding::new(Code::PartitionPhaseUnstated, Severity::Error, &m.rel_path, format!("{why}, and the file does not say which phase it is"))
                    .at(*pos)
                    .fix("state it in the file: `-- xtask: partition-phase 1` (setup) or `-- xtask: partition-phase 2` (cutover, retention)"),
            ),
            _ => {}
        }
    }
    out
}

/// Whether `name` occurs in `body` as a whole identifier.
fn mentions(body: &str, name: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    body.match_indices(name).any(|(i, _)| {
        let before = body[..i].chars().next_back().is_none_or(|c| !is_ident(c));
        let after = body[i + name.len()..].chars().next().is_none_or(|c| !is_ident(c));
        before && after
    })
}

#[cfg(test)]
mod tests;
