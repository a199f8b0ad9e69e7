//! `cargo xtask bench rehearsal`: what a protected rehearsal costs on a long history, with the history's template
//! kept (warm) or not (cold), against the batch alone.

use crate::domain::platform::RoleModel;
use std::time::{Duration, Instant};

use xshell::Shell;

use crate::edges::os::fsutil;
use crate::edges::postgres as pg;
use crate::edges::repo::Repo;
use crate::edges::shadow::Shadow;
use crate::edges::supabase::cli::Cli;
use crate::flags;

use super::median;

impl flags::BenchRehearsal {
    /// What a protected promotion's rehearsal costs: the history from its template (warm), or replayed (cold),
    /// then the batch through the CLI; against the batch alone on a fresh database.
    pub(super) fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let major = super::major(repo, self.major)?;
        let dir = repo.bench_dir("rehearsal").join("migrations");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        for i in 0..self.history + 14 {
            fsutil::write_atomic(
                &dir.join(format!("{}_app_{i}.sql", 20200101000000u64 + i as u64)),
                app_migration(i).as_bytes(),
            )?;
        }
        let files = crate::edges::migration_files::discover(&repo.root, &dir).migrations;
        let split = files.len().saturating_sub(14);
        let (history, batch): (Vec<_>, Vec<_>) = (files[..split].iter().collect(), files[split..].iter().collect());
        let cli = Cli::locate(sh, &repo.root)?;
        let admin = repo.cluster(major)?.start_admin(sh)?;
        let drop_templates = || -> anyhow::Result<()> {
            let mut client = pg::connect(&admin)?;
            let names: Vec<String> = client
                .query("select datname::text from pg_database where datname like 'xtask\\_tpl\\_%'", &[])?
                .iter()
                .map(|r| r.get(0))
                .collect();
            for name in names {
                pg::drop_on(&mut client, &name)?;
            }
            Ok(())
        };
        let rehearse = || -> anyhow::Result<Duration> {
            let start = Instant::now();
            let (shadow, _) =
                Shadow::at_history(sh, repo, &cli, (major, RoleModel::Platform), &history, "bench_rehearsal")?;
            shadow.replay(sh, &cli, &history, &batch)?;
            Ok(start.elapsed())
        };
        drop_templates()?;
        let cold = rehearse()?;
        let warm = median(self.runs, || rehearse().map(|_| ()))?;
        let floor = median(self.runs, || {
            let shadow = Shadow::create(sh, repo, major, RoleModel::Platform, "bench_floor")?;
            shadow.replay(sh, &cli, &[], &batch)
        })?;
        drop_templates()?;
        println!("history        {} generated files, then a 14-file batch", self.history);
        println!(
            "warm           {:.3} s  (median; history copied from its template, the batch through the CLI)",
            warm.as_secs_f64()
        );
        println!(
            "cold           {:.3} s  (history replayed through the CLI and kept as the template, then the batch)",
            cold.as_secs_f64()
        );
        println!("floor          {:.3} s  (median; the same batch on a fresh database)", floor.as_secs_f64());
        println!(
            "ratio          {:.2}x warm, {:.2}x cold  (target <= 1.3x warm)",
            warm.as_secs_f64() / floor.as_secs_f64(),
            cold.as_secs_f64() / floor.as_secs_f64()
        );
        Ok(())
    }
}

/// A migration as apps write them: a table, an index, RLS with policies on `auth.uid()`, a plpgsql function with a
/// trigger, grants and a comment, and a DO block. Self-contained, so any subset replays on its own.
fn app_migration(i: usize) -> String {
    format!(
        r#"-- Generated for `cargo xtask bench rehearsal`.
create table public.items_{i} (
  id bigint generated always as identity primary key,
  owner uuid not null default auth.uid(),
  title text not null check (char_length(title) between 1 and 200),
  body text,
  status text not null default 'open',
  created_at timestamptz not null default now(),
  updated_at timestamptz
);
create index items_{i}_owner_idx on public.items_{i} (owner, created_at desc);
alter table public.items_{i} enable row level security;
create policy "owners read items {i}" on public.items_{i} for select to authenticated using ((select auth.uid()) = owner);
create policy "owners write items {i}" on public.items_{i} for insert to authenticated with check ((select auth.uid()) = owner);

create or replace function public.items_{i}_touch() returns trigger language plpgsql security definer set search_path = '' as $$
begin
  new.updated_at := now();
  if new.status not in ('open', 'closed', 'archived') then
    raise exception 'unknown status % for item %', new.status, new.id;
  end if;
  return new;
end;
$$;
create trigger items_{i}_touch before update on public.items_{i} for each row execute function public.items_{i}_touch();

grant select, insert, update on public.items_{i} to authenticated;
grant all on public.items_{i} to service_role;
comment on table public.items_{i} is 'Items of generated feature {i}.';

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    raise exception 'the platform baseline is missing';
  end if;
end
$$;
"#
    )
}
