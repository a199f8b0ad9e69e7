//! The PostgreSQL server trees the embedded database and every rehearsal run on: one per major, laid out by
//! `scripts/setup` from the npm packages pinned in `package.json` into `target/xtask/postgres/<major>/`, where
//! the xtask adds extensions (its stand-ins among them). `XTASK_PG_BINDIR` points at another tree instead
//! (Debian's `/usr/lib/postgresql/15/bin`, say); its major must be the one asked for.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use xshell::{Shell, cmd};

use crate::domain::major::Major;

/// Overrides where the Postgres binaries are looked for (a directory holding `initdb`, `pg_ctl`, `postgres`).
pub const BINDIR_ENV: &str = "XTASK_PG_BINDIR";

/// Overrides where the owned trees are (`<dir>/<major>/`); by default this checkout's `target/xtask/postgres`.
pub const TREES_ENV: &str = "XTASK_PG_TREES";

/// The file `scripts/setup` writes last into a tree it laid out: what the tree holds, `key = value` lines.
pub const STAMP: &str = "xtask-tree";

#[derive(Debug, Clone)]
pub struct ServerTree {
    pub major: Major,
    pub bindir: PathBuf,
    /// The tree's extension folder, when the xtask owns the tree (it adds its stand-ins there).
    pub owned_extensions: Option<PathBuf>,
}

impl ServerTree {
    /// The tree for `major`: the override when set (it must be that major), else the owned one.
    pub fn locate(major: Major) -> anyhow::Result<ServerTree> {
        match std::env::var_os(BINDIR_ENV).filter(|v| !v.is_empty()) {
            Some(dir) => overridden(major, PathBuf::from(dir)),
            None => owned(major),
        }
    }

    /// Whether the tree has pg_cron's library, which must be preloaded (Debian's postgresql-15-cron); the
    /// owned trees' pg_cron is a stand-in, which needs no library.
    pub fn preloads_pg_cron(&self) -> bool {
        let Some(root) = self.bindir.parent() else { return false };
        root.join("lib/pg_cron.so").is_file() || root.join("lib/postgresql/pg_cron.so").is_file()
    }

    pub fn bin(&self, program: &str) -> PathBuf {
        self.bindir.join(program)
    }
}

/// This checkout's trees folder (or `XTASK_PG_TREES`).
pub fn trees_dir() -> PathBuf {
    match std::env::var_os(TREES_ENV).filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
            manifest.parent().unwrap_or(manifest).join("target/xtask/postgres")
        }
    }
}

/// The npm package that carries `major`'s tree on this machine, as `package.json` names it.
pub fn package(major: Major) -> anyhow::Result<String> {
    let platform = match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "linux-x64",
        ("macos", "aarch64") => "darwin-arm64",
        (os, arch) => bail!(
            "no PostgreSQL server tree is packaged for {os}-{arch} (package.json has linux-x64 and darwin-arm64); \
             point {BINDIR_ENV} at a PostgreSQL {major} bin folder"
        ),
    };
    Ok(format!("pg{major}-{platform}"))
}

fn owned(major: Major) -> anyhow::Result<ServerTree> {
    let root = trees_dir().join(major.to_string());
    if !root.join(STAMP).is_file() || !root.join("bin/initdb").is_file() {
        bail!(
            "no PostgreSQL {major} server tree in {}: run `scripts/setup` (it lays out the npm package {}), or point {BINDIR_ENV} at a PostgreSQL {major} bin folder",
            display(&root),
            package(major)?
        );
    }
    let root = reachable_tree(&root)?;
    let extensions = root.join("share/postgresql/extension");
    Ok(ServerTree { major, bindir: root.join("bin"), owned_extensions: Some(extensions) })
}

fn overridden(major: Major, bindir: PathBuf) -> anyhow::Result<ServerTree> {
    if !bindir.join("initdb").is_file() || !bindir.join("pg_ctl").is_file() {
        bail!(
            "{BINDIR_ENV}={} holds no Postgres server binaries (initdb, pg_ctl); correct it or unset it",
            display(&bindir)
        );
    }
    let (sh, postgres) = (Shell::new()?, bindir.join("postgres"));
    let text = cmd!(sh, "{postgres} --version")
        .quiet()
        .ignore_stderr()
        .read()
        .with_context(|| format!("running {}/postgres --version", display(&bindir)))?;
    let found = version_major(&text);
    if found != Some(major.number()) {
        bail!(
            "{BINDIR_ENV}={} is PostgreSQL {}, but PostgreSQL {major} is needed here; unset it (the owned {major} tree is used) or point it at a {major} bin folder",
            display(&bindir),
            found.map_or_else(|| "of an unknown major".to_string(), |n| n.to_string())
        );
    }
    Ok(ServerTree { major, bindir, owned_extensions: None })
}

/// The major in `postgres --version`'s "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)".
fn version_major(text: &str) -> Option<u32> {
    let version = text.split_whitespace().nth(2)?;
    version.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

fn display(path: &Path) -> String {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf()).display().to_string()
}

/// As root the server runs as an unprivileged user, which must reach the tree. When it cannot (a checkout in
/// root's 0700 home), the tree is mirrored once into `/var/lib/xtask/trees/`, keyed by its stamp and place.
fn reachable_tree(root: &Path) -> anyhow::Result<PathBuf> {
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX);
    if uid != 0 || world_reachable(root) {
        return Ok(root.to_path_buf());
    }
    use sha2::Digest;
    let stamp = std::fs::read(root.join(STAMP))?;
    let mut key = sha2::Sha256::new();
    key.update(&stamp);
    key.update(display(root).as_bytes());
    let hash = crate::domain::history::migrations::hex(&key.finalize());
    let base = PathBuf::from("/var/lib/xtask/trees");
    let mirror = base.join(&hash[..16]);
    if mirror.join(STAMP).is_file() {
        return Ok(mirror);
    }
    std::fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    std::fs::set_permissions("/var/lib/xtask", std::fs::Permissions::from_mode(0o755))?;
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755))?;
    let partial = base.join(format!("{}.partial-{}", &hash[..16], std::process::id()));
    let sh = Shell::new()?;
    cmd!(sh, "cp -a {root} {partial}")
        .quiet()
        .run()
        .with_context(|| format!("copying {} to {}", display(root), partial.display()))?;
    cmd!(sh, "chmod -R a+rX {partial}").quiet().run()?;
    // Another process may have made the same mirror meanwhile: that one is as good.
    if std::fs::rename(&partial, &mirror).is_err() {
        let _ = std::fs::remove_dir_all(&partial);
    }
    Ok(mirror)
}

/// Whether every folder above `dir` lets anyone through.
fn world_reachable(dir: &Path) -> bool {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    dir.ancestors().all(|a| std::fs::metadata(a).map(|m| m.permissions().mode() & 0o001 != 0).unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_major_of_a_version_line() {
        assert_eq!(version_major("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"), Some(15));
        assert_eq!(version_major("postgres (PostgreSQL) 17.10\n"), Some(17));
        assert_eq!(version_major("postgres (PostgreSQL) 18beta1\n"), Some(18));
        assert_eq!(version_major(""), None);
    }
}
