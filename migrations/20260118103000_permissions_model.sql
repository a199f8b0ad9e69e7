-- Application permissions: named capabilities granted to organization roles, checked by RLS policies.

create table public.permissions (
  key text primary key check (key ~ '^[a-z0-9_.]+$'),
  description text not null default '',
  created_at timestamptz not null default now()
);

create table public.role_permissions (
  role text not null,
  permission_key text not null references public.permissions (key) on delete cascade,
  primary key (role, permission_key)
);

create or replace function public.has_permission(p_org_id uuid, p_permission text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1
    from public.memberships m
    join public.role_permissions rp on rp.role = m.role
    where m.org_id = p_org_id
      and m.user_id = auth.uid()
      and rp.permission_key = p_permission
  );
$$;

alter table public.permissions enable row level security;
alter table public.role_permissions enable row level security;
create policy "permissions are readable by the signed-in" on public.permissions
  for select to authenticated using (true);
create policy "role permissions are readable by the signed-in" on public.role_permissions
  for select to authenticated using (true);

revoke execute on function public.has_permission(uuid, text) from public, anon;
grant execute on function public.has_permission(uuid, text) to authenticated, service_role;

insert into public.permissions (key, description) values
  ('org.manage', 'Manage organization settings and members'),
  ('problems.read', 'Read problems'),
  ('problems.manage', 'Create, edit and close problems');

insert into public.role_permissions (role, permission_key) values
  ('owner', 'org.manage'), ('owner', 'problems.read'), ('owner', 'problems.manage'),
  ('admin', 'org.manage'), ('admin', 'problems.read'), ('admin', 'problems.manage'),
  ('member', 'problems.read');
