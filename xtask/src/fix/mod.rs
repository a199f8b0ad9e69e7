//! `cargo xtask fix [FILE...] [--dry-run]`: writes the mechanical safe rewrites (`domain::rewrites`) into pending
//! migrations. A file whose rewrite needs a migration of its own, or a later one, is split: its first part keeps
//! the file's name, the others get the next free versions before the file that follows, so the order holds. An
//! applied file is never touched (its checksum is recorded in `promotion.lock`, and the database will never run
//! new text). Every file is judged first; then all are written, or none.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use xshell::Shell;

use crate::check;
use crate::domain::history::live::Applied;
use crate::domain::history::lock::Lock;
use crate::domain::history::migrations::Migration;
use crate::domain::lint::sql::{LintCacheUse, LintScope};
use crate::domain::rewrites::{self, Split, Suggestion};
use crate::edges::os::fsutil::Mode;
use crate::edges::postgres::State;
use crate::edges::repo::Repo;
use crate::edges::target::history;
use crate::flags;

mod renumber;

impl flags::Fix {
    pub fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let mode = if self.dry_run { Mode::DryRun } else { Mode::Write };
        if self.renumber {
            return renumber::run(sh, repo, &self.files, mode);
        }
        let plans = plan(repo, &self.files)?;
        match mode {
            Mode::DryRun => plans.iter().for_each(|p| print!("{}", p.diff())),
            _ => write_all(&plans)?,
        }
        warn_embedded_ran(sh, repo, &plans);
        print!("{}", summary(&plans, mode));
        Ok(())
    }
}

/// A rewritten file the embedded database has run no longer matches its history (the next `promote` there refuses
/// it).
fn warn_embedded_ran(sh: &Shell, repo: &Repo, plans: &[FilePlan]) {
    let changed: Vec<&FilePlan> = plans.iter().filter(|p| p.changed()).collect();
    let applied = match embedded_history(sh, repo).filter(|_| !changed.is_empty()) {
        None => return,
        Some(Ok(applied)) => applied,
        Some(Err(err)) => {
            let err = crate::edges::output::redact::redact(&format!("{err:#}"));
            return eprintln!(
                "note: fix could not read the embedded database's history ({err}); if it ran these files, rebuild it with `cargo xtask db reset`"
            );
        }
    };
    for p in changed.iter().filter(|p| applied.iter().any(|a| a.version == p.migration.version)) {
        eprintln!(
            "warning: the embedded database ran {}; after this rewrite its history no longer matches the file. It is disposable: `cargo xtask db reset` rebuilds it from the files",
            p.migration.rel_path
        );
    }
}

/// The embedded database's history, read only when its cluster already runs (`fix` needs no database, and never
/// starts one for a warning); `None` when it does not run.
fn embedded_history(sh: &Shell, repo: &Repo) -> Option<anyhow::Result<Vec<Applied>>> {
    let cluster = repo.default_major().and_then(|(major, _)| repo.cluster(major)).ok()?;
    let running = matches!(cluster.state(sh), Ok(State::Running));
    running.then(|| cluster.url("postgres").and_then(|url| history::read_direct(&url)))
}

/// What `fix` does to one file.
pub struct FilePlan {
    pub migration: Migration,
    pub original: String,
    pub split: Split,
    /// The paths of the parts after the first, in order.
    pub new_paths: Vec<PathBuf>,
    rel_dir: String,
}

/// Every named (or every pending) file, judged; `Err` names every file that cannot be fixed, and nothing is
/// written.
pub fn plan(repo: &Repo, named: &[PathBuf]) -> anyhow::Result<Vec<FilePlan>> {
    // Every file read once: judged, checked and split from the same bytes.
    let discovery = repo.discover()?;
    let findings = check::check_files(repo, &discovery, LintScope::Pending, LintCacheUse::On)?.report.findings;
    let all = discovery.migrations;
    let lock = repo.lock()?;
    let chosen = choose(repo, &all, &lock, named)?;
    let ctx = crate::review::rewrite_context(&all);
    let (mut plans, mut problems) = (Vec::new(), Vec::new());
    for m in chosen {
        let text = m.text()?;
        let theirs: Vec<_> = findings.iter().filter(|f| f.file == m.rel_path).cloned().collect();
        // Where the parser lost its way, a cut could fall inside a statement: such a file is not touched.
        if theirs.iter().any(|f| f.code == crate::domain::findings::Code::ParseError) {
            problems.push(format!("{}: it does not parse (see `cargo xtask check`); fix it first", m.rel_path));
            continue;
        }
        let split = rewrites::split(&m.rel_path, text, &rewrites::flags(&theirs), &ctx);
        let next = all.iter().map(|o| o.version.as_str()).filter(|v| *v > m.version.as_str()).min();
        let Some(versions) = rewrites::versions_after(&m.version, split.parts.len() - 1, next) else {
            problems.push(format!(
                "{}: its rewrite needs {} more migration(s) between it and version {}, and there is no free second there; give the next file a later version (`cargo xtask new <name>`, then move its SQL)",
                m.rel_path,
                split.parts.len() - 1,
                next.unwrap_or_default()
            ));
            continue;
        };
        let new_paths = split.parts[1..]
            .iter()
            .zip(&versions)
            .map(|(part, v)| {
                m.path.with_file_name(format!("{v}_{}_{}.sql", m.name, part.name.as_deref().unwrap_or("part")))
            })
            .collect();
        plans.push(FilePlan {
            migration: m.clone(),
            original: text.to_string(),
            split,
            new_paths,
            rel_dir: repo.migrations_rel(),
        });
    }
    if !problems.is_empty() {
        bail!("fix: nothing written:\n  {}", problems.join("\n  "));
    }
    Ok(plans)
}

/// The files named on the command line (each must be a pending migration), or every pending one.
fn choose<'a>(repo: &Repo, all: &'a [Migration], lock: &Lock, named: &[PathBuf]) -> anyhow::Result<Vec<&'a Migration>> {
    if named.is_empty() {
        return Ok(all.iter().filter(|m| !lock.files.contains_key(&m.file_name)).collect());
    }
    let (mut chosen, mut problems) = (Vec::new(), Vec::new());
    for (path, found) in resolve(repo, all, named)? {
        match found {
            None => problems.push(not_a_migration(repo, &path)),
            Some(m) if lock.files.contains_key(&m.file_name) => problems.push(format!(
                "{}: applied (its checksum is recorded in {}/promotion.lock), so it is never rewritten: the database will not run new text. Put the safe form in a new migration (`cargo xtask new <name>`)",
                m.rel_path,
                repo.migrations_rel()
            )),
            Some(m) => chosen.push(m),
        }
    }
    if !problems.is_empty() {
        bail!("fix: nothing written:\n  {}", problems.join("\n  "));
    }
    Ok(chosen)
}

/// The file names of the files named on the command line; every one that is no migration here is named.
fn choose_names(repo: &Repo, all: &[Migration], named: &[PathBuf]) -> anyhow::Result<Vec<String>> {
    let (mut names, mut problems) = (Vec::new(), Vec::new());
    for (path, found) in resolve(repo, all, named)? {
        match found {
            Some(m) => names.push(m.file_name.clone()),
            None => problems.push(not_a_migration(repo, &path)),
        }
    }
    if !problems.is_empty() {
        bail!("fix: nothing written:\n  {}", problems.join("\n  "));
    }
    Ok(names)
}

/// Each path named (from the current directory, else from the repository's root) with its migration, if any.
fn resolve<'a>(
    repo: &Repo,
    all: &'a [Migration],
    named: &[PathBuf],
) -> anyhow::Result<Vec<(PathBuf, Option<&'a Migration>)>> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    Ok(named
        .iter()
        .map(|path| {
            let full = std::fs::canonicalize(cwd.join(path)).or_else(|_| std::fs::canonicalize(repo.root.join(path)));
            (path.clone(), full.ok().and_then(|full| all.iter().find(|m| same_file(&m.path, &full))))
        })
        .collect())
}

fn not_a_migration(repo: &Repo, path: &Path) -> String {
    format!("{}: not a migration in {}/ (a `<version>_<name>.sql` file there)", path.display(), repo.migrations_rel())
}

fn same_file(a: &Path, b: &Path) -> bool {
    std::fs::canonicalize(a).is_ok_and(|a| a == b)
}

impl FilePlan {
    fn changed(&self) -> bool {
        self.split.parts.len() > 1 || self.split.parts.first().is_some_and(|p| p.text != self.original)
    }

    fn rel(&self, path: &Path) -> String {
        let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        format!("{}/{name}", self.rel_dir)
    }

    /// A unified diff of the file and each new one (from nothing).
    pub fn diff(&self) -> String {
        if !self.changed() {
            return String::new();
        }
        let mut out =
            unified(&self.original, &self.split.parts[0].text, &self.migration.rel_path, &self.migration.rel_path);
        for (part, path) in self.split.parts[1..].iter().zip(&self.new_paths) {
            out.push_str(&unified("", &part.text, "/dev/null", &self.rel(path)));
        }
        out
    }
}

/// Every plan's new files first (each refused if it exists), then the originals: a failure before the originals
/// removes the new files, so the tree is as it was. (A crash between the two leaves statements in both places;
/// the other order would lose them, and a statement run twice fails loudly where a lost one is silent.)
fn write_all(plans: &[FilePlan]) -> anyhow::Result<()> {
    let mut written: Vec<&PathBuf> = Vec::new();
    let created = plans.iter().filter(|p| p.changed()).try_for_each(|p| {
        for (part, path) in p.split.parts[1..].iter().zip(&p.new_paths) {
            crate::edges::os::fsutil::create_new_atomic(path, part.text.as_bytes())?;
            written.push(path);
        }
        anyhow::Ok(())
    });
    if let Err(err) = created {
        for path in written {
            let _ = std::fs::remove_file(path);
        }
        return Err(err.context("fix: nothing written"));
    }
    for p in plans.iter().filter(|p| p.changed()) {
        crate::edges::os::fsutil::write_atomic(&p.migration.path, p.split.parts[0].text.as_bytes())
            .with_context(|| format!("fix: the files split off {} are written, but it is not", p.migration.rel_path))?;
    }
    Ok(())
}

fn unified(old: &str, new: &str, from: &str, to: &str) -> String {
    similar::TextDiff::from_lines(old, new).unified_diff().context_radius(3).header(from, to).to_string()
}

/// What was (or would be) written, and what is left to the author.
fn summary(plans: &[FilePlan], mode: Mode) -> String {
    let mut out = String::new();
    let verb = if mode == Mode::DryRun { "would write" } else { "wrote" };
    let fixed: usize = plans.iter().map(|p| p.split.fixed.len()).sum();
    for p in plans.iter().filter(|p| p.changed()) {
        let names: Vec<String> = p.new_paths.iter().map(|n| p.rel(n)).collect();
        let _ = writeln!(
            out,
            "fix: {verb} {} safe rewrite(s) in {}{}",
            p.split.fixed.len(),
            p.migration.rel_path,
            if names.is_empty() { String::new() } else { format!(", split off into {}", names.join(", ")) }
        );
    }
    let left: Vec<&Suggestion> = plans.iter().flat_map(|p| &p.split.left).collect();
    for s in &left {
        let _ = writeln!(
            out,
            "left to you: {}:{} [{}]: avoids {}\n{}",
            s.file,
            s.line,
            s.codes.join(", "),
            s.avoids,
            indent(&s.safe)
        );
    }
    let by_file: BTreeMap<&str, usize> =
        plans.iter().map(|p| (p.migration.rel_path.as_str(), p.split.fixed.len())).collect();
    let _ = writeln!(
        out,
        "fix: {fixed} rewrite(s) in {} file(s), {} left to you{}",
        by_file.values().filter(|n| **n > 0).count(),
        left.len(),
        if mode == Mode::DryRun { " (dry run: nothing written)" } else { "" }
    );
    out
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect::<String>().trim_end().to_string()
}
