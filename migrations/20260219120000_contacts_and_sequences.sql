-- Contacts and outreach sequences (ordered steps; contacts enrolled in a sequence advance step by step).

create table public.contacts (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references public.organizations (id) on delete cascade,
  email extensions.citext not null,
  full_name text,
  created_at timestamptz not null default now(),
  unique (org_id, email)
);

create table public.sequences (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references public.organizations (id) on delete cascade,
  name text not null,
  is_active boolean not null default false,
  created_at timestamptz not null default now()
);

create table public.sequence_steps (
  id uuid primary key default gen_random_uuid(),
  sequence_id uuid not null references public.sequences (id) on delete cascade,
  position integer not null,
  channel text not null check (channel in ('email', 'task')),
  template jsonb not null default '{}'::jsonb,
  wait_hours integer not null default 24,
  unique (sequence_id, position)
);

create table public.sequence_enrollments (
  id uuid primary key default gen_random_uuid(),
  sequence_id uuid not null references public.sequences (id) on delete cascade,
  contact_id uuid not null references public.contacts (id) on delete cascade,
  status text not null default 'active' check (status in ('active', 'paused', 'completed', 'exited')),
  current_position integer not null default 1,
  next_run_at timestamptz,
  enrolled_at timestamptz not null default now(),
  unique (sequence_id, contact_id)
);

alter table public.contacts enable row level security;
alter table public.sequences enable row level security;
alter table public.sequence_steps enable row level security;
alter table public.sequence_enrollments enable row level security;

create policy "members manage contacts" on public.contacts
  for all to authenticated using (public.is_org_member(org_id)) with check (public.is_org_member(org_id));
create policy "members read sequences" on public.sequences
  for select to authenticated using (public.is_org_member(org_id));
create policy "members read sequence steps" on public.sequence_steps
  for select to authenticated
  using (exists (select 1 from public.sequences s where s.id = sequence_id and public.is_org_member(s.org_id)));
create policy "members read enrollments" on public.sequence_enrollments
  for select to authenticated
  using (exists (select 1 from public.sequences s where s.id = sequence_id and public.is_org_member(s.org_id)));

grant select, insert, update, delete on public.contacts to authenticated;
grant select on public.sequences, public.sequence_steps, public.sequence_enrollments to authenticated;
