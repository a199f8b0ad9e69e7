-- ce13: sequence permissions, and the policies that let permitted members edit sequences and steps.

insert into public.permissions (key, description) values
  ('sequences.read', 'Read sequences and their steps'),
  ('sequences.manage', 'Create and edit sequences, steps and enrollments'),
  ('sequences.delete', 'Delete sequences and steps')
on conflict (key) do update set description = excluded.description;

insert into public.role_permissions (role, permission_key) values
  ('owner', 'sequences.read'), ('owner', 'sequences.manage'), ('owner', 'sequences.delete'),
  ('admin', 'sequences.read'), ('admin', 'sequences.manage'), ('admin', 'sequences.delete'),
  ('member', 'sequences.read')
on conflict do nothing;

create policy "managers create sequences" on public.sequences
  for insert to authenticated with check (public.has_permission(org_id, 'sequences.manage'));
create policy "managers update sequences" on public.sequences
  for update to authenticated
  using (public.has_permission(org_id, 'sequences.manage'))
  with check (public.has_permission(org_id, 'sequences.manage'));
create policy "managers write sequence steps" on public.sequence_steps
  for insert to authenticated
  with check (exists (
    select 1 from public.sequences s where s.id = sequence_id and public.has_permission(s.org_id, 'sequences.manage')
  ));
create policy "managers update sequence steps" on public.sequence_steps
  for update to authenticated
  using (exists (
    select 1 from public.sequences s where s.id = sequence_id and public.has_permission(s.org_id, 'sequences.manage')
  ));

grant insert, update on public.sequences, public.sequence_steps to authenticated;
