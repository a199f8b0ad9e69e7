-- The fw execution worker was granted problems.manage by mistake and never got fw.jobs.complete, so it could
-- not close the jobs it claimed. Correct its role assignments.

delete from public.role_permissions
where role = 'fw_execution_worker' and permission_key = 'problems.manage';

insert into public.role_permissions (role, permission_key) values
  ('fw_execution_worker', 'fw.jobs.claim'),
  ('fw_execution_worker', 'fw.jobs.complete')
on conflict do nothing;
