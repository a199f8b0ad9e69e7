//! `bench locks`: what the lock budget is for, measured. A long transaction holds ACCESS SHARE on `orders`;
//! `promote` pushes an `ALTER TABLE orders` that must wait for it; a reader arriving meanwhile queues behind the
//! ALTER's pending ACCESS EXCLUSIVE. Its delay is measured with the budget (the ALTER gives up, the reader goes
//! on) and without one (the reader waits as long as the blocker), on fresh databases in the embedded cluster.

use crate::domain::major::Major;
use crate::domain::platform::RoleModel;
use std::time::{Duration, Instant};

use anyhow::Context;
use xshell::Shell;

use crate::edges::os::fsutil;
use crate::edges::postgres as pg;
use crate::edges::repo::Repo;
use crate::edges::shadow::Shadow;
use crate::flags;

const CREATE: &str = "20260101000000_orders.sql";
const ALTER: &str = "20260102000000_orders_note.sql";

impl flags::BenchLocks {
    pub(super) fn run(self, sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let major = super::major(repo, self.major)?;
        let tree = repo.bench_dir("locks");
        let _ = std::fs::remove_dir_all(&tree);
        std::fs::create_dir_all(tree.join("migrations"))?;
        std::os::unix::fs::symlink(repo.root.join("node_modules"), tree.join("node_modules")).ok();
        let create = format!(
            "create table public.orders (id bigint generated always as identity primary key, org_id uuid, total numeric(12, 2) not null, created_at timestamptz not null default now());\n\
             insert into public.orders (org_id, total) select gen_random_uuid(), (random() * 1000)::numeric(12, 2) from generate_series(1, {});\n",
            self.rows
        );
        fsutil::write_atomic(&tree.join("migrations").join(CREATE), create.as_bytes())?;
        fsutil::write_atomic(
            &tree.join("migrations").join(ALTER),
            b"alter table public.orders add column note text;\n",
        )?;
        let with = self.side(sh, repo, major, &tree, Some(&self.lock_timeout.text)).context("the budgeted side")?;
        let without = self.side(sh, repo, major, &tree, None).context("the side without a budget")?;
        println!(
            "blocker        a transaction holding ACCESS SHARE on public.orders ({} rows) for {} s",
            self.rows, self.hold
        );
        println!(
            "with budget    {:.2} s  (a reader's wait; promote's lock_timeout {}, no retry)",
            with.as_secs_f64(),
            self.lock_timeout
        );
        println!("without        {:.2} s  (the same reader, lock_timeout off)", without.as_secs_f64());
        println!("ratio          {:.2}x  (with / without)", with.as_secs_f64() / without.as_secs_f64());
        Ok(())
    }

    /// One side: a fresh database with the table, the blocker, `promote` of the ALTER, and the reader's wait.
    fn side(
        &self,
        sh: &Shell,
        repo: &Repo,
        major: Major,
        tree: &std::path::Path,
        budget: Option<&str>,
    ) -> anyhow::Result<Duration> {
        let shadow = Shadow::create(sh, repo, major, RoleModel::Platform, "bench_locks")?;
        let config = format!(
            "[targets.local]\nembedded = true\n[targets.bench]\ndb_url_env = \"XTASK_BENCH_URL\"\nlock_timeout = \"{}\"\nlock_retries = 0\n",
            budget.unwrap_or("off")
        );
        fsutil::write_atomic(&tree.join("xtask.toml"), config.as_bytes())?;
        let _ = std::fs::remove_file(tree.join("migrations/promotion.lock"));
        let exe = std::env::current_exe()?;
        let promote = |until: &[&str]| {
            let mut args = vec![
                "--repo".into(),
                tree.display().to_string(),
                "promote".into(),
                "--target".into(),
                "bench".into(),
                "--yes".into(),
                "--skip-catalog".into(),
            ];
            args.extend(until.iter().map(|s| s.to_string()));
            duct::cmd(&exe, args).env("XTASK_BENCH_URL", shadow.url()).stdout_null().stderr_null().unchecked()
        };
        promote(&["--until", "20260101000000"]).run()?;
        let mut blocker = pg::connect(shadow.url())?;
        blocker.batch_execute("begin; select count(*) from public.orders;")?;
        let running = promote(&[]).start()?;
        let mut watcher = pg::connect(shadow.url())?;
        let waiting = "select count(*) from pg_stat_activity where application_name = '@effect/sql-pg' and wait_event_type = 'Lock'";
        let deadline = Instant::now() + Duration::from_secs(120);
        while watcher.query_one(waiting, &[])?.get::<_, i64>(0) == 0 {
            anyhow::ensure!(Instant::now() < deadline, "the ALTER never waited for its lock");
            std::thread::sleep(Duration::from_millis(20));
        }
        let hold = Duration::from_secs(self.hold);
        let released = std::thread::spawn(move || {
            std::thread::sleep(hold);
            blocker.batch_execute("commit")
        });
        let start = Instant::now();
        pg::connect(shadow.url())?.query_one("select count(*) from public.orders", &[])?;
        let waited = start.elapsed();
        released.join().map_err(|_| anyhow::anyhow!("the blocker's thread panicked"))??;
        running.wait()?;
        Ok(waited)
    }
}
