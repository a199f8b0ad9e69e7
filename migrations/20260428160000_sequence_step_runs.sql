-- A log of executed sequence steps, and the function that advances one enrollment.

create table public.sequence_step_runs (
  id bigint generated always as identity primary key,
  enrollment_id uuid not null references public.sequence_enrollments (id) on delete cascade,
  step_id uuid not null references public.sequence_steps (id) on delete cascade,
  outcome text not null check (outcome in ('sent', 'skipped', 'failed')),
  ran_at timestamptz not null default now()
);
create index sequence_step_runs_enrollment_idx on public.sequence_step_runs (enrollment_id, ran_at desc);

create or replace function public.advance_sequence_enrollment(p_enrollment_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_enrollment public.sequence_enrollments;
  v_step public.sequence_steps;
begin
  select * into v_enrollment from public.sequence_enrollments where id = p_enrollment_id for update;
  if not found or v_enrollment.status <> 'active' then
    return;
  end if;
  select * into v_step from public.sequence_steps
  where sequence_id = v_enrollment.sequence_id and position = v_enrollment.current_position;
  if not found then
    update public.sequence_enrollments set status = 'completed', next_run_at = null where id = p_enrollment_id;
    return;
  end if;
  insert into public.sequence_step_runs (enrollment_id, step_id, outcome) values (p_enrollment_id, v_step.id, 'sent');
  update public.sequence_enrollments
  set current_position = current_position + 1, next_run_at = now() + make_interval(hours => v_step.wait_hours)
  where id = p_enrollment_id;
end;
$$;

alter table public.sequence_step_runs enable row level security;
create policy "members read step runs" on public.sequence_step_runs
  for select to authenticated
  using (exists (
    select 1 from public.sequence_enrollments e join public.sequences s on s.id = e.sequence_id
    where e.id = enrollment_id and public.is_org_member(s.org_id)
  ));

grant select on public.sequence_step_runs to authenticated;
revoke execute on function public.advance_sequence_enrollment(uuid) from public, anon, authenticated;
grant execute on function public.advance_sequence_enrollment(uuid) to service_role;
