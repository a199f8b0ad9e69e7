-- Phase 1 of partitioning audit_log by month (ADR-020): a partitioned shadow table, filled by the sync trigger and
-- the backfill helper of the next file. The swap is a separate phase-2 batch, promoted only after
-- `cargo xtask partition parity` passes for public.audit_log / public.audit_log_p.
-- xtask: partition-phase 1

create table public.audit_log_p (
  id bigint not null,
  org_id uuid,
  actor uuid,
  entity text not null,
  entity_id uuid,
  action text not null,
  at timestamptz not null,
  primary key (id, at)
) partition by range (at);

create table public.audit_log_p_default partition of public.audit_log_p default;

-- Monthly partitions are created ahead of time by this helper (dynamic SQL: the partition's name is data).
create or replace function public.audit_log_p_ensure_month(p_month date)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_from date := date_trunc('month', p_month)::date;
  v_name text := 'audit_log_p_' || to_char(v_from, 'YYYY_MM');
begin
  if to_regclass('public.' || v_name) is null then
    execute format(
      'create table public.%I partition of public.audit_log_p for values from (%L) to (%L)',
      v_name, v_from::timestamptz, (v_from + interval '1 month')::timestamptz
    );
    -- A partition is a table of its own: queried directly, the parent's row-level security does not apply.
    execute format('alter table public.%I enable row level security', v_name);
    execute format('revoke all on public.%I from anon, authenticated', v_name);
  end if;
  return v_name;
end;
$$;

select public.audit_log_p_ensure_month(d::date)
from generate_series(date '2026-01-01', date '2026-12-01', interval '1 month') as d;

alter table public.audit_log_p enable row level security;
revoke all on public.audit_log_p from anon, authenticated;
alter table public.audit_log_p_default enable row level security;
revoke all on public.audit_log_p_default from anon, authenticated;
revoke execute on function public.audit_log_p_ensure_month(date) from public, anon, authenticated;
grant execute on function public.audit_log_p_ensure_month(date) to service_role;
