//! The repository a command works on: its configuration, its migrations directory and its lock file.

use std::path::PathBuf;

use anyhow::{Context, bail};
use xshell::Shell;

use crate::config::Config;
use crate::lock::{self, Lock};
use crate::migrations::{self, Discovery};

pub struct Repo {
    pub root: PathBuf,
    pub config: Config,
}

impl Repo {
    pub fn open(sh: &Shell) -> anyhow::Result<Repo> {
        let root = sh.current_dir();
        let config = Config::load(&root)?;
        Ok(Repo { root, config })
    }

    pub fn migrations_dir(&self) -> PathBuf {
        self.root.join(&self.config.migrations_dir)
    }

    /// The migrations directory as findings name it, e.g. `migrations`.
    pub fn migrations_rel(&self) -> String {
        migrations::rel(&self.root, &self.migrations_dir())
    }

    pub fn lock_path(&self) -> PathBuf {
        self.migrations_dir().join(lock::FILE_NAME)
    }

    /// The lock, or an empty one when no target has been promoted or baselined yet.
    pub fn lock(&self) -> anyhow::Result<Lock> {
        Ok(Lock::read(&self.lock_path())?.unwrap_or_default())
    }

    pub fn discover(&self) -> anyhow::Result<Discovery> {
        let dir = self.migrations_dir();
        if !dir.is_dir() {
            bail!(
                "migrations_dir `{}` (from xtask.toml) is not a directory; create it or correct migrations_dir",
                self.config.migrations_dir.display()
            );
        }
        migrations::discover(&self.root, &dir).with_context(|| format!("listing {}", dir.display()))
    }
}
