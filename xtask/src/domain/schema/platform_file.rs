//! The committed platform baseline's format (`docs/database/platform/baseline.sql`): a header naming the target
//! it was captured from and the digest of the body, so a hand edit is refused. Pure.

use anyhow::bail;
use sha2::{Digest, Sha256};

use crate::domain::history::migrations;

fn digest(body: &str) -> String {
    migrations::hex(&Sha256::digest(body.as_bytes()))
}

/// The committed file: a header naming where it came from and the digest of the body.
pub fn render(target: &str, body: &str) -> String {
    format!(
        "-- The platform-managed schemas of `{target}`, captured by `cargo xtask platform-baseline --target {target}`.\n\
         -- Local databases start from this file. Do not edit: refresh it with that command and review the diff.\n\
         -- digest: {}\n\n{body}",
        digest(body)
    )
}

/// The body of a committed file and its digest line; a hand edit is refused.
pub fn parse(text: &str, rel: &str) -> anyhow::Result<(String, String)> {
    let Some(line) = text.lines().find(|l| l.starts_with("-- digest: ")) else {
        bail!("{rel} has no digest line; regenerate it with `cargo xtask platform-baseline --target <target>`");
    };
    let recorded = line.trim_start_matches("-- digest: ").trim().to_string();
    let body = text.split_once(&format!("{line}\n\n")).map(|(_, b)| b.to_string()).unwrap_or_default();
    if digest(&body) != recorded {
        bail!(
            "{rel} was edited by hand (its digest does not match); restore it with `git checkout -- {rel}` or regenerate it with `cargo xtask platform-baseline --target <target>`"
        );
    }
    Ok((body, recorded))
}
