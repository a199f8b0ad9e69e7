//! The runbook's standard path for real: a token-only hosted target (no database URL), driven through the real
//! Supabase CLI against a double of the Management API (`crate::support::api`) that serves a real local Postgres.
//!
//! The CLI finds a project's database at `db.<ref>.<project_host>:5432` and insists on an IPv6 answer. Each test
//! therefore runs in its own network and mount namespace (`unshare --net --mount`, as root): a private loopback,
//! a bind-mounted `/etc/hosts` naming `db.<ref>.local.test` as `::1`, and `[::1]:5432` forwarded to the tree's
//! cluster. Nothing of the machine's own network or files is touched. Where namespaces cannot be made (not
//! root, or a sandbox that forbids them) the test says so and is skipped.

use std::process::Command;

use crate::support::api::{ApiDouble, Behaviour, live_login_roles};
use crate::support::pooler::PoolerDouble;
use crate::support::token_only::{self, TokenOnly};
use crate::support::{Tree, commit, commit_all, example_versions, versions};

const REF: &str = "srcaoozjkrughebmbvfb";
const TOKEN: &str = "sbp_0123456789abcdef0123456789abcdef01234567";
const STAGING_ENV: &str = "XTASK_TEST_STAGING_URL";
const EXAMPLE_HEAD: &str = "20260513175000";

/// Runs `body` in a fresh network and mount namespace, with the project's database name pointing at `::1`.
fn in_namespace(name: &str, body: impl FnOnce()) {
    crate::support::in_namespace(name, &["--net", "--mount"], || {
        prepare_namespace();
        body()
    });
}

/// Loopback up; `db.<ref>.local.test` is `::1` for everyone in this namespace only.
fn prepare_namespace() {
    let ok = |cmd: &mut Command| assert!(cmd.status().unwrap().success(), "{cmd:?}");
    ok(Command::new("ip").args(["link", "set", "lo", "up"]));
    let hosts = std::env::temp_dir().join(format!("xtask-hosts-{}", std::process::id()));
    let names = format!("127.0.0.1 localhost pooler.local.test\n::1 localhost db.{REF}.local.test\n");
    std::fs::write(&hosts, names).unwrap();
    ok(Command::new("mount").args(["--bind"]).arg(&hosts).arg("/etc/hosts"));
}

/// The example with prod reached by token only (its URL variable unset), on the double's platform, and
/// "production" = the tree cluster's `postgres` database at the recorded head, behind `[::1]:5432`.
struct Hosted {
    tree: Tree,
    api: ApiDouble,
    prod_url: String,
}

impl Hosted {
    fn new() -> Hosted {
        let tree = Tree::example();
        tree.append("xtask.toml", &format!("\n[targets.staging]\ndb_url_env = \"{STAGING_ENV}\"\n"));
        let config = String::from_utf8(tree.read("xtask.toml")).unwrap();
        tree.write("xtask.toml", config.replace("protected = true", "protected = true\nprofile = \"platform.yaml\""));
        let prod_url = tree.db_start();
        crate::support::bring_to_head(&tree, STAGING_ENV, &prod_url);
        let api = ApiDouble::start(REF, TOKEN, &prod_url);
        tree.write("platform.yaml", api.profile_yaml());
        let port: u16 = std::fs::read_to_string(tree.path("target/xtask/pg/17/port")).unwrap().trim().parse().unwrap();
        crate::support::api::forward_ipv6_5432(port);
        commit_all(&tree);
        Hosted { tree, api, prod_url }
    }

    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> crate::support::Run {
        let mut cmd = crate::support::xtask();
        cmd.env_remove("PROD_DB_URL").env_remove("SUPABASE_ACCESS_TOKEN").env_remove("SUPABASE_PROJECT_ID");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let run = self.tree.run_cmd(cmd, args);
        assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN), "the token was printed: {args:?}");
        run
    }

    fn endpoints(&self) -> Vec<String> {
        self.api.requests().iter().map(|r| r.split(' ').take(2).collect::<Vec<_>>().join(" ")).collect()
    }
}

impl TokenOnly for Hosted {
    fn tree(&self) -> &Tree {
        &self.tree
    }

    fn prod_url(&self) -> &str {
        &self.prod_url
    }

    fn run(&self, args: &[&str]) -> crate::support::Run {
        self.run_with(args, &self.env())
    }

    fn env(&self) -> Vec<(&'static str, &'static str)> {
        vec![("SUPABASE_ACCESS_TOKEN", TOKEN), ("SUPABASE_PROJECT_ID", REF)]
    }
}

#[test]
fn token_only_status_promote_catalog_docs_and_drift() {
    in_namespace("token_only_status_promote_catalog_docs_and_drift", || {
        let h = Hosted::new();
        let status = h.run(&["status", "--target", "prod", "--live", "--format", "json"]);
        assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
        let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
        assert_eq!(json["live"]["head"], "20260512220528");
        assert_eq!(json["live"]["matches"], true);
        assert_eq!(json["live"]["connection"], "direct", "IPv6 works here: the direct host is used");
        // The xtask's own reads go over a read-only login role, removed afterwards.
        let login = format!("POST /v1/projects/{REF}/cli/login-role {{\"read_only\":true}}");
        assert_eq!(h.api.requests(), [login, format!("DELETE /v1/projects/{REF}/cli/login-role")]);
        assert!(live_login_roles(&h.prod_url).is_empty(), "the login role is removed");

        let dry = h.run(&["promote", "--target", "prod", "--dry-run"]);
        assert_eq!(dry.code, 0, "{}{}", dry.stdout, dry.stderr);
        assert!(
            dry.stdout.contains("Promotion of 14 migration(s) to prod (project srcaoozjkrughebmbvfb)"),
            "{}",
            dry.stdout
        );
        assert_eq!(versions(&h.prod_url).len(), 9, "a dry run pushes nothing");

        h.api.clear();
        let run = h.run(&["promote", "--target", "prod", "--yes"]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        assert_eq!(versions(&h.prod_url), example_versions());
        let endpoints = h.endpoints();
        for expected in [
            format!("GET /v1/projects/{REF}"),
            format!("POST /v1/projects/{REF}/cli/login-role"),
            format!("POST /v1/projects/{REF}/database/query"),
            // The exposure review asks which schemas the project's Data API serves.
            format!("GET /v1/projects/{REF}/postgrest"),
        ] {
            assert!(endpoints.contains(&expected), "{expected} not called: {endpoints:?}");
        }
        let record = std::fs::read_dir(h.tree.path("docs/database/promotions"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with("-prod.json"))
            .unwrap();
        let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(record).unwrap()).unwrap();
        assert_eq!(record["exposure_inputs"]["schemas_from"], "prod's Data API settings (the Management API)");
        assert_eq!(record["exposure_inputs"]["schemas"], serde_json::json!(["public", "graphql_public"]));
        let lock = String::from_utf8(h.tree.read("migrations/promotion.lock")).unwrap();
        assert!(lock.contains(&format!("[targets.prod]\nhead = \"{EXAMPLE_HEAD}\"")), "{lock}");
        let records = std::fs::read_dir(h.tree.path("docs/database/promotions")).unwrap();
        let prod_records =
            records.filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains("-prod.")).count();
        assert_eq!(prod_records, 2, "one promotion record, json and md");
        let catalog = String::from_utf8(h.tree.read("docs/database/catalog/prod.json")).unwrap();
        assert!(catalog.contains("\"name\": \"sequence_steps\""), "the catalog was read through db query");
        assert!(h.tree.path("docs/database/SCHEMA_CATALOG.PROD.md").is_file());

        commit(&h.tree, "promotion of prod");
        let again = h.run(&["promote", "--target", "prod", "--yes"]);
        assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
        assert!(
            again.stdout.contains(&format!("prod is up to date at {EXAMPLE_HEAD}: nothing to push.")),
            "{}",
            again.stdout
        );

        let docs = h.run(&["docs-refresh", "--target", "prod", "--check"]);
        assert_eq!(docs.code, 0, "{}{}", docs.stdout, docs.stderr);
        let catalog = h.run(&["catalog", "--target", "prod", "--format", "json"]);
        assert_eq!(catalog.code, 0, "{}", catalog.stderr);
        let drift = h.run(&["drift", "--target", "prod", "--format", "json"]);
        assert_eq!((drift.code, drift.stdout.trim()), (0, "[]"), "{}", drift.stderr);
        postgres::Client::connect(&h.prod_url, postgres::NoTls)
            .unwrap()
            .batch_execute("create table public.made_by_hand (id int)")
            .unwrap();
        let drift = h.run(&["drift", "--target", "prod", "--format", "json"]);
        assert_eq!(drift.code, 1, "{}", drift.stderr);
        assert!(drift.stdout.contains("public.made_by_hand"), "{}", drift.stdout);

        // prod was pinned at its project: xtask.toml naming another project for it is refused before any call.
        let lock = String::from_utf8(h.tree.read("migrations/promotion.lock")).unwrap();
        assert!(lock.contains(&format!("[targets.prod.identity]\nproject = \"{REF}\"")), "{lock}");
        let config = String::from_utf8(h.tree.read("xtask.toml")).unwrap();
        h.tree.write("xtask.toml", config.replace(REF, "bbbbbbbbbbbbbbbbbbbb"));
        commit(&h.tree, "prod names another project");
        h.api.clear();
        let moved = h.run_with(&["promote", "--target", "prod", "--yes"], &[("SUPABASE_ACCESS_TOKEN", TOKEN)]);
        assert_eq!(moved.code, 2, "{}", moved.stderr);
        let said =
            format!("target `prod` now points at project bbbbbbbbbbbbbbbbbbbb; prod was promoted at project {REF}");
        assert!(moved.stderr.contains(&said), "{}", moved.stderr);
        assert!(h.api.requests().is_empty(), "nothing was asked of the platform: {:?}", h.api.requests());
    });
}

#[test]
fn a_failure_mid_batch_on_the_hosted_target_then_the_forward_fix() {
    in_namespace("a_failure_mid_batch_on_the_hosted_target_then_the_forward_fix", || {
        token_only::a_failure_mid_batch_then_the_forward_fix(&Hosted::new());
    });
}

#[test]
fn platform_failures_are_clear_errors_that_write_nothing() {
    in_namespace("platform_failures_are_clear_errors_that_write_nothing", || {
        let h = Hosted::new();
        let before = h.tree.contents();
        let wrong_token = "sbp_ffffffffffffffffffffffffffffffffffffffff";
        // (what, the platform's state, token, project ref, the cause the message must name)
        let cases = [
            ("wrong token", Behaviour::Healthy, wrong_token, REF, "refused the access token"),
            ("paused project", Behaviour::Paused, TOKEN, REF, "paused"),
            ("API 5xx", Behaviour::ServerError, TOKEN, REF, "the supabase platform failed"),
            ("unknown ref", Behaviour::Healthy, TOKEN, "bbbbbbbbbbbbbbbbbbbb", "knows no such project"),
        ];
        for (what, behaviour, token, project_ref, cause) in cases {
            h.api.set(behaviour);
            let config = String::from_utf8(h.tree.read("xtask.toml")).unwrap();
            let config = config.replace(REF, project_ref).replace("bbbbbbbbbbbbbbbbbbbb", project_ref);
            h.tree.write("xtask.toml", config);
            commit(&h.tree, what);
            let run = h.run_with(&["promote", "--target", "prod", "--yes"], &[("SUPABASE_ACCESS_TOKEN", token)]);
            assert_eq!(run.code, 2, "{what}: {}{}", run.stdout, run.stderr);
            assert!(run.stderr.to_lowercase().contains(cause), "{what}: the cause `{cause}` is named: {}", run.stderr);
            assert!(!run.stderr.contains(wrong_token), "{what}: the token was printed");
            assert_eq!(versions(&h.prod_url).len(), 9, "{what}: nothing pushed");
        }
        let after = h.tree.contents();
        let changed: Vec<_> = before
            .keys()
            .chain(after.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .filter(|k| !k.ends_with("xtask.toml") && !k.to_string_lossy().contains(".git/"))
            .collect();
        assert!(changed.is_empty(), "nothing written: {changed:?}");
        assert!(live_login_roles(&h.prod_url).is_empty(), "no login role left behind");
    });
}

#[test]
fn a_project_id_that_names_another_project_is_refused_before_anything_runs() {
    in_namespace("a_project_id_that_names_another_project_is_refused_before_anything_runs", || {
        let h = Hosted::new();
        let run = h.run_with(
            &["promote", "--target", "prod", "--yes"],
            &[("SUPABASE_ACCESS_TOKEN", TOKEN), ("SUPABASE_PROJECT_ID", "bbbbbbbbbbbbbbbbbbbb")],
        );
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(
            run.stderr.contains(
                "$SUPABASE_PROJECT_ID is bbbbbbbbbbbbbbbbbbbb, but target `prod` is project srcaoozjkrughebmbvfb"
            ),
            "{}",
            run.stderr
        );
        assert!(h.api.requests().is_empty(), "no API call was made: {:?}", h.api.requests());
        let unset = h.run_with(&["promote", "--target", "prod", "--dry-run"], &[("SUPABASE_ACCESS_TOKEN", TOKEN)]);
        assert!(unset.stderr.contains("note: $SUPABASE_PROJECT_ID is not set"), "{}", unset.stderr);
    });
}

#[test]
fn two_machines_promoting_one_token_only_target_push_once() {
    in_namespace("two_machines_promoting_one_token_only_target_push_once", || {
        token_only::two_checkouts_push_once(&Hosted::new());
    });
}

#[test]
fn a_login_role_another_machine_removed_is_replaced_by_a_new_one() {
    in_namespace("a_login_role_another_machine_removed_is_replaced_by_a_new_one", || {
        let h = Hosted::new();
        h.api.clear();
        h.api.set(Behaviour::NextRoleRemoved);
        let status = h.run(&["status", "--target", "prod", "--live", "--format", "json"]);
        assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
        let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
        assert_eq!(json["live"]["head"], "20260512220528");
        assert!(status.stderr.contains("was removed while in use"), "{}", status.stderr);
        // Read over a second role, not through `db query`; and only the second is removed at the end.
        let login = format!("POST /v1/projects/{REF}/cli/login-role {{\"read_only\":true}}");
        assert_eq!(h.api.requests(), [login.clone(), login, format!("DELETE /v1/projects/{REF}/cli/login-role")]);
        assert!(live_login_roles(&h.prod_url).is_empty(), "no login role left behind");
    });
}

#[test]
fn parity_and_prune_run_over_login_roles_with_a_token_only() {
    in_namespace("parity_and_prune_run_over_login_roles_with_a_token_only", || {
        let h = Hosted::new();
        h.api.clear();
        token_only::parity_passes(&h);
        let login_ro = format!("POST /v1/projects/{REF}/cli/login-role {{\"read_only\":true}}");
        assert_eq!(h.api.requests(), [login_ro, format!("DELETE /v1/projects/{REF}/cli/login-role")]);

        let plan = token_only::prune_plan(&h);
        h.api.clear();
        token_only::prune_executes(&h, &plan);
        let login_rw = format!("POST /v1/projects/{REF}/cli/login-role {{\"read_only\":false}}");
        assert_eq!(h.api.requests()[0], login_rw, "prune writes: a read-write role");
        assert!(live_login_roles(&h.prod_url).is_empty(), "no login role left behind");
    });
}

#[test]
fn the_platform_baseline_is_captured_through_db_query_with_a_token_only() {
    in_namespace("the_platform_baseline_is_captured_through_db_query_with_a_token_only", || {
        let h = Hosted::new();
        h.api.clear();
        let run = h.run(&["platform-baseline", "--target", "prod"]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        let query = format!("POST /v1/projects/{REF}/database/query");
        assert!(
            h.api.requests().iter().any(|r| r.starts_with(&query) && r.contains("\"read_only\":true")),
            "{:?}",
            h.api.requests()
        );
        let file = String::from_utf8(h.tree.read("docs/database/platform/baseline.sql")).unwrap();
        assert!(
            file.contains("--> table auth.users\ncreate table if not exists auth.users ("),
            "the auth schema was read"
        );
        // Over the URL, the same database gives the same text.
        let direct = h.run_with(
            &["platform-baseline", "--target", "prod", "--check"],
            &[("PROD_DB_URL", h.prod_url.as_str()), ("SUPABASE_PROJECT_ID", REF)],
        );
        assert_eq!(direct.code, 0, "{}{}", direct.stdout, direct.stderr);
        assert!(direct.stdout.contains("up-to-date"), "{}", direct.stdout);
    });
}

#[test]
fn connection_pooler_is_used_even_where_the_direct_host_answers() {
    in_namespace("connection_pooler_is_used_even_where_the_direct_host_answers", || {
        let h = Hosted::new();
        let port: u16 =
            std::fs::read_to_string(h.tree.path("target/xtask/pg/17/port")).unwrap().trim().parse().unwrap();
        let certs = tempfile::tempdir().unwrap();
        let pooler = PoolerDouble::start(REF, port, certs.path());
        let config = String::from_utf8(h.tree.read("xtask.toml")).unwrap();
        h.tree.write(
            "xtask.toml",
            config.replace("profile = \"platform.yaml\"", "profile = \"platform.yaml\"\nconnection = \"pooler\""),
        );
        commit(&h.tree, "through the pooler");
        let status = h.run(&["status", "--target", "prod", "--live", "--format", "json"]);
        assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
        let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
        assert_eq!(json["live"]["connection"], "pooler (session)");
        let seen = pooler.seen();
        assert!(!seen.is_empty() && seen.iter().all(|s| s.port == 5432 && s.routed), "{seen:?}");
    });
}
