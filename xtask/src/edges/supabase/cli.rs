//! The one place that runs the Supabase CLI: found in `node_modules/.bin` first (pinned by package.json), then on
//! PATH. Every call names its target explicitly (`--remote=`), because CLI 3.x targets the local stack
//! otherwise, and an exported SUPABASE_PROJECT_ID silently overrides the linked project.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use xshell::{Shell, cmd};

#[derive(Debug, Clone)]
pub struct Cli {
    pub path: PathBuf,
    pub version: Version,
    /// `--profile`: the platform a target lives on (a built-in name or a YAML file).
    pub profile: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim().trim_start_matches('v');
        let mut parts = text.split(|c: char| !c.is_ascii_digit()).map(|p| p.parse::<u32>());
        Some(Version { major: parts.next()?.ok()?, minor: parts.next()?.ok()?, patch: parts.next()?.ok()? })
    }
}

/// Where a command points the CLI: a database URL (password inside) or a hosted project ref.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    Url(String),
    Project(String),
}

impl Remote {
    /// What may stand on a command line (any local user can read `/proc/<pid>/cmdline`): the URL without its
    /// password. The password, percent-decoded, goes to the child in `PGPASSWORD`, which the CLI honours when
    /// the URL carries none; the TLS mode the xtask's own sessions use goes in `PGSSLMODE` (and
    /// `PGSSLROOTCERT`), so both sides agree.
    pub fn child_env(&self) -> anyhow::Result<Vec<(&'static str, String)>> {
        let Remote::Url(url) = self else { return Ok(Vec::new()) };
        let (_, password) = self.for_command_line()?;
        let split = crate::edges::postgres::tls::split_url(url)?;
        let parsed = url::Url::parse(&split.url)?;
        let host = parsed.host_str().unwrap_or("localhost").trim_matches(['[', ']']).to_string();
        let port = parsed.port().unwrap_or(5432);
        let tls = crate::edges::postgres::Tls::choose(split.mode, split.rootcert, &host, port);
        let mut env = vec![("PGSSLMODE", tls.mode.as_str().to_string())];
        env.extend(tls.rootcert.map(|p| ("PGSSLROOTCERT", p.display().to_string())));
        env.extend(password.map(|p| ("PGPASSWORD", p)));
        Ok(env)
    }

    /// The remote as it may stand on a command line, and the password it carried.
    pub fn for_command_line(&self) -> anyhow::Result<(Remote, Option<String>)> {
        let Remote::Url(url) = self else { return Ok((self.clone(), None)) };
        let mut parsed = url::Url::parse(url).map_err(|e| {
            anyhow::anyhow!(
                "the database URL does not parse ({e}); check its form: postgresql://user:password@host:port/db"
            )
        })?;
        let password = parsed
            .password()
            .map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned())
            .filter(|p| !p.is_empty());
        if parsed.set_password(None).is_err() {
            bail!("the database URL has no host; check its form: postgresql://user:password@host:port/db");
        }
        Ok((Remote::Url(parsed.to_string()), password))
    }
}

/// What `db push` is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    DryRun,
    Apply,
}

/// What `db push` said: the migrations it pushed (or would), its target, or its error.
#[derive(Debug, Clone, Default)]
pub struct PushOutput {
    pub success: bool,
    pub migrations: Vec<String>,
    pub target: Option<ReportedTarget>,
    pub error: Option<CliError>,
    /// stdout and stderr, redacted: for records and error messages.
    pub transcript: String,
}

/// Where the CLI says a push goes (the `target` of its JSON output): a database URL's host and port, or a
/// linked project.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct ReportedTarget {
    pub kind: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub project_ref: Option<String>,
}

impl std::fmt::Display for ReportedTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.host, self.port, &self.project_ref) {
            (_, _, Some(project)) => write!(f, "project {project}"),
            (Some(host), Some(port), None) => write!(f, "{host}:{port}"),
            (Some(host), None, None) => write!(f, "{host} (no port)"),
            _ => write!(f, "a target without host or project ({})", self.kind.as_deref().unwrap_or("no kind")),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct CliError {
    pub code: String,
    pub message: String,
}

/// The `application_name` of the Supabase CLI 3.1.0's database sessions: how its sessions are found on the server.
pub const APPLICATION_NAME: &str = "@effect/sql-pg";

pub const NOT_FOUND: &str =
    "the Supabase CLI is not installed: run `npm ci` (package.json pins it), or put `supabase` on PATH";

impl Cli {
    /// The CLI from `node_modules/.bin` (its version read from its package.json: each CLI start costs ~0.7 s),
    /// else from PATH.
    pub fn locate(sh: &Shell, root: &Path) -> anyhow::Result<Cli> {
        let local = root.join("node_modules/.bin/supabase");
        if local.exists() {
            let manifest = root.join("node_modules/supabase/package.json");
            let version = std::fs::read_to_string(&manifest)
                .ok()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                .and_then(|json| json["version"].as_str().and_then(Version::parse));
            if let Some(version) = version {
                let path = platform_binary(root).unwrap_or(local);
                return Ok(Cli { path, version, profile: None });
            }
            return Cli::probe(sh, local);
        }
        let on_path = std::env::var_os("PATH")
            .map(|paths| std::env::split_paths(&paths).map(|dir| dir.join("supabase")).find(|p| p.is_file()))
            .unwrap_or_default();
        match on_path {
            Some(path) => Cli::probe(sh, path),
            None => bail!(NOT_FOUND),
        }
    }

    fn probe(sh: &Shell, path: PathBuf) -> anyhow::Result<Cli> {
        let out = cmd!(sh, "{path} --version")
            .quiet()
            .ignore_stderr()
            .read()
            .with_context(|| format!("running {} --version", path.display()))?;
        let version = Version::parse(&out)
            .with_context(|| format!("{} --version printed `{}`, not a version", path.display(), out.trim()))?;
        if version.major < 2 {
            bail!("Supabase CLI {version} is too old (2.x or 3.x needed): run `npm ci`");
        }
        Ok(Cli { path, version, profile: None })
    }

    pub fn push(&self, sh: &Shell, workdir: &Path, remote: &Remote, mode: Push) -> anyhow::Result<PushOutput> {
        self.push_until(sh, (workdir, remote, &[]), mode, Watch { stop: &|| false, line: &|_| {} })
    }

    /// `push`, ending the CLI (killed) as soon as `watch.stop` says so; what it did by then is read from the target.
    /// `extra` is added to the child's environment (`PGOPTIONS`: the lock budget). Each line the CLI writes to
    /// stderr goes to `watch.line` as it comes ("Applying migration <file>...": the push's progress).
    pub fn push_until(
        &self,
        sh: &Shell,
        (workdir, remote, extra): (&Path, &Remote, &[(&'static str, String)]),
        mode: Push,
        watch: Watch,
    ) -> anyhow::Result<PushOutput> {
        let mut env = remote.child_env()?;
        env.extend(extra.iter().cloned());
        let args = push_args(self.version, workdir, &remote.for_command_line()?.0, mode);
        let out = self.run_push(sh, &args, &env, watch)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut parsed =
            if self.version.major >= 3 { parse_push_json(&stdout) } else { parse_push_text(&stdout, &stderr) };
        parsed.success = out.status.success() && parsed.error.is_none();
        parsed.transcript = crate::edges::output::redact::redact(&format!("{}{}", stderr, stdout));
        if let Some(err) = &mut parsed.error {
            err.message = crate::edges::output::redact::redact(&err.message);
        }
        Ok(parsed)
    }

    /// `supabase db query --read-only`: rows as JSON objects.
    pub fn query(
        &self,
        sh: &Shell,
        workdir: &Path,
        remote: &Remote,
        sql: &str,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        if self.version.major < 3 {
            bail!(
                "reading a hosted database needs Supabase CLI 3.x (`db query`); found {}: run `npm ci`",
                self.version
            );
        }
        let env = remote.child_env()?;
        let args = query_args(workdir, &remote.for_command_line()?.0, sql);
        let out = self.run(sh, &args, &env)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let json: serde_json::Value = serde_json::from_str(stdout.trim()).map_err(|_| {
            anyhow::anyhow!(
                "`supabase db query` printed no JSON: {}",
                crate::edges::output::redact::redact(&String::from_utf8_lossy(&out.stderr))
            )
        })?;
        if let Some(err) = cli_error(&json) {
            bail!(
                "{}",
                explain(&CliError { code: err.code, message: crate::edges::output::redact::redact(&err.message) })
            );
        }
        match json {
            serde_json::Value::Array(rows) => Ok(rows),
            other => bail!("`supabase db query` returned {other}, not rows"),
        }
    }

    /// `supabase link --project-ref REF`, as the runbook's manual path does, into the staged workdir.
    pub fn link(&self, sh: &Shell, workdir: &Path, project_ref: &str) -> anyhow::Result<()> {
        let args = link_args(self.version, workdir, project_ref);
        let out = self.run(sh, &args, &[])?;
        if out.status.success() {
            return Ok(());
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        match serde_json::from_str::<serde_json::Value>(stdout.trim()).ok().as_ref().and_then(cli_error) {
            Some(err) => bail!(
                "supabase link failed: {}",
                explain(&CliError { code: err.code, message: crate::edges::output::redact::redact(&err.message) })
            ),
            None => bail!(
                "supabase link failed: {}",
                crate::edges::output::redact::redact(&String::from_utf8_lossy(&out.stderr))
            ),
        }
    }

    /// The same CLI, every call made with `--profile profile`.
    pub fn with_profile(&self, profile: Option<&str>) -> Cli {
        Cli { profile: profile.map(str::to_string), ..self.clone() }
    }

    /// The global arguments every call starts with.
    fn global_args(&self) -> Vec<String> {
        match &self.profile {
            Some(profile) => vec!["--profile".to_string(), profile.clone()],
            None => Vec::new(),
        }
    }

    /// `env` (a password among it) reaches the child in its environment, never on its command line.
    pub(super) fn run(
        &self,
        sh: &Shell,
        args: &[String],
        env: &[(&str, String)],
    ) -> anyhow::Result<std::process::Output> {
        let path = &self.path;
        let global = self.global_args();
        let mut cmd = cmd!(sh, "{path} {global...} {args...}");
        for (key, value) in env {
            cmd = cmd.env(key, value);
        }
        cmd.env_remove("SUPABASE_PROJECT_ID")
            .quiet()
            .ignore_status()
            .output()
            .with_context(|| format!("running {}", path.display()))
    }
}

/// The `db push` command line. 3.x: `--remote=<url|ref>` and JSON output; 2.x: `--db-url` or `--linked`.
pub fn push_args(version: Version, workdir: &Path, remote: &Remote, mode: Push) -> Vec<String> {
    let mut args = vec!["--workdir".to_string(), workdir.display().to_string(), "db".into(), "push".into()];
    match (version.major >= 3, remote) {
        (true, Remote::Url(url)) => args.push(format!("--remote={url}")),
        (true, Remote::Project(r)) => args.push(format!("--remote={r}")),
        (false, Remote::Url(url)) => args.extend(["--db-url".to_string(), url.clone()]),
        (false, Remote::Project(_)) => args.push("--linked".into()),
    }
    if mode == Push::DryRun {
        args.push("--dry-run".into());
    }
    args.push("--yes".into());
    if version.major >= 3 {
        args.extend(["--output-format".to_string(), "json".into()]);
    }
    args
}

pub fn query_args(workdir: &Path, remote: &Remote, sql: &str) -> Vec<String> {
    let target = match remote {
        Remote::Url(url) => url,
        Remote::Project(r) => r,
    };
    vec![
        "--workdir".into(),
        workdir.display().to_string(),
        "db".into(),
        "query".into(),
        format!("--remote={target}"),
        "--read-only".into(),
        "--output-format".into(),
        "json".into(),
        sql.into(),
    ]
}

pub fn link_args(version: Version, workdir: &Path, project_ref: &str) -> Vec<String> {
    let mut args = vec![
        "--workdir".into(),
        workdir.display().to_string(),
        "link".into(),
        "--project-ref".into(),
        project_ref.into(),
    ];
    if version.major >= 3 {
        args.extend(["--output-format".to_string(), "json".into()]);
    }
    args
}

pub(super) fn cli_error(json: &serde_json::Value) -> Option<CliError> {
    serde_json::from_value(json.get("error")?.clone()).ok()
}

fn parse_push_json(stdout: &str) -> PushOutput {
    // The JSON document is the last line; earlier lines may be notices.
    let json = stdout.lines().rev().find_map(|line| serde_json::from_str::<serde_json::Value>(line.trim()).ok());
    let Some(json) = json else {
        return PushOutput {
            error: Some(CliError { code: "NoJsonOutput".into(), message: "the CLI printed no JSON result".into() }),
            ..Default::default()
        };
    };
    let migrations = json["migrations"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let target = json.get("target").and_then(|t| serde_json::from_value(t.clone()).ok());
    PushOutput { migrations, target, error: cli_error(&json), ..Default::default() }
}

/// 2.x prints a bullet list: ` • 20260101000000_x.sql`.
fn parse_push_text(stdout: &str, stderr: &str) -> PushOutput {
    let migrations = stdout
        .lines()
        .chain(stderr.lines())
        .filter_map(|l| l.trim().strip_prefix('•').map(|f| f.trim().to_string()))
        .filter(|f| f.ends_with(".sql"))
        .collect();
    PushOutput { migrations, ..Default::default() }
}

/// The CLI's error, with what to do about it.
pub fn explain(err: &CliError) -> String {
    if let Some(advice) = api_status_advice(&err.message) {
        return format!("{}\n({}) {advice}", err.message.trim(), err.code);
    }
    let advice = match err.code.as_str() {
        "AccessTokenRequiredError" => {
            "set SUPABASE_ACCESS_TOKEN (a personal access token from the dashboard) in the environment or CI secrets"
        }
        // What to do depends on where the file is recorded: the caller says it (promote's failure advice).
        "DbPushApplyError" => return format!("{}\n({})", err.message.trim(), err.code),
        "DbPushMissingLocalError" => {
            "the target has a migration no local file has: someone pushed from another branch; merge it, then retry"
        }
        "DbPushMissingRemoteError" => {
            "a local file is older than the target's head and not applied; `cargo xtask check` names it"
        }
        "DbConfigIpv6Error" => {
            "this network has no IPv6: the xtask reaches the project through its pooler in session mode when the target's `connection` is `auto` (the default) or `pooler`; a URL target needs the pooler's session-mode URL (port 5432)"
        }
        "DbQueryExecError" => "the query failed on the target",
        _ => "the CLI's message (before the code) says why",
    };
    // The CLI's message may end in an excerpt of SQL: what the xtask adds goes on a line of its own.
    format!("{}\n({}) {advice}", err.message.trim(), err.code)
}

/// The SQLSTATE of a server error as the CLI prints it (3.x and 2.x alike: `<severity>: <message> (SQLSTATE
/// <code>)`): the code itself, five digits or capitals, never a substring met elsewhere in the text.
pub fn sqlstate(message: &str) -> Option<&str> {
    const OPEN: &str = "(SQLSTATE ";
    message.match_indices(OPEN).find_map(|(at, _)| {
        let start = at + OPEN.len();
        let code = message.get(start..start + 5)?;
        let closed = message[start + 5..].starts_with(')');
        (closed && code.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())).then_some(code)
    })
}

/// The HTTP status where the CLI 3.x prints it for an answer it did not expect: `unexpected status N` or
/// `unexpected status N: <body>` (its JSON error has no status field); nothing read from the body after it.
fn unexpected_status(message: &str) -> Option<u16> {
    let (_, after) = message.split_once("unexpected status ")?;
    let digits = after.split([':', ' ', '\n']).next()?;
    if digits.len() != 3 {
        return None;
    }
    digits.parse().ok()
}

/// What an HTTP status from the Management API means for the person running the xtask.
fn api_status_advice(message: &str) -> Option<&'static str> {
    let status = unexpected_status(message)?;
    Some(match status {
        401 | 403 => {
            "the Management API refused the access token: check SUPABASE_ACCESS_TOKEN (a personal access token of a member of the project's organisation); nothing was changed"
        }
        404 => {
            "the Management API knows no such project for this token: check the target's project_ref in xtask.toml (and its profile); nothing was changed"
        }
        400 | 409 | 422 => {
            "the Management API refused the request (a paused project must be restored from the dashboard first); nothing was changed"
        }
        500..=599 => {
            "the Supabase platform failed to answer; nothing was changed. Retry later, or check the platform's status page"
        }
        _ => return None,
    })
}

/// The CLI's own executable inside the npm package for this machine. `node_modules/.bin/supabase` is a Node
/// launcher that only finds and spawns it: ~0.2 s a call, twice per promotion, and a kill of the launcher would
/// leave the real CLI running.
fn platform_binary(root: &Path) -> Option<PathBuf> {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => other,
    };
    let exe = if os == "windows" { "supabase.exe" } else { "supabase" };
    [format!("cli-{os}-{arch}"), format!("cli-{os}-{arch}-musl")]
        .iter()
        .map(|package| root.join("node_modules/@supabase").join(package).join("bin").join(exe))
        .find(|path| path.is_file())
}

mod watched;

pub use watched::{Watch, applying};

#[cfg(test)]
mod tests;
