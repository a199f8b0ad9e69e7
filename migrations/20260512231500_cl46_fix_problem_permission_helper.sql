-- cl46: can_manage_problem() ran with the caller's search_path (a SECURITY DEFINER hazard) and ignored the
-- assignee. Pin search_path and let the assignee manage their own problem.

create or replace function public.can_manage_problem(p_problem_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.problems p
    where p.id = p_problem_id
      and (p.assignee = auth.uid() or public.has_permission(p.org_id, 'problems.manage'))
  );
$$;

revoke execute on function public.can_manage_problem(uuid) from public, anon;
grant execute on function public.can_manage_problem(uuid) to authenticated;
