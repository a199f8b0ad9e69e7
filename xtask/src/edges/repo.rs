//! The repository a command works on: its configuration, and every path the xtask reads or writes in it.
//!
//! Paths live here and nowhere else, so a layout change is one edit and messages name the configured
//! directories (`migrations_dir`), never a hard-coded `migrations/`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::domain::config::{self, Config};
use crate::domain::history::lock::{self, Lock};
use crate::domain::history::migrations::{self, Discovery};
use crate::domain::major::{self, Major};
use crate::domain::schema::platform_file;

pub struct Repo {
    pub root: PathBuf,
    pub config: Config,
}

/// Where a target's promotion records go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordPlace {
    /// Committed beside the docs: hosted targets.
    Committed,
    /// Under `target/`: the embedded database is the xtask's own.
    Scratch,
}

impl Repo {
    /// Opens the repository at `root` (the directory holding `xtask.toml`).
    pub fn open(root: &Path) -> anyhow::Result<Repo> {
        let path = root.join(config::FILE_NAME);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let config = Config::parse(&text)
            .with_context(|| format!("{} is invalid; fix it and run the command again", config::FILE_NAME))?;
        Ok(Repo { root: root.to_path_buf(), config })
    }

    /// `path` relative to the root, `/`-separated, as messages and records show it.
    pub fn rel(&self, path: &Path) -> String {
        migrations::rel(&self.root, path)
    }

    pub fn migrations_dir(&self) -> PathBuf {
        self.root.join(&self.config.migrations_dir)
    }

    /// A cutover's rollback as SQL, and for a file under the migrations' `rollback/` its checksum (what
    /// `promote` rehearses and records, and `partition rollback` requires unchanged).
    pub fn read_rollback(
        &self,
        rollback: &crate::domain::promotion::cutover::Rollback,
    ) -> anyhow::Result<(String, Option<String>)> {
        use crate::domain::promotion::cutover::Rollback;
        match rollback {
            Rollback::Sql(sql) => Ok((sql.clone(), None)),
            Rollback::File(rel) => {
                let path = self.migrations_dir().join(rel);
                let bytes = std::fs::read(&path)
                    .with_context(|| format!("its rollback file {} cannot be read; write it there", self.rel(&path)))?;
                let sql = String::from_utf8(bytes.clone()).context("the rollback file is not UTF-8")?;
                Ok((sql, Some(migrations::checksum(&bytes))))
            }
        }
    }

    /// The migrations directory as findings name it, e.g. `migrations`.
    pub fn migrations_rel(&self) -> String {
        self.rel(&self.migrations_dir())
    }

    pub fn lock_path(&self) -> PathBuf {
        self.migrations_dir().join(lock::FILE_NAME)
    }

    /// Writes the lock (atomically).
    pub fn write_lock(&self, lock: &Lock) -> anyhow::Result<()> {
        crate::edges::os::fsutil::write_atomic(&self.lock_path(), lock.render().as_bytes())
    }

    /// The lock, or an empty one when no target has been promoted or baselined yet.
    pub fn lock(&self) -> anyhow::Result<Lock> {
        let path = self.lock_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => Lock::parse_file(&text, &self.rel(&path)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Lock::default()),
            Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// The migration files, listed and read once (`edges::migration_files`).
    pub fn discover(&self) -> anyhow::Result<Discovery> {
        let dir = self.migrations_dir();
        if !dir.is_dir() {
            bail!(
                "migrations_dir `{}` (from {}) is not a directory; create it or correct migrations_dir",
                self.config.migrations_dir.display(),
                config::FILE_NAME
            );
        }
        Ok(crate::edges::migration_files::discover(&self.root, &dir))
    }

    /// `target/xtask/`: the xtask's own scratch space, never committed.
    pub fn scratch_dir(&self) -> PathBuf {
        self.root.join("target/xtask")
    }

    /// A per-process working directory under `target/xtask/stage/` for `what` (removed by its user).
    pub fn stage_dir(&self, what: &str) -> PathBuf {
        self.scratch_dir().join("stage").join(format!("{what}-{}", std::process::id()))
    }

    pub fn locks_dir(&self) -> PathBuf {
        self.scratch_dir().join("locks")
    }

    /// Where the embedded clusters live, one folder per major.
    pub fn clusters_dir(&self) -> PathBuf {
        self.scratch_dir().join("pg")
    }

    /// The embedded cluster of `major`: `pg/<major>` on the owned tree; on a tree named by `XTASK_PG_BINDIR`, a
    /// folder of that tree's own (another build of the same major is another cluster).
    pub fn cluster_dir(&self, major: Major) -> PathBuf {
        match std::env::var(crate::edges::postgres::BINDIR_ENV).ok().filter(|v| !v.is_empty()) {
            Some(bindir) => {
                use sha2::Digest;
                let hash = migrations::hex(&sha2::Sha256::digest(bindir.as_bytes()));
                self.clusters_dir().join(format!("{major}-{}", &hash[..8]))
            }
            None => self.clusters_dir().join(major.to_string()),
        }
    }

    /// Whether `pg/` holds a cluster from an xtask before one cluster per major (its data, or the pointer to
    /// where its data went).
    pub fn legacy_cluster(&self) -> Option<String> {
        let dir = self.clusters_dir();
        let version = std::fs::read_to_string(dir.join("data/PG_VERSION")).ok().or_else(|| {
            let pointed = std::fs::read_to_string(dir.join("server-dir")).ok()?;
            std::fs::read_to_string(Path::new(pointed.trim()).join("data/PG_VERSION")).ok().or(Some("?".into()))
        })?;
        Some(version.trim().to_string())
    }

    /// `check`'s lint cache: analyses by content hash (`check/cache.rs`).
    pub fn check_cache_path(&self) -> PathBuf {
        self.scratch_dir().join("check-cache.json")
    }

    pub fn bench_dir(&self, what: &str) -> PathBuf {
        self.scratch_dir().join(format!("bench-{what}"))
    }

    pub fn database_docs_dir(&self) -> PathBuf {
        self.root.join("docs/database")
    }

    pub fn promotions_dir(&self, place: RecordPlace) -> PathBuf {
        match place {
            RecordPlace::Committed => self.database_docs_dir().join("promotions"),
            RecordPlace::Scratch => self.scratch_dir().join("promotions"),
        }
    }

    /// Parity evidence and prune plans.
    /// Parity evidence and prune plans: committed beside the docs for a hosted target, under `target/` for the
    /// embedded database (its evidence is about nothing anyone deploys, and must not dirty the checkout).
    pub fn evidence_dir(&self, place: RecordPlace) -> PathBuf {
        match place {
            RecordPlace::Committed => self.database_docs_dir().join("evidence"),
            RecordPlace::Scratch => self.scratch_dir().join("evidence"),
        }
    }

    /// A target's committed catalog snapshot.
    pub fn catalog_path(&self, target: &str) -> PathBuf {
        self.database_docs_dir().join("catalog").join(format!("{target}.json"))
    }

    /// A target's generated schema doc, `SCHEMA_CATALOG.<TARGET>.md`.
    pub fn doc_path(&self, target: &str) -> PathBuf {
        self.database_docs_dir().join(format!("SCHEMA_CATALOG.{}.md", target.to_uppercase()))
    }

    /// The platform baseline captured from a target (`cargo xtask platform-baseline`).
    pub fn platform_baseline_path(&self) -> PathBuf {
        self.database_docs_dir().join("platform/baseline.sql")
    }

    /// What new local databases start from: the captured platform baseline when there is one.
    pub fn baseline(&self) -> anyhow::Result<crate::edges::postgres::PlatformSchema> {
        let path = self.platform_baseline_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let rel = self.rel(&path);
                let (body, _) = platform_file::parse(&text, &rel)?;
                if let Some(note) = platform_file::outdated_note(&text, &body, &rel) {
                    // Once per process: every cluster and shadow of a command reads the baseline.
                    static NOTED: std::sync::Once = std::sync::Once::new();
                    NOTED.call_once(|| eprintln!("{note}"));
                }
                Ok(crate::edges::postgres::PlatformSchema::Captured(body))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                Ok(crate::edges::postgres::PlatformSchema::Builtin)
            }
            Err(err) => Err(err).with_context(|| format!("reading {}", self.rel(&path))),
        }
    }

    /// The embedded cluster, starting from this repository's baseline.
    pub fn cluster(&self, major: Major) -> anyhow::Result<crate::edges::postgres::Cluster> {
        if let Some(version) = self.legacy_cluster() {
            bail!(
                "{} holds a PostgreSQL {version} cluster from before the xtask kept one cluster per major; `cargo xtask db reset` removes it and starts a fresh one (its data is disposable)",
                self.rel(&self.clusters_dir())
            );
        }
        Ok(crate::edges::postgres::Cluster::with_baseline(&self.cluster_dir(major), major, self.baseline()?))
    }

    /// The major of the embedded target `name` (`domain::major::embedded`), and where it came from.
    pub fn embedded_major(&self, name: &str) -> anyhow::Result<(Major, major::Source)> {
        let lock = self.lock()?;
        let recorded = self
            .config
            .targets
            .iter()
            .filter(|(_, t)| t.protected)
            .filter_map(|(n, _)| Some((n.as_str(), lock.targets.get(n)?.major?)))
            .collect();
        let own = self.config.targets.get(name).and_then(|t| t.major_version);
        let settings = major::Settings { target: name, own, supabase: self.supabase_major()?, recorded };
        major::embedded(&settings).map_err(|why| anyhow::anyhow!("{why}"))
    }

    /// The major of the embedded default: the first embedded target's (`local`), or what one would get.
    pub fn default_major(&self) -> anyhow::Result<(Major, major::Source)> {
        let name = self.config.targets.iter().find(|(_, t)| t.embedded).map_or("local", |(n, _)| n.as_str());
        self.embedded_major(name)
    }

    /// `[db] major_version` of `supabase/config.toml` at the root, the file the Supabase CLI keeps.
    fn supabase_major(&self) -> anyhow::Result<Option<u32>> {
        let path = self.root.join("supabase/config.toml");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err).with_context(|| format!("reading {}", self.rel(&path))),
        };
        let value: toml::Value = toml::from_str(&text).with_context(|| {
            format!("{} does not parse as TOML; fix it (the Supabase CLI reads it too)", self.rel(&path))
        })?;
        match value.get("db").and_then(|db| db.get("major_version")) {
            None => Ok(None),
            Some(toml::Value::Integer(n)) => Ok(Some(u32::try_from(*n).unwrap_or(u32::MAX))),
            Some(other) => {
                bail!("{}: [db] major_version = {other} is not a number; set it to 15 or 17", self.rel(&path))
            }
        }
    }

    pub fn expected_deltas_path(&self) -> PathBuf {
        self.database_docs_dir().join("expected-deltas.toml")
    }
}
