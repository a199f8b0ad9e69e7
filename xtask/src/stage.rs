//! The staged workdir: `supabase/migrations/` holding exactly the files a CLI call may see, so the CLI cannot
//! push anything unreviewed. The guard removes the directory however the command ends, panics included.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::migrations::Migration;

pub struct Stage {
    dir: PathBuf,
}

impl Stage {
    /// An empty workdir at `dir` (what `db query` needs).
    pub fn empty(dir: PathBuf) -> anyhow::Result<Stage> {
        let stage = Stage { dir };
        stage.fill(&[], &[])?;
        Ok(stage)
    }

    /// A workdir at `dir` holding `applied` followed by `batch`.
    pub fn new(dir: PathBuf, applied: &[&Migration], batch: &[&Migration]) -> anyhow::Result<Stage> {
        let stage = Stage { dir };
        stage.fill(applied, batch)?;
        Ok(stage)
    }

    /// The CLI's `--workdir`.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Replaces the staged files with exactly `applied` + `batch`.
    pub fn fill(&self, applied: &[&Migration], batch: &[&Migration]) -> anyhow::Result<()> {
        let migrations_dir = self.dir.join("supabase/migrations");
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir).with_context(|| format!("clearing {}", self.dir.display()))?;
        }
        std::fs::create_dir_all(&migrations_dir).with_context(|| format!("creating {}", migrations_dir.display()))?;
        for m in applied.iter().chain(batch) {
            std::fs::copy(&m.path, migrations_dir.join(&m.file_name))
                .with_context(|| format!("staging {}", m.rel_path))?;
        }
        Ok(())
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
