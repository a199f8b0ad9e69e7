-- Phase 1 (continued): every write to audit_log is mirrored into audit_log_p, and history is copied in ranges by
-- a helper run by hand (`select public.audit_log_p_backfill(from, to)`), then verified with
-- `cargo xtask partition parity --source public.audit_log --shadow public.audit_log_p --time-column at`.
-- xtask: partition-phase 1

create or replace function public.audit_log_sync_to_p()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op in ('UPDATE', 'DELETE') then
    delete from public.audit_log_p where id = old.id and at = old.at;
  end if;
  if tg_op = 'DELETE' then
    return old;
  end if;
  insert into public.audit_log_p (id, org_id, actor, entity, entity_id, action, at)
  values (new.id, new.org_id, new.actor, new.entity, new.entity_id, new.action, new.at);
  return new;
end;
$$;

create trigger audit_log_sync_to_p
  after insert or update or delete on public.audit_log
  for each row execute function public.audit_log_sync_to_p();

create or replace function public.audit_log_p_backfill(p_from timestamptz, p_to timestamptz)
returns bigint
language sql
security definer
set search_path = ''
as $$
  with copied as (
    insert into public.audit_log_p (id, org_id, actor, entity, entity_id, action, at)
    select id, org_id, actor, entity, entity_id, action, at
    from public.audit_log
    where at >= p_from and at < p_to
    on conflict (id, at) do nothing
    returning 1
  )
  select count(*) from copied;
$$;

revoke execute on function public.audit_log_sync_to_p(), public.audit_log_p_backfill(timestamptz, timestamptz)
  from public, anon, authenticated;
grant execute on function public.audit_log_p_backfill(timestamptz, timestamptz) to service_role;
