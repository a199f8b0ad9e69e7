-- form_completion_metrics(uuid, date) took no upper bound and checked no membership: callers saw zero rows
-- rather than an error for forms outside their organization. Replace it with (form, from, to) that checks.
-- xtask: ack destructive: the (uuid, date) signature has no callers left (app switched to the 3-argument form in release 2026.05.2)

drop function if exists public.form_completion_metrics(uuid, date);

create or replace function public.form_completion_metrics(p_form_id uuid, p_from date, p_to date default current_date)
returns table (day date, submissions bigint, completion_rate numeric)
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
  if not exists (select 1 from public.forms f where f.id = p_form_id and public.is_org_member(f.org_id)) then
    raise exception 'form % not found', p_form_id using errcode = 'P0002';
  end if;
  return query
    select s.submitted_at::date, count(*), round(avg(case when s.completed then 1 else 0 end), 3)
    from public.form_submissions s
    where s.form_id = p_form_id and s.submitted_at >= p_from and s.submitted_at < p_to + 1
    group by 1
    order by 1;
end;
$$;

revoke execute on function public.form_completion_metrics(uuid, date, date) from public, anon;
grant execute on function public.form_completion_metrics(uuid, date, date) to authenticated;
