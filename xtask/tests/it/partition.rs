//! `partition parity` and `partition prune` on a real database with generated data: a year of events, every five
//! minutes, and a partitioned shadow with a partition per month and a default.

use crate::support::{Tree, connect};

const ENV: &str = "XTASK_TEST_STAGING_URL";
const SEED: i64 = 20_200_513;
/// The documented sampling rule: a key hash below this picks the row (1% of the signed 64-bit range).
const T: i64 = -9_038_904_596_117_680_292;

fn setup() -> (Tree, String) {
    let tree = Tree::example();
    tree.append("xtask.toml", &format!("\n[targets.staging]\ndb_url_env = \"{ENV}\"\n"));
    tree.db_start();
    let url = tree.create_db("parity");
    connect(&url)
        .batch_execute(
            "create table public.events (id bigint primary key, at timestamptz not null, payload text not null, note text);
             insert into public.events
               select i, timestamptz '2026-01-01 00:00:00+00' + (i - 1) * interval '5 minutes', 'payload ' || i, null
               from generate_series(1, 105120) as i;
             create index events_at_idx on public.events (at);
             create table public.events_p (id bigint not null, at timestamptz not null, payload text not null, note text,
               primary key (id, at)) partition by range (at);
             create table public.events_p_default partition of public.events_p default;
             do $$ begin for m in 0..11 loop
               execute format('create table public.events_p_%s partition of public.events_p for values from (%L) to (%L)',
                 to_char(date '2026-01-01' + m * interval '1 month', 'YYYY_MM'),
                 (timestamptz '2026-01-01 00:00:00+00' + m * interval '1 month'),
                 (timestamptz '2026-01-01 00:00:00+00' + (m + 1) * interval '1 month'));
             end loop; end $$;
             insert into public.events_p select * from public.events;",
        )
        .unwrap();
    (tree, url)
}

fn parity(tree: &Tree, url: &str) -> (crate::support::Run, serde_json::Value) {
    let args = [
        "partition",
        "parity",
        "--target",
        "staging",
        "--source",
        "public.events",
        "--shadow",
        "public.events_p",
        "--time-column",
        "at",
        "--format",
        "json",
    ];
    let run = tree.run_env(&args, &[(ENV, url)]);
    let json = serde_json::from_str(&run.stdout).unwrap_or(serde_json::Value::Null);
    (run, json)
}

fn window<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["windows"].as_array().unwrap().iter().find(|w| w["name"] == name).unwrap_or_else(|| panic!("no window {name}"))
}

/// An id in the month whose key hash puts it in the 1% sample (the documented sampling rule).
fn sampled_id(url: &str, month: u32, nth: i64) -> i64 {
    let sql = format!(
        "select id from public.events where at >= '2026-{month:02}-01' and at < timestamptz '2026-{month:02}-01' + interval '1 month'
           and hashint8extended(id, {SEED}) < {T} order by id offset {nth} limit 1"
    );
    connect(url).query_one(&sql, &[]).unwrap().get(0)
}

fn not_sampled_ids(month: u32, offset: i64, n: i64) -> String {
    format!(
        "select id from public.events where at >= '2026-{month:02}-01' and at < timestamptz '2026-{month:02}-01' + interval '1 month'
           and hashint8extended(id, {SEED}) >= {T} order by id offset {offset} limit {n}"
    )
}

#[test]
fn identical_tables_pass_and_the_same_inputs_give_the_same_sample() {
    let (tree, url) = setup();
    let (run, json) = parity(&tree, &url);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let windows = json["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 15, "12 months, the default partition, recent, overlap");
    assert!(windows.iter().all(|w| w["passed"] == true));
    let feb = window(&json, "events_p_2026_02");
    assert_eq!(feb["source_rows"], 8064);
    assert!(feb["sampled_source"].as_u64().unwrap() > 40, "{feb}");
    assert_eq!(window(&json, "recent 30d")["kind"], "recent");
    assert!(run.stderr.contains("Evidence: docs/database/evidence/"), "{}", run.stderr);
    let evidence: Vec<_> = std::fs::read_dir(tree.path("docs/database/evidence"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    assert_eq!(evidence.len(), 2, "{evidence:?}");

    let (again, json2) = parity(&tree, &url);
    assert_eq!(again.code, 0);
    let digests = |j: &serde_json::Value| {
        j["windows"].as_array().unwrap().iter().map(|w| w["sample_digest"].clone()).collect::<Vec<_>>()
    };
    assert_eq!(digests(&json), digests(&json2));
}

#[test]
fn each_defect_is_found_in_its_window() {
    let (tree, url) = setup();
    let (deleted, changed, null_vs_empty) = (sampled_id(&url, 2, 0), sampled_id(&url, 3, 0), sampled_id(&url, 6, 0));
    // A new id that the sample picks, placed in April: a row only the shadow has.
    let extra: i64 = connect(&url)
        .query_one(&format!("select i::bigint from generate_series(200000, 300000) i where hashint8extended(i, {SEED}) < {T} limit 1"), &[])
        .unwrap()
        .get(0);
    connect(&url)
        .batch_execute(&format!(
            "delete from public.events_p where id = {deleted};
             update public.events_p set payload = payload || '!' where id = {changed};
             insert into public.events_p values ({extra}, '2026-04-10 12:00:00+00', 'ghost', null);
             delete from public.events_p where at >= '2026-05-10' and at < '2026-05-11';
             update public.events_p set note = '' where id = {null_vs_empty};"
        ))
        .unwrap();
    let (run, json) = parity(&tree, &url);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("do not cut over"), "{}", run.stderr);
    let key = |id: i64| serde_json::json!([format!("({id})")]);
    assert_eq!(window(&json, "events_p_2026_02")["only_in_source"], key(deleted));
    assert_eq!(window(&json, "events_p_2026_03")["differing"], key(changed));
    assert_eq!(window(&json, "events_p_2026_04")["only_in_shadow"], key(extra));
    let may = window(&json, "events_p_2026_05");
    assert_eq!(
        (may["variance"].clone(), may["counts_ok"].clone()),
        (serde_json::json!(-288), serde_json::json!(false))
    );
    assert_eq!(window(&json, "events_p_2026_06")["differing"], key(null_vs_empty), "NULL and '' hash apart");
    for month in ["01", "07", "08", "09", "12"] {
        assert_eq!(window(&json, &format!("events_p_2026_{month}"))["passed"], true, "month {month}");
    }
}

#[test]
fn count_variance_at_the_threshold_passes_and_one_past_fails() {
    let (tree, url) = setup();
    let delete = |offset: i64, n: i64| {
        connect(&url)
            .batch_execute(&format!("delete from public.events_p where id in ({})", not_sampled_ids(2, offset, n)))
            .unwrap()
    };
    delete(0, 100);
    let (run, json) = parity(&tree, &url);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(window(&json, "events_p_2026_02")["variance"], -100);
    delete(100, 1);
    let (run, json) = parity(&tree, &url);
    assert_eq!(run.code, 1);
    let feb = window(&json, "events_p_2026_02");
    assert_eq!(
        (feb["variance"].clone(), feb["counts_ok"].clone(), feb["mismatches"].clone()),
        (serde_json::json!(-101), serde_json::json!(false), serde_json::json!(0))
    );
}

#[test]
fn bad_inputs_are_refused_and_nothing_is_written() {
    let (tree, url) = setup();
    connect(&url).batch_execute("create table public.nopk (at timestamptz not null, v int); create table public.nopk_p (at timestamptz not null, v int) partition by range (at);").unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["--source", "public.nope", "--shadow", "public.events_p", "--time-column", "at"],
            "table public.nope does not exist",
        ),
        (
            &["--source", "public.events", "--shadow", "public.events", "--time-column", "at"],
            "public.events is not a partitioned table",
        ),
        (
            &["--source", "public.events", "--shadow", "public.events_p", "--time-column", "payload"],
            "--time-column payload of public.events is text",
        ),
        (
            &["--source", "public.nopk", "--shadow", "public.nopk_p", "--time-column", "at"],
            "public.nopk has no primary key; name the columns that identify a row with --key",
        ),
    ];
    for (args, message) in cases {
        let mut all = vec!["partition", "parity", "--target", "staging"];
        all.extend_from_slice(args);
        let run = tree.run_env(&all, &[(ENV, &url)]);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
    }
    assert!(!tree.path("docs/database/evidence").exists(), "no evidence for a refused run");
}

#[test]
fn recent_and_overlap_windows_are_summed_from_the_partitions_they_overlap() {
    let (tree, url) = setup();
    let (_, clean) = parity(&tree, &url);
    let snapshot = clean["snapshot_time"].as_str().unwrap().to_string();
    let count = |from: &str, to: &str| -> i64 {
        let sql = format!(
            "select count(*) from public.events where at >= timestamptz '{snapshot}' - interval '{from}' and at < timestamptz '{snapshot}' - interval '{to}'"
        );
        connect(&url).query_one(&sql, &[]).unwrap().get(0)
    };
    assert_eq!(window(&clean, "recent 30d")["source_rows"], count("30 days", "-100 years"));
    assert_eq!(window(&clean, "overlap 7d")["source_rows"], count("37 days", "30 days"));
    assert_eq!(window(&clean, "recent 30d")["shadow_rows"], window(&clean, "recent 30d")["source_rows"]);

    // A sampled row of the recent days, gone from the shadow: its partition and the recent window both name it.
    let sql = format!(
        "select id from public.events where at >= timestamptz '{snapshot}' - interval '20 days' and at < timestamptz '{snapshot}' - interval '19 days'
           and hashint8extended(id, {SEED}) < {T} order by id limit 1"
    );
    let (id, month): (i64, String) = {
        let id: i64 = connect(&url).query_one(&sql, &[]).unwrap().get(0);
        let month: String = connect(&url)
            .query_one("select to_char(at, 'YYYY_MM') from public.events where id = $1", &[&id])
            .unwrap()
            .get(0);
        (id, month)
    };
    connect(&url).batch_execute(&format!("delete from public.events_p where id = {id}")).unwrap();
    let (run, json) = parity(&tree, &url);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let key = serde_json::json!([format!("({id})")]);
    assert_eq!(window(&json, &format!("events_p_{month}"))["only_in_source"], key);
    assert_eq!(window(&json, "recent 30d")["only_in_source"], key);
    assert_eq!(window(&json, "overlap 7d")["passed"], true);
}

#[test]
fn source_rows_no_partition_can_hold_fail_without_a_default_partition() {
    let (tree, url) = setup();
    connect(&url)
        .batch_execute(
            "alter table public.events_p detach partition public.events_p_default;
             insert into public.events values (900001, '2027-03-01 00:00:00+00', 'after the last partition', null);",
        )
        .unwrap();
    let (run, json) = parity(&tree, &url);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let outside = window(&json, "(outside every partition)");
    assert_eq!(
        (
            outside["kind"].clone(),
            outside["source_rows"].clone(),
            outside["shadow_rows"].clone(),
            outside["passed"].clone()
        ),
        (serde_json::json!("outside"), serde_json::json!(1), serde_json::json!(0), serde_json::json!(false)),
        "one row is within the count threshold, but the shadow can never hold it"
    );
    assert_eq!(
        json["windows"].as_array().unwrap().iter().filter(|w| w["passed"] == false).count(),
        1,
        "the recent window allows one row of lag"
    );
}

#[test]
fn rows_without_a_time_are_the_default_windows_and_a_changed_one_is_named() {
    let (tree, url) = setup();
    connect(&url)
        .batch_execute(
            "create table public.n (id bigint primary key, at timestamptz, v text);
             insert into public.n select i, case when i % 10 = 0 then null else timestamptz '2026-01-01 00:00:00+00' + i * interval '1 hour' end, 'v' || i
               from generate_series(1, 2000) i;
             create table public.n_p (id bigint not null, at timestamptz, v text) partition by range (at);
             create table public.n_p_2026 partition of public.n_p for values from ('2026-01-01 00:00:00+00') to ('2027-01-01 00:00:00+00');
             create table public.n_p_default partition of public.n_p default;
             insert into public.n_p select * from public.n;",
        )
        .unwrap();
    let run = || {
        let args = ["partition", "parity", "--target", "staging", "--source", "public.n", "--shadow", "public.n_p"];
        let more = ["--time-column", "at", "--sample-pct", "100", "--format", "json"];
        let run = tree.run_env(&[&args[..], &more[..]].concat(), &[(ENV, &url)]);
        let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or(serde_json::Value::Null);
        (run, json)
    };
    let (first, json) = run();
    assert_eq!(first.code, 0, "{}", first.stderr);
    let figures =
        |w: &serde_json::Value| (w["source_rows"].clone(), w["shadow_rows"].clone(), w["sampled_source"].clone());
    assert_eq!(figures(window(&json, "n_p_default")), (200.into(), 200.into(), 200.into()), "the NULL times");
    assert_eq!(figures(window(&json, "n_p_2026")), (1800.into(), 1800.into(), 1800.into()));
    // A NULL time compares as unknown: without its own test it would fall past the last bound, into `recent`.
    assert_eq!(figures(window(&json, "recent 30d")), (0.into(), 0.into(), 0.into()));
    connect(&url).batch_execute("update public.n_p set v = 'changed' where id = 40").unwrap();
    let (second, json) = run();
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert_eq!(window(&json, "n_p_default")["differing"], serde_json::json!(["(40)"]));
    assert_eq!(window(&json, "n_p_2026")["passed"], true);
}

fn prune(tree: &Tree, url: &str, args: &[&str]) -> crate::support::Run {
    let mut all = vec!["partition", "prune", "--target", "staging"];
    all.extend_from_slice(args);
    tree.run_env(&all, &[(ENV, url)])
}

fn plan_path(run: &crate::support::Run) -> String {
    let start = run.stderr.find("--execute ").expect("the plan is named") + "--execute ".len();
    run.stderr[start..].trim().to_string()
}

fn partitions(url: &str, table: &str) -> Vec<String> {
    connect(url)
        .query(&format!("select c.relname::text from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = '{table}'::regclass order by 1"), &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn prune_plans_never_list_the_newest_or_default_and_run_only_as_reviewed() {
    let (tree, url) = setup();
    connect(&url)
        .batch_execute(
            "create table public.old_events (id bigint, at timestamptz not null) partition by range (at);
             create table public.old_events_2025_01 partition of public.old_events for values from ('2025-01-01 00:00:00+00') to ('2025-02-01 00:00:00+00');
             create table public.old_events_2025_02 partition of public.old_events for values from ('2025-02-01 00:00:00+00') to ('2025-03-01 00:00:00+00');
             create table public.old_events_2025_03 partition of public.old_events for values from ('2025-03-01 00:00:00+00') to ('2025-04-01 00:00:00+00');
             create table public.old_events_default partition of public.old_events default;
             insert into public.old_events select i, timestamptz '2025-01-01 00:00:00+00' + i * interval '1 hour' from generate_series(0, 2000) i;",
        )
        .unwrap();
    let run = prune(&tree, &url, &["--table", "public.old_events", "--older-than", "1d", "--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan = plan_path(&run);
    let json: serde_json::Value = serde_json::from_str(&String::from_utf8(tree.read(&plan)).unwrap()).unwrap();
    let listed: Vec<&str> =
        json["plan"]["partitions"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(listed, ["old_events_2025_01", "old_events_2025_02"], "never the newest (2025_03) or the default");
    assert_eq!(json["plan"]["partitions"][0]["rows"], 744);
    assert_eq!(partitions(&url, "public.old_events").len(), 4, "a dry run changes nothing");

    // A hand-edited plan is refused.
    let text = String::from_utf8(tree.read(&plan)).unwrap();
    tree.write("edited.plan.json", text.replace("\"rows\": 744", "\"rows\": 7"));
    let run = prune(&tree, &url, &["--table", "public.old_events", "--execute", "edited.plan.json"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("was edited after `--dry-run` wrote it"), "{}", run.stderr);
    assert_eq!(partitions(&url, "public.old_events").len(), 4);

    let run = prune(&tree, &url, &["--table", "public.old_events", "--execute", &plan]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(partitions(&url, "public.old_events"), ["old_events_2025_03", "old_events_default"]);
    let gone: Option<String> =
        connect(&url).query_one("select to_regclass('public.old_events_2025_01')::text", &[]).unwrap().get(0);
    assert_eq!(gone, None, "detached and dropped");
    assert!(
        run.stdout.contains("detached old_events_2025_01")
            && run.stdout.contains("dropped old_events_2025_01 (744 rows)"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_plan_is_refused_when_a_partition_changed_since_review() {
    let (tree, url) = setup();
    let run = prune(&tree, &url, &["--table", "public.events_p", "--older-than", "1d", "--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan = plan_path(&run);
    let json: serde_json::Value = serde_json::from_str(&String::from_utf8(tree.read(&plan)).unwrap()).unwrap();
    let listed = json["plan"]["partitions"].as_array().unwrap();
    assert!(
        !listed.is_empty() && listed.iter().all(|p| p["name"] != "events_p_default" && p["name"] != "events_p_2026_12")
    );

    connect(&url).batch_execute("alter table public.events_p detach partition public.events_p_2026_01").unwrap();
    let before = partitions(&url, "public.events_p");
    let run = prune(&tree, &url, &["--table", "public.events_p", "--execute", &plan]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("events_p_2026_01 no longer exist(s) with the reviewed bound"), "{}", run.stderr);
    assert_eq!(partitions(&url, "public.events_p"), before, "nothing detached or dropped");
}

#[test]
fn evidence_about_the_embedded_database_stays_under_target_and_leaves_the_checkout_clean() {
    let tree = Tree::example();
    let local = tree.db_start();
    connect(&local).batch_execute(crate::support::EVENTS_SQL).unwrap();
    let before = tree.contents();
    let args = [
        "partition",
        "parity",
        "--target",
        "local",
        "--source",
        "public.events",
        "--shadow",
        "public.events_p",
        "--time-column",
        "at",
    ];
    let run = tree.run(&args);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("Evidence: target/xtask/evidence/"), "{}", run.stderr);
    let prune = tree.run(&[
        "partition",
        "prune",
        "--target",
        "local",
        "--table",
        "public.events_p",
        "--older-than",
        "1d",
        "--dry-run",
    ]);
    assert_eq!(prune.code, 0, "{}", prune.stderr);
    assert!(prune.stderr.contains("--execute target/xtask/evidence/"), "{}", prune.stderr);
    assert_eq!(tree.contents(), before, "nothing written outside target/");
}

/// What the cutover and its rollback change, as text: relations and their partition keys, columns with their
/// defaults and identities, triggers, policies, privileges, and the functions' bodies in public.
const SCHEMA: &str = "select string_agg(x, E'\\n' order by x) from (
    select 'rel ' || c.relname || ' ' || c.relkind::text || ' ' || coalesce(pg_get_partkeydef(c.oid), '') || ' acl ' || coalesce(c.relacl::text, '')
      from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'S', 'i', 'I')
    union all select 'col ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attidentity::text || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
      from pg_attribute a join pg_class c on c.oid = a.attrelid left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
    union all select 'trigger ' || tgname || ' on ' || tgrelid::regclass from pg_trigger where not tgisinternal
    union all select 'policy ' || polname || ' on ' || polrelid::regclass from pg_policy
    union all select 'function ' || p.oid::regprocedure || ' ' || md5(prosrc) || ' ' || coalesce(proacl::text, '') from pg_proc p where pronamespace = 'public'::regnamespace
  ) s(x)";

fn schema(url: &str) -> String {
    connect(url).query_one(SCHEMA, &[]).unwrap().get(0)
}

fn relkind(url: &str, table: &str) -> String {
    connect(url)
        .query_one("select relkind::text from pg_class where oid = $1::text::regclass", &[&table])
        .unwrap()
        .get(0)
}

const CUTOVER: &str = "20260615090000_audit_log_partition_cutover.sql";
const ROLLBACK: &str = "migrations/rollback/20260615090000_audit_log_partition_cutover.sql";

#[test]
fn a_cutover_reaches_a_protected_target_only_with_evidence_a_window_and_a_rehearsed_rollback() {
    let tree = Tree::full_example();
    tree.append("xtask.toml", &format!("\n[targets.staging]\ndb_url_env = \"{ENV}\"\n"));
    let prod = crate::support::prod_at_its_head(&tree, ENV);
    crate::support::commit_all(&tree);
    let env = [("PROD_DB_URL", prod.as_str())];
    let promote = |extra: &[&str]| {
        let mut args = vec!["promote", "--target", "prod", "--yes", "--skip-catalog"];
        args.extend_from_slice(extra);
        tree.run_env(&args, &env)
    };
    let parity_of = |target: &str, url: &str| {
        let args = [
            "partition",
            "parity",
            "--target",
            target,
            "--source",
            "public.audit_log",
            "--shadow",
            "public.audit_log_p",
            "--time-column",
            "at",
        ];
        let run = tree.run_env(&args, &[("PROD_DB_URL", url), ("DEV_DB_URL", url)]);
        crate::support::commit_all(&tree);
        run
    };
    let run = promote(&["--until", "20260601091000"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    connect(&prod)
        .batch_execute("insert into public.audit_log (entity, action, at) select 'form', 'update', timestamptz '2026-01-01 00:00:00+00' + i * interval '20 minutes' from generate_series(1, 20000) as i")
        .unwrap();
    crate::support::commit_all(&tree);

    // Neither evidence nor a window: both named, with the commands that produce them.
    let run = promote(&[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains(&format!("migrations/{CUTOVER}:13 swaps public.audit_log_p into public.audit_log: no parity evidence. Produce it: `cargo xtask partition parity --target prod --source public.audit_log --shadow public.audit_log_p --time-column at`")), "{}", run.stderr);
    assert!(run.stderr.contains("phase-2 partition work runs in a maintenance window, and none is declared for prod: pass `--maintenance-window \"<why or ticket>\"`"), "{}", run.stderr);
    assert_eq!(crate::support::versions(&prod).len(), 25, "nothing pushed");

    // Passing evidence, but about another database.
    let other = tree.create_db("other");
    let run = tree.run_env(
        &["promote", "--target", "dev", "--yes", "--skip-catalog", "--until", "20260601091000"],
        &[("DEV_DB_URL", other.as_str())],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(parity_of("dev", &other).code, 0);
    let run = promote(&["--maintenance-window", "CHG-1234"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("parity evidence only for another database (docs/database/evidence/"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("/other (server "), "{}", run.stderr);
    assert!(!run.stderr.contains("maintenance window, and"), "the window is declared: {}", run.stderr);

    // Failing evidence about prod: the shadow lost rows.
    connect(&prod).batch_execute("delete from public.audit_log_p where id <= 300").unwrap();
    assert_eq!(parity_of("prod", &prod).code, 1);
    let run = promote(&["--maintenance-window", "CHG-1234"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("the newest parity evidence failed (docs/database/evidence/"), "{}", run.stderr);

    // Backfilled and passing, but older than the configured age. The age allowed is 0s rather than a short one
    // waited out: evidence taken before this promotion started is already older than that, so no clock must pass.
    connect(&prod).batch_execute("select public.audit_log_p_backfill('2026-01-01', '2027-01-01')").unwrap();
    assert_eq!(parity_of("prod", &prod).code, 0);
    let config = String::from_utf8(tree.read("xtask.toml")).unwrap();
    tree.write("xtask.toml", format!("{config}\n[partition]\nevidence_max_age = \"0s\"\n"));
    crate::support::commit_all(&tree);
    let run = promote(&["--maintenance-window", "CHG-1234"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("old; [partition] evidence_max_age is 0s"), "{}", run.stderr);
    tree.write("xtask.toml", &config);

    // A rollback that forgets the cutover's policy is refused at the rehearsal.
    let rollback = String::from_utf8(tree.read(ROLLBACK)).unwrap();
    tree.write(ROLLBACK, rollback.replace("drop policy \"admins read the audit log\" on public.audit_log;\n", ""));
    crate::support::commit_all(&tree);
    let run = promote(&["--maintenance-window", "CHG-1234"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains(&format!("the rollback of {CUTOVER} does not restore the schema from before the cutover (1 difference(s), rehearsed on a local shadow); nothing was pushed to prod")), "{}", run.stderr);
    assert!(
        run.stderr.contains("policy public.audit_log_p.\"admins read the audit log\": left behind by the rollback"),
        "{}",
        run.stderr
    );
    assert_eq!(crate::support::versions(&prod).len(), 25, "nothing pushed");
    tree.write(ROLLBACK, &rollback);
    crate::support::commit_all(&tree);

    // Everything the runbook asks for: promoted, and the record says on what grounds.
    let before = schema(&prod);
    let run = promote(&["--maintenance-window", "CHG-1234 audit_log cutover", "--format", "json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(crate::support::versions(&prod).len(), 26);
    assert_eq!(relkind(&prod, "public.audit_log"), "p");
    let record: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let cutover = &record["cutover"];
    assert_eq!(cutover["window"]["declared"], "--maintenance-window \"CHG-1234 audit_log cutover\"");
    assert!(cutover["window"]["start"].is_string() && cutover["window"]["end"].is_string(), "{cutover}");
    let evidence = &cutover["evidence"][0];
    let path = evidence["path"].as_str().unwrap();
    assert!(path.starts_with("docs/database/evidence/") && path.ends_with("-parity-public.audit_log.json"), "{path}");
    let digest = sha256_hex(&tree.read(path));
    assert_eq!(evidence["sha256"].as_str(), Some(digest.as_str()));
    let file = &cutover["files"][0];
    assert_eq!(file["file"], CUTOVER);
    assert!(file["criteria"].as_str().unwrap().starts_with("writes to audit_log fail"), "{file}");
    assert_eq!(file["rollback"]["file"], "rollback/20260615090000_audit_log_partition_cutover.sql");
    assert!(cutover["rollback_rehearsal"].as_str().unwrap().contains("the schema came back as before"), "{cutover}");
    let md = String::from_utf8(tree.read(&record_md(&tree))).unwrap();
    assert!(md.contains("## Partition cutover"), "{md}");
    assert!(md.contains(&format!("- parity evidence for public.audit_log_p -> public.audit_log: `{path}`")), "{md}");

    // The rollback by hand: shown first, then run; the schema is the one before the cutover, new rows kept.
    connect(&prod)
        .batch_execute("insert into public.audit_log (entity, action) values ('form', 'after the cutover')")
        .unwrap();
    let record_json = record_md(&tree).replace(".md", ".json");
    let run = tree.run_env(&["partition", "rollback", "--target", "prod", "--dry-run", &record_json], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("alter table public.audit_log_unpartitioned rename to audit_log;"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "Nothing was run. To run it: cargo xtask partition rollback --target prod --execute {record_json}"
        )),
        "{}",
        run.stdout
    );
    assert_eq!(relkind(&prod, "public.audit_log"), "p", "a dry run changes nothing");
    let run = tree.run_env(&["partition", "rollback", "--target", "prod", "--execute", &record_json, "--yes"], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(schema(&prod), before);
    let kept: i64 = connect(&prod)
        .query_one("select count(*) from public.audit_log where action = 'after the cutover'", &[])
        .unwrap()
        .get(0);
    assert_eq!(kept, 1);
    assert!(run.stdout.contains("Record: docs/database/promotions/"), "{}", run.stdout);
}

fn record_md(tree: &Tree) -> String {
    let dir = tree.path("docs/database/promotions");
    let mut mds: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with("-prod.md"))
        .collect();
    mds.sort();
    format!("docs/database/promotions/{}", mds.last().unwrap())
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
