//! The generated migration tree `bench check` lints: files shaped like real Supabase histories, from one line
//! to two thousand (most short, a few long), made of long plpgsql functions with dollar quoting, DO blocks,
//! tables with RLS policies, triggers, grants, comments, seed data and views. Deterministic: the same count
//! gives the same bytes, so both tools read identical files and a rerun rewrites nothing.

use std::fmt::Write as _;
use std::path::Path;

use crate::edges::os::fsutil;

/// SplitMix64: a tiny deterministic generator, so the tree needs no dependency and never changes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// In `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.range(0, items.len() - 1)]
    }
}

pub fn file_name(i: usize) -> String {
    // One file a minute from 2024-01-01, so versions are valid, unique and ordered.
    let time = chrono::NaiveDate::from_ymd_opt(2024, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default()
        + chrono::Duration::minutes(i as i64);
    format!("{}_bench_{i:05}.sql", time.format("%Y%m%d%H%M%S"))
}

/// Writes the tree (only files whose bytes changed), each content in `repeat` consecutive files, and returns its
/// size in bytes and lines.
pub fn generate_tree(dir: &Path, files: usize, repeat: usize) -> anyhow::Result<(u64, usize)> {
    let migrations = dir.join("migrations");
    std::fs::create_dir_all(&migrations)?;
    fsutil::write_atomic(
        &dir.join("xtask.toml"),
        b"migrations_dir = \"migrations\"\n\n[targets.local]\nembedded = true\n",
    )?;
    let (mut bytes, mut lines) = (0, 0);
    for i in 0..files {
        let sql = migration(i / repeat.max(1));
        bytes += sql.len() as u64;
        lines += sql.lines().count();
        let path = migrations.join(file_name(i));
        if std::fs::read(&path).ok().as_deref() != Some(sql.as_bytes()) {
            std::fs::write(&path, sql)?;
        }
    }
    Ok((bytes, lines))
}

/// File `i`: a length drawn like a real history's (a third under ten lines, one in twenty over 500), filled
/// with blocks until it is that long.
pub fn migration(i: usize) -> String {
    let mut rng = Rng(i as u64 ^ 0x5EED);
    let target = match rng.range(0, 99) {
        0..=4 => 1,
        5..=34 => rng.range(2, 10),
        35..=74 => rng.range(10, 80),
        75..=94 => rng.range(80, 500),
        _ => rng.range(500, 2000),
    };
    let t = format!("entity_{i:05}");
    if target == 1 {
        return one_liner(&mut rng, &t);
    }
    let mut out = format!("-- {}\n", rng.pick(&PURPOSES).replace("{t}", &t));
    let mut part = 0;
    while out.lines().count() < target {
        let name = format!("{t}_{part}");
        let remaining = target.saturating_sub(out.lines().count());
        let block = match rng.range(0, 9) {
            0 | 1 => table(&mut rng, &name),
            2 | 3 => function(&mut rng, &name, remaining),
            4 => do_block(&mut rng, &name),
            5 => trigger(&mut rng, &name),
            6 => grants(&mut rng, &name),
            7 => seed(&mut rng, &name, remaining),
            8 => view(&mut rng, &name),
            _ => alter(&mut rng, &name),
        };
        out.push_str(&block);
        out.push('\n');
        part += 1;
    }
    out
}

const PURPOSES: [&str; 6] = [
    "{t}: schema for the feature",
    "backfill and constraints for {t}",
    "RLS policies for {t} (see docs/security.md)",
    "functions and triggers for {t}",
    "seed data for {t}",
    "grants for {t} after the role review",
];

fn one_liner(rng: &mut Rng, t: &str) -> String {
    let line = match rng.range(0, 4) {
        0 => format!("alter table public.{t} add column if not exists archived_at timestamptz;"),
        1 => format!("comment on table public.{t} is 'Owned by the platform team';"),
        2 => format!("grant select on public.{t} to authenticated;"),
        3 => format!("create index if not exists {t}_created_idx on public.{t} (created_at);"),
        _ => format!("alter publication supabase_realtime add table public.{t};"),
    };
    line + "\n"
}

fn table(rng: &mut Rng, t: &str) -> String {
    let mut s = format!("create table if not exists public.{t} (\n  id uuid primary key default gen_random_uuid(),\n");
    s += "  org_id uuid not null references public.organizations (id) on delete cascade,\n";
    for c in 0..rng.range(3, 14) {
        let ty = rng.pick(&[
            "text",
            "integer",
            "bigint",
            "boolean not null default false",
            "jsonb not null default '{}'::jsonb",
            "timestamptz",
            "numeric(12, 2)",
            "text[] not null default '{}'",
        ]);
        let _ = writeln!(s, "  col_{c} {ty},");
    }
    s += "  status text not null default 'draft' check (status in ('draft', 'active', 'archived')),\n";
    s += "  created_by uuid references auth.users (id) on delete set null,\n  created_at timestamptz not null default now(),\n  updated_at timestamptz not null default now()\n);\n\n";
    let _ = writeln!(s, "alter table public.{t} enable row level security;\n");
    for (verb, clause) in [("select", "using"), ("insert", "with check"), ("update", "using"), ("delete", "using")]
        .iter()
        .take(rng.range(2, 4))
    {
        let _ = writeln!(
            s,
            "create policy \"{t} {verb}\" on public.{t}\n  as permissive for {verb} to authenticated\n  {clause} (\n    org_id in (select m.org_id from public.memberships m where m.user_id = (select auth.uid()))\n    and public.has_permission(org_id, '{t}.{verb}')\n  );"
        );
    }
    let _ =
        writeln!(s, "\ncreate index if not exists {t}_org_idx on public.{t} using btree (org_id, created_at desc);");
    let _ = writeln!(
        s,
        "comment on table public.{t} is 'Rows of {t}; one org each. Written by the API, read by members.';"
    );
    let _ = writeln!(s, "comment on column public.{t}.status is 'draft -> active -> archived, never back';");
    s
}

/// A plpgsql function whose body is as long as a real one gets: declarations, branches, loops over queries,
/// dynamic SQL with nested dollar quotes, exception handlers.
fn function(rng: &mut Rng, t: &str, remaining: usize) -> String {
    let statements = rng.range(2, (remaining / 6).clamp(3, 60));
    let mut s = format!(
        "create or replace function public.{t}_sync(p_org uuid, p_since timestamptz default now() - interval '1 day')\nreturns table (processed integer, skipped integer)\nlanguage plpgsql\nsecurity definer\nset search_path = ''\nas $function$\ndeclare\n  v_row record;\n  v_count integer := 0;\n  v_skipped integer := 0;\n  v_payload jsonb;\n  v_sql text;\nbegin\n  if p_org is null then\n    raise exception 'p_org is required' using errcode = '22004';\n  end if;\n"
    );
    for k in 0..statements {
        s += &match rng.range(0, 4) {
            0 => format!(
                "  for v_row in\n    select e.id, e.status, e.updated_at\n    from public.{t} e\n    where e.org_id = p_org and e.updated_at >= p_since\n    order by e.updated_at\n  loop\n    if v_row.status = 'archived' then\n      v_skipped := v_skipped + 1;\n      continue;\n    end if;\n    update public.{t} set updated_at = now() where id = v_row.id;\n    v_count := v_count + 1;\n  end loop;\n"
            ),
            1 => format!(
                "  v_sql := format($q$\n    insert into public.audit_log (entity, entity_id, action, detail)\n    select %L, id, 'sync_{k}', jsonb_build_object('org', $1, 'step', {k})\n    from public.{t} where org_id = $1\n  $q$, '{t}');\n  execute v_sql using p_org;\n"
            ),
            2 => format!(
                "  begin\n    v_payload := (select jsonb_agg(jsonb_build_object('id', id, 'status', status)) from public.{t} where org_id = p_org);\n    perform pg_notify('{t}_changed', coalesce(v_payload, '[]'::jsonb)::text);\n  exception\n    when others then\n      raise warning '{t}: notify failed at step {k}: %', sqlerrm;\n  end;\n"
            ),
            3 => format!(
                "  if exists (select 1 from public.{t} where org_id = p_org and status = 'draft' and created_at < now() - interval '{k} days') then\n    update public.{t} set status = 'archived' where org_id = p_org and status = 'draft';\n  elsif v_count > {k} then\n    raise notice '{t}: % rows touched', v_count;\n  else\n    v_skipped := v_skipped + 1;\n  end if;\n"
            ),
            _ => format!("  -- step {k}: keep counters honest across retries\n  v_count := greatest(v_count, 0);\n"),
        };
    }
    s += "  return query select v_count, v_skipped;\nend;\n$function$;\n\n";
    let _ = writeln!(s, "revoke all on function public.{t}_sync(uuid, timestamptz) from public, anon;");
    let _ = writeln!(s, "grant execute on function public.{t}_sync(uuid, timestamptz) to authenticated, service_role;");
    s
}

fn do_block(rng: &mut Rng, t: &str) -> String {
    let mut s = format!(
        "do $$\nbegin\n  if not exists (select 1 from pg_type where typname = '{t}_kind') then\n    create type public.{t}_kind as enum ('a', 'b', 'c');\n  end if;\n"
    );
    for k in 0..rng.range(1, 6) {
        let _ = writeln!(
            s,
            "  if not exists (\n    select 1 from information_schema.columns\n    where table_schema = 'public' and table_name = '{t}' and column_name = 'extra_{k}'\n  ) then\n    execute 'alter table public.{t} add column extra_{k} text';\n  end if;"
        );
    }
    s += "exception\n  when duplicate_object then null;\nend\n$$;\n";
    s
}

fn trigger(rng: &mut Rng, t: &str) -> String {
    let when = rng.pick(&["before update", "after insert or update", "before insert"]);
    format!(
        "create or replace function public.{t}_touch()\nreturns trigger\nlanguage plpgsql\nset search_path = ''\nas $$\nbegin\n  new.updated_at := now();\n  if tg_op = 'UPDATE' and new.status is distinct from old.status then\n    insert into public.audit_log (entity, entity_id, action) values ('{t}', new.id, 'status:' || new.status);\n  end if;\n  return new;\nend;\n$$;\n\ndrop trigger if exists {t}_touch on public.{t};\ncreate trigger {t}_touch {when} on public.{t}\n  for each row execute function public.{t}_touch();\n"
    )
}

fn grants(rng: &mut Rng, t: &str) -> String {
    let mut s = String::new();
    for role in ["anon", "authenticated", "service_role"].iter().take(rng.range(1, 3)) {
        let _ = writeln!(s, "revoke all on table public.{t} from {role};");
        let _ = writeln!(s, "grant select, insert, update on table public.{t} to {role};");
    }
    let _ = writeln!(s, "grant usage, select on all sequences in schema public to authenticated;");
    let _ = writeln!(s, "alter default privileges in schema public grant select on tables to authenticated;");
    s
}

fn seed(rng: &mut Rng, t: &str, remaining: usize) -> String {
    let rows = rng.range(3, remaining.clamp(4, 200));
    let mut s = "insert into public.permissions (key, description, created_at) values\n".to_string();
    for r in 0..rows {
        let sep = if r + 1 == rows { "" } else { "," };
        let _ =
            writeln!(s, "  ('{t}.perm_{r}', 'Permission {r} of {t}: it''s needed by the admin screens', now()){sep}");
    }
    s += "on conflict (key) do update set description = excluded.description;\n";
    s
}

fn view(rng: &mut Rng, t: &str) -> String {
    let agg = rng.pick(&["count(*)", "sum(coalesce(e.col_0::numeric, 0))", "max(e.updated_at)"]);
    format!(
        "create or replace view public.{t}_summary\nwith (security_invoker = true) as\nselect o.id as org_id, o.name, e.status, {agg} as value\nfrom public.organizations o\njoin public.{t} e on e.org_id = o.id\nwhere e.status <> 'archived'\ngroup by o.id, o.name, e.status;\n\ngrant select on public.{t}_summary to authenticated;\n"
    )
}

fn alter(rng: &mut Rng, t: &str) -> String {
    let mut s = String::new();
    for k in 0..rng.range(1, 4) {
        let _ = writeln!(s, "alter table public.{t} add column if not exists note_{k} text;");
        let _ = writeln!(s, "comment on column public.{t}.note_{k} is 'Free text; shown to admins only';");
    }
    let _ =
        writeln!(s, "update public.{t} set status = 'active' where status = 'draft' and created_at < '2024-01-01';");
    s
}
