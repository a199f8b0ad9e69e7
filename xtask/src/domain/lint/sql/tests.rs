//! The facts one parse of a file yields, statement kind by statement kind.

use super::*;

fn facts_of(sql: &str) -> Vec<Fact> {
    let analysis = analyze(sql, &LintSettings { squawk_rules: &[] });
    assert!(analysis.parse_errors.is_empty(), "{:?}", analysis.parse_errors);
    analysis.facts.into_iter().map(|(_, f)| f).collect()
}

#[test]
fn destructive_statements() {
    let sql = "drop table if exists public.a;\nalter table b drop column c;\nalter table b alter column d type bigint;\n\
               alter type e rename value 'x' to 'y';\nalter type e add value 'z';\ndrop function f(int);\n\
               drop type g;\ndrop schema h;\ntruncate i;\n";
    let destructive: Vec<String> =
        facts_of(sql).into_iter().filter_map(|f| if let Fact::Destructive(s) = f { Some(s) } else { None }).collect();
    assert_eq!(
        destructive,
        [
            "drop table if exists public.a",
            "ALTER TABLE b drop column c",
            "ALTER TABLE b alter column d type bigint",
            "alter type e rename value 'x' to 'y'",
            "drop function f(int)",
            "drop type g",
            "drop schema h",
            "truncate i",
        ]
    );
}

#[test]
fn concurrent_and_transaction_statements() {
    let facts = facts_of(
        "create index concurrently if not exists i on t (a);\ndrop index concurrently i;\nreindex index concurrently i;\n\
         begin;\ncommit;\nrollback;\nsavepoint s;\nrollback to savepoint s;\n",
    );
    assert_eq!(
        facts,
        [
            Fact::Concurrently { what: "CREATE INDEX CONCURRENTLY", rerunnable: true },
            Fact::Concurrently { what: "DROP INDEX CONCURRENTLY", rerunnable: false },
            Fact::Concurrently { what: "REINDEX CONCURRENTLY", rerunnable: true },
            Fact::TransactionControl("BEGIN"),
            Fact::TransactionControl("COMMIT"),
            Fact::TransactionControl("ROLLBACK"),
        ]
    );
}

#[test]
fn partition_work() {
    let facts = facts_of(
        "create table public.events_p (id bigint, at timestamptz) partition by range (at);\n\
         create table events_p_2026 partition of events_p for values from ('2026-01-01') to ('2027-01-01');\n\
         create function sync_events() returns trigger language plpgsql as $$ begin insert into public.events_p values (new.*); return new; end $$;\n\
         create trigger events_sync after insert on public.events for each row execute function public.sync_events();\n\
         alter table events rename to events_old;\n\
         alter table events_p detach partition events_p_2026 concurrently;\n",
    );
    assert_eq!(facts[0], Fact::CreateTable { name: "events_p".into(), partitioned: true, partition_of: None });
    assert_eq!(
        facts[1],
        Fact::CreateTable { name: "events_p_2026".into(), partitioned: false, partition_of: Some("events_p".into()) }
    );
    assert!(
        matches!(&facts[2], Fact::CreateFunction { name, returns_trigger: true, body, dynamic_sql: false } if name == "sync_events" && body.contains("insert into public.events_p"))
    );
    assert_eq!(facts[3], Fact::CreateTrigger { table: "events".into(), function: "sync_events".into() });
    assert_eq!(facts[4], Fact::RenameTable { from: "events".into(), to: "events_old".into() });
    assert_eq!(facts[5], Fact::Concurrently { what: "DETACH PARTITION CONCURRENTLY", rerunnable: false });
    assert_eq!(facts[6], Fact::DetachPartition { parent: "events_p".into() });
}

#[test]
fn extensions() {
    let facts =
        facts_of("create extension if not exists \"uuid-ossp\" with schema extensions;\ncreate extension pg_cron;\n");
    assert_eq!(facts, [Fact::CreateExtension("uuid-ossp".into()), Fact::CreateExtension("pg_cron".into())]);
}

#[test]
fn policy_statements_name_their_table() {
    let facts = facts_of(
        "create policy p on public.notes for select using (true);\nalter policy p on auth.users rename to q;\n\
         drop policy if exists q on storage.objects;\ncomment on policy q on storage.buckets is 'x';\n\
         comment on table notes is 'y';\n",
    );
    let tables: Vec<&str> =
        facts.iter().filter_map(|f| if let Fact::Policy { table } = f { Some(table.as_str()) } else { None }).collect();
    assert_eq!(tables, ["notes", "auth.users", "storage.objects", "storage.buckets"]);
}

#[test]
fn directives_in_comments() {
    let a = analyze(
        "-- xtask: ack destructive: replaced by v2, no callers left\n-- xtask: ack destructive\n-- xtask: partition-phase 2\n-- xtask: frobnicate\nselect 1;\n",
        &LintSettings { squawk_rules: &[] },
    );
    assert_eq!(
        a.directives.destructive_acks,
        [
            (Pos { line: 1, col: 1 }, Some("replaced by v2, no callers left".to_string())),
            (Pos { line: 2, col: 1 }, None)
        ]
    );
    assert_eq!(a.directives.partition_phase, Some((Pos { line: 3, col: 1 }, 2)));
    assert_eq!(a.directives.malformed.len(), 1);
    assert_eq!(a.statement_count, 1);
}

#[test]
fn parse_errors_name_the_line_and_the_word() {
    let a = analyze("select 1;\ncreate tabel x (\n  id int\n);\n", &LintSettings { squawk_rules: &[] });
    let expected = (Pos { line: 2, col: 8 }, "syntax error at or near \"tabel\": not a CREATE command".to_string());
    assert_eq!(a.parse_errors, [expected]);
}
