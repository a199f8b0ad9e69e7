//! The staged workdir: `supabase/migrations/` holding exactly the files a CLI call may see, so the CLI cannot
//! push anything unreviewed. The guard removes the directory however the command ends, panics included.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::domain::history::migrations::Migration;

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
        // The applied files are only names to the CLI (it lists versions; it reads what it applies), so they are
        // linked: a long history stages in a third of the time. The batch is copied, so what runs is what was
        // checked even if a file is edited in place meanwhile.
        for m in applied {
            let to = migrations_dir.join(&m.file_name);
            // Not linkable (another file system, or a file `reconcile` has yet to write): its bytes, as read.
            if std::fs::hard_link(&m.path, &to).is_err() {
                std::fs::write(&to, m.bytes()).with_context(|| format!("staging {}", m.rel_path))?;
            }
        }
        for m in batch {
            std::fs::write(migrations_dir.join(&m.file_name), m.bytes())
                .with_context(|| format!("staging {}", m.rel_path))?;
        }
        Ok(())
    }

    /// Right before a push: the staged workdir holds exactly `applied` + `batch`, and each batch file holds the
    /// bytes that were checked and reviewed. `Err` names what differs.
    pub fn verify(&self, applied: &[&Migration], batch: &[&Migration]) -> anyhow::Result<()> {
        let migrations_dir = self.dir.join("supabase/migrations");
        let mut listed: Vec<String> = std::fs::read_dir(&migrations_dir)
            .with_context(|| format!("listing {}", migrations_dir.display()))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
        listed.sort();
        let mut expected: Vec<String> = applied.iter().chain(batch).map(|m| m.file_name.clone()).collect();
        expected.sort();
        if listed != expected {
            anyhow::bail!("the staged workdir {} no longer holds exactly the reviewed files", self.dir.display());
        }
        for m in batch {
            let staged = std::fs::read(migrations_dir.join(&m.file_name))?;
            if crate::domain::history::migrations::checksum(&staged) != m.checksum() {
                anyhow::bail!("the staged {} is not the file that was checked and reviewed", m.file_name);
            }
        }
        Ok(())
    }
}

/// Removes the stages under `dir` (`<what>-<pid>`) whose process no longer exists: a run killed outright
/// (SIGKILL, a power cut) could not remove its own.
pub fn remove_orphans(dir: &Path) {
    // Whether a process lives is read from /proc: where there is none, nothing is removed.
    let Ok(entries) = std::fs::read_dir(dir).and_then(|e| std::fs::metadata("/proc/self").map(|_| e)) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.rsplit('-').next().and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid.filter(|pid| *pid != std::process::id())
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;
    use crate::domain::history::migrations::MigrationFile;

    #[test]
    fn applied_files_are_linked_and_the_batch_is_a_copy_taken_now() {
        let tmp = tempfile::tempdir().unwrap();
        let file = |name: &str| {
            let path = tmp.path().join(name);
            std::fs::write(&path, format!("-- {name}")).unwrap();
            let version = name.split('_').next().unwrap().to_string();
            let file =
                MigrationFile { version, name: String::new(), file_name: name.into(), rel_path: name.into(), path };
            Migration::new(file, format!("-- {name}").into_bytes())
        };
        let (old, new) = (file("20260101000000_old.sql"), file("20260102000000_new.sql"));
        let stage = Stage::new(tmp.path().join("stage"), &[&old], &[&new]).unwrap();
        let staged = |m: &Migration| stage.path().join("supabase/migrations").join(&m.file_name);
        let inode = |p: &Path| std::fs::metadata(p).unwrap().ino();
        assert_eq!(inode(&staged(&old)), inode(&old.path), "an applied file is a link");
        std::fs::write(&new.path, "-- edited after staging").unwrap();
        assert_eq!(std::fs::read_to_string(staged(&new)).unwrap(), "-- 20260102000000_new.sql", "the batch is a copy");
    }
}
