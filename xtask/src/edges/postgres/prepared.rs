//! One `initdb` per major for a whole test run: when `XTASK_TEST_CLUSTERS` names a directory (only the
//! integration tests set it), the first cluster of a major made during the run `initdb`s a pristine data
//! directory there, and every new embedded cluster is a copy of it, made another server (a system identifier of
//! its own) and given its own password at its first launch. An `initdb` per test tree was a second or more of
//! each of the suite's ~100 clusters. Without the variable every cluster is made by its own `initdb`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::domain::major::Major;
use crate::edges::os::fsutil;

pub const CACHE_ENV: &str = "XTASK_TEST_CLUSTERS";

/// Holds, in a copy of a prepared cluster not yet launched, its superuser's password (the prepared one's).
pub const PREPARED_PASSWORD: &str = "prepared-password";

/// Written last into `<cache>/<major>/`: the prepared data directory is complete.
const READY: &str = "ready";

/// The prepared data directory of a major, and the bootstrap superuser's password in it.
pub struct Prepared {
    pub data: PathBuf,
    pub password: String,
}

/// Where the prepared cluster of `major` lives, when a test run asked for one.
pub fn dir(major: Major) -> Option<PathBuf> {
    let cache = std::env::var_os(CACHE_ENV).filter(|v| !v.is_empty())?;
    Some(PathBuf::from(cache).join(major.to_string()))
}

/// The prepared cluster in `dir`, made by `initdb(data, password)` if no process of the run has made it yet (a
/// file lock makes concurrent xtasks wait for the first).
pub fn ensure(
    dir: &Path,
    password: String,
    initdb: impl FnOnce(&Path, &str) -> anyhow::Result<()>,
) -> anyhow::Result<Prepared> {
    let parent = dir.parent().context("the prepared cluster's directory has no parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let lock = std::fs::File::create(dir.with_extension("lock"))
        .with_context(|| format!("creating {}", dir.with_extension("lock").display()))?;
    lock.lock().context("waiting for the prepared cluster's lock")?;
    let data = dir.join("data");
    if !dir.join(READY).is_file() {
        if dir.exists() {
            std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        initdb(&data, &password)?;
        fsutil::write_atomic(&dir.join("password"), password.as_bytes())?;
        fsutil::write_atomic(&dir.join(READY), b"")?;
    }
    let password = std::fs::read_to_string(dir.join("password")).context("reading the prepared cluster's password")?;
    Ok(Prepared { data, password: password.trim().to_string() })
}

/// A copy of a prepared data directory is another server: a new random `system_identifier` in
/// `global/pg_control` (its first 8 bytes, with the file's CRC-32C recomputed) and in the long header of each
/// WAL segment, which the server checks against it at startup.
pub fn make_another_server(data: &Path) -> anyhow::Result<()> {
    let control_path = data.join("global/pg_control");
    let mut control = std::fs::read(&control_path).with_context(|| format!("reading {}", control_path.display()))?;
    let Some(crc_at) = crc_offset(&control) else {
        bail!("{} has no CRC this xtask can find; unset {CACHE_ENV}", control_path.display());
    };
    let (old, new) = (control[..8].to_vec(), random_id()?);
    control[..8].copy_from_slice(&new);
    let crc = crc32c(&control[..crc_at]);
    control[crc_at..crc_at + 4].copy_from_slice(&crc.to_ne_bytes());
    for segment in std::fs::read_dir(data.join("pg_wal"))?.flatten() {
        let path = segment.path();
        if !path.is_file() || segment.file_name().len() != 24 {
            continue;
        }
        let mut bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        // XLogLongPageHeaderData: the 24-byte short header, then xlp_sysid.
        if bytes.get(24..32) != Some(old.as_slice()) {
            bail!("{} does not carry the cluster's system identifier; unset {CACHE_ENV}", path.display());
        }
        bytes[24..32].copy_from_slice(&new);
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    std::fs::write(&control_path, control).with_context(|| format!("writing {}", control_path.display()))
}

/// Where `ControlFileData.crc` is: the first 4-byte-aligned place holding the CRC of everything before it.
fn crc_offset(control: &[u8]) -> Option<usize> {
    (8..control.len().min(1024) - 4).step_by(4).find(|&at| control[at..at + 4] == crc32c(&control[..at]).to_ne_bytes())
}

/// CRC-32C (Castagnoli), as PostgreSQL's `pg_crc32c`.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
        }
    }
    !crc
}

fn random_id() -> anyhow::Result<[u8; 8]> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a system identifier: {e}"))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32c_is_castagnolis() {
        // The check value of CRC-32C.
        assert_eq!(super::crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn the_crc_is_found_after_the_bytes_it_covers() {
        let mut control = vec![7u8; 64];
        let crc = super::crc32c(&control[..40]);
        control[40..44].copy_from_slice(&crc.to_ne_bytes());
        assert_eq!(super::crc_offset(&control), Some(40));
    }
}
