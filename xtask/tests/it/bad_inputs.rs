//! Every bad input users have met or will meet, one row each: the input, the exit code, and what the message
//! says (the culprit and the fix). Each runs on its own copy of the example and must change nothing on disk
//! (`target/` aside) and print no secret. The same rows are the table in docs/design.md ("Bad inputs"); a
//! stale table fails here, and `UPDATE_DESIGN=1 cargo test --test it bad_inputs::` rewrites it.

use crate::support::Tree;

const PASSWORD: &str = "hunter2planted";
const TOKEN: &str = "sbp_0123456789abcdef0123456789abcdef01234567";
const URL_ENV: &str = "XTASK_BAD_URL";

struct Case {
    /// The input, as the design table names it.
    input: &'static str,
    setup: fn(&Tree) -> Vec<(String, String)>,
    args: &'static [&'static str],
    code: i32,
    /// What the message must say (stdout and stderr together).
    says: &'static str,
}

fn nothing(_: &Tree) -> Vec<(String, String)> {
    Vec::new()
}

fn write(tree: &Tree, rel: &str, text: &str) -> Vec<(String, String)> {
    tree.write(rel, text);
    Vec::new()
}

fn config(tree: &Tree, from: &str, to: &str) -> Vec<(String, String)> {
    let text = String::from_utf8(tree.read("xtask.toml")).unwrap();
    assert!(text.contains(from), "{from}");
    tree.write("xtask.toml", text.replacen(from, to, 1));
    Vec::new()
}

fn url(value: &str) -> Vec<(String, String)> {
    vec![(URL_ENV.to_string(), value.to_string())]
}

/// A `bad` target reached by the URL in `XTASK_BAD_URL`.
fn with_url_target(tree: &Tree) {
    tree.append("xtask.toml", &format!("\n[targets.bad]\ndb_url_env = \"{URL_ENV}\"\n"));
}

/// The tree's embedded cluster running, the `bad` target pointing at its `postgres` database.
fn running(tree: &Tree) -> Vec<(String, String)> {
    with_url_target(tree);
    url(&tree.db_start())
}

/// The rows, in the design table's order: `cases()` has them all (for the table), and each is its own test
/// (`bad_inputs::row::<name>`), so one failing row hides no other.
macro_rules! rows {
    ($($name:ident: $case:expr,)*) => {
        fn cases() -> Vec<Case> {
            vec![$($case),*]
        }

        mod row {
            use super::*;
            $(
                #[test]
                fn $name() {
                    run(&$case);
                }
            )*
        }
    };
}

const PENDING: &str = "migrations/20260601000000_bad.sql";

rows! {
    // Migration files.
    a_sql_file_in_capitals: Case {
        input: "a `.SQL` file in capitals",
        setup: |t| write(t, "migrations/20260601000000_x.SQL", "select 1;\n"),
        args: &["check"],
        code: 1,
        says: "the Supabase CLI skips this file",
    },
    a_directory_named_like_a_migration: Case {
        input: "a directory named like a migration",
        setup: |t| {
            std::fs::create_dir(t.path(PENDING)).unwrap();
            Vec::new()
        },
        args: &["check"],
        code: 1,
        says: "is a directory, but is named like a migration",
    },
    a_symlink_leading_out_of_the_repository: Case {
        input: "a symlink leading out of the repository",
        setup: |t| {
            std::os::unix::fs::symlink("/etc/hostname", t.path(PENDING)).unwrap();
            Vec::new()
        },
        args: &["check"],
        code: 1,
        says: "is a symlink leading outside the repository",
    },
    a_13_digit_version: Case {
        input: "a 13-digit version",
        setup: |t| write(t, "migrations/2026060100000_x.sql", "select 1;\n"),
        args: &["check"],
        code: 0,
        says: "warning[file-name]",
    },
    a_15_digit_version: Case {
        input: "a 15-digit version",
        setup: |t| write(t, "migrations/202606010000000_x.sql", "select 1;\n"),
        args: &["check"],
        code: 0,
        says: "warning[file-name]",
    },
    a_version_that_is_no_valid_time: Case {
        input: "a version that is no valid time",
        setup: |t| write(t, "migrations/20261399000000_x.sql", "select 1;\n"),
        args: &["check"],
        code: 0,
        says: "warning[file-name]",
    },
    a_version_in_the_future: Case {
        input: "a version in the future",
        setup: |t| write(t, "migrations/20990101000000_x.sql", "select 1;\n"),
        args: &["check"],
        code: 0,
        says: "warning[future-version]",
    },
    an_upper_case_name: Case {
        input: "an upper-case name",
        setup: |t| write(t, "migrations/20260601000000_Fix.sql", "select 1;\n"),
        args: &["check"],
        code: 0,
        says: "warning[file-name]",
    },
    a_sql_file_the_cli_would_skip_init_sql: Case {
        input: "a `.sql` file the CLI would skip (`init.sql`)",
        setup: |t| write(t, "migrations/init.sql", "select 1;\n"),
        args: &["check"],
        code: 1,
        says: "the Supabase CLI skips this file",
    },
    a_sql_file_in_a_subdirectory: Case {
        input: "a `.sql` file in a subdirectory",
        setup: |t| write(t, "migrations/old/20260601000000_x.sql", "select 1;\n"),
        args: &["check"],
        code: 1,
        says: "reads only the top level",
    },
    psql_meta_command_i: Case {
        input: "psql meta-command `\\i`",
        setup: |t| write(t, PENDING, "\\i other.sql\n"),
        args: &["check"],
        code: 1,
        says: "psql meta-command `\\i` is not SQL",
    },
    psql_meta_command_set: Case {
        input: "psql meta-command `\\set`",
        setup: |t| write(t, PENDING, "\\set ON_ERROR_STOP on\nselect 1;\n"),
        args: &["check"],
        code: 1,
        says: "psql meta-command `\\set` is not SQL",
    },
    copy_from_stdin_with_inline_data: Case {
        input: "`COPY ... FROM stdin` with inline data",
        setup: |t| write(t, PENDING, "copy public.problems (id) from stdin;\n1\n\\.\n"),
        args: &["check"],
        code: 1,
        says: "COPY ... FROM stdin with inline data",
    },
    a_utf_8_byte_order_mark: Case {
        input: "a UTF-8 byte-order mark",
        setup: |t| write(t, PENDING, "\u{feff}select 1;\n"),
        args: &["check"],
        code: 1,
        says: "starts with a UTF-8 byte-order mark",
    },
    a_nul_byte: Case {
        input: "a NUL byte",
        setup: |t| write(t, PENDING, "select 1;\0\n"),
        args: &["check"],
        code: 1,
        says: "contains a NUL byte",
    },
    a_file_that_is_not_utf_8: Case {
        input: "a file that is not UTF-8",
        setup: |t| {
            t.write(PENDING, b"select '\xe9';\n");
            Vec::new()
        },
        args: &["check"],
        code: 1,
        says: "not valid UTF-8",
    },
    a_file_over_the_size_limit: Case {
        input: "a file over the size limit",
        setup: |t| {
            config(t, "max_file_bytes = 8388608", "max_file_bytes = 64");
            write(t, PENDING, &"select 1;\n".repeat(20))
        },
        args: &["check"],
        code: 1,
        says: "is over the limit of 64",
    },
    an_empty_file: Case {
        input: "an empty file",
        setup: |t| write(t, PENDING, "-- nothing yet\n"),
        args: &["check"],
        code: 0,
        says: "has no SQL statement",
    },
    two_files_with_one_version: Case {
        input: "two files with one version",
        setup: |t| {
            t.write(PENDING, "select 1;\n");
            write(t, "migrations/20260601000000_other.sql", "select 2;\n")
        },
        args: &["check"],
        code: 1,
        says: "error[duplicate-version]",
    },
    an_unapplied_file_before_a_recorded_head: Case {
        input: "an unapplied file before a recorded head",
        setup: |t| write(t, "migrations/20260101000000_late.sql", "select 1;\n"),
        args: &["check"],
        code: 1,
        says: "error[out-of-order]",
    },
    an_applied_file_edited: Case {
        input: "an applied file edited",
        setup: |t| {
            t.append(crate::support::APPLIED_FILE, "\n-- edited\n");
            Vec::new()
        },
        args: &["check"],
        code: 1,
        says: "error[applied-modified]",
    },
    an_applied_file_deleted: Case {
        input: "an applied file deleted",
        setup: |t| {
            t.remove(crate::support::APPLIED_FILE);
            Vec::new()
        },
        args: &["check"],
        code: 1,
        says: "error[applied-missing]",
    },
    a_destructive_statement_without_acknowledgement: Case {
        input: "a destructive statement without acknowledgement",
        setup: |t| write(t, PENDING, "drop table public.problems;\n"),
        args: &["check"],
        code: 1,
        says: "error[destructive]",
    },
    an_acknowledgement_without_a_reason: Case {
        input: "an acknowledgement without a reason",
        setup: |t| write(t, PENDING, "-- xtask: ack destructive:\ndrop table public.problems;\n"),
        args: &["check"],
        code: 1,
        says: "acknowledgement without a reason",
    },
    create_index_concurrently_beside_other_statements: Case {
        input: "CREATE INDEX CONCURRENTLY beside other statements",
        setup: |t| {
            write(t, PENDING, "create index concurrently if not exists i on public.problems (id);\nselect 1;\n")
        },
        args: &["check"],
        code: 1,
        says: "error[concurrently]",
    },
    begin_commit_in_a_file: Case {
        input: "BEGIN/COMMIT in a file",
        setup: |t| write(t, PENDING, "begin;\nselect 1;\ncommit;\n"),
        args: &["check"],
        code: 1,
        says: "error[transaction-control]",
    },
    lock_table_in_a_file: Case {
        input: "LOCK TABLE in a file",
        setup: |t| write(t, PENDING, "lock table public.problems;\n"),
        args: &["check"],
        code: 1,
        says: "error[transaction-control]",
    },
    sql_that_does_not_parse: Case {
        input: "SQL that does not parse",
        setup: |t| write(t, PENDING, "create tabel x (id int);\n"),
        args: &["check"],
        code: 1,
        says: "error[parse-error]",
    },
    a_malformed_xtask_directive: Case {
        input: "a malformed `-- xtask:` directive",
        setup: |t| write(t, PENDING, "-- xtask: nonsense\nselect 1;\n"),
        args: &["check"],
        code: 1,
        says: "error[parse-error]",
    },
    an_exposure_acknowledgement_without_a_reason: Case {
        input: "an exposure acknowledgement without a reason",
        setup: |t| write(t, PENDING, "-- xtask: ack exposure\ncreate table public.t (id int);\n"),
        args: &["check"],
        code: 1,
        says: "`ack exposure:` says why what the file exposes is meant",
    },
    dynamic_partition_sql_without_a_stated_phase: Case {
        input: "dynamic partition SQL without a stated phase",
        setup: |t| {
            write(
                t,
                PENDING,
                "do $$ begin execute 'alter table public.a attach partition public.b default'; end $$;\n",
            )
        },
        args: &["check"],
        code: 1,
        says: "error[partition-phase-unstated]",
    },
    an_alter_table_on_a_table_the_platform_owns_auth_users: Case {
        input: "an ALTER TABLE on a table the platform owns (`auth.users`)",
        setup: |t| write(t, PENDING, "alter table auth.users add column nickname text;\n"),
        args: &["check"],
        code: 1,
        says: "error[platform-refuses]: on the hosted platform `postgres` does not own `auth.users`",
    },
    a_new_object_in_a_restricted_schema_create: Case {
        input: "a new object in a restricted schema (`create function auth.hook`)",
        setup: |t| {
            write(t, PENDING, "create function auth.hook(e jsonb) returns jsonb language sql as $$ select e $$;\n")
        },
        args: &["check"],
        code: 1,
        says: "since April 2025 the platform refuses new objects in schema `auth` to `postgres`",
    },
    a_superuser_only_statement_alter_system: Case {
        input: "a superuser-only statement (`alter system`)",
        setup: |t| write(t, PENDING, "alter system set work_mem = '64MB';\n"),
        args: &["check"],
        code: 1,
        says: "`alter system` needs a superuser; on the platform `postgres` is not one",
    },
    a_change_to_a_reserved_role_alter_role_anon_nologin: Case {
        input: "a change to a reserved role (`alter role anon nologin`)",
        setup: |t| write(t, PENDING, "alter role anon nologin;\n"),
        args: &["check"],
        code: 1,
        says: "`anon` is reserved by supautils (reserved_roles)",
    },
    // The lock file.
    promotion_lock_truncated: Case {
        input: "`promotion.lock` truncated",
        setup: |t| {
            let l = t.read("migrations/promotion.lock");
            t.write("migrations/promotion.lock", &l[..l.len() / 2]);
            Vec::new()
        },
        args: &["check"],
        code: 2,
        says: "is not a valid lock file; restore it with `git checkout -- migrations/promotion.lock`",
    },
    promotion_lock_garbage: Case {
        input: "`promotion.lock` garbage",
        setup: |t| write(t, "migrations/promotion.lock", "\u{1}\u{2} not toml"),
        args: &["status", "--target", "prod"],
        code: 2,
        says: "is not a valid lock file",
    },
    promotion_lock_edited_by_hand: Case {
        input: "`promotion.lock` edited by hand",
        setup: |t| {
            let l = String::from_utf8(t.read("migrations/promotion.lock")).unwrap();
            write(
                t,
                "migrations/promotion.lock",
                &l.replace("head = \"20260512220528\"", "head = \"20260513175000\""),
            )
        },
        args: &["check"],
        code: 2,
        says: "edited by hand",
    },
    // xtask.toml.
    xtask_toml_that_is_not_toml: Case {
        input: "`xtask.toml` that is not TOML",
        setup: |t| write(t, "xtask.toml", "[targets\n"),
        args: &["check"],
        code: 2,
        says: "xtask.toml is invalid",
    },
    an_unknown_key_in_xtask_toml: Case {
        input: "an unknown key in `xtask.toml`",
        setup: |t| config(t, "migrations_dir", "migration_dir"),
        args: &["check"],
        code: 2,
        says: "unknown field `migration_dir`",
    },
    an_unknown_rule_under_check_severity: Case {
        input: "an unknown rule under `[check.severity]`",
        setup: |t| {
            t.append("xtask.toml", "no-such-rule = \"off\"\n");
            Vec::new()
        },
        args: &["check"],
        code: 2,
        says: "has unknown rule `no-such-rule`",
    },
    a_severity_that_does_not_exist: Case {
        input: "a severity that does not exist",
        setup: |t| config(t, "destructive = \"error\"", "destructive = \"fatal\""),
        args: &["check"],
        code: 2,
        says: "fatal",
    },
    a_project_ref_that_is_no_project_ref: Case {
        input: "a `project_ref` that is no project ref",
        setup: |t| config(t, "srcaoozjkrughebmbvfb", "PROD"),
        args: &["check"],
        code: 2,
        says: "is not a Supabase project ref",
    },
    embedded_and_project_ref_together: Case {
        input: "`embedded` and `project_ref` together",
        setup: |t| config(t, "embedded = true", "embedded = true\nproject_ref = \"aaaaaaaaaaaaaaaaaaaa\""),
        args: &["check"],
        code: 2,
        says: "set either `embedded = true` or `project_ref`, not both",
    },
    an_embedded_target_marked_protected: Case {
        input: "an embedded target marked protected",
        setup: |t| config(t, "embedded = true", "embedded = true\nprotected = true"),
        args: &["check"],
        code: 2,
        says: "an embedded target cannot be protected",
    },
    an_absolute_migrations_dir: Case {
        input: "an absolute `migrations_dir`",
        setup: |t| config(t, "migrations_dir = \"migrations\"", "migrations_dir = \"/tmp/migrations\""),
        args: &["check"],
        code: 2,
        says: "migrations_dir must be relative",
    },
    a_migrations_dir_that_does_not_exist: Case {
        input: "a `migrations_dir` that does not exist",
        setup: |t| config(t, "migrations_dir = \"migrations\"", "migrations_dir = \"db/migrations\""),
        args: &["check"],
        code: 2,
        says: "is not a directory; create it or correct migrations_dir",
    },
    a_bad_catalog_exclude_schemas_pattern: Case {
        input: "a bad `[catalog] exclude_schemas` pattern",
        setup: |t| {
            t.append("xtask.toml", "\n[catalog]\nexclude_schemas = [\"auth; drop\"]\n");
            Vec::new()
        },
        args: &["check"],
        code: 2,
        says: "is not a schema name or pattern",
    },
    a_maintenance_window_that_is_not_one: Case {
        input: "a maintenance window that is not one",
        setup: |t| config(t, "protected = true", "protected = true\nmaintenance_windows = [\"weekends 2-4\"]"),
        args: &["check"],
        code: 2,
        says: "[targets.prod] maintenance_windows: `weekends 2-4` is not a window like \"sat,sun 02:00-04:00\"",
    },
    an_empty_exposed_schemas_list: Case {
        input: "an empty `exposed_schemas` list",
        setup: |t| config(t, "protected = true", "protected = true\nexposed_schemas = []"),
        args: &["check"],
        code: 2,
        says: "exposed_schemas is empty: name the schemas the project's Data API serves",
    },
    a_lock_timeout_that_is_no_duration: Case {
        input: "a `lock_timeout` that is no duration",
        setup: |t| config(t, "protected = true", "protected = true\nlock_timeout = \"5\""),
        args: &["check"],
        code: 2,
        says: "[targets.prod] lock_timeout",
    },
    an_evidence_max_age_that_is_no_duration: Case {
        input: "an `evidence_max_age` that is no duration",
        setup: |t| {
            t.append("xtask.toml", "\n[partition]\nevidence_max_age = \"a day\"\n");
            Vec::new()
        },
        args: &["check"],
        code: 2,
        says: "[partition] evidence_max_age",
    },
    partition_rollback_of_a_record_that_holds_no_cutover: Case {
        input: "`partition rollback` of a record that holds no cutover",
        setup: |t| {
            let env = running(t);
            t.write("record.json", "{\"target\": \"bad\", \"outcome\": \"promoted\", \"identity\": null}");
            env
        },
        args: &["partition", "rollback", "--target", "bad", "--dry-run", "record.json"],
        code: 1,
        says: "record.json records no promoted cutover; nothing to roll back",
    },
    partition_rollback_without_a_record: Case {
        input: "`partition rollback` without a record",
        setup: nothing,
        args: &["partition", "rollback", "--target", "prod"],
        code: 2,
        says: "--dry-run <RECORD>",
    },
    an_sslmode_that_does_not_exist: Case {
        input: "an `sslmode` that does not exist",
        setup: |t| config(t, "protected = true", "protected = true\nsslmode = \"sometimes\""),
        args: &["check"],
        code: 2,
        says: "sslmode `sometimes` is not one of",
    },
    a_profile_file_that_does_not_exist: Case {
        input: "a `profile` file that does not exist",
        setup: |t| config(t, "protected = true", "protected = true\nprofile = \"platform.yaml\""),
        args: &["status", "--target", "prod", "--live"],
        code: 2,
        says: "profile `platform.yaml`: no such file in the repository",
    },
    an_unknown_target: Case {
        input: "an unknown target",
        setup: nothing,
        args: &["status", "--target", "nope"],
        code: 2,
        says: "unknown target `nope`; xtask.toml defines:",
    },
    // Credentials.
    a_database_url_that_does_not_parse: Case {
        input: "a database URL that does not parse",
        setup: |t| {
            with_url_target(t);
            url(&format!("postgresql://u:{PASSWORD}@host:notaport/db"))
        },
        args: &["status", "--target", "bad", "--live"],
        code: 2,
        says: "does not parse as a URL",
    },
    a_database_url_that_is_not_postgres: Case {
        input: "a database URL that is not `postgres://`",
        setup: |t| {
            with_url_target(t);
            url("https://example.com/db")
        },
        args: &["status", "--target", "bad", "--live"],
        code: 2,
        says: "is not a postgres:// URL",
    },
    a_database_url_naming_a_pooler_in_transaction_mode_port_6543: Case {
        input: "a database URL naming a pooler in transaction mode (port 6543)",
        setup: |t| {
            with_url_target(t);
            url(&format!("postgresql://postgres.bbbbbbbbbbbbbbbbbbbb:{PASSWORD}@127.0.0.1:6543/postgres"))
        },
        args: &["status", "--target", "bad", "--live"],
        code: 2,
        says: "use its session mode, postgresql://postgres.bbbbbbbbbbbbbbbbbbbb:***@127.0.0.1:5432/postgres",
    },
    a_database_url_with_pgbouncer_true: Case {
        input: "a database URL with `pgbouncer=true`",
        setup: |t| {
            with_url_target(t);
            url(&format!("postgresql://u:{PASSWORD}@127.0.0.1:5432/db?pgbouncer=true"))
        },
        args: &["status", "--target", "bad", "--live"],
        code: 2,
        says: "use its session mode, postgresql://u:***@127.0.0.1:5432/db",
    },
    catalog_of_a_token_only_target_without_a_token: Case {
        input: "`catalog` of a token-only target without a token",
        setup: nothing,
        args: &["catalog", "--target", "prod"],
        code: 2,
        says: "SUPABASE_ACCESS_TOKEN is not set: the hosted target is reached through the Management API",
    },
    a_second_target_name_for_production_s_project_ref: Case {
        input: "a second target name for production's project ref",
        setup: |t| {
            t.append("xtask.toml", "\n[targets.alias]\nproject_ref = \"srcaoozjkrughebmbvfb\"\n");
            Vec::new()
        },
        args: &["status", "--target", "alias"],
        code: 2,
        says: "targets `alias` and `prod` are one database (project srcaoozjkrughebmbvfb) but only one is protected",
    },
    a_url_naming_another_project_than_the_target_s_project_ref: Case {
        input: "a URL naming another project than the target's `project_ref`",
        setup: |_| {
            let url = format!("postgresql://postgres.bbbbbbbbbbbbbbbbbbbb:{PASSWORD}@127.0.0.1:1/postgres");
            vec![("PROD_DB_URL".to_string(), url)]
        },
        args: &["status", "--target", "prod", "--live"],
        code: 2,
        says: "$PROD_DB_URL names project bbbbbbbbbbbbbbbbbbbb, but target `prod` is project srcaoozjkrughebmbvfb",
    },
    a_url_pointing_at_another_database_than_the: Case {
        input: "a URL pointing at another database than the one the target was promoted at",
        setup: |t| {
            let env = running(t);
            let path = t.path("migrations/promotion.lock");
            let mut lock =
                    xtask::domain::history::lock::Lock::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let mut state = lock.targets["prod"].clone();
            state.identity = Some(xtask::domain::history::identity::Place::Server {
                host: "127.0.0.1".into(),
                port: 5432,
                database: "elsewhere".into(),
            });
            lock.targets.insert("bad".into(), state);
            std::fs::write(&path, lock.render()).unwrap();
            env
        },
        args: &["status", "--target", "bad", "--live"],
        code: 2,
        says: "$XTASK_BAD_URL now points at database 127.0.0.1:",
    },
    connection_on_a_url_target: Case {
        input: "`connection` on a URL target",
        setup: |t| {
            with_url_target(t);
            config(t, "[targets.bad]", "[targets.bad]\nconnection = \"pooler\"")
        },
        args: &["check"],
        code: 2,
        says: "`connection` applies to a target reached by `project_ref`",
    },
    a_connection_that_does_not_exist: Case {
        input: "a `connection` that does not exist",
        setup: |t| config(t, "protected = true", "protected = true\nconnection = \"ipv4\""),
        args: &["check"],
        code: 2,
        says: "unknown variant `ipv4`",
    },
    an_unreachable_database_url_with_a_password: Case {
        input: "an unreachable database URL with a password",
        setup: |t| {
            with_url_target(t);
            url(&format!("postgresql://u:{PASSWORD}@127.0.0.1:1/db"))
        },
        args: &["status", "--target", "bad", "--live"],
        code: 2,
        says: "connecting to postgresql://u:***@127.0.0.1:1/db",
    },
    a_wrong_database_password: Case {
        input: "a wrong database password",
        setup: |t| {
            let env = running(t);
            url(&env[0].1.replacen(":", ":x", 2).replace("postgresql:x//", "postgresql://"))
        },
        args: &["catalog", "--target", "bad"],
        code: 2,
        says: "password authentication failed",
    },
    a_malformed_access_token: Case {
        input: "a malformed access token",
        setup: |_| vec![("SUPABASE_ACCESS_TOKEN".into(), "abc".into())],
        args: &["promote", "--target", "prod", "--dry-run"],
        code: 1,
        says: "SUPABASE_ACCESS_TOKEN is malformed",
    },
    no_access_token_for_a_hosted_target: Case {
        input: "no access token for a hosted target",
        setup: nothing,
        args: &["promote", "--target", "prod", "--dry-run"],
        code: 1,
        says: "SUPABASE_ACCESS_TOKEN is not set",
    },
    supabase_project_id_naming_another_project: Case {
        input: "`SUPABASE_PROJECT_ID` naming another project",
        setup: |_| {
            vec![
                ("SUPABASE_PROJECT_ID".into(), "bbbbbbbbbbbbbbbbbbbb".into()),
                ("SUPABASE_ACCESS_TOKEN".into(), TOKEN.into()),
            ]
        },
        args: &["status", "--target", "prod", "--live"],
        code: 2,
        says: "one of them names the wrong project",
    },
    // Commands.
    review_base_a_ref_git_does_not_know: Case {
        input: "`review --base` a ref git does not know (or a checkout without its history)",
        setup: |t| {
            crate::support::commit_all(t);
            Vec::new()
        },
        args: &["review", "--base", "origin/no-such-branch"],
        code: 2,
        says: "git finds no merge base of `origin/no-such-branch` and HEAD",
    },
    fix_naming_an_applied_file: Case {
        input: "`fix` naming an applied file",
        setup: nothing,
        args: &["fix", "migrations/20260202141500_problems.sql"],
        code: 2,
        says: "applied (its checksum is recorded in migrations/promotion.lock), so it is never rewritten",
    },
    fix_naming_a_file_that_is_no_migration: Case {
        input: "`fix` naming a file that is no migration",
        setup: nothing,
        args: &["fix", "xtask.toml"],
        code: 2,
        says: "xtask.toml: not a migration in migrations/",
    },
    renumber_naming_a_file_that_is_no_migration: Case {
        input: "`fix --renumber` naming a file that is no migration",
        setup: nothing,
        args: &["fix", "--renumber", "xtask.toml"],
        code: 2,
        says: "xtask.toml: not a migration in migrations/",
    },
    renumber_naming_an_applied_file: Case {
        input: "`fix --renumber` naming an applied file",
        setup: nothing,
        args: &["fix", "--renumber", "migrations/20260202141500_problems.sql"],
        code: 1,
        says: "applied (migrations/promotion.lock records it), so its version is history and never changes",
    },
    renumber_with_a_corrupt_promotion_record: Case {
        input: "`fix --renumber` with a promotion record that is not one",
        setup: |t| write(t, "docs/database/promotions/2026-05-13T180000Z-prod.json", "{ not json"),
        args: &["fix", "--renumber"],
        code: 2,
        says: "docs/database/promotions/2026-05-13T180000Z-prod.json is not a promotion record; restore it from git",
    },
    reconcile_of_the_embedded_target: Case {
        input: "`reconcile` of the embedded target",
        setup: nothing,
        args: &["reconcile", "--target", "local"],
        code: 2,
        says: "`local` is the embedded database, which is disposable: rebuild it from the files with `cargo xtask db reset`",
    },
    reconcile_adopting_a_version_the_target_lacks: Case {
        input: "`reconcile --adopt` of a version the target lacks, or one a file has",
        setup: running,
        args: &["reconcile", "--target", "bad", "--adopt", "20260101000001"],
        code: 2,
        says: "--adopt 20260101000001: bad has no version 20260101000001 that no file here has",
    },
    reconcile_with_a_corrupt_promotion_record: Case {
        input: "`reconcile` with a promotion record that is not one",
        setup: |t| {
            t.write("docs/database/promotions/2026-05-13T180000Z-bad.json", "{ not json");
            running(t)
        },
        args: &["reconcile", "--target", "bad", "--dry-run"],
        code: 2,
        says: "docs/database/promotions/2026-05-13T180000Z-bad.json is not a promotion record; restore it from git",
    },
    new_with_a_path: Case { input: "`new ../x`", setup: nothing, args: &["new", "../x"], code: 2, says: "../x" },
    new_with_an_upper_case_name: Case {
        input: "`new` with an upper-case name",
        setup: nothing,
        args: &["new", "FixThings"],
        code: 2,
        says: "FixThings",
    },
    until_naming_a_version_not_in_the_batch: Case {
        input: "`--until` naming a version not in the batch",
        setup: nothing,
        args: &["promote", "--until", "19990101000000", "--dry-run"],
        code: 2,
        says: "--until 19990101000000 is not a pending version",
    },
    baseline_of_a_target_that_has_a_head: Case {
        input: "`baseline` of a target that has a head",
        setup: nothing,
        args: &["baseline", "--target", "prod", "--head", "20260512220528"],
        code: 2,
        says: "already has a recorded head",
    },
    baseline_at_a_version_no_file_has: Case {
        input: "`baseline` at a version no file has",
        setup: nothing,
        args: &["baseline", "--target", "dev", "--head", "20260101000001"],
        code: 2,
        says: "no single migration file has that version",
    },
    baseline_of_the_embedded_target: Case {
        input: "`baseline` of the embedded target",
        setup: nothing,
        args: &["baseline", "--target", "local", "--head", "20260512220528"],
        code: 2,
        says: "is embedded",
    },
    diff_of_a_target_without_a_snapshot: Case {
        input: "`diff` of a target without a snapshot",
        setup: nothing,
        args: &["diff", "dev", "local"],
        code: 2,
        says: "docs/database/catalog/dev.json is missing; create it with `cargo xtask catalog --target dev`",
    },
    a_malformed_snapshot_json: Case {
        input: "a malformed snapshot JSON",
        setup: |t| write(t, "docs/database/catalog/dev.json", "{\"tables\": 3}"),
        args: &["diff", "dev", "local"],
        code: 2,
        says: "is not a catalog snapshot; regenerate it",
    },
    an_expected_delta_without_a_reason: Case {
        input: "an expected delta without a reason",
        setup: |t| {
            t.write(
                "docs/database/catalog/local.json",
                std::fs::read(crate::support::repo_root().join("docs/database/catalog/local.json")).unwrap(),
            );
            write(
                t,
                "docs/database/expected-deltas.toml",
                "[[expected]]\nkind = \"table\"\nobject = \"public.x\"\n",
            )
        },
        args: &["diff", "local", "local"],
        code: 2,
        says: "has no reason",
    },
    an_expected_delta_of_a_kind_that_does_not_exist: Case {
        input: "an expected delta of a kind that does not exist",
        setup: |t| {
            t.write(
                "docs/database/catalog/local.json",
                std::fs::read(crate::support::repo_root().join("docs/database/catalog/local.json")).unwrap(),
            );
            write(
                t,
                "docs/database/expected-deltas.toml",
                "[[expected]]\nkind = \"tabel\"\nobject = \"public.x\"\nreason = \"a typo\"\n",
            )
        },
        args: &["diff", "local", "local"],
        code: 2,
        says: "has kind `tabel`, which matches nothing; use one of table, column",
    },
    docs_refresh_of_a_target_without_a_snapshot: Case {
        input: "`docs-refresh` of a target without a snapshot",
        setup: nothing,
        args: &["docs-refresh", "--target", "dev"],
        code: 2,
        says: "dev.json is missing",
    },
    partition_parity_on_tables_that_do_not_exist: Case {
        input: "`partition parity` on tables that do not exist",
        setup: running,
        args: &[
            "partition",
            "parity",
            "--target",
            "bad",
            "--source",
            "public.nope",
            "--shadow",
            "public.nope_p",
            "--time-column",
            "at",
        ],
        code: 2,
        says: "table public.nope does not exist in the target",
    },
    partition_parity_with_a_bad_recent: Case {
        input: "`partition parity` with a bad `--recent`",
        setup: running,
        args: &[
            "partition",
            "parity",
            "--target",
            "bad",
            "--source",
            "public.a",
            "--shadow",
            "public.b",
            "--time-column",
            "at",
            "--recent",
            "thirty days",
        ],
        code: 2,
        says: "is not a duration like 30d",
    },
    partition_parity_with_sample_pct_0: Case {
        input: "`partition parity` with `--sample-pct 0`",
        setup: running,
        args: &[
            "partition",
            "parity",
            "--target",
            "bad",
            "--source",
            "public.a",
            "--shadow",
            "public.b",
            "--time-column",
            "at",
            "--sample-pct",
            "0",
        ],
        code: 2,
        says: "--sample-pct 0 must be within (0, 100]",
    },
    partition_prune_execute_of_a_plan_that_does_not_exist: Case {
        input: "`partition prune --execute` of a plan that does not exist",
        setup: running,
        args: &["partition", "prune", "--target", "bad", "--table", "public.a", "--execute", "nope.plan.json"],
        code: 2,
        says: "reading nope.plan.json",
    },
    a_prune_plan_edited_after_review: Case {
        input: "a prune plan edited after review",
        setup: |t| {
            let env = running(t);
            t.write("edited.plan.json", "{\"digest\": \"0\", \"plan\": {\"target\": \"bad\", \"table\": \"public.a\", \"older_than\": \"1d\", \"cutoff\": \"x\", \"created_at\": \"2026-11-24T00:00:00Z\", \"partitions\": [], \"kept\": []}}");
            env
        },
        args: &["partition", "prune", "--target", "bad", "--table", "public.a", "--execute", "edited.plan.json"],
        code: 2,
        says: "was edited after `--dry-run` wrote it",
    },
    partition_prune_without_dry_run_or_execute: Case {
        input: "`partition prune` without `--dry-run` or `--execute`",
        setup: nothing,
        args: &["partition", "prune", "--target", "prod", "--table", "public.a"],
        code: 2,
        says: "--dry-run",
    },
    a_major_version_the_xtask_has_no_tree_for: Case {
        input: "a `major_version` the xtask has no tree for",
        setup: |t| config(t, "embedded = true\n", "embedded = true\nmajor_version = 16\n"),
        args: &["check"],
        code: 2,
        says: "major_version = 16 is not a PostgreSQL major the xtask runs; use 15 or 17",
    },
    major_version_on_a_hosted_target: Case {
        input: "`major_version` on a hosted target",
        setup: |t| config(t, "protected = true", "protected = true\nmajor_version = 17"),
        args: &["check"],
        code: 2,
        says: "a hosted or URL target's major is read from its server: remove major_version",
    },
    a_server_tree_scripts_setup_has_not_laid_out: Case {
        input: "a server tree `scripts/setup` has not laid out",
        setup: |_| vec![("XTASK_PG_TREES".to_string(), "/nonexistent/trees".to_string())],
        args: &["db", "start"],
        code: 2,
        says: "no PostgreSQL 17 server tree in /nonexistent/trees/17: run `scripts/setup`",
    },
    xtask_pg_bindir_of_another_major: Case {
        input: "`XTASK_PG_BINDIR` of another major",
        setup: |_| vec![("XTASK_PG_BINDIR".to_string(), "/usr/lib/postgresql/15/bin".to_string())],
        args: &["db", "start"],
        code: 2,
        says: "is PostgreSQL 15, but PostgreSQL 17 is needed here",
    },
    db_start_twice: Case {
        input: "`db start` twice",
        setup: |t| {
            t.db_start();
            Vec::new()
        },
        args: &["db", "start"],
        code: 0,
        says: "embedded database running",
    },
    an_embedded_cluster_made_by_an_older_xtask: Case {
        input: "an embedded cluster made by an older xtask (`postgres` its superuser)",
        setup: |t| {
            t.db_start();
            t.run(&["db", "stop"]);
            std::fs::remove_file(t.path("target/xtask/pg/17/role-model")).unwrap();
            Vec::new()
        },
        args: &["db", "start"],
        code: 2,
        says: "was made by an older xtask, where `postgres` is a superuser (on the platform it is not); `cargo xtask db reset` recreates it",
    },
    a_statement_the_platform_refuses_with_platform_refuses: Case {
        input: "a statement the platform refuses, with `platform-refuses` off (`alter table auth.users`)",
        setup: |t| {
            config(t, "[check.severity]\n", "[check.severity]\nplatform-refuses = \"off\"\n");
            write(t, PENDING, "alter table auth.users add column nickname text;\n")
        },
        args: &["promote", "--skip-catalog"],
        code: 1,
        says: "on the hosted platform `postgres` does not own auth.users (supabase_auth_admin does); supautils lets it manage policies and drop triggers on it, nothing else",
    },
    promote_while_the_embedded_database_is_stopped: Case {
        input: "`promote` while the embedded database is stopped",
        setup: |t| {
            t.db_start();
            t.run(&["db", "stop"]);
            Vec::new()
        },
        args: &["promote", "--dry-run"],
        code: 0,
        says: "dry run: nothing pushed",
    },
    an_unknown_flag: Case {
        input: "an unknown flag",
        setup: nothing,
        args: &["check", "--fast"],
        code: 2,
        says: "unexpected argument '--fast'",
    },
    an_unknown_format: Case {
        input: "an unknown `--format`",
        setup: nothing,
        args: &["check", "--format", "xml"],
        code: 2,
        says: "invalid value 'xml'",
    },
}

/// Runs one row on its own copy of the example: its exit code, its message, nothing changed on disk, no secret
/// printed. Every problem of the row is named at once.
fn run(case: &Case) {
    let tree = Tree::example();
    let env = (case.setup)(&tree);
    let before = tree.contents();
    let mut cmd = crate::support::xtask();
    cmd.env_remove("SUPABASE_ACCESS_TOKEN").env_remove("SUPABASE_PROJECT_ID").env_remove("PROD_DB_URL");
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let run = tree.run_cmd(cmd, case.args);
    let said = format!("{}{}", run.stdout, run.stderr);
    let after = tree.contents();
    let changed: Vec<_> = before.keys().chain(after.keys()).filter(|k| before.get(*k) != after.get(*k)).collect();
    let mut problems = Vec::new();
    if run.code != case.code {
        problems.push(format!("exit {} instead of {}", run.code, case.code));
    }
    if !said.contains(case.says) {
        problems.push(format!("does not say `{}`", case.says));
    }
    if !changed.is_empty() {
        problems.push(format!("changed {changed:?}"));
    }
    if said.contains(PASSWORD) || said.contains(TOKEN) {
        problems.push("printed a secret".into());
    }
    assert!(problems.is_empty(), "{}: {}\n{said}", case.input, problems.join("; "));
}

/// The design's table, rendered from the cases.
fn table() -> String {
    let mut out = String::from("| input | command | exit | the message says |\n|---|---|---|---|\n");
    for case in cases() {
        let says = case.says.replace('|', "\\|").replace('`', "");
        out.push_str(&format!(
            "| {} | `{}` | {} | {says} |\n",
            case.input.replace('|', "\\|"),
            case.args.join(" ").replace('|', "\\|"),
            case.code
        ));
    }
    out
}

#[test]
fn the_design_lists_every_bad_input() {
    assert!(cases().len() >= 60, "{} cases", cases().len());
    let path = crate::support::repo_root().join("docs/design.md");
    let design = std::fs::read_to_string(&path).unwrap();
    let (start, end) = ("<!-- bad-inputs:start -->\n", "<!-- bad-inputs:end -->");
    let (a, b) =
        (design.find(start).expect("the design has a bad-inputs section") + start.len(), design.find(end).unwrap());
    if std::env::var_os("UPDATE_DESIGN").is_some() {
        std::fs::write(&path, format!("{}{}{}", &design[..a], table(), &design[b..])).unwrap();
        return;
    }
    assert!(
        design[a..b] == table(),
        "docs/design.md's bad-input table is stale: run `UPDATE_DESIGN=1 cargo test --test it bad_inputs::`"
    );
}
