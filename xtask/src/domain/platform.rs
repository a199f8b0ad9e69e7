//! The hosted platform's role model as data: who owns what on a Supabase project, what its `postgres` role may
//! do through `supautils`, and what it may not. The shipped values come from the public `supabase/postgres`
//! configuration (`ansible/files/postgresql_config/supautils.conf.j2`, its migrations under `migrations/db/`)
//! and `supabase/supautils`; docs/design.md names each source. A capture of a target (`platform-baseline`)
//! replaces the grant lists with the target's own settings. A leaf: no files, no sessions.

/// The bootstrap superuser of a hosted project; the xtask administers local databases as it.
pub const BOOTSTRAP_SUPERUSER: &str = "supabase_admin";

/// The role the CLI, the dashboard's SQL editor and migrations run as; not a superuser on the platform.
pub const PRIVILEGED_ROLE: &str = "postgres";

/// The schemas in which `postgres` may create nothing new since the platform's April 2025 restrictions.
pub const RESTRICTED_SCHEMAS: &[&str] = &["auth", "storage", "realtime"];

/// Tables whose policies `postgres` may manage without owning them (`supautils.policy_grants`), in the
/// configured order: supautils locks them in this order (ACCESS EXCLUSIVE, to the end of the transaction) while
/// it looks for the policy's table.
pub const POLICY_GRANTS: &[&str] = &[
    "auth.audit_log_entries",
    "auth.identities",
    "auth.refresh_tokens",
    "auth.sessions",
    "auth.users",
    "realtime.messages",
    "storage.buckets",
    "storage.migrations",
    "storage.objects",
    "storage.s3_multipart_uploads",
    "storage.s3_multipart_uploads_parts",
];

/// Tables on which `postgres` may drop triggers without owning them (`supautils.drop_trigger_grants`).
pub const DROP_TRIGGER_GRANTS: &[&str] = POLICY_GRANTS;

/// Roles `postgres` may not alter, drop or rename (`supautils.reserved_roles`).
pub const RESERVED_ROLES: &[&str] = &[
    "supabase_admin",
    "supabase_auth_admin",
    "supabase_storage_admin",
    "supabase_replication_admin",
    "dashboard_user",
    "pgbouncer",
    "service_role",
    "authenticator",
    "authenticated",
    "anon",
];

/// Reserved roles whose settings `postgres` may still change (`alter role anon set statement_timeout = ...`):
/// supautils' `reserved_roles` marks them with a trailing `*`.
pub const RESERVED_ROLES_WITH_SETTINGS: &[&str] = &["service_role", "authenticator", "authenticated", "anon"];

/// Roles nobody may be granted by `postgres` (`supautils.reserved_memberships`).
pub const RESERVED_MEMBERSHIPS: &[&str] =
    &["pg_read_server_files", "pg_write_server_files", "pg_execute_server_program", "authenticator"];

/// Extensions `postgres` may create although they are untrusted: their scripts run as the bootstrap superuser
/// (`supautils.privileged_extensions`, as the PostgreSQL 17 image prints it: `nix/tests/expected/z_17_supautils.out`).
pub const PRIVILEGED_EXTENSIONS: &[&str] = &[
    "address_standardizer",
    "address_standardizer_data_us",
    "autoinc",
    "bloom",
    "btree_gin",
    "btree_gist",
    "citext",
    "cube",
    "dblink",
    "dict_int",
    "dict_xsyn",
    "earthdistance",
    "fuzzystrmatch",
    "hstore",
    "http",
    "hypopg",
    "index_advisor",
    "insert_username",
    "intarray",
    "isn",
    "ltree",
    "moddatetime",
    "orioledb",
    "pg_buffercache",
    "pg_cron",
    "pg_graphql",
    "pg_hashids",
    "pg_jsonschema",
    "pg_net",
    "pg_prewarm",
    "pg_repack",
    "pg_stat_monitor",
    "pg_stat_statements",
    "pg_tle",
    "pg_trgm",
    "pg_walinspect",
    "pgaudit",
    "pgcrypto",
    "pgjwt",
    "pgroonga",
    "pgroonga_database",
    "pgrouting",
    "pgrowlocks",
    "pgsodium",
    "pgstattuple",
    "pgtap",
    "plcoffee",
    "pljava",
    "plls",
    "plpgsql_check",
    "postgis",
    "postgis_raster",
    "postgis_sfcgal",
    "postgis_tiger_geocoder",
    "postgis_topology",
    "postgres_fdw",
    "refint",
    "rum",
    "seg",
    "sslinfo",
    "supabase_vault",
    "supautils",
    "tablefunc",
    "tcn",
    "tsm_system_rows",
    "tsm_system_time",
    "unaccent",
    "uuid-ossp",
    "vector",
    "wrappers",
];

/// Extensions the platform's configuration leaves out of the privileged list "because may be unsafe" (its 2023
/// list, less pg_buffercache, pg_prewarm and pgstattuple, which the 17 image has since made privileged).
pub const UNSAFE_EXTENSIONS: &[&str] = &[
    "adminpack",
    "amcheck",
    "file_fdw",
    "lo",
    "old_snapshot",
    "pageinspect",
    "pg_freespacemap",
    "pg_surgery",
    "pg_visibility",
];

/// supautils' lists as a rehearsal applies them: the shipped ones above, or a captured target's own.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Supautils {
    /// The tables whose policies `postgres` may manage (`policy_grants`' entry for it), in the configured order.
    pub policy_grants: Vec<String>,
    /// The tables on which `postgres` may drop triggers (`drop_trigger_grants`' entry for it).
    pub drop_trigger_grants: Vec<String>,
    pub privileged_extensions: Vec<String>,
    /// Role names without supautils' `*` mark (which lets the privileged role change their settings).
    pub reserved_roles: Vec<String>,
    pub reserved_memberships: Vec<String>,
}

/// supautils' settings as a target has them (`platform_file::supautils`): each `None` where the target has no
/// such setting (a plain PostgreSQL), so the shipped list stays.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SupautilsSettings {
    pub policy_grants: Option<Vec<String>>,
    pub drop_trigger_grants: Option<Vec<String>>,
    pub privileged_extensions: Option<Vec<String>>,
    pub reserved_roles: Option<Vec<String>>,
    pub reserved_memberships: Option<Vec<String>>,
}

impl Supautils {
    /// The lists this file ships.
    pub fn shipped() -> Supautils {
        let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        Supautils {
            policy_grants: owned(POLICY_GRANTS),
            drop_trigger_grants: owned(DROP_TRIGGER_GRANTS),
            privileged_extensions: owned(PRIVILEGED_EXTENSIONS),
            reserved_roles: owned(RESERVED_ROLES),
            reserved_memberships: owned(RESERVED_MEMBERSHIPS),
        }
    }

    /// These lists with every setting the target has in their place.
    pub fn overridden_by(self, target: &SupautilsSettings) -> Supautils {
        let pick = |own: Vec<String>, theirs: &Option<Vec<String>>| theirs.clone().unwrap_or(own);
        Supautils {
            policy_grants: pick(self.policy_grants, &target.policy_grants),
            drop_trigger_grants: pick(self.drop_trigger_grants, &target.drop_trigger_grants),
            privileged_extensions: pick(self.privileged_extensions, &target.privileged_extensions),
            reserved_roles: pick(self.reserved_roles, &target.reserved_roles),
            reserved_memberships: pick(self.reserved_memberships, &target.reserved_memberships),
        }
    }
}

/// Who runs a target's migrations, and under which rules: what a rehearsal of it must reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleModel {
    /// A Supabase project: `postgres` without superuser, managed schemas owned by their services, supautils.
    Platform,
    /// A plain PostgreSQL whose migration user is a superuser.
    PlainSuperuser,
    /// A plain PostgreSQL whose migration user is not a superuser: ownership decides.
    PlainOwner,
}

impl RoleModel {
    /// Words for the review and the record.
    pub fn describe(self) -> &'static str {
        match self {
            RoleModel::Platform => "applied as the platform's `postgres` (not a superuser; supautils' grants)",
            RoleModel::PlainSuperuser => "applied as a superuser, as the target's migration user is one",
            RoleModel::PlainOwner => "applied as an ordinary role, as the target's migration user is one",
        }
    }
}

/// `schema.table` split, for the lists above.
pub fn split(qualified: &str) -> (&str, &str) {
    qualified.split_once('.').unwrap_or(("public", qualified))
}

pub fn is_privileged_extension(name: &str) -> bool {
    PRIVILEGED_EXTENSIONS.contains(&name)
}

pub fn is_reserved_role(name: &str) -> bool {
    RESERVED_ROLES.contains(&name)
}

pub fn is_restricted_schema(name: &str) -> bool {
    RESTRICTED_SCHEMAS.contains(&name)
}
