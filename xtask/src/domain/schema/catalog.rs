//! The catalog snapshot of a schema, as `docs/database/catalog/<target>.json` holds it: its types, and its
//! canonical text (sorted and stable: an unchanged schema gives a byte-identical file). Pure.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// The last version in `supabase_migrations.schema_migrations`.
    pub head: Option<String>,
    pub schemas: Vec<String>,
    pub extensions: Vec<Extension>,
    pub tables: Vec<Table>,
    pub functions: Vec<Function>,
    pub sequences: Vec<Sequence>,
    pub enums: Vec<Enum>,
    pub publications: Vec<Publication>,
    /// `None` when the database has no pg_cron.
    pub cron_jobs: Option<Vec<CronJob>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    pub name: String,
    pub schema: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub schema: String,
    pub name: String,
    pub kind: String,
    pub rls_enabled: bool,
    pub rls_forced: bool,
    pub definition: Option<String>,
    pub columns: Vec<Column>,
    pub constraints: Vec<Constraint>,
    pub indexes: Vec<Index>,
    pub policies: Vec<Policy>,
    pub triggers: Vec<Trigger>,
    pub grants: Vec<Grant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub nullable: bool,
    pub default: Option<String>,
    pub identity: Option<String>,
    pub generated: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    pub name: String,
    pub kind: String,
    pub definition: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    pub name: String,
    pub definition: String,
    pub valid: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: String,
    pub command: String,
    pub permissive: bool,
    pub roles: Vec<String>,
    pub using: Option<String>,
    pub with_check: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    pub name: String,
    pub definition: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub grantee: String,
    pub privileges: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Function {
    pub schema: String,
    pub name: String,
    pub arguments: String,
    pub kind: String,
    pub returns: Option<String>,
    pub language: String,
    pub volatility: String,
    pub security_definer: bool,
    pub config: Vec<String>,
    pub body_md5: String,
    /// Supabase roles (and `public`) that may execute it.
    pub execute: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sequence {
    pub schema: String,
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub start: i64,
    pub increment: i64,
    pub owned_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enum {
    pub schema: String,
    pub name: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publication {
    pub name: String,
    pub all_tables: bool,
    pub tables: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronJob {
    pub name: Option<String>,
    pub schedule: String,
    pub command: String,
    pub database: Option<String>,
    pub active: Option<bool>,
}

pub fn parse(json: &str) -> anyhow::Result<Snapshot> {
    Ok(serde_json::from_str(json)?)
}

/// Canonical text: pretty JSON in the struct's field order, arrays in the query's (sorted) order.
pub fn render(snapshot: &Snapshot) -> String {
    serde_json::to_string_pretty(snapshot).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_snapshots_are_rejected_with_the_place() {
        let err = parse("{\"head\": null, \"schemas\": []}").unwrap_err().to_string();
        assert!(err.contains("missing field `extensions`"), "{err}");
        let err = parse("{\"head\": 5}").unwrap_err().to_string();
        assert!(err.contains("line 1 column"), "{err}");
    }
}
