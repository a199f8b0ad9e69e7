-- Form workflows (fw): automations run by the fw execution worker when a submission arrives.

create table public.fw_automations (
  id uuid primary key default gen_random_uuid(),
  form_id uuid not null references public.forms (id) on delete cascade,
  action text not null check (action in ('enroll_in_sequence', 'notify', 'webhook')),
  config jsonb not null default '{}'::jsonb,
  enabled boolean not null default true
);

create table public.fw_jobs (
  id bigint generated always as identity primary key,
  automation_id uuid not null references public.fw_automations (id) on delete cascade,
  submission_id uuid not null references public.form_submissions (id) on delete cascade,
  status text not null default 'queued' check (status in ('queued', 'running', 'done', 'failed')),
  attempts integer not null default 0,
  created_at timestamptz not null default now()
);
create index fw_jobs_queued_idx on public.fw_jobs (created_at) where status = 'queued';

-- The worker's application role: which permissions the fw execution worker holds.
insert into public.permissions (key, description) values
  ('fw.jobs.claim', 'Claim queued form workflow jobs'),
  ('fw.jobs.complete', 'Mark form workflow jobs done or failed');
insert into public.role_permissions (role, permission_key) values
  ('fw_execution_worker', 'fw.jobs.claim'),
  ('fw_execution_worker', 'problems.manage');

create or replace function public.fw_enqueue_submission_automations()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.fw_jobs (automation_id, submission_id)
  select a.id, new.id from public.fw_automations a where a.form_id = new.form_id;
  return new;
end;
$$;

create trigger fw_enqueue_submission_automations
  after insert on public.form_submissions
  for each row execute function public.fw_enqueue_submission_automations();

alter table public.fw_automations enable row level security;
alter table public.fw_jobs enable row level security;
create policy "members manage automations" on public.fw_automations
  for all to authenticated
  using (exists (select 1 from public.forms f where f.id = form_id and public.is_org_member(f.org_id)))
  with check (exists (select 1 from public.forms f where f.id = form_id and public.is_org_member(f.org_id)));

grant select, insert, update, delete on public.fw_automations to authenticated;
grant all on public.fw_jobs to service_role;
