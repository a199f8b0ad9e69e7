-- Problems: tracked issues per organization, with a permission helper used by the policies.

create table public.problems (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references public.organizations (id) on delete cascade,
  title text not null,
  details text not null default '',
  status text not null default 'open' check (status in ('open', 'in_progress', 'resolved')),
  assignee uuid references auth.users (id) on delete set null,
  created_by uuid not null default auth.uid() references auth.users (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index problems_org_status_idx on public.problems (org_id, status);

-- Known gap (fixed in cl46): checks the permission but ignores the assignee and runs with the caller's search_path.
create or replace function public.can_manage_problem(p_problem_id uuid)
returns boolean
language plpgsql
stable
security definer
as $$
begin
  return exists (
    select 1 from public.problems p
    where p.id = p_problem_id and public.has_permission(p.org_id, 'problems.manage')
  );
end;
$$;

alter table public.problems enable row level security;
create policy "members read problems" on public.problems
  for select to authenticated using (public.has_permission(org_id, 'problems.read'));
create policy "managers create problems" on public.problems
  for insert to authenticated with check (public.has_permission(org_id, 'problems.manage'));
create policy "managers update problems" on public.problems
  for update to authenticated using (public.can_manage_problem(id));

grant select, insert, update on public.problems to authenticated;
revoke execute on function public.can_manage_problem(uuid) from public, anon;
grant execute on function public.can_manage_problem(uuid) to authenticated;
