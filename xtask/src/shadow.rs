//! A throwaway database on the embedded cluster: created with the Supabase baseline, fed migrations through the
//! real CLI, and dropped when the guard goes out of scope (errors and panics included). The rehearsal, drift
//! and the benchmarks use it.

use anyhow::Context;
use xshell::Shell;

use crate::migrations::Migration;
use crate::pg;
use crate::redact::Redactor;
use crate::repo::Repo;
use crate::stage::Stage;
use crate::supabase::{self, Cli, Push, Remote};

pub struct Shadow {
    admin_url: String,
    name: String,
    url: String,
    stage: Stage,
}

impl Shadow {
    /// Starts the embedded cluster if needed and creates `xtask_<what>_<pid>` in it. Its URL's password is added
    /// to `redactor`.
    pub fn create(sh: &Shell, repo: &Repo, what: &str, redactor: &mut Redactor) -> anyhow::Result<Shadow> {
        let admin_url = repo.cluster()?.start(sh)?;
        redactor.add_url(&admin_url);
        let name = format!("xtask_{what}_{}", std::process::id());
        let stage = Stage::empty(repo.stage_dir(&name))?;
        let url = pg::create_database_from(&admin_url, &name, &repo.baseline()?)?;
        Ok(Shadow { admin_url, name, url, stage })
    }

    /// A copy of this database as it is now (`CREATE DATABASE ... TEMPLATE`: a file copy, no replay), dropped
    /// with its own guard. No session may be connected to this one meanwhile.
    pub fn clone_as(&self, what: &str) -> anyhow::Result<Shadow> {
        let name = format!("xtask_{what}_{}", std::process::id());
        let stage = Stage::empty(self.stage.path().with_file_name(&name))?;
        let mut admin = pg::connect(&self.admin_url)?;
        admin.batch_execute(&format!("drop database if exists {name} with (force)"))?;
        // The CLI's session may still be ending ("being accessed by other users"): a few tries.
        let create = format!("create database {name} template {}", self.name);
        let mut tries = 0;
        while let Err(err) = admin.batch_execute(&create) {
            tries += 1;
            if tries == 25 {
                return Err(err).context("copying the shadow database");
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        Ok(Shadow { admin_url: self.admin_url.clone(), url: pg::replace_database(&self.admin_url, &name), name, stage })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Pushes `applied` + `batch` through the CLI (the files already in the shadow are skipped by the CLI, as on
    /// any target). `Err` carries the CLI's explained error.
    pub fn replay(
        &self,
        sh: &Shell,
        cli: &Cli,
        applied: &[&Migration],
        batch: &[&Migration],
        redactor: &Redactor,
    ) -> anyhow::Result<()> {
        if applied.is_empty() && batch.is_empty() {
            return Ok(());
        }
        self.stage.fill(applied, batch)?;
        let out = cli.push(sh, self.stage.path(), &Remote::Url(self.url.clone()), Push::Apply, redactor)?;
        if out.success {
            return Ok(());
        }
        anyhow::bail!("{}", out.error.map(|e| supabase::explain(&e)).unwrap_or(out.transcript))
    }
}

impl Drop for Shadow {
    fn drop(&mut self) {
        let _ = pg::drop_database(&self.admin_url, &self.name);
    }
}
