//! `cargo xtask platform-baseline --target T [--check]`: the platform-managed schemas of a real target (roles,
//! `auth`, `storage`, `realtime`, `vault`, `supabase_functions`, `extensions`, and the installed extensions with
//! their versions; the owners and grants of those schemas and objects, default privileges and supautils'
//! settings) captured as DDL into `docs/database/platform/baseline.sql`, with a digest. When that file
//! exists, the embedded database and every shadow start from it instead of the hand-written baseline. Each
//! extension's members are captured too, as the script of a stand-in for a local tree that lacks it
//! (`edges::postgres::standins::install_captured`).
//!
//! Read with one statement (`xtask/sql/platform.sql`): over the target's URL, or with a token only through
//! `supabase db query` (login roles cannot read `auth`); both give the same text.

use anyhow::bail;
use serde::Serialize;
use xshell::Shell;

use crate::blocked::blocked;
use crate::domain::refusal::Refusal;
use crate::domain::schema::platform_file::{chunks, format_chunk, is_stand_in, is_statement, render};
use crate::edges::os::fsutil::{self, FileState, Mode};
use crate::edges::output::report::{self, Report};
use crate::edges::postgres as pg;
use crate::edges::repo::Repo;
use crate::edges::supabase::cli::{Cli, Remote};
use crate::edges::supabase::stage::Stage;
use crate::edges::target::Resolved;
use crate::flags;

const PLATFORM_SQL: &str = include_str!("../sql/platform.sql");

/// The schemas the platform manages and migrations build on.
pub const SCHEMAS: &[&str] = &["auth", "storage", "realtime", "vault", "supabase_functions", "extensions"];

/// Settings of a Supabase database that no schema holds.
const PRELUDE: &str = "--> setting search_path\n\
do $p$ begin execute format('alter database %I set search_path = \"$user\", public, extensions', current_database()); end $p$;\n\n\
--> publication supabase_realtime\n\
do $p$ begin if not exists (select 1 from pg_publication where pubname = 'supabase_realtime') then create publication supabase_realtime; end if; end $p$;\n\n";

impl flags::PlatformBaseline {
    pub fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let target = Resolved::resolve(sh, repo, &self.target.target)?;
        let body = read(sh, repo, &target)?;
        let path = repo.platform_baseline_path();
        let file = render(&target.name, &body);
        let stand_ins = chunks(&body).filter(|(what, _)| is_stand_in(what)).count();
        let statements = chunks(&body).filter(|(what, _)| is_statement(what)).count();
        let rel = repo.rel(&path);
        let mode = if self.check { Mode::Check } else { Mode::Write };
        if mode == Mode::Check && !path.is_file() {
            return Err(blocked(Refusal::BaselineMissing { file: rel, target: target.name.clone() }));
        }
        let state = fsutil::ensure_file_contents(&path, &file, mode)?;
        let report = BaselineReport { target: target.name.clone(), file: rel, statements, stand_ins, state };
        report::emit(&report, self.output.format)?;
        if report.state == FileState::Stale {
            return Err(blocked(Refusal::StaleBaseline { file: report.file, target: target.name.clone() }));
        }
        Ok(())
    }
}

#[derive(Debug, Serialize)]
pub struct BaselineReport {
    pub target: String,
    pub file: String,
    pub statements: usize,
    /// The extensions whose members were captured as a stand-in's script.
    pub stand_ins: usize,
    pub state: FileState,
}

impl Report for BaselineReport {
    fn human(&self) -> String {
        format!(
            "platform-baseline: {} ({} statements, {} extension stand-in scripts, from {}): {}\n",
            self.file,
            self.statements,
            self.stand_ins,
            self.target,
            self.state.as_str()
        )
    }

    fn summary_md(&self) -> String {
        format!("### Platform baseline\n\n`{}` from {}: {}\n", self.file, self.target, self.state.as_str())
    }
}

/// The query with the schemas filled in; comment lines dropped (the CLI would read a leading `--` as a flag).
fn query() -> String {
    let schemas: Vec<String> = SCHEMAS.iter().map(|s| format!("'{s}'")).collect();
    let sql: Vec<&str> = PLATFORM_SQL.lines().filter(|l| !l.trim_start().starts_with("--")).collect();
    sql.join("\n").replace(":schemas", &format!("array[{}]::text[]", schemas.join(", ")))
}

/// The target's platform DDL: directly over its URL, else through `supabase db query`.
pub fn read(sh: &Shell, repo: &Repo, target: &Resolved) -> anyhow::Result<String> {
    let ddl = match &target.remote {
        Remote::Url(url) => {
            let row = pg::connect(url)
                .and_then(|mut c| Ok(c.query_one(query().as_str(), &[])?))
                .map_err(|e| anyhow::anyhow!(crate::edges::output::redact::redact(&format!("{e:#}"))))?;
            row.get::<_, String>(0)
        }
        Remote::Project(_) => {
            let cli = target.cli(&Cli::locate(sh, &repo.root)?);
            let workdir = Stage::empty(repo.stage_dir("platform"))?;
            let rows = cli.query(sh, workdir.path(), &target.remote, &query())?;
            match rows.first().map(|r| &r["ddl"]) {
                Some(serde_json::Value::String(text)) => text.clone(),
                _ => bail!("`supabase db query` returned no DDL"),
            }
        }
    };
    Ok(format!("{}{PRELUDE}{ddl}\n", format_chunk()))
}
