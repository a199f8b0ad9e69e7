-- Forms, their submissions, and daily analytics rows.

create table public.forms (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references public.organizations (id) on delete cascade,
  title text not null,
  schema jsonb not null default '{}'::jsonb,
  published boolean not null default false,
  created_at timestamptz not null default now()
);

create table public.form_submissions (
  id uuid primary key default gen_random_uuid(),
  form_id uuid not null references public.forms (id) on delete cascade,
  contact_id uuid references public.contacts (id) on delete set null,
  answers jsonb not null,
  completed boolean not null default true,
  submitted_at timestamptz not null default now()
);
create index form_submissions_form_time_idx on public.form_submissions (form_id, submitted_at desc);

create table public.form_analytics_daily (
  form_id uuid not null references public.forms (id) on delete cascade,
  day date not null,
  views integer not null default 0,
  submissions integer not null default 0,
  completions integer not null default 0,
  primary key (form_id, day)
);

-- Completion metrics for a form over a date range (the argument order is fixed in 20260513132700).
create or replace function public.form_completion_metrics(p_form_id uuid, p_since date)
returns table (day date, submissions bigint, completion_rate numeric)
language sql
stable
as $$
  select s.submitted_at::date, count(*), round(avg(case when s.completed then 1 else 0 end), 3)
  from public.form_submissions s
  where s.form_id = p_form_id and s.submitted_at >= p_since
  group by 1
  order by 1;
$$;

alter table public.forms enable row level security;
alter table public.form_submissions enable row level security;
alter table public.form_analytics_daily enable row level security;

create policy "members manage forms" on public.forms
  for all to authenticated using (public.is_org_member(org_id)) with check (public.is_org_member(org_id));
create policy "anyone submits to a published form" on public.form_submissions
  for insert to anon, authenticated
  with check (exists (select 1 from public.forms f where f.id = form_id and f.published));
create policy "members read submissions" on public.form_submissions
  for select to authenticated
  using (exists (select 1 from public.forms f where f.id = form_id and public.is_org_member(f.org_id)));
create policy "members read analytics" on public.form_analytics_daily
  for select to authenticated
  using (exists (select 1 from public.forms f where f.id = form_id and public.is_org_member(f.org_id)));

grant select, insert, update, delete on public.forms to authenticated;
grant insert on public.form_submissions to anon, authenticated;
grant select on public.form_submissions, public.form_analytics_daily to authenticated;
grant execute on function public.form_completion_metrics(uuid, date) to authenticated;

alter publication supabase_realtime add table public.form_submissions;
