//! The parse of what a statement must own: each statement kind, what a batch makes its own, DO blocks left out.

use super::*;

fn found(text: &str) -> Vec<(usize, &'static str, ObjectKind, String)> {
    needs_ownership(text).into_iter().map(|o| (o.line, o.statement, o.kind, o.object)).collect()
}

fn one(statement: &'static str, kind: ObjectKind, object: &str) -> Vec<(usize, &'static str, ObjectKind, String)> {
    vec![(1, statement, kind, object.to_string())]
}

use ObjectKind::{Function, Relation, Schema, Type};

#[test]
fn alter_statements_name_their_object() {
    assert_eq!(found("alter table legacy enable row level security;"), one("alter table", Relation, "public.legacy"));
    assert_eq!(
        found("alter table only s.t add constraint fk foreign key (a) references o (id);"),
        one("alter table", Relation, "s.t")
    );
    assert_eq!(found("alter table \"Legacy\" owner to x;"), one("alter table", Relation, "public.\"Legacy\""));
    assert_eq!(found("alter index s.i rename to j;"), one("alter index", Relation, "s.i"));
    assert_eq!(found("alter view v owner to x;"), one("alter view", Relation, "public.v"));
    assert_eq!(
        found("alter materialized view mv set schema s;"),
        one("alter materialized view", Relation, "public.mv")
    );
    assert_eq!(found("alter sequence q restart;"), one("alter sequence", Relation, "public.q"));
    assert_eq!(found("alter function s.f(a int, out b text) owner to x;"), one("alter function", Function, "s.f(int)"));
    assert_eq!(found("alter function f set search_path = '';"), one("alter function", Function, "public.f"));
    assert_eq!(found("alter procedure p() rename to q;"), one("alter procedure", Function, "public.p()"));
    assert_eq!(found("alter type mood add value 'meh';"), one("alter type", Type, "public.mood"));
    assert_eq!(found("alter domain d set not null;"), one("alter domain", Type, "public.d"));
    assert_eq!(found("alter schema legacy rename to old;"), one("alter schema", Schema, "legacy"));
}

#[test]
fn indexes_policies_rules_triggers_and_refreshes_name_their_table() {
    assert_eq!(found("create index if not exists i on only public.t (a);"), one("create index", Relation, "public.t"));
    assert_eq!(found("create unique index on t (a);"), one("create index", Relation, "public.t"));
    assert_eq!(found("create policy p on t using (true);"), one("create policy", Relation, "public.t"));
    assert_eq!(found("alter policy p on s.t rename to q;"), one("alter policy", Relation, "s.t"));
    assert_eq!(found("drop policy if exists p on t;"), one("drop policy", Relation, "public.t"));
    assert_eq!(found("create rule r as on insert to t do nothing;"), one("create rule", Relation, "public.t"));
    assert_eq!(found("drop rule r on t;"), one("drop rule", Relation, "public.t"));
    assert_eq!(found("drop trigger tr on s.t;"), one("drop trigger", Relation, "s.t"));
    assert_eq!(
        found("refresh materialized view concurrently mv;"),
        one("refresh materialized view", Relation, "public.mv")
    );
    assert_eq!(
        found("create table p1 partition of parent for values in (1);"),
        one("create table ... partition of", Relation, "public.parent")
    );
    assert!(found("create trigger tr after insert on t for each row execute function f();").is_empty());
    assert!(found("create table t (a int references o (id));").is_empty());
}

#[test]
fn comments_name_the_object_they_describe() {
    let text = "comment on table t is 'x';\ncomment on column s.t.c is 'x';\ncomment on column t.c is 'x';\n\
                comment on constraint k on t is 'x';\ncomment on trigger tr on t is 'x';\n\
                comment on policy p on t is 'x';\ncomment on view v is 'x';\ncomment on index i is 'x';\n\
                comment on function f(int, text) is 'x';\ncomment on type ty is 'x';\n\
                comment on domain d is 'x';\ncomment on schema s is 'x';\n";
    let objects: Vec<(usize, ObjectKind, String)> =
        needs_ownership(text).into_iter().map(|o| (o.line, o.kind, o.object)).collect();
    assert!(needs_ownership(text).iter().all(|o| o.statement == "comment on"));
    let expected = [
        (Relation, "public.t"),
        (Relation, "s.t"),
        (Relation, "public.t"),
        (Relation, "public.t"),
        (Relation, "public.t"),
        (Relation, "public.t"),
        (Relation, "public.v"),
        (Relation, "public.i"),
        (Function, "public.f(int, text)"),
        (Type, "public.ty"),
        (Type, "public.d"),
        (Schema, "s"),
    ];
    let expected: Vec<(usize, ObjectKind, String)> =
        expected.iter().enumerate().map(|(i, (k, o))| (i + 1, *k, o.to_string())).collect();
    assert_eq!(objects, expected);
}

#[test]
fn drops_name_every_object() {
    let text = "drop table if exists t, s.u;\ndrop view v;\ndrop materialized view mv;\ndrop sequence q;\n\
                drop index concurrently s.i;\ndrop function f(int), s.g;\ndrop procedure p(int);\n\
                drop type if exists ty;\ndrop domain d;\ndrop schema s1, s2 cascade;\n";
    assert_eq!(
        found(text),
        [
            (1, "drop table", Relation, "public.t".to_string()),
            (1, "drop table", Relation, "s.u".to_string()),
            (2, "drop view", Relation, "public.v".to_string()),
            (3, "drop materialized view", Relation, "public.mv".to_string()),
            (4, "drop sequence", Relation, "public.q".to_string()),
            (5, "drop index", Relation, "s.i".to_string()),
            (6, "drop function", Function, "public.f(int)".to_string()),
            (6, "drop function", Function, "s.g".to_string()),
            (7, "drop procedure", Function, "public.p(int)".to_string()),
            (8, "drop type", Type, "public.ty".to_string()),
            (9, "drop domain", Type, "public.d".to_string()),
            (10, "drop schema", Schema, "s1".to_string()),
            (10, "drop schema", Schema, "s2".to_string()),
        ]
    );
}

#[test]
fn grants_on_named_objects_but_not_of_roles_or_whole_schemas() {
    let text = "grant select, insert on table t, s.u to r;\ngrant select on v to r;\n\
                grant usage on sequence q to r;\ngrant execute on function f(int) to r;\n\
                grant usage on schema s to r;\ngrant usage on type ty to r;\nrevoke select on t from r;\n\
                grant r1 to r2;\ngrant select on all tables in schema s to r;\n";
    assert_eq!(
        found(text),
        [
            (1, "grant", Relation, "public.t".to_string()),
            (1, "grant", Relation, "s.u".to_string()),
            (2, "grant", Relation, "public.v".to_string()),
            (3, "grant", Relation, "public.q".to_string()),
            (4, "grant", Function, "public.f(int)".to_string()),
            (5, "grant", Schema, "s".to_string()),
            (6, "grant", Type, "public.ty".to_string()),
            (7, "revoke", Relation, "public.t".to_string()),
        ]
    );
    assert!(needs_ownership("grant select on t to r;")[0].is_grant());
}

#[test]
fn replacing_is_altering_creating_is_not() {
    assert_eq!(
        found("create or replace function f(a int, b double precision) returns int language sql as 'select 1';"),
        one("create or replace function", Function, "public.f(int, double precision)")
    );
    assert_eq!(found("create or replace view s.v as select 1;"), one("create or replace view", Relation, "s.v"));
    assert!(
        found("create function f() returns int language sql as 'select 1';\ncreate view v as select 1;").is_empty()
    );
}

#[test]
fn what_the_text_created_earlier_is_its_own() {
    let text = "create table t (a int);\nalter table t enable row level security;\ncreate index i on t (a);\n\
                alter index i rename to j;\nalter index j set (fillfactor = 90);\ncomment on column t.a is 'x';\n\
                create function f(int) returns int language sql as 'select 1';\nalter function f(int) owner to x;\n\
                create type ty as enum ('a');\nalter type ty add value 'b';\n\
                create schema s;\ncreate table s.u (a int);\nalter table s.u owner to x;\ndrop schema s cascade;\n\
                create table if not exists theirs (a int);\nalter table theirs owner to x;\n\
                alter table \"T\" owner to x;\n";
    assert_eq!(
        found(text),
        [
            (16, "alter table", Relation, "public.theirs".to_string()),
            (17, "alter table", Relation, "public.\"T\"".to_string()),
        ]
    );
    // Before it is created, an object is someone else's.
    assert_eq!(
        found("alter table t add column b int;\ncreate table t (a int);"),
        one("alter table", Relation, "public.t")
    );
}

#[test]
fn earlier_texts_count() {
    let found =
        needs_ownership_in_order(&["create table t (a int);", "alter table t owner to x;\nalter table u owner to x;"]);
    assert!(found[0].is_empty());
    let second: Vec<&str> = found[1].iter().map(|o| o.object.as_str()).collect();
    assert_eq!(second, ["public.u"]);
    assert_eq!(found[1][0].line, 2);
}

#[test]
fn do_blocks_and_function_bodies_are_not_looked_into() {
    let text = "do $$ begin alter table legacy owner to x; end $$;\n\
                create function f() returns void language plpgsql as $$ begin drop table legacy; end $$;\n";
    assert!(found(text).is_empty());
}
