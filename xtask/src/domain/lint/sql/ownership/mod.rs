//! The statements only an object's owner (or a member of its owning role) may run, on objects in any schema:
//! what a plain PostgreSQL whose migration user is an ordinary role refuses when the object belongs to someone
//! else. A local shadow, where the history created everything as one user, never shows it. Objects the same
//! texts created earlier are left out: the batch owns what it creates. Pure: text in, data out; statements
//! inside DO blocks and function bodies are strings to the parser, and are not looked at.

use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::{SourceFile, SyntaxKind as K, SyntaxNode};
use std::collections::BTreeSet;

use crate::domain::findings::LineIndex;

/// A statement that needs its object's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    /// 1-based line of the statement's start.
    pub line: usize,
    /// `alter table`, `drop function`, `comment on`, `grant`, ...
    pub statement: &'static str,
    pub kind: ObjectKind,
    /// Schema-qualified as written (an unqualified name taken as `public`), without whitespace; a function
    /// named with its arguments has their types (`public.f(integer, text)`). A schema is its name alone.
    pub object: String,
}

/// The catalog an object lives in, which is how the target is asked about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ObjectKind {
    /// Tables, views, materialized views, indexes, sequences (one namespace: `pg_class`).
    Relation,
    /// Functions and procedures (`pg_proc`).
    Function,
    /// Types and domains (`pg_type`).
    Type,
    Schema,
}

impl Owned {
    /// Whether the statement is a GRANT or REVOKE: a holder of the grant option may run it too.
    pub fn is_grant(&self) -> bool {
        matches!(self.statement, "grant" | "revoke")
    }
}

/// The ownership-needing statements of one text.
pub fn needs_ownership(text: &str) -> Vec<Owned> {
    needs_ownership_in_order(&[text]).pop().unwrap_or_default()
}

/// The ownership-needing statements of each text, the texts run in this order: what an earlier one creates is
/// owned by the later ones too.
pub fn needs_ownership_in_order(texts: &[&str]) -> Vec<Vec<Owned>> {
    let mut created = Created::default();
    texts.iter().map(|text| scan(text, &mut created)).collect()
}

/// What the texts created so far, by normalised name (`schema.name`, lower case, no quotes).
#[derive(Default)]
struct Created {
    objects: BTreeSet<(ObjectKind, String)>,
    schemas: BTreeSet<String>,
}

impl Created {
    fn owns(&self, kind: ObjectKind, object: &str) -> bool {
        let key = norm(object);
        if kind == ObjectKind::Schema {
            return self.schemas.contains(&key);
        }
        let schema = key.split_once('.').map_or("public", |(s, _)| s);
        self.schemas.contains(schema) || self.objects.contains(&(kind, key))
    }

    fn add(&mut self, kind: ObjectKind, object: &str) {
        match kind {
            ObjectKind::Schema => self.schemas.insert(norm(object)),
            _ => self.objects.insert((kind, norm(object))),
        };
    }
}

fn scan(text: &str, created: &mut Created) -> Vec<Owned> {
    let parse = SourceFile::parse(text);
    let index = LineIndex::new(text);
    let mut out = Vec::new();
    for stmt in parse.tree().stmts() {
        let node = stmt.syntax();
        let line = index.pos(text, usize::from(node.text_range().start())).line as usize;
        for (statement, kind, object) in needs(&stmt) {
            if !created.owns(kind, &object) {
                out.push(Owned { line, statement, kind, object });
            }
        }
        for (kind, object) in creates(&stmt, created) {
            created.add(kind, &object);
        }
    }
    out
}

/// The name nodes that stand for an object a statement acts on, and the catalog each is in.
fn target_kind(kind: K) -> Option<ObjectKind> {
    Some(match kind {
        K::TABLE_NAME_REF
        | K::RELATION_NAME_REF
        | K::VIEW_REF
        | K::INDEX_REF
        | K::SEQUENCE_REF
        | K::QUALIFIED_COLUMN_NAME_REF => ObjectKind::Relation,
        K::FUNCTION_SIG | K::PROCEDURE_SIG => ObjectKind::Function,
        K::TYPE_NAME_REF | K::DOMAIN_REF => ObjectKind::Type,
        K::SCHEMA_REF => ObjectKind::Schema,
        _ => return None,
    })
}

type Need = (&'static str, ObjectKind, String);

fn needs(stmt: &ast::Stmt) -> Vec<Need> {
    use ast::Stmt as S;
    let node = stmt.syntax();
    let first = |statement: &'static str| first_target(node).map(|(k, o)| (statement, k, o)).into_iter().collect();
    let all = |statement: &'static str| all_targets(node).into_iter().map(|(k, o)| (statement, k, o)).collect();
    match stmt {
        S::AlterTable(_) => first("alter table"),
        S::AlterIndex(_) => first("alter index"),
        S::AlterView(_) => first("alter view"),
        S::AlterMaterializedView(_) => first("alter materialized view"),
        S::AlterSequence(_) => first("alter sequence"),
        S::AlterFunction(_) => first("alter function"),
        S::AlterProcedure(_) => first("alter procedure"),
        S::AlterType(_) => first("alter type"),
        S::AlterDomain(_) => first("alter domain"),
        S::AlterSchema(_) => first("alter schema"),
        S::CreateIndex(_) => first("create index"),
        S::CreateRule(_) => first("create rule"),
        S::CreatePolicy(_) => first("create policy"),
        S::AlterPolicy(_) => first("alter policy"),
        S::DropPolicy(_) => first("drop policy"),
        S::DropTrigger(_) => first("drop trigger"),
        S::DropRule(_) => first("drop rule"),
        S::Refresh(_) => first("refresh materialized view"),
        S::CommentOn(_) => first("comment on"),
        S::DropTable(_) => all("drop table"),
        S::DropView(_) => all("drop view"),
        S::DropMaterializedView(_) => all("drop materialized view"),
        S::DropSequence(_) => all("drop sequence"),
        S::DropIndex(_) => all("drop index"),
        S::DropFunction(_) => all("drop function"),
        S::DropProcedure(_) => all("drop procedure"),
        S::DropType(_) => all("drop type"),
        S::DropDomain(_) => all("drop domain"),
        S::DropSchema(_) => all("drop schema"),
        S::Grant(_) => granted_on(node, "grant"),
        S::Revoke(_) => granted_on(node, "revoke"),
        // Replacing an existing object is altering it; a new one is the batch's own (`creates`).
        S::CreateFunction(_) if or_replace(node) => {
            vec![("create or replace function", ObjectKind::Function, function(node))]
        }
        S::CreateProcedure(_) if or_replace(node) => {
            vec![("create or replace procedure", ObjectKind::Function, function(node))]
        }
        S::CreateView(_) if or_replace(node) => defined(node, K::VIEW, "create or replace view"),
        // A partition is attached to its parent, which only the parent's owner may do.
        S::CreateTable(s) => {
            let parent = s.partition_of().and_then(|p| p.table_name_ref());
            parent
                .map(|p| ("create table ... partition of", ObjectKind::Relation, qualified(p.syntax())))
                .into_iter()
                .collect()
        }
        _ => Vec::new(),
    }
}

/// GRANT and REVOKE of privileges on named objects (not of roles, nor on every object in a schema).
fn granted_on(node: &SyntaxNode, statement: &'static str) -> Vec<Need> {
    let Some(clause) = node.children().find(|n| n.kind() == K::ON_PRIVILEGE_OBJECTS_CLAUSE) else { return Vec::new() };
    let Some(objects) = clause.children().next() else { return Vec::new() };
    if format!("{:?}", objects.kind()).starts_with("PRIVILEGE_ALL_") {
        return Vec::new();
    }
    all_targets(&objects).into_iter().map(|(k, o)| (statement, k, o)).collect()
}

fn or_replace(node: &SyntaxNode) -> bool {
    node.children().any(|n| n.kind() == K::OR_REPLACE)
}

/// What a statement creates as whoever runs it. `IF NOT EXISTS` creates nothing when the object is there
/// already, maybe someone else's, so it counts for nothing; a schema made for another role neither.
fn creates(stmt: &ast::Stmt, created: &Created) -> Vec<(ObjectKind, String)> {
    use ast::Stmt as S;
    let node = stmt.syntax();
    if node.children().any(|n| n.kind() == K::IF_NOT_EXISTS) {
        return Vec::new();
    }
    let def = |kind: K, object: ObjectKind| -> Vec<(ObjectKind, String)> {
        defined(node, kind, "").into_iter().map(|(_, _, name)| (object, name)).collect()
    };
    match stmt {
        S::CreateTable(_) | S::CreateTableAs(_) => def(K::TABLE_NAME, ObjectKind::Relation),
        S::CreateView(_) | S::CreateMaterializedView(_) => def(K::VIEW, ObjectKind::Relation),
        S::CreateSequence(_) => def(K::SEQUENCE, ObjectKind::Relation),
        S::CreateType(_) => def(K::TYPE_NAME, ObjectKind::Type),
        S::CreateDomain(_) => def(K::DOMAIN, ObjectKind::Type),
        S::CreateFunction(_) | S::CreateProcedure(_) => vec![(ObjectKind::Function, function(node))],
        // An index is in its table's schema.
        S::CreateIndex(_) => {
            let name = node.children().find(|n| n.kind() == K::INDEX).map(|n| compact(&n));
            let table = first_target(node).map(|(_, t)| t);
            match (name, table) {
                (Some(name), Some(table)) => {
                    let schema = table.rsplit_once('.').map_or("public".to_string(), |(s, _)| s.to_string());
                    vec![(ObjectKind::Relation, format!("{schema}.{name}"))]
                }
                _ => Vec::new(),
            }
        }
        S::CreateSchema(_) => {
            let Some(named) = node.children().find(|n| n.kind() == K::NAMED_SCHEMA) else { return Vec::new() };
            if named.children().any(|n| n.kind() == K::ROLE_REF) {
                return Vec::new();
            }
            let name = named.children().find(|n| n.kind() == K::SCHEMA).map(|n| compact(&n));
            name.map(|n| (ObjectKind::Schema, n)).into_iter().collect()
        }
        _ => renamed(node, created),
    }
}

/// `ALTER ... RENAME TO new` keeps the owner: the new name of an object the texts created is theirs too (the
/// statement is checked on the old name, so a rename of someone else's object is reported there).
fn renamed(node: &SyntaxNode, created: &Created) -> Vec<(ObjectKind, String)> {
    let Some(rename) = node.children().find(|n| format!("{:?}", n.kind()).ends_with("_RENAME_TO")) else {
        return Vec::new();
    };
    let Some((kind, old)) = first_target(node).filter(|(k, o)| created.owns(*k, o)) else { return Vec::new() };
    if kind == ObjectKind::Schema {
        let new = rename.children().find(|n| n.kind() == K::SCHEMA).map(|n| compact(&n));
        return new.map(|n| (kind, n)).into_iter().collect();
    }
    let Some(new) = rename.descendants().find(|n| n.kind() == K::PATH).map(|n| compact(&n)) else {
        return Vec::new();
    };
    let schema = old.split('(').next().unwrap_or_default().rsplit_once('.').map_or("public", |(s, _)| s).to_string();
    vec![(kind, format!("{schema}.{new}"))]
}

/// The object a CREATE defines, qualified.
fn defined(node: &SyntaxNode, kind: K, statement: &'static str) -> Vec<Need> {
    let name = node.children().find(|n| n.kind() == kind);
    let object = match kind {
        K::TYPE_NAME | K::DOMAIN => ObjectKind::Type,
        _ => ObjectKind::Relation,
    };
    name.map(|n| (statement, object, qualified(&n))).into_iter().collect()
}

/// The statement's first object: the one an ALTER, COMMENT ON, CREATE INDEX or policy statement acts on.
fn first_target(node: &SyntaxNode) -> Option<(ObjectKind, String)> {
    targets(node).next()
}

/// Every object a DROP or GRANT names.
fn all_targets(node: &SyntaxNode) -> Vec<(ObjectKind, String)> {
    targets(node).collect()
}

fn targets(node: &SyntaxNode) -> impl Iterator<Item = (ObjectKind, String)> {
    let inside_params = |n: &SyntaxNode| n.ancestors().any(|a| a.kind() == K::PARAM_LIST);
    node.descendants().filter(move |n| !inside_params(n)).filter_map(|n| {
        let kind = target_kind(n.kind())?;
        let object = match kind {
            ObjectKind::Function => function(&n),
            ObjectKind::Schema => compact(&n),
            _ if n.kind() == K::QUALIFIED_COLUMN_NAME_REF => column_table(&n)?,
            _ => qualified(&n),
        };
        Some((kind, object))
    })
}

/// A function's name, qualified, and its argument types when it is written with a list (the input ones:
/// what `to_regprocedure` reads).
fn function(sig: &SyntaxNode) -> String {
    let name = sig
        .children()
        .find(|n| {
            matches!(n.kind(), K::FUNCTION_NAME_REF | K::PROCEDURE_NAME_REF | K::FUNCTION_NAME | K::PROCEDURE_NAME)
        })
        .map_or_else(|| qualified(sig), |n| qualified(&n));
    let Some(params) = sig.children().find(|n| n.kind() == K::PARAM_LIST) else { return name };
    let is_type = |k: K| {
        matches!(
            k,
            K::PATH_TYPE
                | K::ARRAY_TYPE
                | K::BIT_TYPE
                | K::CHARACTER_TYPE
                | K::DOUBLE_TYPE
                | K::INTERVAL_TYPE
                | K::PERCENT_TYPE
                | K::TIME_TYPE
                | K::TIMESTAMP_TYPE
                | K::VARCHAR_TYPE
        )
    };
    let args: Vec<String> = params
        .children()
        .filter(|p| p.kind() == K::PARAM && !p.children().any(|c| c.kind() == K::PARAM_OUT))
        .filter_map(|p| p.children().find(|c| is_type(c.kind())).map(|t| words(&t)))
        .collect();
    format!("{name}({})", args.join(", "))
}

/// `schema.name` as written; `public.name` when unqualified.
fn qualified(node: &SyntaxNode) -> String {
    let path = node.children().find(|n| n.kind() == K::PATH || n.kind() == K::PATH_REF);
    let has_qualifier = path.as_ref().is_some_and(|p| p.children().any(|c| c.kind() == K::PATH_REF));
    let text = compact(node);
    if has_qualifier { text } else { format!("public.{text}") }
}

/// The table of a column reference (`s.t.c` is `s.t`; `t.c` is `public.t`).
fn column_table(node: &SyntaxNode) -> Option<String> {
    let path = node.children().find(|n| n.kind() == K::PATH_REF)?;
    let table = path.children().find(|n| n.kind() == K::PATH_REF)?;
    let qualified_table = table.children().any(|c| c.kind() == K::PATH_REF);
    let text = compact(&table);
    Some(if qualified_table { text } else { format!("public.{text}") })
}

/// The node's tokens without whitespace or comments.
fn compact(node: &SyntaxNode) -> String {
    let tokens = node.descendants_with_tokens().filter_map(|t| t.into_token());
    tokens.filter(|t| !t.kind().is_trivia()).map(|t| t.text().to_string()).collect()
}

/// The node's tokens separated by single spaces where the text had whitespace (`double precision`).
fn words(node: &SyntaxNode) -> String {
    node.text().to_string().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// For comparing names as the server does: unquoted parts lower case, quoted ones as written without their
/// quotes, no argument list.
fn norm(object: &str) -> String {
    let mut out = String::new();
    let mut chars = object.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                out.push('"');
            }
            '"' => quoted = !quoted,
            '(' if !quoted => break,
            c if quoted => out.push(c),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

#[cfg(test)]
mod tests;
