//! `cargo xtask bench`: the measurements behind the performance figures, each against a named comparison.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use xshell::{Shell, cmd};

use crate::flags;
use crate::fsutil;

impl flags::Bench {
    pub fn run(self, sh: &Shell) -> anyhow::Result<()> {
        match self.what {
            flags::BenchWhat::Check(bench) => bench.run(sh),
            flags::BenchWhat::Promote(bench) => bench.run(sh),
        }
    }
}

impl flags::BenchCheck {
    fn run(self, sh: &Shell) -> anyhow::Result<()> {
        let dir = sh.current_dir().join("target/xtask").join(format!("bench-check-{}", self.files));
        let bytes = generate_tree(&dir, self.files).context("generating the benchmark tree")?;
        let exe = std::env::current_exe().context("locating the xtask binary")?;
        let migrations = dir.join("migrations");
        let files: Vec<String> = (0..self.files).map(|i| migrations.join(file_name(i)).display().to_string()).collect();

        eprintln!("bench check: {} files, {:.1} MB, {} run(s) each", self.files, bytes as f64 / 1e6, self.runs);
        let xtask = median(self.runs, || {
            // Exit 1 (findings) is expected on a generated tree; only the time matters here.
            cmd!(sh, "{exe} --repo {dir} check --lint all --format json")
                .quiet()
                .ignore_status()
                .ignore_stdout()
                .ignore_stderr()
                .run()?;
            Ok(())
        })?;
        let squawk = if cmd!(sh, "squawk --version").quiet().ignore_stdout().ignore_stderr().run().is_ok() {
            Some(median(self.runs, || {
                let files = &files;
                cmd!(sh, "squawk --pg-version 15 --assume-in-transaction --reporter gcc {files...}")
                    .quiet()
                    .ignore_status()
                    .ignore_stdout()
                    .ignore_stderr()
                    .run()?;
                Ok(())
            })?)
        } else {
            eprintln!("squawk is not installed (`pip install squawk-cli`): no comparison");
            None
        };

        println!("files        {}", self.files);
        println!("size         {:.1} MB", bytes as f64 / 1e6);
        println!("xtask check  {:.3} s  (median, --lint all)", xtask.as_secs_f64());
        if let Some(squawk) = squawk {
            println!("squawk       {:.3} s  (median)", squawk.as_secs_f64());
            println!(
                "ratio        {:.2}x  (xtask / squawk; target <= 0.45x)",
                xtask.as_secs_f64() / squawk.as_secs_f64()
            );
        }
        Ok(())
    }
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

fn file_name(i: usize) -> String {
    // One file a minute from 2024-01-01, so versions are valid, unique and ordered.
    let time = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default()
        + chrono::Duration::minutes(i as i64);
    format!("{}_bench_{i:05}.sql", time.format("%Y%m%d%H%M%S"))
}

/// A realistic tree: tables with RLS and policies, functions, indexes, grants, data fixes. Returns its size.
fn generate_tree(dir: &Path, files: usize) -> anyhow::Result<u64> {
    let migrations = dir.join("migrations");
    std::fs::create_dir_all(&migrations)?;
    fsutil::write_atomic(
        &dir.join("xtask.toml"),
        b"migrations_dir = \"migrations\"\n\n[targets.local]\nembedded = true\n",
    )?;
    let mut total = 0;
    for i in 0..files {
        let sql = bench_migration(i);
        total += sql.len() as u64;
        let path = migrations.join(file_name(i));
        if std::fs::read(&path).ok().as_deref() != Some(sql.as_bytes()) {
            std::fs::write(&path, sql)?;
        }
    }
    Ok(total)
}

fn bench_migration(i: usize) -> String {
    let t = format!("entity_{i:05}");
    match i % 4 {
        0 => format!(
            "-- {t}: a new table with row level security\n\
             create table if not exists public.{t} (\n  id uuid primary key default gen_random_uuid(),\n  org_id uuid not null references public.organizations (id) on delete cascade,\n  \
             title text not null,\n  status text not null default 'open' check (status in ('open', 'closed')),\n  payload jsonb not null default '{{}}'::jsonb,\n  \
             created_by uuid references auth.users (id),\n  created_at timestamptz not null default now(),\n  updated_at timestamptz not null default now()\n);\n\n\
             alter table public.{t} enable row level security;\n\n\
             create policy \"{t} members read\" on public.{t} for select to authenticated\n  using (public.is_org_member(org_id));\n\
             create policy \"{t} members write\" on public.{t} for insert to authenticated\n  with check (public.has_permission(org_id, '{t}.write'));\n\
             create policy \"{t} admins delete\" on public.{t} for delete to authenticated\n  using (public.has_permission(org_id, '{t}.delete'));\n\n\
             create index if not exists {t}_org_idx on public.{t} (org_id, created_at desc);\n\
             grant select, insert, update, delete on public.{t} to authenticated;\ngrant all on public.{t} to service_role;\n"
        ),
        1 => format!(
            "-- helper for {t}\n\
             create or replace function public.{t}_touch()\nreturns trigger\nlanguage plpgsql\nset search_path = ''\nas $$\nbegin\n  \
             new.updated_at := now();\n  if new.status = 'closed' and old.status <> 'closed' then\n    \
             insert into public.audit_log (entity, entity_id, action) values ('{t}', new.id, 'closed');\n  end if;\n  return new;\nend;\n$$;\n\n\
             create or replace function public.{t}_count(p_org uuid)\nreturns bigint\nlanguage sql\nstable\nsecurity definer\nset search_path = ''\nas $$\n  \
             select count(*) from public.entity_{:05} where org_id = p_org;\n$$;\n\n\
             revoke execute on function public.{t}_count(uuid) from public, anon;\ngrant execute on function public.{t}_count(uuid) to authenticated;\n",
            i - 1
        ),
        2 => format!(
            "-- backfill for {t}\n\
             alter table public.entity_{:05} add column if not exists priority integer not null default 0;\n\
             update public.entity_{:05} set priority = 1 where status = 'open' and priority = 0;\n\
             insert into public.permissions (key, description) values\n  ('{t}.write', 'Create and edit'),\n  ('{t}.delete', 'Delete')\n\
             on conflict (key) do update set description = excluded.description;\n\
             comment on table public.entity_{:05} is 'Managed by the {t} feature';\n",
            i - 2,
            i - 2,
            i - 2
        ),
        _ => format!(
            "-- view and grants for {t}\n\
             create or replace view public.{t}_summary with (security_invoker = true) as\n  \
             select org_id, status, count(*) as total, max(created_at) as last_created\n  from public.entity_{:05}\n  group by org_id, status;\n\n\
             grant select on public.{t}_summary to authenticated;\n\
             alter table public.entity_{:05} alter column title set default '';\n",
            i - 3,
            i - 3
        ),
    }
}

impl flags::BenchPromote {
    fn run(self, _sh: &Shell) -> anyhow::Result<()> {
        anyhow::bail!("bench promote: not yet")
    }
}
