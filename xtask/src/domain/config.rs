//! `xtask.toml`: targets and check policy.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use toml::Spanned;

use crate::domain::findings::{Code, OWN_CODES, Severity};

pub const FILE_NAME: &str = "xtask.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_migrations_dir")]
    pub migrations_dir: PathBuf,
    #[serde(default)]
    pub targets: BTreeMap<String, Target>,
    #[serde(default)]
    pub check: CheckConfig,
    #[serde(default)]
    pub catalog: CatalogConfig,
    #[serde(default)]
    pub partition: PartitionConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionConfig {
    /// How old parity evidence may be when a cutover is promoted (`24h` by default; s, m, h, d, w).
    pub evidence_max_age: Option<String>,
}

impl PartitionConfig {
    pub fn evidence_max_age(&self) -> anyhow::Result<chrono::Duration> {
        crate::domain::promotion::duration::parse_duration(self.evidence_max_age.as_deref().unwrap_or("24h"))
            .context("[partition] evidence_max_age")
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogConfig {
    /// Schemas left out of snapshots (`*` matches any run). Default: the schemas Supabase manages.
    pub exclude_schemas: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// A Postgres the xtask starts itself (`cargo xtask db start`).
    #[serde(default)]
    pub embedded: bool,
    /// A hosted Supabase project, reached with `SUPABASE_ACCESS_TOKEN` through the CLI.
    pub project_ref: Option<String>,
    /// The name of an environment variable holding a direct `postgres://` URL for the target.
    pub db_url_env: Option<String>,
    /// Clean checkout, green checks, rehearsal and a typed confirmation before any push.
    #[serde(default)]
    pub protected: bool,
    /// The Supabase platform the project lives on, passed as `--profile` to every CLI call for this target: a
    /// built-in name (`supabase`, `supabase-staging`, `supabase-local`) or a YAML file relative to the repository
    /// (`name`, `api_url`, `project_host`, `pooler_host`, `dashboard_url`), e.g. a self-hosted platform.
    pub profile: Option<String>,
    /// TLS for sessions by URL when the URL names none: libpq's sslmode (`disable` … `verify-full`).
    pub sslmode: Option<String>,
    /// The CA file (relative to the repository) that verifies the server, for `verify-ca`/`verify-full`.
    pub sslrootcert: Option<String>,
    /// Where a protected target's batch is rehearsed: `local` (default: a throwaway database on the embedded
    /// cluster), or another target (a hosted DEV or staging) that must already hold the batch, file for file.
    pub rehearse_on: Option<String>,
    /// How a token-only target's database is reached: `auto` (default: the direct host, else the project's pooler
    /// in session mode), `direct` or `pooler`. A URL target is reached where its URL says.
    pub connection: Option<Setting>,
    /// When phase-2 partition work (a cutover, retention) may be promoted without `--maintenance-window`:
    /// `"sat,sun 02:00-04:00"`, `"daily 22:00-23:30"` (UTC).
    #[serde(default)]
    pub maintenance_windows: Vec<String>,
    /// How long any statement of a push may wait for a lock (`5s` by default; `off` for none). The embedded
    /// database has none.
    pub lock_timeout: Option<String>,
    /// How often a file that ran out of its lock budget is pushed again, the budget doubling (default 3).
    pub lock_retries: Option<u32>,
    /// The PostgreSQL major of an embedded target (15 or 17; the key Supabase's config.toml uses). Hosted and URL
    /// targets are not configured: their major is read from the server.
    pub major_version: Option<u32>,
    /// The schemas the project's Data API serves (its `db_schema`), for the exposure review. Unset: asked of the
    /// Management API when a token is at hand, else the platform's default (`public`, `graphql_public`).
    pub exposed_schemas: Option<Vec<String>>,
}

impl Target {
    /// The lock budget of a push to this target, if it has one.
    pub fn budget(&self) -> anyhow::Result<Option<crate::domain::promotion::budget::Budget>> {
        if self.embedded {
            return Ok(None);
        }
        let text = self.lock_timeout.as_deref().unwrap_or("5s");
        if text == "off" {
            return Ok(None);
        }
        let timeout = crate::domain::promotion::duration::parse_duration(text).context("lock_timeout")?;
        let lock_timeout =
            timeout.to_std().ok().filter(|d| !d.is_zero()).context("lock_timeout must be above 0s (or \"off\")")?;
        Ok(Some(crate::domain::promotion::budget::Budget { lock_timeout, retries: self.lock_retries.unwrap_or(3) }))
    }

    /// Whether the target is a Supabase project, whose migrations run as the platform's `postgres` under
    /// supautils, by its configuration: a hosted project (`project_ref`), one reached through a platform
    /// `profile`, or the embedded database that stands in for one. For a target known only by its URL,
    /// `Resolved::role_model` asks the database.
    pub fn is_supabase(&self) -> bool {
        self.embedded || self.project_ref.is_some() || self.profile.is_some()
    }
}

/// Profiles the CLI knows by name.
pub const BUILTIN_PROFILES: &[&str] = &["supabase", "supabase-staging", "supabase-local"];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// Pending files larger than this are refused unread (a data dump is no migration).
    pub max_file_bytes: Option<u64>,
    /// Rule code -> severity, for our rules and squawk's (`off` disables one).
    #[serde(default)]
    pub severity: BTreeMap<Spanned<String>, Severity>,
}

/// Schemas Supabase manages; left out of the catalog unless `[catalog] exclude_schemas` says otherwise.
pub const DEFAULT_EXCLUDED: &[&str] = &[
    "auth",
    "storage",
    "realtime",
    "vault",
    "extensions",
    "graphql",
    "graphql_public",
    "supabase_*",
    "cron",
    "net",
    "pgsodium*",
    "pgbouncer",
    "_realtime",
    "_analytics",
];

pub const DEFAULT_MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

fn default_migrations_dir() -> PathBuf {
    PathBuf::from("migrations")
}

impl Config {
    pub fn parse(text: &str) -> anyhow::Result<Config> {
        let config: Config = toml::from_str(text).map_err(|err| anyhow::anyhow!("{FILE_NAME}: {err}"))?;
        config.validate(text)?;
        Ok(config)
    }

    fn validate(&self, text: &str) -> anyhow::Result<()> {
        let mut problems = Vec::new();
        for (name, target) in &self.targets {
            problems.extend(target.problems().into_iter().map(|p| format!("[targets.{name}]: {p}")));
            if let Err(e) = target.budget() {
                problems.push(format!("[targets.{name}] {e:#} (e.g. \"5s\")"));
            }
            for window in &target.maintenance_windows {
                if let Err(why) = crate::domain::promotion::cutover::Window::parse(window) {
                    problems.push(format!("[targets.{name}] maintenance_windows: {why}"));
                }
            }
            match target.rehearse_on.as_deref() {
                None | Some("local") => {}
                Some(other) if other == name => {
                    problems.push(format!("[targets.{name}]: rehearse_on names the target itself; name a DEV or staging target, or `local`"))
                }
                Some(other) if !self.targets.contains_key(other) => problems.push(format!(
                    "[targets.{name}]: rehearse_on = \"{other}\" is no target here; define [targets.{other}] or use `local`"
                )),
                Some(_) => {}
            }
        }
        for key in self.check.severity.keys() {
            if Code::parse(key.get_ref()).is_none() {
                let line = text[..key.span().start].matches('\n').count() + 1;
                problems.push(format!(
                    "line {line}: [check.severity] has unknown rule `{}`; use one of {} or a squawk rule name",
                    key.get_ref(),
                    OWN_CODES.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")
                ));
            }
        }
        for pattern in self.catalog.exclude_schemas.iter().flatten() {
            if pattern.is_empty() || !pattern.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'*') {
                problems.push(format!(
                    "[catalog] exclude_schemas: `{pattern}` is not a schema name or pattern (letters, digits, `_`, `*`)"
                ));
            }
        }
        if let Err(e) = self.partition.evidence_max_age() {
            problems.push(format!("{e:#}"));
        }
        if self.migrations_dir.is_absolute() {
            problems.push("migrations_dir must be relative to the repository root".to_string());
        }
        if problems.is_empty() {
            return Ok(());
        }
        bail!("{FILE_NAME}:\n  {}", problems.join("\n  "))
    }

    pub fn target(&self, name: &str) -> anyhow::Result<&Target> {
        match self.targets.get(name) {
            Some(target) => Ok(target),
            None => match self.targets.keys().find(|k| k.eq_ignore_ascii_case(name)) {
                Some(close) => {
                    bail!("unknown target `{name}`; did you mean `{close}`? (target names are case-sensitive)")
                }
                None => bail!(
                    "unknown target `{name}`; {FILE_NAME} defines: {}. Add a [targets.{name}] table or pick one of those",
                    self.targets.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            },
        }
    }

    /// Severity overrides by rule code, as configured.
    pub fn severities(&self) -> HashMap<String, Severity> {
        self.check.severity.iter().map(|(k, v)| (k.get_ref().clone(), *v)).collect()
    }

    pub fn catalog_excluded(&self) -> Vec<String> {
        match &self.catalog.exclude_schemas {
            Some(list) => list.clone(),
            None => DEFAULT_EXCLUDED.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn max_file_bytes(&self) -> u64 {
        self.check.max_file_bytes.unwrap_or(DEFAULT_MAX_FILE_BYTES)
    }
}

impl Target {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match (&self.project_ref, self.embedded) {
            (Some(_), true) => problems.push("set either `embedded = true` or `project_ref`, not both".to_string()),
            (None, false) if self.db_url_env.is_none() => {
                problems.push("needs `embedded = true`, a `project_ref` or a `db_url_env`".to_string())
            }
            _ => {}
        }
        if let Some(project_ref) = &self.project_ref
            && (project_ref.len() != 20 || !project_ref.bytes().all(|b| b.is_ascii_lowercase()))
        {
            problems.push(format!(
                "project_ref `{project_ref}` is not a Supabase project ref (20 lower-case letters, as in the dashboard URL)"
            ));
        }
        if let Some(profile) = &self.profile
            && (profile.is_empty() || Path::new(profile).is_absolute())
        {
            problems.push(format!(
                "profile `{profile}` must be one of {} or a YAML file relative to the repository",
                BUILTIN_PROFILES.join(", ")
            ));
        }
        if let Some(mode) = &self.sslmode
            && let Err(e) = SslMode::parse(mode)
        {
            problems.push(format!("{e}"));
        }
        if self.embedded && self.profile.is_some() {
            problems.push("an embedded target has no platform profile; remove `profile`".to_string());
        }
        if self.connection.is_some() && self.project_ref.is_none() {
            problems.push(
                "`connection` applies to a target reached by `project_ref` (a token); a URL target is reached where its URL says: remove `connection`"
                    .to_string(),
            );
        }
        if self.embedded && self.protected {
            problems.push("an embedded target cannot be protected; protect the hosted targets".to_string());
        }
        match self.major_version {
            Some(n) if !self.embedded => problems.push(format!(
                "major_version = {n} applies to an embedded target; a hosted or URL target's major is read from its server: remove major_version"
            )),
            Some(n) if crate::domain::major::Major::try_from(n).is_err() => {
                problems.push(crate::domain::major::unsupported(n, "major_version"))
            }
            _ => {}
        }
        match &self.exposed_schemas {
            Some(schemas) if schemas.is_empty() => problems.push(
                "exposed_schemas is empty: name the schemas the project's Data API serves (Settings, API: \"Exposed schemas\"), e.g. [\"public\", \"graphql_public\"]".to_string(),
            ),
            Some(schemas) if schemas.iter().any(|s| s.trim().is_empty() || s.trim() != s) => problems.push(
                "exposed_schemas holds an empty or padded name: write each schema as the dashboard shows it, e.g. [\"public\", \"api\"]".to_string(),
            ),
            _ => {}
        }
        problems
    }
}

/// libpq's `sslmode`, as a target's `sslmode` or a URL's names it (`allow` is taken as `prefer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(text: &str) -> anyhow::Result<SslMode> {
        Ok(match text {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => bail!("sslmode `{other}` is not one of disable, prefer, require, verify-ca, verify-full"),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// `[targets.X] connection`: how a token-only target's database is reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Setting {
    /// The direct host when it answers, else the pooler in session mode.
    #[default]
    Auto,
    Direct,
    Pooler,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_designed_file() {
        let config = Config::parse(
            r#"
migrations_dir = "migrations"
[targets.local]
embedded = true
[targets.prod]
project_ref = "srcaoozjkrughebmbvfb"
db_url_env = "PROD_DB_URL"
protected = true
[check.severity]
destructive = "error"
require-lock-timeout = "off"
"#,
        )
        .unwrap();
        assert!(config.target("local").unwrap().embedded);
        assert!(config.target("prod").unwrap().protected);
        assert_eq!(config.severities()["require-lock-timeout"], Severity::Off);
    }

    #[test]
    fn hosted_and_embedded_targets_are_supabase_projects_a_url_target_is_not() {
        let config = Config::parse(
            "[targets.local]\nembedded = true\n[targets.prod]\nproject_ref = \"srcaoozjkrughebmbvfb\"\ndb_url_env = \"P\"\n\
             [targets.dev]\ndb_url_env = \"D\"\n",
        )
        .unwrap();
        let supabase = |name: &str| config.target(name).unwrap().is_supabase();
        assert_eq!((supabase("local"), supabase("prod"), supabase("dev")), (true, true, false));
    }

    #[test]
    fn names_the_line_of_an_unknown_rule() {
        let err = Config::parse("[check.severity]\ndestructive = \"error\"\nno-such-rule = \"off\"\n").unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("line 3: [check.severity] has unknown rule `no-such-rule`"), "{msg}");
    }

    #[test]
    fn refuses_unknown_keys_and_bad_targets() {
        let err = Config::parse("migration_dir = \"m\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("unknown field `migration_dir`"), "{err:#}");
        let err = Config::parse("[targets.prod]\nproject_ref = \"PROD\"\nembedded = true\n").unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("[targets.prod]: set either `embedded = true` or `project_ref`, not both"), "{msg}");
        assert!(msg.contains("project_ref `PROD` is not a Supabase project ref"), "{msg}");
    }

    #[test]
    fn unknown_target_lists_the_known_ones() {
        let config = Config::parse("[targets.local]\nembedded = true\n[targets.prod]\ndb_url_env = \"X\"\n").unwrap();
        let err = config.target("staging").unwrap_err().to_string();
        assert!(err.contains("unknown target `staging`; xtask.toml defines: local, prod"), "{err}");
        let err = config.target("PROD").unwrap_err().to_string();
        assert_eq!(err, "unknown target `PROD`; did you mean `prod`? (target names are case-sensitive)");
    }

    #[test]
    fn connection_is_auto_direct_or_pooler_on_a_token_target() {
        let config =
            Config::parse("[targets.prod]\nproject_ref = \"srcaoozjkrughebmbvfb\"\nconnection = \"pooler\"\n").unwrap();
        assert_eq!(config.target("prod").unwrap().connection, Some(Setting::Pooler));
        let err = Config::parse("[targets.prod]\nproject_ref = \"srcaoozjkrughebmbvfb\"\nconnection = \"ipv4\"\n")
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("unknown variant `ipv4`, expected one of `auto`, `direct`, `pooler`"),
            "{err:#}"
        );
        let err = Config::parse("[targets.dev]\ndb_url_env = \"DEV_DB_URL\"\nconnection = \"pooler\"\n").unwrap_err();
        assert!(
            format!("{err:#}").contains("[targets.dev]: `connection` applies to a target reached by `project_ref`"),
            "{err:#}"
        );
    }
}
