//! What a target exposes through the Data API, as the exposure review needs it: which schemas (configured, asked
//! of the Management API, or the platform's default), and the grants a new object gets there: read live from
//! the target when it can be read, else those the shadow was built from (the capture, or the built-in baseline).
//! Each input says where it came from.

use crate::domain::exposure::{DEFAULT_SCHEMAS, Inputs};
use crate::edges::postgres::PlatformSchema;
use crate::edges::postgres::exposure::target_grants;
use crate::edges::repo::Repo;
use crate::edges::supabase::management_api::{self, Access, Platform};

use super::Resolved;

/// The review's inputs, and the statements that give the shadow the target's grants (none when it was not read).
pub struct Setup {
    pub inputs: Inputs,
    pub grants: Vec<String>,
}

/// The inputs of target `name`'s exposure review; `target` when it may be read (its credentials are at hand).
pub fn setup(repo: &Repo, name: &str, target: Option<&Resolved>) -> anyhow::Result<Setup> {
    let (schemas, schemas_from) = exposed_schemas(repo, name, target)?;
    let (grants, privileges_from) = match target {
        Some(target) => match read_grants(target, &schemas) {
            Ok(grants) => {
                (grants, format!("{name} itself, read live (schema usage and `postgres`'s default privileges)"))
            }
            Err(err) => (
                Vec::new(),
                format!(
                    "{} ({name} could not be read: {})",
                    shadow_source(repo, name)?,
                    crate::edges::output::redact::redact(&format!("{err:#}"))
                ),
            ),
        },
        None => (Vec::new(), shadow_source(repo, name)?),
    };
    Ok(Setup { inputs: Inputs { schemas, schemas_from, privileges_from }, grants })
}

/// `[targets.X] exposed_schemas`; else a hosted project's Data API settings when a token is at hand; else the
/// platform's default.
fn exposed_schemas(repo: &Repo, name: &str, target: Option<&Resolved>) -> anyhow::Result<(Vec<String>, String)> {
    let config = repo.config.target(name)?;
    if let Some(schemas) = &config.exposed_schemas {
        return Ok((schemas.clone(), format!("`[targets.{name}] exposed_schemas`")));
    }
    let token = std::env::var(management_api::TOKEN_ENV).ok().filter(|t| !t.is_empty());
    if let (Some(project_ref), Some(target), Some(_)) = (&config.project_ref, target, token) {
        let platform = Platform::from_profile(target.profile.as_deref())?;
        let schemas = platform.exposed_schemas(project_ref, &management_api::token()?)?;
        return Ok((schemas, format!("{name}'s Data API settings (the Management API)")));
    }
    let why = match &config.project_ref {
        Some(_) => format!("no `exposed_schemas` in [targets.{name}] and no {} to ask", management_api::TOKEN_ENV),
        None => format!("no `exposed_schemas` in [targets.{name}]"),
    };
    Ok((DEFAULT_SCHEMAS.iter().map(|s| s.to_string()).collect(), format!("the platform's default: {why}")))
}

/// The target's schema grants and default privileges, over a read-only session.
fn read_grants(target: &Resolved, schemas: &[String]) -> anyhow::Result<Vec<String>> {
    let direct = target.direct(Access::ReadOnly)?;
    target_grants(&mut direct.connect()?, schemas)
}

/// What the shadow's grants came from when the target was not read.
fn shadow_source(repo: &Repo, name: &str) -> anyhow::Result<String> {
    Ok(match repo.baseline()? {
        PlatformSchema::Captured(_) => format!("the capture {}", repo.rel(&repo.platform_baseline_path())),
        PlatformSchema::Builtin => format!(
            "the built-in Supabase baseline, as an older project grants (no capture: `cargo xtask platform-baseline --target {name}`)"
        ),
    })
}
