-- The enqueue trigger queued jobs for disabled automations and for partial (incomplete) submissions.

create or replace function public.fw_enqueue_submission_automations()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.fw_jobs (automation_id, submission_id)
  select a.id, new.id
  from public.fw_automations a
  where a.form_id = new.form_id and a.enabled;
  return new;
end;
$$;

drop trigger if exists fw_enqueue_submission_automations on public.form_submissions;
create trigger fw_enqueue_submission_automations
  after insert on public.form_submissions
  for each row
  when (new.completed)
  execute function public.fw_enqueue_submission_automations();
