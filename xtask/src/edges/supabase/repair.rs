//! History rows written without running a file: `supabase migration repair --status applied V...`. The pinned
//! CLI (3.1.0) reads each version's file from the workdir, splits it into statements as `db push` does, and
//! upserts every row in one transaction (`BEGIN`, one `INSERT ... ON CONFLICT (version) DO UPDATE` per
//! version, `COMMIT`, as the server's statement log shows): the rows are what a push of the same files would
//! have written, all or none. Through the same `--remote` as the push (the pooler's session port on the token
//! path, where its unnamed prepared statements hold).

use std::path::Path;

use anyhow::bail;
use xshell::Shell;

use super::cli::{Cli, CliError, Remote, cli_error, explain};

impl Cli {
    /// Marks `versions` applied on `remote`, their files staged in `workdir`'s `supabase/migrations/`.
    pub fn repair_applied(
        &self,
        sh: &Shell,
        workdir: &Path,
        remote: &Remote,
        versions: &[String],
    ) -> anyhow::Result<()> {
        if self.version.major < 3 {
            bail!("writing history rows needs Supabase CLI 3.x; found {}: run `npm ci`", self.version);
        }
        let env = remote.child_env()?;
        let args = repair_args(workdir, &remote.for_command_line()?.0, versions);
        let out = self.run(sh, &args, &env)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let json = stdout.lines().rev().find_map(|l| serde_json::from_str::<serde_json::Value>(l.trim()).ok());
        match json.as_ref().and_then(cli_error) {
            Some(err) => bail!(
                "`supabase migration repair` failed: {}",
                explain(&CliError { code: err.code, message: crate::edges::output::redact::redact(&err.message) })
            ),
            None if !out.status.success() || json.is_none() => bail!(
                "`supabase migration repair` failed: {}",
                crate::edges::output::redact::redact(&String::from_utf8_lossy(&out.stderr))
            ),
            None => Ok(()),
        }
    }
}

/// `migration repair --status applied V... --remote=<url|ref> --yes`, with JSON output.
pub fn repair_args(workdir: &Path, remote: &Remote, versions: &[String]) -> Vec<String> {
    let target = match remote {
        Remote::Url(url) => url.clone(),
        Remote::Project(r) => r.clone(),
    };
    let mut args = vec![
        "--workdir".to_string(),
        workdir.display().to_string(),
        "migration".into(),
        "repair".into(),
        "--status".into(),
        "applied".into(),
    ];
    args.extend(versions.iter().cloned());
    args.extend([format!("--remote={target}"), "--yes".into(), "--output-format".into(), "json".into()]);
    args
}
