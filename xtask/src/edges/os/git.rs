//! What the xtask asks git: is the checkout clean, which commit is it, and what a branch changed since its base.

use xshell::{Shell, cmd};

/// Paths with uncommitted changes (untracked files included); `Err` when this is no git checkout.
pub fn dirty_paths(sh: &Shell) -> anyhow::Result<Vec<String>> {
    let out = cmd!(sh, "git status --porcelain --untracked-files=all").quiet().ignore_stderr().read()?;
    Ok(out.lines().map(|l| l.get(3..).unwrap_or(l).to_string()).collect())
}

pub fn head_commit(sh: &Shell) -> Option<String> {
    cmd!(sh, "git rev-parse HEAD").quiet().ignore_stderr().read().ok().map(|s| s.trim().to_string())
}

/// How a file differs from the merge base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Modified,
    Deleted,
}

/// The commit where this checkout's history left `base`'s.
pub fn merge_base(sh: &Shell, base: &str) -> anyhow::Result<String> {
    match cmd!(sh, "git merge-base {base} HEAD").quiet().ignore_stderr().read() {
        Ok(sha) => Ok(sha.trim().to_string()),
        Err(_) => anyhow::bail!(
            "git finds no merge base of `{base}` and HEAD: is `{base}` a branch or commit here, with its history? Fetch it (`git fetch origin <branch>`; in GitHub Actions, `actions/checkout` with `fetch-depth: 0`)"
        ),
    }
}

/// Files under `dir` that differ between `commit` and the working tree (committed or not), untracked ones
/// included, with paths relative to the repository root. A rename is a deletion and an addition.
pub fn changed_since(sh: &Shell, commit: &str, dir: &str) -> anyhow::Result<Vec<(Change, String)>> {
    let spec = format!("{}/", dir.trim_end_matches('/'));
    let diff = cmd!(sh, "git diff --relative --name-status --no-renames -z {commit} -- {spec}").quiet().read()?;
    let mut fields = diff.split('\0').filter(|f| !f.is_empty());
    let mut out = Vec::new();
    while let (Some(status), Some(path)) = (fields.next(), fields.next()) {
        let change = match status.chars().next() {
            Some('A') => Change::Added,
            Some('D') => Change::Deleted,
            _ => Change::Modified,
        };
        out.push((change, path.to_string()));
    }
    let untracked = cmd!(sh, "git ls-files --others --exclude-standard -z -- {spec}").quiet().read()?;
    out.extend(untracked.split('\0').filter(|p| !p.is_empty()).map(|p| (Change::Added, p.to_string())));
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
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
    crate::domain::history::migrations::hex(&hasher.finalize())
}

#[cfg(test)]
mod tests {
    #[test]
    fn blob_ids_are_gits() {
        // `printf 'select 1;\n' | git hash-object --stdin`
        assert_eq!(super::blob_id(b"select 1;\n"), "ab290eb4c1f6e10ef89c4d95c1ede4471c4cad69");
    }
}
