//! The xtask's own calls to the Supabase Management API, for a target reached with an access token only: a
//! short-lived login role (`POST/DELETE /v1/projects/{ref}/cli/login-role`, as the CLI itself does) so the
//! xtask can hold its advisory lock, read the history and run parity and prune over its own session, and the
//! project's pooler (`GET /v1/projects/{ref}/config/database/pooler`) for networks without IPv6.
//!
//! HTTP goes through `edges::http`. The token and the role's password are secrets: they are added to the
//! secret registry (`redact`) and never printed.

use anyhow::{Context, bail};

use crate::edges::postgres::pooler::{self, Route};
use crate::edges::postgres::{Endpoint, Tls};

pub const TOKEN_ENV: &str = "SUPABASE_ACCESS_TOKEN";

/// Key of the session-level advisory lock a promotion holds on its target while it pushes ("xtask" + 1).
pub const PROMOTION_LOCK_KEY: i64 = 0x7874_6173_6b00_0001;

/// Access tokens are `sbp_` and 40 hex digits; the CLI refuses anything else before any request.
pub fn check_token(token: &str) -> anyhow::Result<()> {
    let hex = token.strip_prefix("sbp_").filter(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if hex.is_none() {
        bail!(
            "{TOKEN_ENV} is malformed: an access token is `sbp_` followed by 40 hex digits; copy it again from the dashboard (Account, Access Tokens)"
        );
    }
    Ok(())
}

/// The token from the environment, checked and remembered as a secret.
pub fn token() -> anyhow::Result<String> {
    let token = std::env::var(TOKEN_ENV)
        .ok()
        .filter(|t| !t.is_empty())
        .with_context(|| format!("{TOKEN_ENV} is not set: the hosted target is reached through the Management API"))?;
    crate::edges::output::redact::add(&token);
    check_token(&token)?;
    Ok(token)
}

/// The platform a project lives on: where its API is, under which domain its databases are, and where its
/// poolers may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub api_url: String,
    pub project_host: String,
    pub pooler_host: Option<String>,
}

impl Platform {
    /// The platform of a `profile` (a built-in name or a YAML file's path); `None` means the CLI's default.
    pub fn from_profile(profile: Option<&str>) -> anyhow::Result<Platform> {
        match profile {
            None | Some("supabase") => Ok(Platform {
                api_url: "https://api.supabase.com".into(),
                project_host: "supabase.co".into(),
                pooler_host: Some("supabase.com".into()),
            }),
            Some(name @ ("supabase-staging" | "supabase-local")) => bail!(
                "the built-in profile `{name}` names a platform whose hosts the xtask does not know: write them in a profile file (api_url, project_host, pooler_host) and point the target's `profile` at it"
            ),
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading the profile {path}"))?;
                Platform::parse_profile(&text).with_context(|| format!("the profile {path}"))
            }
        }
    }

    /// The profile's YAML (as the CLI reads it); `api_url` and `project_host` are required, other keys ignored.
    pub fn parse_profile(text: &str) -> anyhow::Result<Platform> {
        #[derive(serde::Deserialize)]
        struct Profile {
            api_url: Option<String>,
            project_host: Option<String>,
            pooler_host: Option<String>,
        }
        let profile: Profile = serde_norway::from_str(text).context("is not a YAML mapping of `key: value`")?;
        let given = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let api_url = given(profile.api_url).context("has no `api_url: https://...`")?;
        let project_host = given(profile.project_host).context("has no `project_host: ...`")?;
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            bail!("api_url `{api_url}` is not an http(s) URL");
        }
        let pooler_host = given(profile.pooler_host).map(|h| h.to_ascii_lowercase());
        Ok(Platform { api_url: api_url.trim_end_matches('/').to_string(), project_host, pooler_host })
    }

    /// `db.<ref>.<project_host>`: the project's direct database host.
    pub fn direct_host(&self, project_ref: &str) -> String {
        format!("db.{project_ref}.{}", self.project_host)
    }

    /// The project's pooler, from the platform (its session-mode port is used, whatever the answer says).
    pub fn pooler(&self, project_ref: &str, token: &str) -> anyhow::Result<pooler::Pooler> {
        let pooler_host = self.pooler_host.as_deref().context(
            "the target's profile has no `pooler_host`, so the project's pooler cannot be checked; add it to the profile file",
        )?;
        let path = format!("/v1/projects/{project_ref}/config/database/pooler");
        let answer =
            self.get_json(&path, token, ("reading the project's pooler configuration", "pooler configuration"))?;
        pooler::parse_config(&answer, pooler_host)
    }

    /// The schemas the project's Data API serves (`GET /v1/projects/{ref}/postgrest`, its `db_schema`).
    pub fn exposed_schemas(&self, project_ref: &str, token: &str) -> anyhow::Result<Vec<String>> {
        let path = format!("/v1/projects/{project_ref}/postgrest");
        let answer = self.get_json(&path, token, ("reading the project's Data API settings", "Data API settings"))?;
        let schemas = answer["db_schema"].as_str().context("the Data API settings answer has no `db_schema`")?;
        Ok(schemas.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
    }

    /// `GET path` as JSON; `doing` says what for (in an error), `what` names the answer.
    fn get_json(&self, path: &str, token: &str, (doing, what): (&str, &str)) -> anyhow::Result<serde_json::Value> {
        let (status, text) = request(&self.api_url, "GET", path, token, None)?;
        if status != 200 {
            bail!("{}", api_error(doing, status, &text));
        }
        serde_json::from_str(&text).with_context(|| format!("the {what} answer is not JSON"))
    }
}

/// Whether a session failed because its login role is gone (or its password no longer valid): the platform's
/// `DELETE .../cli/login-role` names only the project, so another machine's cleanup removes this machine's role.
pub fn role_removed(err: &anyhow::Error) -> bool {
    use postgres::error::SqlState;
    err.chain()
        .filter_map(|e| e.downcast_ref::<postgres::Error>())
        .filter_map(|e| e.code())
        .any(|code| *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION)
}

/// Read-only roles for reads; read-write only where the xtask writes (prune) or the CLI pushes over the pooler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
}

/// A login role the platform handed out; removed (`DELETE .../cli/login-role`) when dropped, errors included.
/// Another machine's cleanup may remove it while it is in use (that call names only the project): a session it
/// can no longer open is opened over a new role the platform hands out instead.
pub struct LoginRole {
    platform: Platform,
    project_ref: String,
    access: Access,
    route: Route,
    token: String,
    handed: std::sync::Mutex<Handed>,
}

/// The role the platform handed out last, and how a session reaches the database as it.
#[derive(Clone)]
struct Handed {
    /// The role's name on the server (through the pooler, `endpoint.user` is `<role>.<ref>`).
    role: String,
    endpoint: Endpoint,
}

/// How many times a removed role is replaced before the session is given up.
const RENEWALS: usize = 3;

impl LoginRole {
    /// Asks the platform for a role on `project_ref`'s database, reached along `route` with `tls`; its password
    /// joins the secret registry.
    pub fn create(
        platform: &Platform,
        project_ref: &str,
        access: Access,
        route: &Route,
        tls: impl FnOnce(&str, u16) -> Tls,
    ) -> anyhow::Result<LoginRole> {
        let token = token()?;
        let (role, password) = ask_for_role(platform, project_ref, access, &token)?;
        let (host, port, user, dbname) = route.session(&role, project_ref);
        let endpoint = Endpoint { tls: tls(&host, port), host, port, user, password, dbname };
        {
            let mut in_use = in_use();
            let roles = in_use.entry(project_ref.to_string()).or_default();
            roles.count += 1;
            roles.alive.push(endpoint.clone());
        }
        Ok(LoginRole {
            platform: platform.clone(),
            project_ref: project_ref.to_string(),
            access,
            route: route.clone(),
            token,
            handed: std::sync::Mutex::new(Handed { role, endpoint }),
        })
    }

    /// The role's name on the server.
    pub fn role(&self) -> String {
        self.handed().role
    }

    /// Where and as whom a session on this role connects.
    pub fn endpoint(&self) -> Endpoint {
        self.handed().endpoint
    }

    /// A session as this role; when the role is gone (another machine's cleanup), over a new one.
    pub fn connect(&self) -> anyhow::Result<postgres::Client> {
        let mut renewed = 0;
        loop {
            match self.endpoint().connect() {
                Err(err) if renewed < RENEWALS && role_removed(&err) => {
                    eprintln!(
                        "note: the temporary login role on {} was removed while in use (another promotion's cleanup removes every one of the project); asking the platform for a new one",
                        self.project_ref
                    );
                    self.renew()?;
                    renewed += 1;
                }
                connected => return connected,
            }
        }
    }

    /// Replaces the handed role by a new one, reached the same way.
    fn renew(&self) -> anyhow::Result<()> {
        let (role, password) = ask_for_role(&self.platform, &self.project_ref, self.access, &self.token)?;
        let (_, _, user, _) = self.route.session(&role, &self.project_ref);
        let endpoint = Endpoint { user, password, ..self.endpoint() };
        in_use().entry(self.project_ref.clone()).or_default().alive.push(endpoint.clone());
        *self.handed.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Handed { role, endpoint };
        Ok(())
    }

    fn handed(&self) -> Handed {
        self.handed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// `POST .../cli/login-role`: a new role's name and password (the password joins the secret registry).
fn ask_for_role(
    platform: &Platform,
    project_ref: &str,
    access: Access,
    token: &str,
) -> anyhow::Result<(String, String)> {
    let body = serde_json::json!({ "read_only": access == Access::ReadOnly }).to_string();
    let path = format!("/v1/projects/{project_ref}/cli/login-role");
    let (status, text) = request(&platform.api_url, "POST", &path, token, Some(&body))?;
    if status != 200 && status != 201 {
        bail!("{}", api_error("creating a login role", status, &text));
    }
    let answer: serde_json::Value = serde_json::from_str(&text).context("the login-role answer is not JSON")?;
    let (Some(role), Some(password)) = (answer["role"].as_str(), answer["password"].as_str()) else {
        bail!("the login-role answer has no role and password");
    };
    crate::edges::output::redact::add(password);
    Ok((role.to_string(), password.to_string()))
}

/// Whether a promotion (of this or another machine) holds the target's lock now, asked over the first of
/// `alive` (this process's roles not yet removed) that still signs in: another machine's cleanup may have
/// removed some of them already. `DELETE .../cli/login-role` takes only the project, so it would also end the
/// login role a running push uses.
fn promotion_running(alive: &[Endpoint]) -> anyhow::Result<bool> {
    let sql = "select count(*) > 0 from pg_locks where locktype = 'advisory' and granted \
               and ((classid::bigint << 32) | objid::bigint) = $1 and pid <> pg_backend_pid()";
    let mut last = anyhow::anyhow!("no login role of this process is left");
    for endpoint in alive.iter().rev() {
        match endpoint.connect() {
            Ok(mut session) => return Ok(session.query_one(sql, &[&PROMOTION_LOCK_KEY])?.get(0)),
            Err(err) => last = err,
        }
    }
    Err(last)
}

/// A project's login roles in this process: how many are in use, and every one not yet removed.
#[derive(Default)]
struct Roles {
    count: usize,
    alive: Vec<Endpoint>,
}

/// This process's login roles still in use, per project. `DELETE .../cli/login-role` names only the project, so
/// it would end the others' sessions too: the last one to go removes them.
fn in_use() -> std::sync::MutexGuard<'static, std::collections::BTreeMap<String, Roles>> {
    static IN_USE: std::sync::Mutex<std::collections::BTreeMap<String, Roles>> =
        std::sync::Mutex::new(std::collections::BTreeMap::new());
    IN_USE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Drop for LoginRole {
    fn drop(&mut self) {
        let (others, alive) = {
            let mut in_use = in_use();
            let roles = in_use.entry(self.project_ref.clone()).or_default();
            roles.count = roles.count.saturating_sub(1);
            (roles.count, roles.alive.clone())
        };
        if others > 0 {
            return;
        }
        // When that cannot be told, keep the role: it expires on its own.
        match promotion_running(&alive) {
            Ok(false) => {}
            Ok(true) => {
                eprintln!(
                    "note: another promotion of {} holds its lock, so the temporary login role is left to expire on its own (removing roles would end that push's sessions)",
                    self.project_ref
                );
                return;
            }
            Err(err) => {
                eprintln!(
                    "note: whether a promotion of {} is running could not be read ({err:#}), so the temporary login role is left to expire on its own",
                    self.project_ref
                );
                return;
            }
        }
        let path = format!("/v1/projects/{}/cli/login-role", self.project_ref);
        match request(&self.platform.api_url, "DELETE", &path, &self.token, None) {
            Ok(_) => in_use().entry(self.project_ref.clone()).or_default().alive.clear(),
            Err(err) => eprintln!("warning: removing the temporary login role failed ({err:#}); it expires on its own"),
        }
    }
}

/// The API's answer as an error: what was being done, the status and the API's message, and what to do.
fn api_error(doing: &str, status: u16, body: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.chars().take(200).collect());
    let advice = match status {
        401 | 403 => "the Management API refused the access token: check SUPABASE_ACCESS_TOKEN",
        404 => {
            "the Management API knows no such project for this token: check the target's project_ref and profile in xtask.toml"
        }
        500..=599 => "the Supabase platform failed to answer; retry later",
        _ => "see the message",
    };
    format!("{doing}: the Management API answered {status} ({message}); {advice}")
}

/// One request to the API: its status and body.
fn request(api_url: &str, method: &str, path: &str, token: &str, body: Option<&str>) -> anyhow::Result<(u16, String)> {
    crate::edges::http::request(api_url, method, path, token, body).map(|a| (a.status, a.text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_name_the_platform() {
        let p =
            Platform::parse_profile("name: x\napi_url: \"https://api.example.test/\"\nproject_host: example.test\n")
                .unwrap();
        assert_eq!(
            p,
            Platform {
                api_url: "https://api.example.test".into(),
                project_host: "example.test".into(),
                pooler_host: None
            }
        );
        assert!(Platform::parse_profile("name: x\n").unwrap_err().to_string().contains("api_url"));
        assert_eq!(Platform::from_profile(None).unwrap().project_host, "supabase.co");
        assert!(Platform::from_profile(Some("supabase-local")).is_err());
    }

    #[test]
    fn api_errors_say_what_to_do() {
        assert_eq!(
            api_error("creating a login role", 401, r#"{"message":"Unauthorized"}"#),
            "creating a login role: the Management API answered 401 (Unauthorized); the Management API refused the access token: check SUPABASE_ACCESS_TOKEN"
        );
    }
}
