//! `cargo xtask baseline`: adopt a target migrated before this tool, by recording its head once.

use anyhow::bail;
use xshell::Shell;

use crate::domain::history::lock::TargetState;
use crate::edges::repo::Repo;
use crate::flags;

impl flags::Baseline {
    pub fn run(self, _sh: &Shell, repo: &Repo) -> anyhow::Result<()> {
        let name = &self.target.target;
        let target = repo.config.target(name)?;
        if target.embedded {
            bail!("target `{name}` is embedded: its history is read from its own database, not recorded in the lock");
        }
        let mut lock = repo.lock()?;
        if let Some(head) = lock.head(name) {
            bail!(
                "target `{name}` already has a recorded head ({head}); only `cargo xtask promote --target {name}` moves it"
            );
        }
        let discovery = repo.discover()?;
        let applied: Vec<_> = discovery.migrations.iter().filter(|m| m.version <= self.head).collect();
        if applied.iter().filter(|m| m.version == self.head).count() != 1 {
            bail!(
                "--head {}: no single migration file has that version; pass the version of the last file applied to `{name}`",
                self.head
            );
        }
        for m in &applied {
            let checksum = m.checksum();
            match lock.files.get(&m.file_name) {
                Some(recorded) if *recorded != checksum => {
                    bail!(
                        "{} changed since another target applied it; run `cargo xtask check` and restore it first",
                        m.rel_path
                    )
                }
                _ => lock.files.insert(m.file_name.clone(), checksum.to_string()),
            };
        }
        let recorded_at = crate::edges::os::clock::utc_now();
        // Pinned by name now (no session is opened here); a server's own identifier joins at the first promotion.
        let identity = repo.config.targets.get(name.as_str()).and_then(crate::edges::target::static_place);
        let state = TargetState {
            head: self.head.clone(),
            recorded_at,
            recorded_by: "baseline".to_string(),
            identity,
            server: None,
            major: None,
            role_model: None,
        };
        lock.targets.insert(name.clone(), state);
        repo.write_lock(&lock)?;
        println!(
            "{name}: recorded head {} and {} applied file checksum(s) in {}",
            self.head,
            applied.len(),
            repo.rel(&repo.lock_path())
        );
        Ok(())
    }
}
