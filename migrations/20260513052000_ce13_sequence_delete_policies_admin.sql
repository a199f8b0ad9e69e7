-- ce13: only members holding sequences.delete (owners and admins) may delete sequences and steps.

create policy "admins delete sequences" on public.sequences
  for delete to authenticated using (public.has_permission(org_id, 'sequences.delete'));
create policy "admins delete sequence steps" on public.sequence_steps
  for delete to authenticated
  using (exists (
    select 1 from public.sequences s where s.id = sequence_id and public.has_permission(s.org_id, 'sequences.delete')
  ));
create policy "admins delete enrollments" on public.sequence_enrollments
  for delete to authenticated
  using (exists (
    select 1 from public.sequences s where s.id = sequence_id and public.has_permission(s.org_id, 'sequences.delete')
  ));

grant delete on public.sequences, public.sequence_steps, public.sequence_enrollments to authenticated;
