-- Rollback of 20260615090000_audit_log_partition_cutover.sql (ADR-020), run by hand and recorded:
--   cargo xtask partition rollback --target prod --execute docs/database/promotions/<cutover record>.json
-- The unpartitioned table takes its name back and the partitioned one is the synced shadow again, so the
-- cutover can be retried. Rows inserted since the cutover are copied back; updates and deletes made since are
-- not (the criteria say to decide within 30 minutes). `promote` rehearses this file after the cutover on a local
-- shadow and refuses the cutover unless the schema comes back as it was.

revoke select on public.audit_log from authenticated;
drop policy "admins read the audit log" on public.audit_log;
alter table public.audit_log alter column id drop default;
alter table public.audit_log alter column actor drop default;
alter table public.audit_log alter column at drop default;
drop sequence public.audit_log_p_id_seq;

alter table public.audit_log rename to audit_log_p;
alter table public.audit_log_unpartitioned rename to audit_log;

insert into public.audit_log (id, org_id, actor, entity, entity_id, action, at) overriding system value
select p.id, p.org_id, p.actor, p.entity, p.entity_id, p.action, p.at
from public.audit_log_p p
where p.id > (select coalesce(max(a.id), 0) from public.audit_log a);
select setval(pg_get_serial_sequence('public.audit_log', 'id'), max(id)) from public.audit_log having max(id) is not null;

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

revoke execute on function public.audit_log_sync_to_p() from public, anon, authenticated;
