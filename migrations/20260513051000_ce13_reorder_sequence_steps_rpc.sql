-- ce13: reorder a sequence's steps in one call. p_step_ids lists every step of the sequence in its new order.
-- xtask: ack exposure: signed-in users call it over /rpc; it checks has_permission(org, 'sequences.manage') itself

create or replace function public.reorder_sequence_steps(p_sequence_id uuid, p_step_ids uuid[])
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_org_id uuid;
begin
  select s.org_id into v_org_id from public.sequences s where s.id = p_sequence_id;
  if v_org_id is null or not public.has_permission(v_org_id, 'sequences.manage') then
    raise exception 'not allowed to reorder sequence %', p_sequence_id using errcode = '42501';
  end if;
  if (select count(*) from public.sequence_steps where sequence_id = p_sequence_id) <> cardinality(p_step_ids) then
    raise exception 'p_step_ids must list every step of sequence % exactly once', p_sequence_id using errcode = '22023';
  end if;
  -- Through negative positions, so (sequence_id, position) stays unique at every row.
  update public.sequence_steps set position = -position where sequence_id = p_sequence_id;
  update public.sequence_steps st
  set position = o.ord
  from unnest(p_step_ids) with ordinality as o(id, ord)
  where st.id = o.id and st.sequence_id = p_sequence_id;
  update public.sequences set updated_at = now() where id = p_sequence_id;
end;
$$;

revoke execute on function public.reorder_sequence_steps(uuid, uuid[]) from public, anon;
grant execute on function public.reorder_sequence_steps(uuid, uuid[]) to authenticated;
