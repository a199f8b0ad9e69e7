//! What every local database that stands for a Supabase project starts from: the Supabase baseline (the
//! hand-written one, or a capture of a target's platform schemas) and the platform's role model over it
//! (`role_model.sql`: supautils' grants as a vanilla server can hold them, the history phase's grants).

use std::collections::HashMap;

use anyhow::Context;

use crate::domain::schema::platform_file::{self, CapturedStandIn};

pub const BASELINE_SQL: &str = include_str!("../../../sql/supabase_baseline.sql");

/// The platform's role model on each local database, after its baseline (`role_model.sql`).
const ROLE_MODEL_SQL: &str = include_str!("../../../sql/role_model.sql");

/// What a new local database starts from: the hand-written Supabase baseline, or one captured from a target
/// (`cargo xtask platform-baseline`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformSchema {
    Builtin,
    Captured(String),
}

impl PlatformSchema {
    fn text(&self) -> &str {
        match self {
            PlatformSchema::Builtin => BASELINE_SQL,
            PlatformSchema::Captured(body) => body,
        }
    }

    /// What every local database made from it holds: the baseline and the role model over it.
    pub fn digest(&self) -> String {
        let text = format!("{}\n{}", self.text(), self.role_model());
        crate::domain::history::migrations::checksum(text.as_bytes())
    }

    /// supautils' lists as the captured target has them (where it has them), else the shipped ones. A capture
    /// whose settings do not parse was refused when it was read (`Repo::baseline`), so here it falls back.
    pub fn supautils(&self) -> crate::domain::platform::Supautils {
        let shipped = crate::domain::platform::Supautils::shipped();
        match self {
            PlatformSchema::Builtin => shipped,
            PlatformSchema::Captured(body) => match platform_file::supautils(body) {
                Ok(settings) => shipped.overridden_by(&settings),
                Err(_) => shipped,
            },
        }
    }

    /// The role model's SQL with the grant lists that apply: the capture's where it has them, else the shipped.
    fn role_model(&self) -> String {
        let grants = self.supautils();
        ROLE_MODEL_SQL
            .replace(":policy_grants", &text_array(&grants.policy_grants))
            .replace(":drop_trigger_grants", &text_array(&grants.drop_trigger_grants))
    }

    /// The stand-in scripts captured with the baseline (`Cluster::start` installs them in an owned tree).
    pub fn stand_ins(&self) -> Vec<CapturedStandIn> {
        match self {
            PlatformSchema::Builtin => Vec::new(),
            PlatformSchema::Captured(body) => platform_file::stand_ins(body),
        }
    }

    /// The hand-written baseline in one go; a captured one statement by statement (each preceded by a
    /// `--> kind name` line): roles first, then the objects, then owners and grants, naming what the local
    /// server cannot take (an extension it lacks, say). Its stand-in scripts are not statements: an extension
    /// that has one installed here is created at that version, the real one where the tree has it. Roles keep
    /// the guard of `platform_file::guard_role`: the role applying it stays what it is.
    pub fn apply(&self, client: &mut postgres::Client) -> anyhow::Result<()> {
        self.apply_baseline(client)?;
        client.batch_execute(&self.role_model()).context("applying the platform's role model")
    }

    fn apply_baseline(&self, client: &mut postgres::Client) -> anyhow::Result<()> {
        let PlatformSchema::Captured(body) = self else {
            return client.batch_execute(BASELINE_SQL).context("applying the Supabase baseline");
        };
        let admin: String = client.query_one("select current_user::text", &[])?.get(0);
        let pinned = self.stand_in_versions(client);
        let mut failed = Vec::new();
        for (what, statement) in platform_file::statements(body) {
            let statement = match platform_file::extension_of(what).and_then(|name| pinned.get(&name)) {
                Some(version) => platform_file::pin_version(statement, version),
                None => platform_file::guard_role(what, statement, &admin),
            };
            if let Err(err) = client.batch_execute(&statement) {
                failed.push(format!(
                    "{what}: {}",
                    err.as_db_error().map_or(err.to_string(), |d| d.message().to_string())
                ));
            }
        }
        note_unapplied(&failed);
        Ok(())
    }

    /// For each captured stand-in this server has installed as a stand-in, the version its `create extension`
    /// makes; an extension real here has none, so the real one is created.
    fn stand_in_versions(&self, client: &mut postgres::Client) -> HashMap<String, String> {
        let stand_ins = self.stand_ins();
        if stand_ins.is_empty() {
            return HashMap::new();
        }
        // A folder the server cannot list (a broken control file of someone else's) costs the pinning, not the
        // database: each such extension is then created at its control file's default version.
        let available = match super::standins::available(client) {
            Ok(available) => available,
            Err(err) => {
                eprintln!(
                    "note: {err:#}, so the captured stand-ins are created at their default versions; once the extension folder is corrected, `cargo xtask db reset`"
                );
                return HashMap::new();
            }
        };
        stand_ins
            .into_iter()
            .filter(|s| s.is_valid())
            .filter_map(|s| {
                let version = s.local_version();
                available.contains(&(s.name.clone(), version.clone())).then_some((s.name, version))
            })
            .collect()
    }
}

/// `'{a,b}'::text[]` of names that hold no quotes, commas or braces (table names from a configuration).
fn text_array(items: &[String]) -> String {
    let clean: Vec<&str> =
        items.iter().map(String::as_str).filter(|i| !i.contains(['\'', '"', ',', '{', '}', '\\'])).collect();
    format!("'{{{}}}'::text[]", clean.join(","))
}

/// Names the statements of a captured baseline that the local server could not take.
fn note_unapplied(failed: &[String]) {
    if failed.is_empty() {
        return;
    }
    eprintln!(
        "note: {} statement(s) of the captured platform baseline could not be applied here: {}{}",
        failed.len(),
        failed.iter().take(5).cloned().collect::<Vec<_>>().join("; "),
        if failed.len() > 5 { "; ..." } else { "" }
    );
}
