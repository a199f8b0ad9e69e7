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
mod tests;
