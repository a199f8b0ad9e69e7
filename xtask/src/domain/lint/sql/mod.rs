//! One pass of squawk's parser over a migration: the facts the rules need, squawk's own lint findings, and our
//! `-- xtask:` directives. Pure: text in, data out.

use serde::{Deserialize, Serialize};
use squawk_linter::{Linter, Rule};
use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::{SourceFile, SyntaxKind, SyntaxNode};

mod directives;
pub mod ownership;
mod parse_error;
pub mod platform;

use crate::domain::findings::{LineIndex, Pos};
pub use directives::Directives;

/// Serialisable, so `check`'s cache can keep it (`check/cache.rs`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Analysis {
    /// Statements in the file, not counting empty ones (a lone `;`).
    pub statement_count: usize,
    pub facts: Vec<(Pos, Fact)>,
    pub parse_errors: Vec<(Pos, String)>,
    pub violations: Vec<Violation>,
    pub directives: Directives,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Violation {
    pub pos: Pos,
    #[serde(with = "rule_name")]
    pub rule: Rule,
    pub message: String,
    pub help: Option<String>,
}

/// What a statement does, as far as the rules care. Table and function names are normalised by `norm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fact {
    Destructive(String),
    Concurrently {
        #[serde(deserialize_with = "statement_kind")]
        what: StatementKind,
        rerunnable: bool,
    },
    TransactionControl(#[serde(deserialize_with = "statement_kind")] StatementKind),
    CreateTable {
        name: String,
        partitioned: bool,
        partition_of: Option<String>,
    },
    CreateFunction {
        name: String,
        returns_trigger: bool,
        body: String,
        dynamic_sql: bool,
    },
    CreateTrigger {
        table: String,
        function: String,
    },
    RenameTable {
        from: String,
        to: String,
    },
    AttachPartition {
        parent: String,
    },
    DetachPartition {
        parent: String,
    },
    DropTables(Vec<String>),
    DoBlock {
        body: String,
    },
    CreateExtension(String),
    /// CREATE, ALTER, DROP or COMMENT ON POLICY on `table`: on the platform, supautils locks managed tables for it.
    Policy {
        table: String,
    },
    /// What the hosted platform may refuse to `postgres` (`rules::platform` judges it).
    Platform(platform::Act),
}

/// A statement's kind as the findings name it (`CREATE INDEX CONCURRENTLY`). An alias, not `&'static str`
/// written out, so serde does not take the field for one borrowed from its input.
pub type StatementKind = &'static str;

/// Every statement kind a fact names, so a cached fact reads back as the same `&'static str`.
const STATEMENT_KINDS: &[&str] = &[
    "CREATE INDEX CONCURRENTLY",
    "DROP INDEX CONCURRENTLY",
    "REINDEX CONCURRENTLY",
    "DETACH PARTITION CONCURRENTLY",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "PREPARE TRANSACTION",
    "LOCK TABLE",
];

fn statement_kind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    let text = String::deserialize(d)?;
    STATEMENT_KINDS
        .iter()
        .find(|k| **k == text)
        .copied()
        .ok_or_else(|| serde::de::Error::custom(format!("unknown statement kind `{text}`")))
}

/// A squawk rule by its name (`adding-required-field`), as squawk prints and parses it.
mod rule_name {
    use serde::Deserialize;
    use squawk_linter::Rule;

    pub fn serialize<S: serde::Serializer>(rule: &Rule, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(rule)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Rule, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(|_| serde::de::Error::custom(format!("unknown squawk rule `{name}`")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LintScope {
    /// Files not yet applied to every recorded target.
    Pending,
    /// Every file, applied ones too (slower; used by `bench check`).
    All,
}

/// Whether `check` reuses the analyses kept in `target/xtask/check-cache.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LintCacheUse {
    On,
    Off,
}

pub struct LintSettings<'a> {
    pub squawk_rules: &'a [Rule],
}

pub fn analyze(text: &str, settings: &LintSettings) -> Analysis {
    let parse = SourceFile::parse(text);
    let index = LineIndex::new(text);
    let pos = |offset: u32| index.pos(text, offset as usize);
    let mut out = Analysis::default();

    let errors = parse.errors();
    let raw = errors.iter().map(|e| (usize::from(e.range().start()), e.message()));
    out.parse_errors = parse_error::explain(text, raw).into_iter().map(|(at, msg)| (pos(at as u32), msg)).collect();
    for stmt in parse.tree().stmts() {
        if matches!(stmt, ast::Stmt::EmptyStmt(_)) {
            continue;
        }
        out.statement_count += 1;
        let at = pos(stmt.syntax().text_range().start().into());
        out.facts.extend(facts(&stmt).into_iter().map(|fact| (at, fact)));
        out.facts.extend(platform::acts(&stmt).into_iter().map(|act| (at, Fact::Platform(act))));
    }
    // Walking every token is a tenth of the parse's cost; most files have no directive at all.
    if text.contains("xtask:") {
        out.directives = directives::read(&parse.syntax_node(), &pos);
    }

    if !linter_may_fire(text, settings.squawk_rules) {
        return out;
    }
    let mut linter = Linter::from(settings.squawk_rules.iter().copied());
    linter.settings.assume_in_transaction = true; // the CLI wraps each file in one transaction
    for v in linter.lint(&parse, text) {
        let at = pos(v.text_range.start().into());
        out.violations.push(Violation {
            pos: at,
            rule: v.code,
            message: v.message.to_string(),
            help: v.help.map(|h| h.to_string()),
        });
    }
    out
}

/// The words without which a rule cannot fire: every statement it judges contains one as a token (`ALTER
/// TABLE ...`, `CREATE INDEX`, ...). `None`: no such word is known, so the rule always runs.
fn trigger_words(rule: Rule) -> Option<&'static [&'static str]> {
    use Rule as R;
    Some(match rule {
        R::RequireConcurrentIndexCreation | R::RequireConcurrentIndexDeletion | R::RequireConcurrentReindex => {
            &["index"]
        }
        R::ConstraintMissingNotValid
        | R::AddingForeignKeyConstraint
        | R::AddingRequiredField
        | R::AddingNotNullableField
        | R::AddingSerialPrimaryKeyField
        | R::AddingFieldWithDefault
        | R::DisallowedUniqueConstraint
        | R::RenamingColumn
        | R::RenamingTable => &["alter"],
        R::BanDropDatabase => &["database"],
        R::BanTruncateCascade => &["truncate"],
        R::BanCreateDomainWithConstraint | R::BanAlterDomainWithAddConstraint => &["domain"],
        _ => return None,
    })
}

/// Whether squawk's linter can report anything on `text`. Its run walks every token twice (looking for
/// `squawk-ignore` comments) before any rule: a fifth of `check`'s time, spent for nothing on a file of
/// functions, grants and seed data. The text test is a superset: a keyword is one token, never split.
fn linter_may_fire(text: &str, rules: &[Rule]) -> bool {
    let mut words: Vec<&str> = Vec::new();
    for &rule in rules {
        match trigger_words(rule) {
            Some(w) => words.extend(w),
            None => return true,
        }
    }
    if words.is_empty() {
        return false;
    }
    let lower = text.to_ascii_lowercase();
    words.iter().any(|w| lower.contains(w))
}

fn facts(stmt: &ast::Stmt) -> Vec<Fact> {
    use ast::Stmt as S;
    let text = |node: &dyn AstNode| squash(&node.syntax().text().to_string());
    match stmt {
        S::DropTable(s) => {
            let names: Vec<String> = s.table_name_refs().map(|n| norm(&n.syntax().text().to_string())).collect();
            vec![Fact::Destructive(text(s)), Fact::DropTables(names)]
        }
        S::DropFunction(s) => vec![Fact::Destructive(text(s))],
        S::DropType(s) => vec![Fact::Destructive(text(s))],
        S::DropSchema(s) => vec![Fact::Destructive(text(s))],
        S::Truncate(s) => vec![Fact::Destructive(text(s))],
        // ADD VALUE only adds; every other ALTER TYPE can break readers or rewrite data.
        S::AlterType(s) if !matches!(s.action(), Some(ast::AlterTypeAction::AddValue(_))) => {
            vec![Fact::Destructive(text(s))]
        }
        S::AlterTable(s) => alter_table_facts(s),
        S::CreateIndex(s) if s.concurrently_token().is_some() => {
            vec![Fact::Concurrently { what: "CREATE INDEX CONCURRENTLY", rerunnable: s.if_not_exists().is_some() }]
        }
        S::DropIndex(s) if s.concurrently_token().is_some() => {
            vec![Fact::Concurrently { what: "DROP INDEX CONCURRENTLY", rerunnable: s.if_exists().is_some() }]
        }
        // REINDEX has no IF EXISTS, and running it twice is harmless.
        S::Reindex(s) if has_token(s.syntax(), SyntaxKind::CONCURRENTLY_KW) => {
            vec![Fact::Concurrently { what: "REINDEX CONCURRENTLY", rerunnable: true }]
        }
        S::Begin(_) => vec![Fact::TransactionControl("BEGIN")],
        S::Commit(_) => vec![Fact::TransactionControl("COMMIT")],
        S::Rollback(s) if !has_token(s.syntax(), SyntaxKind::TO_KW) => vec![Fact::TransactionControl("ROLLBACK")],
        S::PrepareTransaction(_) => vec![Fact::TransactionControl("PREPARE TRANSACTION")],
        S::Lock(_) => vec![Fact::TransactionControl("LOCK TABLE")],
        S::CreateTable(s) => vec![Fact::CreateTable {
            name: s.table_name().map(|n| norm(&n.syntax().text().to_string())).unwrap_or_default(),
            partitioned: s.partition_by().is_some(),
            partition_of: s
                .partition_of()
                .and_then(|p| p.table_name_ref())
                .map(|n| norm(&n.syntax().text().to_string())),
        }],
        S::CreateFunction(s) => vec![create_function_fact(s)],
        S::CreateTrigger(s) => vec![Fact::CreateTrigger {
            table: s
                .on_relation()
                .and_then(|r| r.relation_name_ref())
                .map(|n| norm(&n.syntax().text().to_string()))
                .unwrap_or_default(),
            function: s
                .call_expr()
                .and_then(|c| c.expr())
                .map(|e| norm(&e.syntax().text().to_string()))
                .unwrap_or_default(),
        }],
        S::CreateExtension(s) => {
            let name = s.extension().map(|n| norm(&n.syntax().text().to_string()));
            name.map(Fact::CreateExtension).into_iter().collect()
        }
        S::CreatePolicy(s) => vec![policy_fact(s.on_table())],
        S::AlterPolicy(s) => vec![policy_fact(s.on_table())],
        S::DropPolicy(s) => vec![policy_fact(s.on_table())],
        S::CommentOn(s) => match s.comment_object() {
            Some(ast::CommentObject::ObjectPolicy(o)) => vec![policy_table(o.table_name_ref())],
            _ => Vec::new(),
        },
        S::Do(s) => vec![Fact::DoBlock {
            body: s.body().map(|b| b.syntax().text().to_string().to_lowercase()).unwrap_or_default(),
        }],
        _ => Vec::new(),
    }
}

fn policy_fact(on: Option<ast::OnTable>) -> Fact {
    policy_table(on.and_then(|o| o.table_name_ref()))
}

fn policy_table(name: Option<ast::TableNameRef>) -> Fact {
    Fact::Policy { table: name.map(|n| norm(&n.syntax().text().to_string())).unwrap_or_default() }
}

fn alter_table_facts(s: &ast::AlterTable) -> Vec<Fact> {
    use ast::AlterTableAction as A;
    let table = s.table_relation_name().map(|n| norm(&n.syntax().text().to_string())).unwrap_or_default();
    let mut out = Vec::new();
    for action in s.actions() {
        match action {
            A::DropColumn(a) => {
                out.push(Fact::Destructive(format!("ALTER TABLE {table} {}", squash(&a.syntax().text().to_string()))))
            }
            A::AlterColumn(a) if matches!(a.option(), Some(ast::AlterColumnOption::SetType(_))) => {
                out.push(Fact::Destructive(format!("ALTER TABLE {table} {}", squash(&a.syntax().text().to_string()))))
            }
            A::AttachPartition(_) => out.push(Fact::AttachPartition { parent: table.clone() }),
            A::DetachPartition(a) => {
                if has_token(a.syntax(), SyntaxKind::CONCURRENTLY_KW) {
                    out.push(Fact::Concurrently {
                        what: "DETACH PARTITION CONCURRENTLY",
                        rerunnable: s.if_exists().is_some(),
                    });
                }
                out.push(Fact::DetachPartition { parent: table.clone() });
            }
            A::TableRenameTo(a) => {
                let to = a.table_name().map(|n| norm(&n.syntax().text().to_string())).unwrap_or_default();
                out.push(Fact::RenameTable { from: table.clone(), to });
            }
            _ => {}
        }
    }
    out
}

fn create_function_fact(s: &ast::CreateFunction) -> Fact {
    let returns_trigger = s
        .ret_type()
        .and_then(|r| r.func_type())
        .is_some_and(|t| t.syntax().text().to_string().trim().eq_ignore_ascii_case("trigger"));
    // The body is a string literal squawk does not parse; the rules only look for table names in it.
    let body = s.option_list().map(|o| o.syntax().text().to_string().to_lowercase()).unwrap_or_default();
    let dynamic_sql = body.contains("execute ") || body.contains("execute\n") || body.contains("execute format");
    Fact::CreateFunction {
        name: s.name().map(|n| norm(&n.syntax().text().to_string())).unwrap_or_default(),
        returns_trigger,
        body,
        dynamic_sql,
    }
}

fn has_token(node: &SyntaxNode, kind: SyntaxKind) -> bool {
    node.descendants_with_tokens().any(|t| t.kind() == kind)
}

/// `"Public"."Orders"` and `public.orders` and `orders` name the same table for our purposes.
pub fn norm(name: &str) -> String {
    let name = name.trim().replace('"', "").to_lowercase();
    let name = name.strip_prefix("only ").unwrap_or(&name).trim();
    name.strip_prefix("public.").unwrap_or(name).to_string()
}

fn squash(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let line = words.join(" ");
    let line = line.trim_end_matches(';');
    if line.chars().count() > 100 {
        format!("{}…", line.chars().take(100).collect::<String>())
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
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
        let destructive: Vec<String> = facts_of(sql)
            .into_iter()
            .filter_map(|f| if let Fact::Destructive(s) = f { Some(s) } else { None })
            .collect();
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
            Fact::CreateTable {
                name: "events_p_2026".into(),
                partitioned: false,
                partition_of: Some("events_p".into())
            }
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
        let facts = facts_of(
            "create extension if not exists \"uuid-ossp\" with schema extensions;\ncreate extension pg_cron;\n",
        );
        assert_eq!(facts, [Fact::CreateExtension("uuid-ossp".into()), Fact::CreateExtension("pg_cron".into())]);
    }

    #[test]
    fn policy_statements_name_their_table() {
        let facts = facts_of(
            "create policy p on public.notes for select using (true);\nalter policy p on auth.users rename to q;\n\
             drop policy if exists q on storage.objects;\ncomment on policy q on storage.buckets is 'x';\n\
             comment on table notes is 'y';\n",
        );
        let table = |t: &str| Fact::Policy { table: t.into() };
        // The platform's facts about managed tables (`Fact::Platform`) are another test's.
        let policies: Vec<Fact> = facts.into_iter().filter(|f| matches!(f, Fact::Policy { .. })).collect();
        assert_eq!(policies, [table("notes"), table("auth.users"), table("storage.objects"), table("storage.buckets")]);
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
}
