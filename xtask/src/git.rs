//! What promote asks git: is the checkout clean, and which commit is it.

use xshell::{Shell, cmd};

/// Paths with uncommitted changes (untracked files included); `Err` when this is no git checkout.
pub fn dirty_paths(sh: &Shell) -> anyhow::Result<Vec<String>> {
    let out = cmd!(sh, "git status --porcelain --untracked-files=all").quiet().ignore_stderr().read()?;
    Ok(out.lines().map(|l| l.get(3..).unwrap_or(l).to_string()).collect())
}

pub fn head_commit(sh: &Shell) -> Option<String> {
    cmd!(sh, "git rev-parse HEAD").quiet().ignore_stderr().read().ok().map(|s| s.trim().to_string())
}

/// The blob id of every file committed at `HEAD` directly under `dir` (relative to the repository root), by file
/// name.
pub fn committed_blobs(sh: &Shell, dir: &str) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let spec = format!("{}/", dir.trim_end_matches('/'));
    let out = cmd!(sh, "git ls-tree -z HEAD -- {spec}").quiet().ignore_stderr().read()?;
    Ok(out
        .split('\0')
        .filter_map(|entry| {
            let (meta, path) = entry.split_once('\t')?;
            let mut fields = meta.split(' ');
            let (_, kind, id) = (fields.next()?, fields.next()?, fields.next()?);
            let name = path.rsplit('/').next()?;
            (kind == "blob").then(|| (name.to_string(), id.to_string()))
        })
        .collect())
}

/// The id git gives `bytes` as a blob (what `git hash-object` prints).
pub fn blob_id(bytes: &[u8]) -> String {
    use sha1::Digest;
    let mut hasher = sha1::Sha1::new();
    hasher.update(format!("blob {}\0", bytes.len()).as_bytes());
    hasher.update(bytes);
    crate::migrations::hex(&hasher.finalize())
}

#[cfg(test)]
mod tests {
    #[test]
    fn blob_ids_are_gits() {
        // `printf 'select 1;\n' | git hash-object --stdin`
        assert_eq!(super::blob_id(b"select 1;\n"), "ab290eb4c1f6e10ef89c4d95c1ede4471c4cad69");
    }
}
