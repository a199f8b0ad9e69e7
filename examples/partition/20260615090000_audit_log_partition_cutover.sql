-- Phase 2 of partitioning audit_log (ADR-020): swap the partitioned shadow in. Its own reviewed batch, in a
-- maintenance window, after `cargo xtask partition parity` passed for this database (promote checks both).
-- xtask: partition-phase 2
-- xtask: rollback-criteria: writes to audit_log fail, or the admin audit page errors or slows past 2 s, within 30 minutes of the cutover
-- xtask: rollback: rollback/20260615090000_audit_log_partition_cutover.sql
-- xtask: ack destructive: the sync trigger's function has no use once audit_log is the partitioned table; the old table stays as audit_log_unpartitioned for rollback

-- The rename comes first: it takes ACCESS EXCLUSIVE on audit_log at once, so writers queue rather than race the
-- swap (an explicit LOCK TABLE fails here: the CLI runs a file as an implicit transaction, not a block).
alter table public.audit_log rename to audit_log_unpartitioned;
drop trigger audit_log_sync_to_p on public.audit_log_unpartitioned;
drop function public.audit_log_sync_to_p();
alter table public.audit_log_p rename to audit_log;

-- New rows continue the old identity's numbering, so ids stay unique across the swap.
create sequence public.audit_log_p_id_seq owned by public.audit_log.id;
select setval('public.audit_log_p_id_seq', coalesce((select max(id) from public.audit_log_unpartitioned), 0) + 1, false);
alter table public.audit_log alter column id set default nextval('public.audit_log_p_id_seq');
alter table public.audit_log alter column actor set default auth.uid();
alter table public.audit_log alter column at set default now();

create policy "admins read the audit log" on public.audit_log
  for select to authenticated using (public.is_org_admin(org_id));
grant select on public.audit_log to authenticated;
