//! The token-only scenarios `hosted` (IPv6, the direct host) and `pooler` (IPv4 only, the session pooler) both
//! play, written once: each is a function of how prod is reached (`TokenOnly`), and the caller adds what only
//! its way of reaching prod shows (the API's requests, the pooler's sessions).

use super::{Run, Tree, commit, commit_all, example_versions, versions};

/// A production reached by the Management API's token only, whatever carries its connections.
pub trait TokenOnly {
    fn tree(&self) -> &Tree;

    /// The superuser's URL of production, for the test's own reads and writes.
    fn prod_url(&self) -> &str;

    /// The xtask with the token and the runbook's SUPABASE_PROJECT_ID, and no database URL anywhere.
    fn run(&self, args: &[&str]) -> Run;

    /// The environment `run` gives the xtask (for a second checkout racing this one).
    fn env(&self) -> Vec<(&'static str, &'static str)>;
}

/// Drift the rehearsal cannot see makes the 3rd file of the batch fail on prod only: the two before it stay
/// applied and recorded; a forward fix committed then promotes the rest.
pub fn a_failure_mid_batch_then_the_forward_fix(h: &impl TokenOnly) {
    super::connect(h.prod_url()).batch_execute("create table public.sequence_permissions_probe (id int)").unwrap();
    let third = "migrations/20260513042000_ce13_sequence_permissions.sql";
    h.tree().append(
        third,
        "\n-- xtask: ack exposure: a probe table\ncreate table public.sequence_permissions_probe (id int);\n",
    );
    commit(h.tree(), "a file that collides with prod");
    let run = h.run(&["promote", "--target", "prod", "--yes", "--skip-catalog"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("20260513042000_ce13_sequence_permissions.sql failed on prod"), "{}", run.stderr);
    assert!(run.stderr.contains("relation \"sequence_permissions_probe\" already exists"), "{}", run.stderr);
    assert!(
        run.stderr.contains("2 file(s) before it are applied and recorded (head 20260513041000)"),
        "{}",
        run.stderr
    );
    assert_eq!(versions(h.prod_url()).len(), 11);

    let fixed = String::from_utf8(h.tree().read(third)).unwrap().replace(
        "create table public.sequence_permissions_probe",
        "create table if not exists public.sequence_permissions_probe",
    );
    h.tree().write(third, fixed);
    commit(h.tree(), "forward fix");
    let run = h.run(&["promote", "--target", "prod", "--yes", "--skip-catalog"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(versions(h.prod_url()), example_versions());
}

/// A second checkout of the same commit, with its own target/ (its own rehearsal cluster): another machine. Both
/// promote prod at once; every file is applied once.
pub fn two_checkouts_push_once(a: &impl TokenOnly) {
    let b = Tree::example();
    for file in ["xtask.toml", "platform.yaml", "migrations/promotion.lock"] {
        b.write(file, a.tree().read(file));
    }
    for tree in [a.tree(), &b] {
        // A slow last file keeps the first promotion inside its push while the second arrives.
        tree.write("migrations/20260601000000_slow.sql", "select pg_sleep(3);\n");
    }
    commit(a.tree(), "slow");
    commit_all(&b);
    super::race(a.tree(), &b, &a.env());
    let mut expected = example_versions();
    expected.push("20260601000000".into());
    assert_eq!(versions(a.prod_url()), expected, "every file applied once");
    assert!(super::api::live_login_roles(a.prod_url()).is_empty(), "no login role left behind");
}

/// `public.events` and its partitioned shadow on prod, then `partition parity` over them: it passes.
pub fn parity_passes(h: &impl TokenOnly) {
    super::connect(h.prod_url()).batch_execute(super::EVENTS_SQL).unwrap();
    let parity = h.run(&[
        "partition",
        "parity",
        "--target",
        "prod",
        "--source",
        "public.events",
        "--shadow",
        "public.events_p",
        "--time-column",
        "at",
        "--format",
        "json",
    ]);
    assert_eq!(parity.code, 0, "{}{}", parity.stdout, parity.stderr);
    let evidence: serde_json::Value = serde_json::from_str(&parity.stdout).unwrap();
    assert_eq!((&evidence["passed"], &evidence["windows"][0]["source_rows"]), (&true.into(), &744.into()));
}

/// `partition prune --dry-run` of the shadow's partitions older than a day: the plan it names for `--execute`.
pub fn prune_plan(h: &impl TokenOnly) -> String {
    let dry = h.run(&[
        "partition",
        "prune",
        "--target",
        "prod",
        "--table",
        "public.events_p",
        "--older-than",
        "1d",
        "--dry-run",
    ]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    dry.stderr.split("--execute ").nth(1).unwrap().trim().to_string()
}

/// `partition prune --execute plan`: the oldest partition is dropped.
pub fn prune_executes(h: &impl TokenOnly, plan: &str) {
    let run = h.run(&["partition", "prune", "--target", "prod", "--table", "public.events_p", "--execute", plan]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("dropped events_p_2025_01 (744 rows)"), "{}", run.stdout);
}
