//! A throwaway database on the embedded cluster of a major (its target's): created with the Supabase baseline, fed migrations through the
//! real CLI, and dropped when the guard goes out of scope (errors and panics included). The rehearsal, drift
//! and the benchmarks use it.

use anyhow::Context;
use xshell::Shell;

use crate::domain::history::migrations::Migration;
use crate::domain::major::Major;
use crate::domain::platform::RoleModel;
use crate::edges::postgres as pg;
use crate::edges::repo::Repo;
use crate::edges::supabase::cli::{Cli, Push, Remote};
use crate::edges::supabase::stage::Stage;

pub struct Shadow {
    admin_url: String,
    name: String,
    /// Its URL as the role the target's migrations run as (`RoleModel`): `postgres`, or the superuser.
    url: String,
    model: RoleModel,
    stage: Stage,
    /// The template this shadow's history came from, when it came from one (`at_history`).
    template: Option<String>,
    /// The next spare copy of the template, being made while this shadow is used.
    refill: Option<std::thread::JoinHandle<()>>,
}

/// The spare copies of a template kept ready: one for the rehearsal, one for the lock report's copy at the head.
const SPARES: [&str; 2] = ["spare", "spare2"];

impl Shadow {
    /// Starts the embedded cluster if needed and creates `xtask_<what>_<pid>` in it. Its URL's password is added
    /// to the secret registry (`redact`).
    pub fn create(sh: &Shell, repo: &Repo, major: Major, model: RoleModel, what: &str) -> anyhow::Result<Shadow> {
        let admin_url = repo.cluster(major)?.start_admin(sh)?;
        crate::edges::output::redact::add_url(&admin_url);
        let name = format!("xtask_{what}_{}", std::process::id());
        let stage = Stage::empty(repo.stage_dir(&name))?;
        pg::create_database_from(&admin_url, &name, &repo.baseline()?)?;
        let url = url_for(&admin_url, &name, model);
        Ok(Shadow { admin_url, name, url, model, stage, template: None, refill: None })
    }

    /// Another shadow at the same head as this one, fresh from the history's template: its second spare renamed
    /// into place (instant) or a copy; without a template, a copy of this one. No session may be connected to
    /// this one meanwhile.
    pub fn twin(&self, what: &str) -> anyhow::Result<Shadow> {
        let Some(template) = &self.template else { return self.clone_as(what) };
        let name = format!("xtask_{what}_{}", std::process::id());
        let stage = Stage::empty(self.stage.path().with_file_name(&name))?;
        let spare = format!("{template}_{}", SPARES[1]);
        take_or_copy(&mut pg::connect(&self.admin_url)?, &spare, template, &name)?;
        let url = url_for(&self.admin_url, &name, self.model);
        let refill = Some(refill_spare(&self.admin_url, template, &spare));
        Ok(Shadow { admin_url: self.admin_url.clone(), url, name, model: self.model, stage, template: None, refill })
    }

    /// A copy of this database as it is now (`CREATE DATABASE ... TEMPLATE`: a file copy, no replay), dropped
    /// with its own guard. No session may be connected to this one meanwhile.
    pub fn clone_as(&self, what: &str) -> anyhow::Result<Shadow> {
        let name = format!("xtask_{what}_{}", std::process::id());
        let stage = Stage::empty(self.stage.path().with_file_name(&name))?;
        copy_database(&mut pg::connect(&self.admin_url)?, &self.name, &name)?;
        let url = url_for(&self.admin_url, &name, self.model);
        Ok(Shadow {
            admin_url: self.admin_url.clone(),
            url,
            name,
            model: self.model,
            stage,
            template: None,
            refill: None,
        })
    }

    /// A shadow at the head of `applied`: copied from a template database kept in the embedded cluster, keyed by
    /// the baseline and role model, the CLI version and every applied file (name and checksum), so a rehearsal
    /// costs the batch, not the history. Without such a template, the history is replayed through the CLI (under
    /// the rules of its day: `replay_history`) and kept as one.
    pub fn at_history(
        sh: &Shell,
        repo: &Repo,
        cli: &Cli,
        target: (Major, RoleModel),
        applied: &[&Migration],
        what: &str,
    ) -> anyhow::Result<(Shadow, Template)> {
        let (major, model) = target;
        let key = template_key(repo, cli, model, applied)?;
        let template = format!("xtask_tpl_{}", &key[..16]);
        let admin_url = repo.cluster(major)?.start_admin(sh)?;
        crate::edges::output::redact::add_url(&admin_url);
        let mut admin = pg::connect(&admin_url)?;
        let exists: bool =
            admin.query_one("select exists (select 1 from pg_database where datname = $1)", &[&template])?.get(0);
        let spare = format!("{template}_{}", SPARES[0]);
        if exists {
            let name = format!("xtask_{what}_{}", std::process::id());
            let stage = Stage::empty(repo.stage_dir(&name))?;
            take_or_copy(&mut admin, &spare, &template, &name)?;
            let url = url_for(&admin_url, &name, model);
            let refill = Some(refill_spare(&admin_url, &template, &spare));
            let shadow = Shadow { admin_url, name, url, model, stage, template: Some(template), refill };
            return Ok((shadow, Template::Copied));
        }
        let mut shadow = Shadow::create(sh, repo, major, model, what)?;
        shadow.replay_history(sh, cli, applied)?;
        // Keep it for next time; older templates and their spares go (each history change makes a new one).
        let old: Vec<String> = admin
            .query(
                "select datname::text from pg_database where datname like 'xtask\\_tpl\\_%' and datname <> $1 \
                 and datname not like $1 || '\\_spare%'",
                &[&template],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for name in old {
            let _ = pg::drop_on(&mut admin, &name);
        }
        // Another promotion may have made the same template meanwhile: that one is as good.
        if copy_database(&mut admin, &shadow.name, &template).is_ok() {
            shadow.refill = Some(refill_spare(&admin_url, &template, &spare));
            shadow.template = Some(template);
        }
        Ok((shadow, Template::Built))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Replays files a target applied under the rules of their day: on the platform's model `postgres` could
    /// then create objects in auth, storage and realtime and act as their owners (until 2024-2025), so it is
    /// given that for the replay (`supabase_xtask.grant_historic`) and it is withdrawn after, whatever happened.
    /// What the history created stays `postgres`'s, as on the platform.
    pub fn replay_history(&self, sh: &Shell, cli: &Cli, applied: &[&Migration]) -> anyhow::Result<()> {
        if self.model != RoleModel::Platform || applied.is_empty() {
            return self.replay(sh, cli, applied, &[]);
        }
        let mut admin = pg::connect(&pg::replace_database(&self.admin_url, &self.name))?;
        admin.batch_execute("select supabase_xtask.grant_historic()").context("giving the history's grants")?;
        let replayed = self.replay(sh, cli, applied, &[]);
        let withdrawn = admin
            .batch_execute("select supabase_xtask.withdraw_historic()")
            .context("withdrawing the history's grants");
        // A failed replay says why first; a failed withdrawal fails the shadow, so it never becomes a template.
        replayed.and(withdrawn)
    }

    /// Pushes `applied` + `batch` through the CLI (the files already in the shadow are skipped by the CLI, as on
    /// any target). `Err` carries the CLI's explained error.
    pub fn replay(&self, sh: &Shell, cli: &Cli, applied: &[&Migration], batch: &[&Migration]) -> anyhow::Result<()> {
        if applied.is_empty() && batch.is_empty() {
            return Ok(());
        }
        self.stage.fill(applied, batch)?;
        let out = cli.push(sh, self.stage.path(), &Remote::Url(self.url.clone()), Push::Apply)?;
        if out.success {
            return Ok(());
        }
        // The shadow is a throwaway: the advice for a failed push to a target (forward-fix, the files before it
        // stay applied) does not apply to it; what failed, and that no target was touched, does.
        match out.error {
            Some(err) => anyhow::bail!(
                "the files do not replay on a fresh local database ({}): {}. Nothing was changed on any target; fix the file the error names",
                err.code,
                err.message.trim()
            ),
            None => anyhow::bail!("the files do not replay on a fresh local database: {}", out.transcript),
        }
    }
}

/// Whether a shadow's history came from a kept template or was replayed (and kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    Copied,
    Built,
}

/// Runs `work` while watching `stop`: once it says so, every session on this process's shadows
/// (`xtask_<what>_<pid>` on `cluster`) is ended, and again every tick while `work` goes on. What runs there (the
/// CLI's replay, the lock report's transactions, a long index build) then fails at once instead of running to
/// its end before the interruption is seen; the databases themselves are dropped by their guards as usual.
pub fn ended_when<T>(cluster: Option<pg::Cluster>, stop: impl Fn() -> bool + Sync, work: impl FnOnce() -> T) -> T {
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut said = false;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                if stop() {
                    if !std::mem::replace(&mut said, true) {
                        eprintln!("interrupted: ending what runs on this run's local shadow databases");
                    }
                    let admin_url = cluster.as_ref().and_then(|c| c.admin_url("postgres").ok());
                    let _ = admin_url.map(|url| end_sessions(&url));
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
        let out = work();
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        out
    })
}

/// Ends the sessions on this process's shadow databases (the admin session itself is on `postgres`).
fn end_sessions(admin_url: &str) -> anyhow::Result<()> {
    let suffix = format!("%\\_{}", std::process::id());
    pg::connect(admin_url)?.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where datname like 'xtask\\_' || $1 and pid <> pg_backend_pid()",
        &[&suffix],
    )?;
    Ok(())
}

/// The URL of shadow `name` as the role its target's migrations run as.
fn url_for(admin_url: &str, name: &str, model: RoleModel) -> String {
    match model {
        RoleModel::PlainSuperuser => pg::replace_database(admin_url, name),
        RoleModel::Platform | RoleModel::PlainOwner => pg::project_url(admin_url, name),
    }
}

/// What the history's replay depends on: the baseline and role model, the CLI, and every applied file.
fn template_key(repo: &Repo, cli: &Cli, model: RoleModel, applied: &[&Migration]) -> anyhow::Result<String> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    hasher.update(repo.baseline()?.digest().as_bytes());
    hasher.update(format!("{model:?}").as_bytes());
    hasher.update(cli.version.to_string().as_bytes());
    for m in applied {
        hasher.update(format!("\n{}:{}", m.file_name, m.checksum()).as_bytes());
    }
    Ok(crate::domain::history::migrations::hex(&hasher.finalize()))
}

/// `create database to template from`, retried while the template's last session is still ending.
fn copy_database(admin: &mut postgres::Client, from: &str, to: &str) -> anyhow::Result<()> {
    pg::drop_on(admin, to)?;
    // FILE_COPY copies the files without writing them to WAL (fsync is off here). Measured on a slow disk: as
    // slow as WAL_LOG for 1,000 tables (~3.5 s each), which is why spares are kept (`take_or_copy`).
    let create = format!("create database {} template {} strategy = file_copy", pg::ident(to), pg::ident(from));
    // A template still in use by a session just closed refuses the copy for a moment: 25 tries, 200 ms apart.
    let every = backon::ConstantBuilder::default().with_delay(std::time::Duration::from_millis(200)).with_max_times(24);
    backon::BlockingRetryable::retry(|| admin.batch_execute(&create), every)
        .call()
        .with_context(|| format!("copying database {from}"))?;
    // Nor its ACL: `postgres` has ALL on the database, as on the platform.
    admin.batch_execute(&format!("grant all on database {} to postgres", pg::ident(to)))?;
    // A copy does not carry the source's `alter database ... set` settings (search_path among them): copy those.
    admin.execute(
        "insert into pg_db_role_setting (setdatabase, setrole, setconfig) \
         select (select oid from pg_database where datname = $2), setrole, setconfig from pg_db_role_setting \
         where setdatabase = (select oid from pg_database where datname = $1)",
        &[&from, &to],
    )?;
    Ok(())
}

/// The spare copy a previous run left, renamed to `name`: instant, where copying a long history's tables is not
/// (seconds for 1,000 on a slow disk). Another process may have taken it first; then this one copies.
fn take_or_copy(admin: &mut postgres::Client, spare: &str, template: &str, name: &str) -> anyhow::Result<()> {
    if admin.batch_execute(&format!("alter database {} rename to {}", pg::ident(spare), pg::ident(name))).is_err() {
        copy_database(admin, template, name)?;
    }
    Ok(())
}

/// Makes the template's next spare copy on a thread, while the CLI works on the shadow; a failure only means the
/// next rehearsal copies the template itself.
fn refill_spare(admin_url: &str, template: &str, spare: &str) -> std::thread::JoinHandle<()> {
    let (admin_url, template, spare) = (admin_url.to_string(), template.to_string(), spare.to_string());
    std::thread::spawn(move || {
        if let Ok(mut admin) = pg::connect(&admin_url) {
            let _ = copy_database(&mut admin, &template, &spare);
        }
    })
}

impl Drop for Shadow {
    fn drop(&mut self) {
        // Dropped while the next spare is still being copied: removing a long history's files overlaps the copy.
        let _ = pg::drop_database(&self.admin_url, &self.name);
        if let Some(refill) = self.refill.take() {
            let _ = refill.join();
        }
    }
}
