-- ce13: the executor scans active, due enrollments. Built CONCURRENTLY so writes to enrollments never block;
-- alone in its file because the CLI runs it outside the file's transaction.
create index concurrently if not exists sequence_enrollments_active_due_idx
  on public.sequence_enrollments (next_run_at)
  where status = 'active';
