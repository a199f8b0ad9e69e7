//! The rewrites over real parses: the flags come from the same analysis `check` runs (squawk's default rules and
//! our own facts), so a test fails when a rule stops flagging what its rewrite is for.

use super::*;
use crate::domain::lint::sql::{self, Fact, LintSettings};

/// What `check`'s rules would flag in one file: squawk's violations and our own statement facts.
fn flags_of(text: &str) -> Vec<Flag> {
    use squawk_linter::Rule as R;
    let rules = [
        R::RequireConcurrentIndexCreation,
        R::RequireConcurrentIndexDeletion,
        R::RequireConcurrentReindex,
        R::ConstraintMissingNotValid,
        R::AddingForeignKeyConstraint,
        R::AddingNotNullableField,
        R::AddingRequiredField,
        R::DisallowedUniqueConstraint,
    ];
    let a = sql::analyze(text, &LintSettings { squawk_rules: &rules });
    let mut out: Vec<Flag> = a.violations.iter().map(|v| (v.pos, v.rule.to_string())).collect();
    for (pos, fact) in &a.facts {
        match fact {
            Fact::Destructive(_) => out.push((*pos, "destructive".into())),
            Fact::Concurrently { .. } if a.statement_count > 1 => out.push((*pos, "concurrently".into())),
            Fact::TransactionControl(_) => out.push((*pos, "transaction-control".into())),
            _ => {}
        }
    }
    out
}

fn split_of(text: &str) -> Split {
    split("migrations/20260701000000_x.sql", text, &flags_of(text), &Context::default())
}

fn parts_text(s: &Split) -> String {
    s.parts.iter().map(|p| format!("==== {}\n{}", p.name.as_deref().unwrap_or("(the file)"), p.text)).collect()
}

const MIXED: &str = "-- Contacts: lookups by email, owner links.\n\
create table public.notes (id bigint primary key, body text);\n\
create index contacts_email_idx on public.contacts (email);\n\
alter table public.contacts add constraint contacts_owner_fk foreign key (owner_id) references public.profiles (id);\n\
alter table public.contacts alter column email set not null;\n\
-- one email per organisation\n\
alter table public.contacts add constraint contacts_org_email_key unique (organization_id, email);\n\
drop index public.contacts_old_idx;\n\
grant select on public.notes to authenticated;\n";

#[test]
fn every_mechanical_case_is_split_into_migrations_that_keep_the_order() {
    let s = split_of(MIXED);
    assert!(s.left.is_empty(), "{:#?}", s.left);
    expect_test::expect![[r#"
        ==== (the file)
        -- Contacts: lookups by email, owner links.
        create table public.notes (id bigint primary key, body text);
        ==== index_contacts_email_idx
        -- Split off 20260701000000_x.sql by `cargo xtask fix`: CREATE INDEX contacts_email_idx. A CONCURRENTLY statement runs outside the CLI's transaction, so it stands alone.
        create index CONCURRENTLY IF NOT EXISTS contacts_email_idx on public.contacts (email);
        ==== add_contacts_owner_fk
        -- Split off 20260701000000_x.sql by `cargo xtask fix`: ADD CONSTRAINT contacts_owner_fk. It followed CREATE INDEX contacts_email_idx, which runs in a migration of its own.
        alter table public.contacts add constraint contacts_owner_fk foreign key (owner_id) references public.profiles (id) NOT VALID;
        ==== validate_contacts_owner_fk
        -- Split off 20260701000000_x.sql by `cargo xtask fix`: VALIDATE CONSTRAINT contacts_owner_fk. The VALIDATE runs once the NOT VALID constraint has committed.
        alter table public.contacts VALIDATE CONSTRAINT contacts_owner_fk;
        ==== add_contacts_email_not_null
        -- Split off 20260701000000_x.sql by `cargo xtask fix`: ADD CONSTRAINT contacts_email_not_null. It followed VALIDATE CONSTRAINT contacts_owner_fk, which runs in a migration of its own.
        alter table public.contacts ADD CONSTRAINT contacts_email_not_null CHECK (email IS NOT NULL) NOT VALID;
        ==== validate_contacts_email_not_null
        -- Split off 20260701000000_x.sql by `cargo xtask fix`: VALIDATE CONSTRAINT contacts_email_not_null. The VALIDATE runs once the NOT VALID constraint has committed.
        alter table public.contacts VALIDATE CONSTRAINT contacts_email_not_null;
        ==== set_not_null_email
        -- Split off 20260701000000_x.sql by `cargo xtask fix`: SET NOT NULL on public.contacts.email and the statement after it. It runs once the check is valid, which spares SET NOT NULL its scan.
        -- squawk-ignore adding-not-nullable-field -- the valid check contacts_email_not_null proves it: no scan
        alter table public.contacts ALTER COLUMN email SET NOT NULL;
        alter table public.contacts DROP CONSTRAINT contacts_email_not_null;
        ==== unique_index_contacts_org_email_key
        -- Split off 20260701000000_x.sql by `cargo xtask fix`: CREATE UNIQUE INDEX contacts_org_email_key. A CONCURRENTLY statement runs outside the CLI's transaction, so it stands alone.
        -- one email per organisation
        CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS contacts_org_email_key ON public.contacts (organization_id, email);
        ==== add_contacts_org_email_key
        -- Split off 20260701000000_x.sql by `cargo xtask fix`: ADD CONSTRAINT contacts_org_email_key. It followed CREATE UNIQUE INDEX contacts_org_email_key, which runs in a migration of its own.
        alter table public.contacts ADD CONSTRAINT contacts_org_email_key UNIQUE USING INDEX contacts_org_email_key;
        ==== drop_index_contacts_old_idx
        -- Split off 20260701000000_x.sql by `cargo xtask fix`: DROP INDEX public.contacts_old_idx. A CONCURRENTLY statement runs outside the CLI's transaction, so it stands alone.
        drop index CONCURRENTLY IF EXISTS public.contacts_old_idx;
        ==== grant_select_on_notes
        -- Split off 20260701000000_x.sql by `cargo xtask fix`: `grant select on public.notes`. It followed DROP INDEX public.contacts_old_idx, which runs in a migration of its own.
        grant select on public.notes to authenticated;
    "#]]
    .assert_eq(&parts_text(&s));
    let codes: Vec<String> = s.fixed.iter().map(|f| f.codes.join(",")).collect();
    assert_eq!(
        codes,
        [
            "require-concurrent-index-creation",
            "constraint-missing-not-valid,adding-foreign-key-constraint",
            "adding-not-nullable-field",
            "constraint-missing-not-valid,disallowed-unique-constraint",
            "require-concurrent-index-deletion",
        ]
    );
}

#[test]
fn the_split_files_pass_the_rules_they_were_split_for() {
    for part in split_of(MIXED).parts {
        let left: Vec<String> = flags_of(&part.text).into_iter().map(|(_, code)| code).collect();
        assert_eq!(left, Vec::<String>::new(), "{}", part.text);
    }
}

#[test]
fn what_needs_the_author_is_suggested_not_written() {
    let text = "alter table public.events alter column id type bigint;\n\
                alter table public.events add column tenant uuid not null;\n\
                create index on public.events (lower(kind));\n\
                alter table public.events add check (at > '2020-01-01') ;\n";
    let s = split_of(text);
    assert_eq!(s.parts.len(), 1);
    assert_eq!(s.parts[0].text, text, "nothing manual is written");
    let left: Vec<(u32, String, bool)> = s.left.iter().map(|l| (l.line, l.codes.join(","), l.mechanical)).collect();
    assert_eq!(
        left,
        [
            (1, "destructive".to_string(), false),
            (2, "adding-required-field".to_string(), false),
            (3, "require-concurrent-index-creation".to_string(), false),
            (4, "constraint-missing-not-valid".to_string(), false),
        ]
    );
    expect_test::expect![[r#"
        -- expand, backfill, switch: no rewrite under a lock
        ALTER TABLE public.events ADD COLUMN id_new bigint;
        -- a trigger that keeps id_new in step with id on INSERT and UPDATE
        -- backfill in batches: UPDATE public.events SET id_new = id::bigint WHERE <key range>;
        -- then, in one short migration: drop the trigger, rename id away and id_new to id"#]]
    .assert_eq(&s.left[0].safe);
    assert_eq!(
        s.left[0].avoids,
        "ACCESS EXCLUSIVE on public.events while every row is rewritten: reads and writes wait"
    );
}

#[test]
fn an_unnamed_index_is_left_to_the_author_since_its_name_cannot_be_known_from_the_file() {
    let text = "create unique index on public.contacts (organization_id, email) include (name);\n";
    let s = split_of(text);
    assert_eq!(s.parts[0].text, text, "nothing written");
    assert!(s.left[0].safe.contains("CONCURRENTLY IF NOT EXISTS <name> on public.contacts"), "{}", s.left[0].safe);
}

#[test]
fn a_comment_after_the_table_name_does_not_swallow_the_rewritten_action() {
    let s = split_of(
        "alter table public.contacts -- owners
  add constraint contacts_owner_fk foreign key (owner_id) references public.profiles (id);\n",
    );
    let all: String = s.parts.iter().map(|p| p.text.as_str()).collect();
    assert!(all.contains("alter table public.contacts add constraint contacts_owner_fk"), "{all}");
    assert!(all.contains("alter table public.contacts VALIDATE CONSTRAINT contacts_owner_fk;"), "{all}");
}

#[test]
fn a_partitioned_tables_constraint_is_left_to_the_author() {
    let text =
        "alter table public.events add constraint events_org_fk foreign key (org_id) references public.orgs (id);\n";
    let ctx = Context { partitioned: ["events".to_string()].into() };
    let s = split("m.sql", text, &flags_of(text), &ctx);
    assert_eq!(s.parts[0].text, text);
    assert!(s.left[0].safe.starts_with("-- public.events is partitioned"), "{}", s.left[0].safe);
}

#[test]
fn a_commit_mid_file_becomes_a_cut_between_migrations() {
    let s = split_of("alter type public.st add value 'x';\ncommit;\nupdate public.t set st = 'x';\n");
    assert_eq!(s.parts.len(), 2, "{}", parts_text(&s));
    assert!(s.parts[0].text.starts_with("alter type public.st add value 'x';"), "{}", s.parts[0].text);
    assert!(!s.parts[0].text.contains("commit") && s.parts[1].text.contains("update public.t set st = 'x';"));
}

#[test]
fn a_partitioned_tables_index_is_left_to_the_author() {
    let text = "create index events_at_idx on public.events (at);\n";
    let ctx = Context { partitioned: ["events".to_string()].into() };
    let s = split("m.sql", text, &flags_of(text), &ctx);
    assert_eq!(s.parts[0].text, text);
    assert!(s.left[0].safe.contains("cannot be built CONCURRENTLY"), "{}", s.left[0].safe);
}

#[test]
fn begin_and_commit_are_removed_and_the_rest_stays_one_migration() {
    let s = split_of("begin;\n-- the table\ncreate table t (id int);\ncommit;\n");
    assert_eq!(s.parts.len(), 1);
    assert_eq!(s.parts[0].text, "\n-- the table\ncreate table t (id int);\n");
}

#[test]
fn each_split_file_is_named_and_headed_by_what_it_holds() {
    let s = split_of(
        "create table public.t0 (id int);\ncreate index a_idx on public.t (a);\ngrant select on public.notes to a;\ncreate index b_idx on public.t (b);\ngrant select on public.notes to b;\ngrant select on public.t to b;\n",
    );
    let names: Vec<&str> = s.parts.iter().filter_map(|p| p.name.as_deref()).collect();
    assert_eq!(names, ["index_a_idx", "grant_select_on_notes", "index_b_idx", "grant_select_on_notes_2"]);
    let headers: Vec<&str> = s.parts[1..].iter().filter_map(|p| p.text.lines().next()).collect();
    assert_eq!(
        headers,
        [
            "-- Split off 20260701000000_x.sql by `cargo xtask fix`: CREATE INDEX a_idx. A CONCURRENTLY statement runs outside the CLI's transaction, so it stands alone.",
            "-- Split off 20260701000000_x.sql by `cargo xtask fix`: `grant select on public.notes`. It followed CREATE INDEX a_idx, which runs in a migration of its own.",
            "-- Split off 20260701000000_x.sql by `cargo xtask fix`: CREATE INDEX b_idx. A CONCURRENTLY statement runs outside the CLI's transaction, so it stands alone.",
            "-- Split off 20260701000000_x.sql by `cargo xtask fix`: `grant select on public.notes` and the statement after it. It followed CREATE INDEX b_idx, which runs in a migration of its own.",
        ]
    );
}

#[test]
fn acknowledgements_hold_for_every_part() {
    let s = split_of(
        "-- xtask: ack destructive: the old index is unused\ndrop index public.a_idx;\ndrop table public.old;\n",
    );
    assert_eq!(s.parts.len(), 2, "{}", parts_text(&s));
    assert!(s.parts[1].text.contains("-- xtask: ack destructive: the old index is unused\n"), "{}", s.parts[1].text);
}

#[test]
fn versions_fit_between_the_file_and_the_next() {
    assert_eq!(
        versions_after("20260701235959", 2, Some("20260702000003")),
        Some(vec!["20260702000000".to_string(), "20260702000001".to_string()])
    );
    assert_eq!(versions_after("20260701000000", 3, Some("20260701000003")), None);
    assert_eq!(versions_after("20260701000000", 1, None), Some(vec!["20260701000001".to_string()]));
}

#[test]
fn suggestions_show_the_safe_form_with_its_migrations_marked() {
    let text = "alter table public.contacts alter column email set not null;\n";
    let s = suggest("migrations/x.sql", text, &flags_of(text), &Context::default());
    expect_test::expect![[r#"
        alter table public.contacts ADD CONSTRAINT contacts_email_not_null CHECK (email IS NOT NULL) NOT VALID;
        -- in a later migration, once the above has committed:
        alter table public.contacts VALIDATE CONSTRAINT contacts_email_not_null;
        -- in a later migration, once the above has committed:
        -- squawk-ignore adding-not-nullable-field -- the valid check contacts_email_not_null proves it: no scan
        alter table public.contacts ALTER COLUMN email SET NOT NULL;
        alter table public.contacts DROP CONSTRAINT contacts_email_not_null;"#]]
    .assert_eq(&s[0].safe);
}
