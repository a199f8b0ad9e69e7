//! The standard path where CI really runs: a token-only target on a network without IPv6 (GitHub-hosted
//! runners), reached through the project's pooler in session mode, with the real Supabase CLI.
//!
//! Each test runs in its own network and mount namespace (`unshare --net --mount`, as root) where IPv6 is
//! disabled, the project's direct host `db.<ref>.local.test` resolves only to an IPv6 address (so it cannot be
//! reached, as on a runner), and `pooler.local.test` is 127.0.0.1, where the pooler double listens on 5432
//! (session mode) and 6543 (transaction mode) and forwards `<role>.<ref>` to the tree's cluster. The Management
//! API double serves `config/database/pooler` with the transaction-mode port, as the platform does.

use std::process::Command;

use crate::support::api::{ApiDouble, Behaviour, live_login_roles};
use crate::support::pooler::PoolerDouble;
use crate::support::proxy::ProxyDouble;
use crate::support::token_only::{self, TokenOnly};
use crate::support::{Tree, commit, commit_all, example_versions, versions};

const REF: &str = "srcaoozjkrughebmbvfb";
const TOKEN: &str = "sbp_0123456789abcdef0123456789abcdef01234567";
const STAGING_ENV: &str = "XTASK_TEST_STAGING_URL";
const EXAMPLE_HEAD: &str = "20260513175000";

fn in_ipv4_namespace(name: &str, body: impl FnOnce()) {
    crate::support::in_namespace(name, &["--net", "--mount"], || {
        let ok = |cmd: &mut Command| assert!(cmd.status().unwrap().success(), "{cmd:?}");
        ok(Command::new("ip").args(["link", "set", "lo", "up"]));
        for key in ["all", "default", "lo"] {
            ok(Command::new("sysctl").args(["-qw", &format!("net.ipv6.conf.{key}.disable_ipv6=1")]));
        }
        let hosts = std::env::temp_dir().join(format!("xtask-hosts-ipv4-{}", std::process::id()));
        let text = format!("127.0.0.1 localhost pooler.local.test\n2001:db8::5432 db.{REF}.local.test\n");
        std::fs::write(&hosts, text).unwrap();
        ok(Command::new("mount").args(["--bind"]).arg(&hosts).arg("/etc/hosts"));
        body()
    });
}

/// What production holds when the test starts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Prod {
    /// A new project: the platform's schemas, no migration history, nothing recorded in the lock.
    Fresh,
    /// At the recorded head, as the example's production is.
    AtHead,
}

struct Ipv4 {
    tree: Tree,
    api: ApiDouble,
    pooler: Option<PoolerDouble>,
    prod_url: String,
}

impl Ipv4 {
    fn new(prod: Prod, pooler: bool) -> Ipv4 {
        let tree = Tree::example();
        tree.append("xtask.toml", &format!("\n[targets.staging]\ndb_url_env = \"{STAGING_ENV}\"\n"));
        let config = String::from_utf8(tree.read("xtask.toml")).unwrap();
        // `require`, as any non-loopback pooler gets by default: the double offers TLS.
        let hosted = "protected = true\nprofile = \"platform.yaml\"\nsslmode = \"require\"";
        tree.write("xtask.toml", config.replace("protected = true", hosted));
        let prod_url = tree.db_start();
        match prod {
            Prod::AtHead => crate::support::bring_to_head(&tree, STAGING_ENV, &prod_url),
            Prod::Fresh => {
                tree.remove("migrations/promotion.lock");
                // A new project's history is pending: its RLS helpers, callable by signed-in users, are acknowledged.
                for file in HELPERS {
                    tree.append(
                        file,
                        "-- xtask: ack exposure: an RLS helper, called by policies as the signed-in user\n",
                    );
                }
            }
        }
        let api = ApiDouble::start(REF, TOKEN, &prod_url);
        tree.write("platform.yaml", api.profile_yaml());
        let port: u16 = std::fs::read_to_string(tree.path("target/xtask/pg/17/port")).unwrap().trim().parse().unwrap();
        let pooler = pooler.then(|| PoolerDouble::start(REF, port, tree.dir.path()));
        for file in ["pooler.crt", "pooler.key"] {
            let _ = std::fs::remove_file(tree.path(file));
        }
        commit_all(&tree);
        Ipv4 { tree, api, pooler, prod_url }
    }

    /// The xtask with the token and the runbook's SUPABASE_PROJECT_ID (plus `env`), and no database URL.
    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> crate::support::Run {
        self.run_noting(args, env, false)
    }

    /// `allow_notes`: whether another promotion may hold the lock (then its note about login roles is expected).
    fn run_noting(&self, args: &[&str], env: &[(&str, &str)], allow_notes: bool) -> crate::support::Run {
        let mut cmd = crate::support::xtask();
        cmd.env_remove("PROD_DB_URL").env("SUPABASE_ACCESS_TOKEN", TOKEN).env("SUPABASE_PROJECT_ID", REF);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let run = self.tree.run_cmd(cmd, args);
        assert!(!run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN), "the token was printed: {args:?}");
        for note in ["holds its lock", "could not be read"] {
            assert!(allow_notes || !run.stderr.contains(note), "a login-role note in an unshared run: {}", run.stderr);
        }
        run
    }

    fn pooler(&self) -> &PoolerDouble {
        self.pooler.as_ref().unwrap()
    }

    /// Every session the pooler saw went to session mode, encrypted, as `<role>.<ref>`; returns how many were
    /// the xtask's own and how many the CLI's.
    fn sessions_in_session_mode(&self) -> (usize, usize) {
        let seen = self.pooler().seen();
        let mut by_who = std::collections::BTreeMap::<(String, u16, bool), usize>::new();
        for s in &seen {
            *by_who.entry((s.application_name.clone(), s.port, s.tls)).or_default() += 1;
        }
        eprintln!("pooler sessions (application_name, port, tls): {by_who:?}");
        for s in &seen {
            assert_eq!(s.port, 5432, "a session on the transaction-mode port: {s:?}");
            assert!(s.tls && s.routed, "{s:?}");
        }
        let ours = seen.iter().filter(|s| s.application_name == "cargo-xtask").count();
        (ours, seen.len() - ours)
    }
}

impl TokenOnly for Ipv4 {
    fn tree(&self) -> &Tree {
        &self.tree
    }

    fn prod_url(&self) -> &str {
        &self.prod_url
    }

    fn run(&self, args: &[&str]) -> crate::support::Run {
        self.run_with(args, &[])
    }

    fn env(&self) -> Vec<(&'static str, &'static str)> {
        vec![("SUPABASE_ACCESS_TOKEN", TOKEN), ("SUPABASE_PROJECT_ID", REF)]
    }
}

/// The example's files that define `security definer` helpers its policies call (executable by `authenticated`).
const HELPERS: [&str; 4] = [
    "migrations/20260105090000_core_organizations_and_profiles.sql",
    "migrations/20260118103000_permissions_model.sql",
    "migrations/20260202141500_problems.sql",
    "migrations/20260512231500_cl46_fix_problem_permission_helper.sql",
];

#[test]
fn a_fresh_project_promoted_through_the_session_pooler() {
    in_ipv4_namespace("a_fresh_project_promoted_through_the_session_pooler", || {
        let h = Ipv4::new(Prod::Fresh, true);
        let status = h.run(&["status", "--target", "prod", "--live", "--format", "json"]);
        assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
        let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
        assert_eq!(json["live"]["connection"], "pooler (session)");
        assert_eq!((json["live"]["applied"].as_u64(), &json["live"]["matches"]), (Some(0), &serde_json::json!(true)));
        assert!(status.stderr.contains("connection: pooler (session) (pooler.local.test:5432)"), "{}", status.stderr);
        let pooler_config = format!("GET /v1/projects/{REF}/config/database/pooler");
        assert!(h.api.requests().contains(&pooler_config), "{:?}", h.api.requests());

        let dry = h.run(&["promote", "--target", "prod", "--dry-run"]);
        assert_eq!(dry.code, 0, "{}{}", dry.stdout, dry.stderr);
        assert!(dry.stdout.contains("Connection: pooler (session)."), "{}", dry.stdout);
        assert!(versions(&h.prod_url).is_empty(), "a dry run pushes nothing");

        let run = h.run(&["promote", "--target", "prod", "--yes"]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        assert_eq!(versions(&h.prod_url), example_versions());
        let record = std::fs::read_dir(h.tree.path("docs/database/promotions"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with("-prod.json"))
            .unwrap();
        let record: serde_json::Value = serde_json::from_slice(&std::fs::read(record).unwrap()).unwrap();
        assert_eq!((&record["outcome"], &record["connection"]), (&"promoted".into(), &"pooler (session)".into()));
        assert!(h.tree.path("docs/database/SCHEMA_CATALOG.PROD.md").is_file(), "the catalog was refreshed");
        assert!(live_login_roles(&h.prod_url).is_empty(), "no login role left behind");
        let (ours, cli) = h.sessions_in_session_mode();
        assert!(ours > 0 && cli > 0, "the xtask's ({ours}) and the CLI's ({cli}) sessions went through the pooler");

        commit(&h.tree, "promotion of prod");
        let again = h.run(&["promote", "--target", "prod", "--yes"]);
        assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
        assert!(
            again.stdout.contains(&format!("prod is up to date at {EXAMPLE_HEAD}: nothing to push.")),
            "{}",
            again.stdout
        );
        h.sessions_in_session_mode();
    });
}

#[test]
fn a_fresh_projects_history_reads_as_empty_through_db_query_too() {
    in_ipv4_namespace("a_fresh_projects_history_reads_as_empty_through_db_query_too", || {
        let h = Ipv4::new(Prod::Fresh, true);
        h.api.set(Behaviour::NoLoginRoles);
        let status = h.run(&["status", "--target", "prod", "--live", "--format", "json"]);
        assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
        assert!(status.stderr.contains("reading its history through `supabase db query`"), "{}", status.stderr);
        let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
        assert_eq!((json["live"]["applied"].as_u64(), &json["live"]["matches"]), (Some(0), &serde_json::json!(true)));
    });
}

#[test]
fn a_failure_mid_batch_through_the_pooler_then_the_forward_fix() {
    in_ipv4_namespace("a_failure_mid_batch_through_the_pooler_then_the_forward_fix", || {
        let h = Ipv4::new(Prod::AtHead, true);
        token_only::a_failure_mid_batch_then_the_forward_fix(&h);
        h.sessions_in_session_mode();
        assert!(live_login_roles(&h.prod_url).is_empty(), "no login role left behind");
    });
}

#[test]
fn two_checkouts_racing_through_the_pooler_push_once() {
    in_ipv4_namespace("two_checkouts_racing_through_the_pooler_push_once", || {
        let a = Ipv4::new(Prod::AtHead, true);
        token_only::two_checkouts_push_once(&a);
        a.sessions_in_session_mode();
    });
}

#[test]
fn catalog_docs_drift_parity_and_prune_through_the_pooler_and_a_proxy() {
    in_ipv4_namespace("catalog_docs_drift_parity_and_prune_through_the_pooler_and_a_proxy", || {
        let h = Ipv4::new(Prod::AtHead, true);
        // Another promotion holding prod's lock: its login roles are not removed under it, and the note says why.
        let mut holder = crate::support::connect(&h.prod_url);
        holder
            .query_one("select pg_advisory_lock($1)", &[&xtask::edges::supabase::management_api::PROMOTION_LOCK_KEY])
            .unwrap();
        let held = h.run_noting(&["status", "--target", "prod", "--live"], &[], true);
        assert_eq!(held.code, 0, "{}", held.stderr);
        let note = format!("note: another promotion of {REF} holds its lock, so the temporary login role is left");
        assert!(held.stderr.contains(&note), "{}", held.stderr);
        assert_eq!(live_login_roles(&h.prod_url).len(), 1, "the role is left to expire");
        drop(holder);
        let free = h.run(&["status", "--target", "prod", "--live"]);
        assert!(!free.stderr.contains("note: another promotion"), "{}", free.stderr);
        assert!(live_login_roles(&h.prod_url).is_empty(), "removed once nothing holds the lock");

        // The Management API through an HTTP proxy, as behind a corporate one; NO_PROXY bypasses it.
        let proxy = ProxyDouble::start();
        let api_host = h.api.url.trim_start_matches("http://").to_string();
        let via_proxy = h.run_with(&["status", "--target", "prod", "--live"], &[("HTTPS_PROXY", proxy.url.as_str())]);
        assert_eq!(via_proxy.code, 0, "{}{}", via_proxy.stdout, via_proxy.stderr);
        // One tunnel or more: the double keeps connections alive, so the calls may share one.
        assert!(!proxy.tunnels().is_empty() && proxy.tunnels().iter().all(|t| *t == api_host), "{:?}", proxy.tunnels());
        let before = proxy.tunnels().len();
        let bypass = h.run_with(
            &["status", "--target", "prod", "--live"],
            &[("HTTPS_PROXY", proxy.url.as_str()), ("NO_PROXY", "127.0.0.1")],
        );
        assert_eq!(bypass.code, 0, "{}", bypass.stderr);
        assert_eq!(proxy.tunnels().len(), before, "NO_PROXY is honoured");

        let catalog = h.run(&["catalog", "--target", "prod", "--format", "json"]);
        assert_eq!(catalog.code, 0, "{}", catalog.stderr);
        let docs = h.run(&["docs-refresh", "--target", "prod"]);
        assert_eq!(docs.code, 0, "{}", docs.stderr);
        let drift = h.run(&["drift", "--target", "prod", "--format", "json"]);
        assert_eq!((drift.code, drift.stdout.trim()), (0, "[]"), "{}", drift.stderr);

        token_only::parity_passes(&h);
        let plan = token_only::prune_plan(&h);
        token_only::prune_executes(&h, &plan);
        let (ours, _) = h.sessions_in_session_mode();
        assert!(ours >= 5, "status, drift's, parity's and prune's sessions went through the pooler: {ours}");
        assert!(live_login_roles(&h.prod_url).is_empty(), "no login role left behind");
    });
}

#[test]
fn unreachable_directly_and_through_the_pooler_is_one_clear_error() {
    in_ipv4_namespace("unreachable_directly_and_through_the_pooler_is_one_clear_error", || {
        let h = Ipv4::new(Prod::AtHead, false);
        let run = h.run(&["promote", "--target", "prod", "--yes"]);
        assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
        let expected = format!("cannot reach prod's database: directly at db.{REF}.local.test:5432 (");
        assert!(run.stderr.contains(&expected), "{}", run.stderr);
        assert!(
            run.stderr.contains("nor through the project's pooler (pooler.local.test:5432 (session mode): "),
            "{}",
            run.stderr
        );
        assert_eq!(versions(&h.prod_url).len(), 9, "nothing pushed");

        let config = String::from_utf8(h.tree.read("xtask.toml")).unwrap();
        h.tree.write(
            "xtask.toml",
            config.replace("sslmode = \"require\"", "sslmode = \"require\"\nconnection = \"direct\""),
        );
        commit(&h.tree, "direct only");
        let run = h.run(&["status", "--target", "prod", "--live"]);
        assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("`connection = \"direct\"` is set in [targets.prod]"), "{}", run.stderr);
        assert!(h.api.requests().iter().all(|r| !r.contains("login-role")), "no login role was asked for");
    });
}

#[test]
fn the_lock_budget_holds_through_the_pooler_and_without_its_options() {
    in_ipv4_namespace("the_lock_budget_holds_through_the_pooler_and_without_its_options", || {
        let h = Ipv4::new(Prod::AtHead, true);
        let config = String::from_utf8(h.tree.read("xtask.toml")).unwrap();
        h.tree.write(
            "xtask.toml",
            config.replacen("protected = true", "protected = true\nlock_timeout = \"1s\"\nlock_retries = 0", 1),
        );
        h.tree.write(
            "migrations/20260601000000_problems_note.sql",
            "alter table public.problems add column note text;\n",
        );
        commit(&h.tree, "an ALTER that must wait");
        // The catch-up batch first, unblocked: its CONCURRENTLY file would wait for the blocker's snapshot.
        let until = "20260513175000";
        let run = h.run(&["promote", "--target", "prod", "--yes", "--skip-catalog", "--until", until]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        commit(&h.tree, "the catch-up batch promoted");
        let mut held = crate::support::connect(&h.prod_url);
        held.batch_execute("set application_name = 'nightly-report'; begin; select count(*) from public.problems;")
            .unwrap();
        let pid: i32 = held.query_one("select pg_backend_pid()", &[]).unwrap().get(0);

        // The pooler passes PGOPTIONS on: the server ends the wait at the budget.
        let run = h.run(&["promote", "--target", "prod", "--yes", "--skip-catalog", "--format", "json"]);
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        let named = format!(
            "could not take its locks on prod within the lock budget\n0 file(s) before it are applied and recorded (head 20260513175000); 0 not attempted.\nAfter 1 attempt(s) it was rolled back and is not applied; blocked by pid {pid} (nightly-report"
        );
        assert!(run.stderr.contains(&named), "{}", run.stderr);
        let record: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert!(record["lock_budget"]["attempts"][0].get("cancelled_pid").is_none(), "{record}");
        assert_eq!(versions(&h.prod_url), example_versions(), "head unchanged");
        commit(&h.tree, "the refused promotion's record");

        // A pooler that drops it: the xtask ends the wait itself, as the CLI's own role.
        h.pooler().drop_startup_options();
        let run = h.run(&["promote", "--target", "prod", "--yes", "--skip-catalog", "--format", "json"]);
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(&named), "{}", run.stderr);
        let record: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let attempt = &record["lock_budget"]["attempts"][0];
        assert!(attempt["cancelled_pid"].is_i64(), "{attempt}");
        // Bounded by the xtask, not by the blocker: the blocker still holds its transaction now that the attempt
        // has ended (a wall-clock bound failed on a loaded machine).
        let state: Option<String> = crate::support::connect(&h.prod_url)
            .query_one("select state from pg_stat_activity where pid = $1", &[&pid])
            .unwrap()
            .get(0);
        assert_eq!(state.as_deref(), Some("idle in transaction"), "the blocker still holds: {attempt}");
        assert_eq!(versions(&h.prod_url), example_versions());
        h.sessions_in_session_mode();
        drop(held);
    });
}

#[test]
fn a_history_only_write_through_the_session_pooler() {
    in_ipv4_namespace("a_history_only_write_through_the_session_pooler", || {
        let h = Ipv4::new(Prod::AtHead, true);
        // The next pending file, run by hand on production as a hotfix: its DDL, no history row.
        let hotfix = "migrations/20260512231500_cl46_fix_problem_permission_helper.sql";
        let sql = String::from_utf8(h.tree.read(hotfix)).unwrap();
        crate::support::connect(&h.prod_url).batch_execute(&sql).unwrap();
        let mut expected = versions(&h.prod_url);

        let run = h.run(&["reconcile", "--target", "prod", "--yes"]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains(&format!(
                "{hotfix} is pending, but its effect is on prod with no history row (run by hand?)"
            )),
            "{}",
            run.stdout
        );
        expected.push("20260512231500".into());
        assert_eq!(versions(&h.prod_url), expected, "one history row, and nothing else");
        let lock = String::from_utf8(h.tree.read("migrations/promotion.lock")).unwrap();
        assert!(lock.contains("[targets.prod]\nhead = \"20260512231500\""), "{lock}");
        let (ours, cli) = h.sessions_in_session_mode();
        assert!(ours > 0 && cli > 0, "the xtask's ({ours}) and the CLI's repair ({cli}) went through the session port");
        assert!(live_login_roles(&h.prod_url).is_empty(), "no login role left behind");

        // The row holds the statements as the CLI splits them: the live history matches the files.
        commit(&h.tree, "reconciled prod");
        let status = h.run(&["status", "--target", "prod", "--live", "--format", "json"]);
        assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
        let json: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
        assert_eq!(json["live"]["matches"], true, "{}", status.stdout);
    });
}
