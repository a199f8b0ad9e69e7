-- Navigation items and the permission each one needs; the app hides items the member cannot use.

create table public.nav_items (
  key text primary key,
  label text not null,
  path text not null,
  position integer not null default 0
);

create table public.nav_item_permissions (
  nav_key text not null references public.nav_items (key) on delete cascade,
  permission_key text not null references public.permissions (key) on delete cascade,
  primary key (nav_key, permission_key)
);

insert into public.nav_items (key, label, path, position) values
  ('problems', 'Problems', '/problems', 10),
  ('contacts', 'Contacts', '/contacts', 20),
  ('sequences', 'Sequences', '/sequences', 30),
  ('forms', 'Forms', '/forms', 40),
  ('settings', 'Settings', '/settings', 90);

insert into public.nav_item_permissions (nav_key, permission_key) values
  ('problems', 'problems.read'),
  ('settings', 'org.manage');

alter table public.nav_items enable row level security;
alter table public.nav_item_permissions enable row level security;
create policy "nav items are readable by the signed-in" on public.nav_items
  for select to authenticated using (true);
create policy "nav permissions are readable by the signed-in" on public.nav_item_permissions
  for select to authenticated using (true);
grant select on public.nav_items, public.nav_item_permissions to authenticated;
