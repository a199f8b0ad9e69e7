//! What `reconcile`'s proof cannot see. `reconcile` proves that a pending file's effect is already on a database
//! by comparing catalog rows (`sql/proof.sql`) of three databases; a statement whose effect is not in those rows
//! (data changes, code that runs, role and cluster level state, statement kinds we do not know) is unseen, and
//! `unseen` names each one with its line so the proof can say what it does not cover. Pure: text in, data out.

use std::fmt;

use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::{SourceFile, SyntaxKind, SyntaxNode};

use crate::domain::findings::LineIndex;

/// A statement whose effect the catalog comparison cannot see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unseen {
    /// 1-based line of the statement's first token.
    pub line: usize,
    /// What the statement is: `INSERT`, `DO block`, `SELECT (may call functions)`, `CREATE ROLE`.
    pub what: String,
}

impl fmt::Display for Unseen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.what)
    }
}

/// Every statement of a migration file whose effect the comparison cannot see, in file order. Text the parser
/// cannot read is unseen too: what it hides is not known.
pub fn unseen(text: &str) -> Vec<Unseen> {
    let parse = SourceFile::parse(text);
    let index = LineIndex::new(text);
    let line = |offset: usize| index.pos(text, offset).line as usize;
    let mut out: Vec<Unseen> = parse
        .errors()
        .iter()
        .map(|e| Unseen { line: line(e.range().start().into()), what: format!("unparsed text ({})", e.message()) })
        .collect();
    out.dedup_by_key(|u| u.line); // one bad statement often yields an error per token
    for stmt in parse.tree().stmts() {
        if let Some(what) = judge(&stmt) {
            out.push(Unseen { line: line(first_token_offset(stmt.syntax())), what });
        }
    }
    out.sort_by_key(|u| u.line);
    out
}

/// Whether a node holds a `USING` keyword (an `ALTER COLUMN ... TYPE ... USING expr`).
fn has_using(node: &SyntaxNode) -> bool {
    node.descendants_with_tokens().any(|t| t.kind() == SyntaxKind::USING_KW)
}

/// `None`: the statement's effect is all in the compared catalog rows (or it has none that lasts).
fn judge(stmt: &ast::Stmt) -> Option<String> {
    use ast::Stmt as S;
    let partly = match stmt {
        // Nothing, or nothing that lasts past the session.
        S::EmptyStmt(_)
        | S::Begin(_)
        | S::Commit(_)
        | S::Rollback(_)
        | S::SavepointCreate(_)
        | S::ReleaseSavepoint(_)
        | S::Set(_)
        | S::Reset(_)
        | S::SetRole(_)
        | S::ResetRole(_)
        | S::SetSessionAuth(_)
        | S::ResetSessionAuth(_)
        | S::SetConstraints(_)
        | S::SetTransaction(_)
        | S::Show(_)
        | S::Discard(_)
        | S::Lock(_)
        | S::Prepare(_)
        | S::Deallocate(_)
        | S::Close(_) => return None,

        S::Select(_) | S::CompoundSelect(_) | S::ParenSelect(_) | S::Table(_) => {
            return Some("SELECT (may call functions)".into());
        }
        S::Values(_) => return Some("VALUES (may call functions)".into()),
        S::Do(_) => return Some("DO block".into()),
        S::Call(_) => return Some("CALL (runs a procedure)".into()),
        S::Execute(_) => return Some("EXECUTE (runs a prepared statement)".into()),
        S::CreateTableAs(_) => return Some("CREATE TABLE AS (holds data)".into()),
        S::SelectInto(_) => return Some("SELECT INTO (holds data)".into()),
        S::CreateMaterializedView(_) => return Some("CREATE MATERIALIZED VIEW (holds data)".into()),
        S::Refresh(_) => return Some("REFRESH MATERIALIZED VIEW (holds data)".into()),

        S::Grant(s) => return privileges("GRANT", s.on_privilege_objects_clause()),
        S::Revoke(s) => return privileges("REVOKE", s.on_privilege_objects_clause()),
        S::CommentOn(s) => {
            use ast::CommentObject as C;
            match s.comment_object() {
                Some(C::ObjectRole(_)) => return Some("COMMENT ON ROLE".into()),
                Some(C::ObjectDatabase(_)) => return Some("COMMENT ON DATABASE".into()),
                Some(C::ObjectTablespace(_)) => return Some("COMMENT ON TABLESPACE".into()),
                Some(C::ObjectSubscription(_)) => return Some("COMMENT ON SUBSCRIPTION".into()),
                // An extension's comment comes with its version, which is not compared.
                Some(C::ObjectExtension(_)) => return Some("COMMENT ON EXTENSION".into()),
                _ => None,
            }
        }
        S::AlterExtension(s) => match s.action() {
            Some(ast::AlterExtensionAction::AlterExtensionUpdate(_)) => {
                return Some("ALTER EXTENSION UPDATE (versions are not compared)".into());
            }
            _ => None,
        },
        S::AlterTable(s) => {
            use ast::AlterTableAction as A;
            s.actions().find_map(|action| match action {
                A::EnableRule(_) | A::EnableReplicaRule(_) | A::EnableAlwaysRule(_) | A::DisableRule(_) => {
                    Some("ALTER TABLE ENABLE/DISABLE RULE".to_string())
                }
                A::MergePartitions(_) => Some("ALTER TABLE MERGE PARTITIONS".to_string()),
                A::SplitPartition(_) => Some("ALTER TABLE SPLIT PARTITION".to_string()),
                // The rows' new values come from the expression: data the catalog does not show.
                A::AlterColumn(c) if has_using(c.syntax()) => {
                    Some("ALTER COLUMN TYPE ... USING (rewrites data)".to_string())
                }
                _ => None,
            })
        }
        S::AlterIndex(s) => match s.action() {
            Some(ast::AlterIndexAction::AlterSetStatistics(_)) => Some("ALTER INDEX SET STATISTICS".into()),
            _ => None,
        },

        S::CreateSchema(_)
        | S::AlterSchema(_)
        | S::DropSchema(_)
        | S::CreateTable(_)
        | S::DropTable(_)
        | S::CreateForeignTable(_)
        | S::AlterForeignTable(_)
        | S::DropForeignTable(_)
        | S::CreateView(_)
        | S::AlterView(_)
        | S::DropView(_)
        | S::AlterMaterializedView(_)
        | S::DropMaterializedView(_)
        | S::CreateIndex(_)
        | S::DropIndex(_)
        | S::CreateSequence(_)
        | S::AlterSequence(_)
        | S::DropSequence(_)
        | S::CreateFunction(_)
        | S::AlterFunction(_)
        | S::DropFunction(_)
        | S::CreateProcedure(_)
        | S::AlterProcedure(_)
        | S::DropProcedure(_)
        | S::AlterRoutine(_)
        | S::DropRoutine(_)
        | S::CreateAggregate(_)
        | S::AlterAggregate(_)
        | S::DropAggregate(_)
        | S::CreateTrigger(_)
        | S::AlterTrigger(_)
        | S::DropTrigger(_)
        | S::CreatePolicy(_)
        | S::AlterPolicy(_)
        | S::DropPolicy(_)
        | S::CreateType(_)
        | S::AlterType(_)
        | S::DropType(_)
        | S::CreateDomain(_)
        | S::AlterDomain(_)
        | S::DropDomain(_)
        | S::CreateExtension(_)
        | S::DropExtension(_)
        | S::CreatePublication(_)
        | S::AlterPublication(_)
        | S::DropPublication(_)
        | S::CreateEventTrigger(_)
        | S::AlterEventTrigger(_)
        | S::DropEventTrigger(_)
        | S::CreateStatistics(_)
        | S::AlterStatistics(_)
        | S::DropStatistics(_)
        | S::AlterDefaultPrivileges(_) => None,

        // Data (INSERT, UPDATE, DELETE, MERGE, COPY, TRUNCATE), code that runs (EXPLAIN ANALYZE, FETCH), roles
        // and the cluster (CREATE ROLE, ALTER SYSTEM, ALTER DATABASE, tablespaces), SECURITY LABEL, rules,
        // LISTEN/NOTIFY, and every kind not named above: unseen, by the name of its kind.
        _ => return Some(kind_name(stmt.syntax())),
    };
    // A covered kind may still carry a part that is not compared.
    partly.or_else(|| {
        let node = stmt.syntax();
        if has_token(node, SyntaxKind::RESTART_KW) {
            Some(format!("{} RESTART (a sequence's position is data)", kind_name(node)))
        } else if has_token(node, SyntaxKind::TABLESPACE_KW) {
            Some(format!("{} TABLESPACE (placement is not compared)", kind_name(node)))
        } else if has_node(node, SyntaxKind::DEPENDS_ON_EXTENSION)
            || has_node(node, SyntaxKind::NO_DEPENDS_ON_EXTENSION)
        {
            Some(format!("{} DEPENDS ON EXTENSION", kind_name(node)))
        } else {
            None
        }
    })
}

/// GRANT and REVOKE: object privileges are compared, except on objects outside the compared rows; role
/// membership (no ON clause) is cluster state.
fn privileges(verb: &str, on: Option<ast::OnPrivilegeObjectsClause>) -> Option<String> {
    use ast::PrivilegeObjects as P;
    let Some(on) = on else {
        let to = if verb == "GRANT" { "TO" } else { "FROM" };
        return Some(format!("{verb} role {to} role"));
    };
    match on.privilege_objects()? {
        P::PrivilegeAllFunctionsInSchema(_)
        | P::PrivilegeAllProceduresInSchema(_)
        | P::PrivilegeAllRoutinesInSchema(_)
        | P::PrivilegeAllSequencesInSchema(_)
        | P::PrivilegeAllTablesInSchema(_)
        | P::PrivilegeDefault(_)
        | P::PrivilegeDomain(_)
        | P::PrivilegeFunction(_)
        | P::PrivilegeProcedure(_)
        | P::PrivilegeRoutine(_)
        | P::PrivilegeSchema(_)
        | P::PrivilegeSequence(_)
        | P::PrivilegeTable(_)
        | P::PrivilegeType(_) => None,
        other => {
            let kind = format!("{:?}", other.syntax().kind());
            let object = kind.strip_prefix("PRIVILEGE_").unwrap_or(&kind).replace('_', " ");
            Some(format!("{verb} ON {object}"))
        }
    }
}

/// `CREATE_ROLE` as `CREATE ROLE`: a statement kind's name, as the SQL says it.
fn kind_name(node: &SyntaxNode) -> String {
    format!("{:?}", node.kind()).replace('_', " ")
}

fn has_token(node: &SyntaxNode, kind: SyntaxKind) -> bool {
    node.descendants_with_tokens().any(|t| t.kind() == kind)
}

fn has_node(node: &SyntaxNode, kind: SyntaxKind) -> bool {
    node.descendants().any(|n| n.kind() == kind)
}

/// Where the statement's first token is, past any comment or space the tree may hang on it.
fn first_token_offset(node: &SyntaxNode) -> usize {
    node.descendants_with_tokens()
        .filter_map(|t| t.into_token())
        .find(|t| !t.kind().is_trivia())
        .map_or_else(|| node.text_range().start(), |t| t.text_range().start())
        .into()
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    fn check(text: &str, expected: Expect) {
        let rendered: Vec<String> = unseen(text).iter().map(Unseen::to_string).collect();
        expected.assert_eq(&rendered.join("\n"));
    }

    #[test]
    fn a_realistic_migration_names_what_the_catalog_cannot_show() {
        check(
            r#"-- plans: the reference table, its policy, and a nightly refresh
set local lock_timeout = '1s';

create table public.plans (
  id text primary key,
  price_cents integer not null
);
alter table public.plans enable row level security;

create or replace function public.touch_plan() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into public.audit (what) values ('plan ' || new.id);
  return new;
end;
$$;

create policy plans_read on public.plans for select to authenticated using (true);
grant select on public.plans to authenticated;
comment on table public.plans is 'what a customer can buy';

insert into public.plans (id, price_cents) values ('free', 0), ('pro', 2000);

select cron.schedule('refresh-plans', '0 3 * * *', $$ update public.plans set price_cents = price_cents $$);

do $$
begin
  perform 1;
end
$$;

create role billing nologin;
grant billing to postgres;
"#,
            expect![[r#"
                line 22: INSERT
                line 24: SELECT (may call functions)
                line 26: DO block
                line 32: CREATE ROLE
                line 33: GRANT role TO role"#]],
        );
    }

    #[test]
    fn data_code_and_cluster_statements_are_unseen() {
        check(
            "update t set a = 1;\ndelete from t;\ntruncate t;\ncopy t from stdin;\n\
             merge into t using s on t.id = s.id when matched then delete;\n\
             create table t2 as select * from t;\nselect * into t3 from t;\n\
             create materialized view m as select 1;\nrefresh materialized view m;\ncall p();\n\
             execute q;\nvalues (f());\nalter system set work_mem = '1MB';\nalter database postgres set x = 1;\n\
             create database d;\nalter role r set search_path = '';\ndrop user u;\nrevoke r from u;\n\
             security label on table t is 'x';\ncreate rule r as on insert to t do nothing;\nnotify c;\nlisten c;\n\
             create operator === (leftarg = int, rightarg = int, function = int4eq);\n",
            expect![[r#"
                line 1: UPDATE
                line 2: DELETE
                line 3: TRUNCATE
                line 4: COPY
                line 5: MERGE
                line 6: CREATE TABLE AS (holds data)
                line 7: SELECT INTO (holds data)
                line 8: CREATE MATERIALIZED VIEW (holds data)
                line 9: REFRESH MATERIALIZED VIEW (holds data)
                line 10: CALL (runs a procedure)
                line 11: EXECUTE (runs a prepared statement)
                line 12: VALUES (may call functions)
                line 13: ALTER SYSTEM
                line 14: ALTER DATABASE
                line 15: CREATE DATABASE
                line 16: ALTER ROLE
                line 17: DROP USER
                line 18: REVOKE role FROM role
                line 19: SECURITY LABEL
                line 20: CREATE RULE
                line 21: NOTIFY
                line 22: LISTEN
                line 23: CREATE OPERATOR"#]],
        );
    }

    #[test]
    fn covered_kinds_with_a_part_outside_the_rows_are_unseen() {
        check(
            "grant usage on schema s to anon;\ngrant connect on database postgres to anon;\n\
             grant all on all tables in schema s to anon;\nrevoke usage on foreign server x from anon;\n\
             alter extension pg_trgm update to '1.6';\nalter extension pg_trgm set schema extensions;\n\
             alter sequence s restart with 10;\nalter table t alter column id restart;\n\
             create index i on t (a) tablespace fast;\nalter table t disable rule r;\n\
             comment on role anon is 'x';\ncomment on column t.a is 'x';\nalter index i alter column 1 set statistics 100;\n\
             alter table t alter column a type bigint using a * 100;\nalter table t alter column a type bigint;\n",
            expect![[r#"
                line 2: GRANT ON DATABASE
                line 4: REVOKE ON FOREIGN SERVER
                line 5: ALTER EXTENSION UPDATE (versions are not compared)
                line 7: ALTER SEQUENCE RESTART (a sequence's position is data)
                line 8: ALTER TABLE RESTART (a sequence's position is data)
                line 9: CREATE INDEX TABLESPACE (placement is not compared)
                line 10: ALTER TABLE ENABLE/DISABLE RULE
                line 11: COMMENT ON ROLE
                line 13: ALTER INDEX SET STATISTICS
                line 14: ALTER COLUMN TYPE ... USING (rewrites data)"#]],
        );
    }

    #[test]
    fn schema_changes_and_session_settings_are_seen() {
        check(
            "begin;\nset search_path = '';\ncreate schema s;\ncreate type s.mood as enum ('a');\n\
             create domain s.pos as int check (value > 0);\ncreate sequence s.q;\n\
             create table s.t (id int generated always as identity, m s.mood);\n\
             alter table s.t add column b text default 'x', alter column m set not null;\n\
             alter table s.t owner to postgres;\nalter table s.t rename to u;\n\
             create view s.v as select 1;\ncreate index concurrently if not exists i on s.u (b);\n\
             create procedure s.p() language sql as 'select 1';\ndrop function if exists s.f(int);\n\
             create trigger tr after insert on s.u for each row execute function s.f();\n\
             create extension if not exists pg_trgm with schema extensions;\n\
             create publication pb for table s.u;\ncreate event trigger e on ddl_command_end execute function s.g();\n\
             alter default privileges in schema s grant select on tables to anon;\n\
             revoke all on function s.f() from public;\nalter table s.u disable row level security;\n\
             reset search_path;\ncommit;\n",
            expect![[r#""#]],
        );
    }

    #[test]
    fn unparsed_text_is_unseen() {
        check(
            "create table t (a int);\nthis is not sql;\n",
            expect!["line 2: unparsed text (expected command, found IDENT)"],
        );
    }
}
