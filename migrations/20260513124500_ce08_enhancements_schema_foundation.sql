-- ce08: foundation for contact enhancements: tags and enrichment results, both per organization.

create table public.contact_tags (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references public.organizations (id) on delete cascade,
  name text not null,
  color text not null default 'gray',
  unique (org_id, name)
);

create table public.contact_tag_assignments (
  contact_id uuid not null references public.contacts (id) on delete cascade,
  tag_id uuid not null references public.contact_tags (id) on delete cascade,
  assigned_at timestamptz not null default now(),
  primary key (contact_id, tag_id)
);
create index contact_tag_assignments_tag_idx on public.contact_tag_assignments (tag_id);

create table public.contact_enrichments (
  contact_id uuid primary key references public.contacts (id) on delete cascade,
  source text not null,
  data jsonb not null default '{}'::jsonb,
  enriched_at timestamptz not null default now()
);

alter table public.contact_tags enable row level security;
alter table public.contact_tag_assignments enable row level security;
alter table public.contact_enrichments enable row level security;

create policy "members read tags" on public.contact_tags
  for select to authenticated using (public.has_permission(org_id, 'contacts.read'));
create policy "managers write tags" on public.contact_tags
  for all to authenticated
  using (public.has_permission(org_id, 'contacts.manage'))
  with check (public.has_permission(org_id, 'contacts.manage'));
create policy "members read tag assignments" on public.contact_tag_assignments
  for select to authenticated
  using (exists (select 1 from public.contacts c where c.id = contact_id and public.has_permission(c.org_id, 'contacts.read')));
create policy "managers write tag assignments" on public.contact_tag_assignments
  for all to authenticated
  using (exists (select 1 from public.contacts c where c.id = contact_id and public.has_permission(c.org_id, 'contacts.manage')))
  with check (exists (select 1 from public.contacts c where c.id = contact_id and public.has_permission(c.org_id, 'contacts.manage')));
create policy "members read enrichments" on public.contact_enrichments
  for select to authenticated
  using (exists (select 1 from public.contacts c where c.id = contact_id and public.has_permission(c.org_id, 'contacts.read')));

grant select, insert, update, delete on public.contact_tags, public.contact_tag_assignments to authenticated;
grant select on public.contact_enrichments to authenticated;
grant all on public.contact_enrichments to service_role;
