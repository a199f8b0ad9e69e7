//! `cargo xtask bench`: the measurements behind the performance figures, each against a named comparison.

use crate::domain::platform::RoleModel;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use xshell::{Shell, cmd};

use crate::edges::os::fsutil;
use crate::edges::postgres as pg;
use crate::edges::repo::Repo;
use crate::edges::shadow::Shadow;
use crate::edges::supabase::cli::{Cli, Push, Remote};
use crate::edges::target::history;
use crate::flags;

mod locks;
mod rehearsal;
mod tree;

use tree::{file_name, generate_tree};

impl flags::Bench {
    pub fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        match self.what {
            flags::BenchWhat::Check(bench) => bench.run(sh, repo),
            flags::BenchWhat::Promote(bench) => bench.run(sh, repo),
            flags::BenchWhat::Catalog(bench) => bench.run(sh, repo),
            flags::BenchWhat::Parity(bench) => bench.run(sh, repo),
            flags::BenchWhat::Build => build(sh, repo),
            flags::BenchWhat::Rehearsal(bench) => bench.run(sh, repo),
            flags::BenchWhat::Locks(bench) => bench.run(sh, repo),
        }
    }
}

/// The runbook's `db:catalog:remote` and `db:docs:refresh` as a user runs them: two processes, output unused.
fn catalog_and_docs(sh: &Shell, exe: &Path, tree: &Path, url: &str) -> anyhow::Result<()> {
    cmd!(sh, "{exe} --repo {tree} catalog --target bench")
        .env("XTASK_BENCH_URL", url)
        .quiet()
        .ignore_stdout()
        .ignore_stderr()
        .run()?;
    cmd!(sh, "{exe} --repo {tree} docs-refresh --target bench").quiet().ignore_stdout().ignore_stderr().run()?;
    Ok(())
}

/// `cargo build -p xtask` into an empty target directory: what a fresh clone waits for before its first command.
fn build(sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
    let dir = repo.bench_dir("build");
    let _ = std::fs::remove_dir_all(&dir);
    let start = Instant::now();
    cmd!(sh, "cargo build --quiet -p xtask").env("CARGO_TARGET_DIR", &dir).quiet().run()?;
    let elapsed = start.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "clean build    {:.1} s  (cargo build -p xtask into an empty target directory, {} core(s))",
        elapsed.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    Ok(())
}

impl flags::BenchCheck {
    fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let repeat = self.repeat.max(1);
        let dir = repo.bench_dir(&format!("check-{}-{repeat}", self.files));
        let (bytes, lines) = generate_tree(&dir, self.files, repeat).context("generating the benchmark tree")?;
        let exe = std::env::current_exe().context("locating the xtask binary")?;
        let migrations = dir.join("migrations");
        let files: Vec<String> = (0..self.files).map(|i| migrations.join(file_name(i)).display().to_string()).collect();

        eprintln!(
            "bench check: {} files, {lines} lines, {:.1} MB, {} run(s) each",
            self.files,
            bytes as f64 / 1e6,
            self.runs
        );
        let check = |cache: &[&str]| {
            median(self.runs, || linter_run(cmd!(sh, "{exe} --repo {dir} check --lint all --format json {cache...}")))
        };
        let cold = check(&["--no-cache"])?;
        let warm = check(&[])?; // median() runs once untimed first: that run fills the cache
        let squawk = match squawk_binary(sh) {
            Some(squawk) => Some(median(self.runs, || {
                let files = &files;
                linter_run(cmd!(sh, "{squawk} --pg-version 15 --assume-in-transaction --reporter gcc {files...}"))
            })?),
            None => {
                eprintln!(
                    "squawk is not installed (`pip install squawk-cli==2.68.0`, the linter the xtask embeds): no comparison"
                );
                None
            }
        };

        println!("files        {} ({lines} lines, each content in {repeat} file(s))", self.files);
        println!("size         {:.1} MB", bytes as f64 / 1e6);
        println!("xtask check  {:.3} s  (median, --lint all --no-cache)", cold.as_secs_f64());
        println!("  cached     {:.3} s  (median, --lint all, the tree unchanged)", warm.as_secs_f64());
        println!("  ratio      {:.3}x  (cached / uncached; target <= 0.1x)", warm.as_secs_f64() / cold.as_secs_f64());
        if let Some(squawk) = squawk {
            println!("squawk       {:.3} s  (median)", squawk.as_secs_f64());
            println!(
                "ratio        {:.2}x  (xtask uncached / squawk; target <= 0.6x)",
                cold.as_secs_f64() / squawk.as_secs_f64()
            );
        }
        Ok(())
    }
}

/// A linter over the generated tree: exit 1 (findings) is expected there; only the time matters.
fn linter_run(cmd: xshell::Cmd) -> anyhow::Result<()> {
    cmd.quiet().ignore_status().ignore_stdout().ignore_stderr().run()?;
    Ok(())
}

/// squawk itself, not a wrapper: pip's entry point under pyenv is a shell shim that costs ~65 ms a start, which
/// would be charged to squawk.
fn squawk_binary(sh: &Shell) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    let on_path = std::env::split_paths(&path).map(|dir| dir.join("squawk")).find(|p| p.is_file())?;
    if !std::fs::read(&on_path).ok()?.starts_with(b"#!") {
        return Some(on_path);
    }
    let real = cmd!(sh, "pyenv which squawk").quiet().ignore_stderr().read().ok()?;
    Some(real.trim().into())
}

/// The major a benchmark runs on: `--major`, else the embedded target's. Said on stderr with its tree.
fn major(repo: &Repo, chosen: Option<crate::domain::major::Major>) -> anyhow::Result<crate::domain::major::Major> {
    let major = match chosen {
        Some(major) => major,
        None => repo.default_major()?.0,
    };
    eprintln!("PostgreSQL {major} from {}", pg::bindir(major)?.display());
    Ok(major)
}

fn median(runs: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    f()?; // warm the page cache so neither side pays for the first read
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

impl flags::BenchPromote {
    /// Both sides push the example's 14-file batch to a fresh database at PROD's head 20260512220528, in the
    /// embedded cluster: `promote` (non-protected target, so no rehearsal) against a bare `db push`.
    fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let major = major(repo, self.major)?;
        const HEAD: &str = "20260512220528";
        // The runbook's batch ends here; later files (the partition batches) are not part of this benchmark.
        const LAST: &str = "20260513175000";
        let cli = Cli::locate(sh, &repo.root)?;
        let tree = repo.bench_dir("promote");
        let _ = std::fs::remove_dir_all(&tree);
        std::fs::create_dir_all(tree.join("migrations"))?;
        let full = tree.join("full/supabase/migrations");
        std::fs::create_dir_all(&full)?;
        let files = repo.discover()?.migrations;
        let files: Vec<_> = files.iter().filter(|m| m.version.as_str() <= LAST).collect();
        for m in &files {
            std::fs::copy(&m.path, tree.join("migrations").join(&m.file_name))?;
            std::fs::copy(&m.path, full.join(&m.file_name))?;
        }
        let history: Vec<_> = files.iter().copied().filter(|m| m.version.as_str() <= HEAD).collect();
        std::os::unix::fs::symlink(repo.root.join("node_modules"), tree.join("node_modules")).ok();
        fsutil::write_atomic(
            &tree.join("xtask.toml"),
            b"[targets.local]\nembedded = true\n[targets.bench]\ndb_url_env = \"XTASK_BENCH_URL\"\n",
        )?;
        let exe = std::env::current_exe()?;

        let (mut promote_times, mut push_times, mut full_times, mut manual_times) = (vec![], vec![], vec![], vec![]);
        for run in 0..self.runs.max(1) {
            // A fresh database at HEAD, prepared outside the timing.
            let fresh = |what: &str| -> anyhow::Result<Shadow> {
                let shadow = Shadow::create(sh, repo, major, RoleModel::Platform, &format!("bench_{what}_{run}"))?;
                shadow.replay_history(sh, &cli, &history)?;
                Ok(shadow)
            };
            let applied = |shadow: &Shadow| -> anyhow::Result<()> {
                anyhow::ensure!(history::read_direct(shadow.url())?.len() == 23, "the batch was not applied");
                Ok(())
            };
            let baseline = || -> anyhow::Result<()> {
                let _ = std::fs::remove_file(tree.join("migrations/promotion.lock"));
                cmd!(sh, "{exe} --repo {tree} baseline --target bench --head {HEAD}").quiet().ignore_stdout().run()?;
                Ok(())
            };
            let promote = |shadow: &Shadow, extra: &[&str]| -> anyhow::Result<Duration> {
                let start = Instant::now();
                cmd!(sh, "{exe} --repo {tree} promote --target bench --yes {extra...}")
                    .env("XTASK_BENCH_URL", shadow.url())
                    .quiet()
                    .ignore_stdout()
                    .ignore_stderr()
                    .run()?;
                Ok(start.elapsed())
            };

            let shadow = fresh("promote")?;
            baseline()?;
            promote_times.push(promote(&shadow, &["--skip-catalog"])?);
            applied(&shadow)?;

            let shadow = fresh("push")?;
            let remote = Remote::Url(shadow.url().to_string());
            let start = Instant::now();
            let out = cli.push(sh, &tree.join("full"), &remote, Push::Apply)?;
            push_times.push(start.elapsed());
            anyhow::ensure!(out.success, "the bare push failed: {}", out.transcript);
            applied(&shadow)?;

            // The runbook's whole standard path, against its manual fallback on the same batch.
            let shadow = fresh("full")?;
            baseline()?;
            full_times.push(promote(&shadow, &[])?);
            applied(&shadow)?;

            let shadow = fresh("manual")?;
            let remote = Remote::Url(shadow.url().to_string());
            let start = Instant::now();
            cli.push(sh, &tree.join("full"), &remote, Push::DryRun)?;
            let out = cli.push(sh, &tree.join("full"), &remote, Push::Apply)?;
            anyhow::ensure!(out.success, "the manual push failed: {}", out.transcript);
            catalog_and_docs(sh, &exe, &tree, shadow.url())?;
            manual_times.push(start.elapsed());
            applied(&shadow)?;
        }
        let median = |mut v: Vec<Duration>| {
            v.sort();
            v[v.len() / 2].as_secs_f64()
        };
        let (promote, push) = (median(promote_times), median(push_times));
        let (full, manual) = (median(full_times), median(manual_times));
        println!("batch          14 files after {HEAD}, fresh database each run, {} run(s), medians", self.runs.max(1));
        println!(
            "xtask promote  {promote:.3} s  (--skip-catalog: check, live head, stage, CLI dry-run, lock, push, verify, record)"
        );
        println!("bare db push   {push:.3} s  (supabase db push --remote=<url> --yes)");
        println!("ratio          {:.2}x  (against a bare push, which reviews nothing)", promote / push);
        println!("xtask promote  {full:.3} s  (the whole path: ... and catalog + docs refresh)");
        println!(
            "manual path    {manual:.3} s  (the runbook's fallback: db push --dry-run, db push, catalog, docs-refresh)"
        );
        println!(
            "ratio          {:.2}x  (target <= 1.05x); the xtask's own overhead {:.3} s",
            full / manual,
            full - manual
        );
        Ok(())
    }
}

impl flags::BenchCatalog {
    /// A generated schema in the embedded cluster; `catalog` + `docs-refresh` (as a user runs them) against
    /// `pg_dump --schema-only` of the same database, same run.
    fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let major = major(repo, self.major)?;
        let cluster = repo.cluster(major)?;
        let admin = cluster.start_admin(sh)?;
        let name = format!("bench_catalog_{}", self.tables);
        let url = pg::project_url(&admin, &name);
        let ready = pg::connect(&url)
            .and_then(|mut c| {
                Ok(c.query_one("select count(*) from pg_tables where schemaname = 'public'", &[])?.get::<_, i64>(0))
            })
            .is_ok_and(|n| n == self.tables as i64);
        if !ready {
            eprintln!("bench catalog: generating {} tables in {name} (once; kept for later runs)", self.tables);
            pg::create_database(&admin, &name)?;
            let mut client = pg::connect(&url)?;
            // In chunks: one transaction holding thousands of new relations runs out of lock slots.
            for start in (1..=self.tables).step_by(100) {
                client.batch_execute(&schema_sql(start, (start + 99).min(self.tables)))?;
            }
            // The statistics autovacuum gives a live database within a minute; without them the catalog's
            // joins over pg_attribute plan for empty tables (measured: 10x slower).
            client.batch_execute("vacuum analyze")?;
        }
        let tree = repo.bench_dir("catalog");
        std::fs::create_dir_all(tree.join("migrations"))?;
        fsutil::write_atomic(&tree.join("xtask.toml"), b"[targets.bench]\ndb_url_env = \"XTASK_BENCH_URL\"\n")?;
        let exe = std::env::current_exe()?;
        let pg_dump = pg::bindir(major)?.join("pg_dump");
        let pgpass = cluster.pgpass();
        let dump_url = cluster.display_url(&name)?;

        let xtask = median(self.runs, || catalog_and_docs(sh, &exe, &tree, &url))?;
        let dump = median(self.runs, || {
            cmd!(sh, "{pg_dump} --schema-only --no-owner -f /dev/null {dump_url}")
                .env("PGPASSFILE", &pgpass)
                .quiet()
                .run()?;
            Ok(())
        })?;
        let snapshot =
            crate::domain::schema::catalog::parse(&std::fs::read_to_string(Repo::open(&tree)?.catalog_path("bench"))?)?;
        let columns: usize = snapshot.tables.iter().map(|t| t.columns.len()).sum();
        let policies: usize = snapshot.tables.iter().map(|t| t.policies.len()).sum();
        let indexes: usize = snapshot.tables.iter().map(|t| t.indexes.len()).sum();
        println!(
            "schema         {} tables, {columns} columns, {policies} policies, {} functions, {indexes} indexes",
            snapshot.tables.len(),
            snapshot.functions.len()
        );
        println!("xtask catalog  {:.3} s  (median; catalog + docs-refresh, two processes)", xtask.as_secs_f64());
        println!("pg_dump        {:.3} s  (median; pg_dump --schema-only)", dump.as_secs_f64());
        println!("ratio          {:.2}x  (target <= 0.5x)", xtask.as_secs_f64() / dump.as_secs_f64());
        Ok(())
    }
}

/// Tables with 10 columns, a primary key and one more index, RLS with 2 policies, and a function each.
fn schema_sql(first: usize, last: usize) -> String {
    let body = r#"
        execute format('create table public.t_%s (
          id bigint generated always as identity primary key, org_id uuid not null, title text not null,
          body text, status text not null default ''open'', amount numeric(12,2), tags text[],
          created_by uuid, created_at timestamptz not null default now(), updated_at timestamptz)', i);
        execute format('create index t_%s_org_idx on public.t_%s (org_id, created_at)', i, i);
        execute format('alter table public.t_%s enable row level security', i);
        execute format('create policy "members read" on public.t_%s for select to authenticated using (auth.uid() = created_by)', i);
        execute format('create policy "members write" on public.t_%s for insert to authenticated with check (auth.uid() = created_by)', i);
        execute format('create function public.t_%s_count(p_org uuid) returns bigint language sql stable set search_path = '''' as '
          || '''select count(*) from public.t_%s where org_id = p_org''', i, i);
    "#;
    format!("do $$ begin for i in {first}..{last} loop {body} end loop; end $$;")
}

impl flags::BenchParity {
    /// A source table over 2026 (index on its time column) and its shadow partitioned by month, both filled once;
    /// then `partition parity` (the whole command, evidence included) against the floor: `count(*)` of each.
    fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let major = major(repo, self.major)?;
        let admin = repo.cluster(major)?.start_admin(sh)?;
        let name = format!("bench_parity_{}", self.rows);
        let url = pg::project_url(&admin, &name);
        let ready = pg::connect(&url)
            .and_then(|mut c| Ok(c.query_one("select count(*) from public.events_p", &[])?.get::<_, i64>(0)))
            .is_ok_and(|n| n == self.rows);
        if !ready {
            eprintln!("bench parity: generating {} rows in {name} (once; kept for later runs)", self.rows);
            pg::create_database(&admin, &name)?;
            let mut client = pg::connect(&url)?;
            client.batch_execute(&parity_sql(self.rows))?;
        }
        all_visible(&url)?;
        let tree = repo.bench_dir("parity");
        std::fs::create_dir_all(tree.join("migrations"))?;
        fsutil::write_atomic(&tree.join("xtask.toml"), b"[targets.bench]\ndb_url_env = \"XTASK_BENCH_URL\"\n")?;
        let exe = std::env::current_exe()?;
        let parity = median(self.runs, || {
            cmd!(sh, "{exe} --repo {tree} partition parity --target bench --source public.events --shadow public.events_p --time-column at")
                .env("XTASK_BENCH_URL", &url)
                .quiet()
                .ignore_stdout()
                .ignore_stderr()
                .run()?;
            Ok(())
        })?;
        let mut client = pg::connect(&url)?;
        let floor = median(self.runs, || {
            client.query_one("select count(*) from public.events", &[])?;
            client.query_one("select count(*) from public.events_p", &[])?;
            Ok(())
        })?;
        println!("rows           {} in the source, {} in the shadow, 12 partitions", self.rows, self.rows);
        println!(
            "parity         {:.3} s  (median; the whole command: 14 windows, counts, 1% samples both ways, evidence)",
            parity.as_secs_f64()
        );
        println!("floor          {:.3} s  (median; exact count(*) of both tables)", floor.as_secs_f64());
        println!("ratio          {:.2}x  (target <= 1.5x)", parity.as_secs_f64() / floor.as_secs_f64());
        Ok(())
    }
}

/// Both tables as autovacuum leaves a live table: statistics taken and every page all-visible. A page that is
/// not (measured: every page, after a VACUUM in the session that loaded them) makes both sides check each
/// row's visibility, which a production table's old pages never pay.
fn all_visible(url: &str) -> anyhow::Result<()> {
    let pending = "select count(*) from pg_class c where c.relkind = 'r' and c.relpages > c.relallvisible \
         and (c.oid = 'public.events'::regclass or c.oid in (select inhrelid from pg_inherits where inhparent = 'public.events_p'::regclass))";
    for vacuums in 0.. {
        let mut client = pg::connect(url)?;
        if client.query_one(pending, &[])?.get::<_, i64>(0) == 0 {
            return Ok(());
        }
        if vacuums == 2 {
            break;
        }
        // Separately: VACUUM refuses to run inside the implicit transaction of a multi-statement batch.
        client.batch_execute("vacuum analyze public.events")?;
        client.batch_execute("vacuum analyze public.events_p")?;
    }
    anyhow::bail!(
        "bench parity: VACUUM left pages of public.events or its shadow not all-visible (a session holding an old snapshot?); end it and run again"
    )
}

fn parity_sql(rows: i64) -> String {
    format!(
        "create table public.events (id bigint primary key, at timestamptz not null, payload text not null, note text);
         insert into public.events
           select i, timestamptz '2026-01-01 00:00:00+00' + (i - 1) * (interval '365 days' / {rows}), md5(i::text), null
           from generate_series(1, {rows}) as i;
         create index events_at_idx on public.events (at);
         create table public.events_p (id bigint not null, at timestamptz not null, payload text not null, note text,
           primary key (id, at)) partition by range (at);
         do $$ begin for m in 0..11 loop
           execute format('create table public.events_p_%s partition of public.events_p for values from (%L) to (%L)',
             to_char(date '2026-01-01' + m * interval '1 month', 'YYYY_MM'),
             (timestamptz '2026-01-01 00:00:00+00' + m * interval '1 month'),
             (timestamptz '2026-01-01 00:00:00+00' + (m + 1) * interval '1 month'));
         end loop; end $$;
         insert into public.events_p select * from public.events;"
    )
}
