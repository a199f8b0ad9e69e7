//! The statements the hosted platform may refuse to its `postgres` role, as facts of the one parse: who must
//! own what, what a statement creates in a restricted schema, what needs a superuser, which reserved role it
//! touches. Only statements that can matter are kept (a restricted schema named, a role statement, ...), so
//! the analysis of an ordinary file stays as small as before. Judged by `rules::platform`.

use serde::{Deserialize, Serialize};
use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::{SyntaxKind as K, SyntaxNode};

use crate::domain::platform;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Act {
    /// Only the owner of `object` (a `what`: table, function, ...) may run `stmt` on it.
    Owner { stmt: String, what: String, object: String },
    /// Creates `object` in a restricted schema, owned by whoever runs the statement.
    Create { stmt: String, what: String, object: String },
    /// CREATE/ALTER/DROP POLICY, COMMENT ON POLICY on `table`: its owner, or supautils' policy_grants.
    Policy { stmt: String, table: String },
    /// DROP TRIGGER on `table`: its owner, or supautils' drop_trigger_grants.
    DropTrigger { table: String },
    /// Needs a superuser (or a role the platform gives nobody).
    Superuser(Superuser),
    /// ALTER ROLE/USER (`settings_only`: nothing but SET/RESET) or DROP ROLE/USER of a reserved role.
    Role { stmt: String, role: String, settings_only: bool },
    /// GRANT of membership in `role`.
    Membership { role: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Superuser {
    AlterSystem,
    CopyProgram,
    CopyFile,
    CreateLanguage(String),
    UntrustedLanguage { stmt: String, language: String },
    Load(String),
    SuperuserRole { stmt: String, role: String },
}

/// Languages only a superuser may write functions in.
const UNTRUSTED_LANGUAGES: &[&str] = &["c", "internal", "plpython3u", "plpythonu", "plperlu", "pltclu", "plv8u"];

/// The name nodes a statement's objects appear as (references, not definitions).
const REFS: &[K] = &[
    K::TABLE_NAME_REF,
    K::RELATION_NAME_REF,
    K::FUNCTION_NAME_REF,
    K::TYPE_NAME_REF,
    K::VIEW_REF,
    K::SEQUENCE_REF,
    K::INDEX_REF,
    K::QUALIFIED_COLUMN_NAME_REF,
];

/// The name nodes of the objects a CREATE defines.
const DEFS: &[K] = &[K::TABLE_NAME, K::FUNCTION_NAME, K::PROCEDURE_NAME, K::TYPE_NAME, K::VIEW, K::SEQUENCE, K::DOMAIN];

pub fn acts(stmt: &ast::Stmt) -> Vec<Act> {
    use ast::Stmt as S;
    let node = stmt.syntax();
    match stmt {
        S::AlterTable(_) => owner(node, "alter table", "table"),
        S::AlterFunction(_) => owner(node, "alter function", "function"),
        S::AlterProcedure(_) => owner(node, "alter procedure", "procedure"),
        S::AlterType(_) => owner(node, "alter type", "type"),
        S::AlterDomain(_) => owner(node, "alter domain", "type"),
        S::AlterView(_) => owner(node, "alter view", "view"),
        S::AlterMaterializedView(_) => owner(node, "alter materialized view", "materialized view"),
        S::AlterSequence(_) => owner(node, "alter sequence", "sequence"),
        S::AlterIndex(_) => owner(node, "alter index", "index"),
        S::CreateIndex(_) => owner(node, "create index", "table"),
        S::CreateRule(_) => owner(node, "create rule", "table"),
        S::DropTable(_) => owners(node, "drop table", "table"),
        S::DropView(_) => owners(node, "drop view", "view"),
        S::DropMaterializedView(_) => owners(node, "drop materialized view", "materialized view"),
        S::DropSequence(_) => owners(node, "drop sequence", "sequence"),
        S::DropIndex(_) => owners(node, "drop index", "index"),
        S::DropFunction(_) => owners(node, "drop function", "function"),
        S::DropProcedure(_) => owners(node, "drop procedure", "procedure"),
        S::DropType(_) => owners(node, "drop type", "type"),
        S::DropDomain(_) => owners(node, "drop domain", "type"),
        S::AlterSchema(_) => schema_owner(node, "alter schema"),
        S::DropSchema(_) => schema_owner(node, "drop schema"),
        S::CommentOn(_) => comment_on(node),
        S::CreatePolicy(_) => policy(node, "create policy"),
        S::AlterPolicy(_) => policy(node, "alter policy"),
        S::DropPolicy(_) => policy(node, "drop policy"),
        S::DropTrigger(_) => {
            first_ref(node).filter(|t| restricted(t)).map(|table| Act::DropTrigger { table }).into_iter().collect()
        }
        S::CreateTable(_) | S::CreateTableAs(_) => create(node, "create table", "table"),
        S::CreateFunction(s) => {
            [create(node, "create function", "function"), language(s.option_list(), "create function")].concat()
        }
        S::CreateProcedure(s) => {
            [create(node, "create procedure", "procedure"), language(s.option_list(), "create procedure")].concat()
        }
        S::CreateType(_) => create(node, "create type", "type"),
        S::CreateDomain(_) => create(node, "create domain", "type"),
        S::CreateView(_) => create(node, "create view", "view"),
        S::CreateMaterializedView(_) => create(node, "create materialized view", "materialized view"),
        S::CreateSequence(_) => create(node, "create sequence", "sequence"),
        S::AlterSystem(_) => vec![Act::Superuser(Superuser::AlterSystem)],
        S::Copy(_) => copy(node),
        S::CreateLanguage(_) => vec![Act::Superuser(Superuser::CreateLanguage(word_after(node, K::LANGUAGE_KW)))],
        S::Load(_) => vec![Act::Superuser(Superuser::Load(squash(&literal(node))))],
        S::CreateRole(_) | S::CreateUser(_) | S::AlterRole(_) | S::AlterUser(_) => roles(node),
        S::DropRole(_) | S::DropUser(_) => dropped_roles(node),
        S::Grant(_) => memberships(node),
        _ => Vec::new(),
    }
}

fn owner(node: &SyntaxNode, stmt: &str, what: &str) -> Vec<Act> {
    first_ref(node).into_iter().filter(|o| restricted(o)).map(|object| owner_act(stmt, what, object)).collect()
}

fn owners(node: &SyntaxNode, stmt: &str, what: &str) -> Vec<Act> {
    all_refs(node).into_iter().filter(|o| restricted(o)).map(|object| owner_act(stmt, what, object)).collect()
}

fn owner_act(stmt: &str, what: &str, object: String) -> Act {
    Act::Owner { stmt: stmt.to_string(), what: what.to_string(), object }
}

/// A schema is its own object: restricted when it is one of the restricted schemas.
fn schema_owner(node: &SyntaxNode, stmt: &str) -> Vec<Act> {
    let names = node.descendants().filter(|n| n.kind() == K::SCHEMA_REF);
    names
        .map(|n| name_of(&n))
        .filter(|s| platform::is_restricted_schema(s))
        .map(|object| owner_act(stmt, "schema", object))
        .collect()
}

fn comment_on(node: &SyntaxNode) -> Vec<Act> {
    let Some(object) = node.children().find(|n| format!("{:?}", n.kind()).starts_with("OBJECT_")) else {
        return Vec::new();
    };
    let what = match object.kind() {
        K::OBJECT_POLICY => return policy(&object, "comment on policy"),
        K::OBJECT_SCHEMA => return schema_owner(&object, "comment on schema"),
        K::OBJECT_TABLE | K::OBJECT_COLUMN | K::OBJECT_TRIGGER | K::OBJECT_CONSTRAINT | K::OBJECT_RULE => "table",
        K::OBJECT_FUNCTION => "function",
        K::OBJECT_PROCEDURE => "procedure",
        K::OBJECT_TYPE | K::OBJECT_DOMAIN => "type",
        K::OBJECT_VIEW => "view",
        K::OBJECT_MATERIALIZED_VIEW => "materialized view",
        K::OBJECT_SEQUENCE => "sequence",
        K::OBJECT_INDEX => "index",
        _ => return Vec::new(),
    };
    owner(&object, "comment on", what)
}

fn policy(node: &SyntaxNode, stmt: &str) -> Vec<Act> {
    let table = first_ref(node).filter(|t| restricted(t));
    table.map(|table| Act::Policy { stmt: stmt.to_string(), table }).into_iter().collect()
}

fn create(node: &SyntaxNode, stmt: &str, what: &str) -> Vec<Act> {
    let or_replace = node.children().any(|n| n.kind() == K::OR_REPLACE);
    let stmt = if or_replace { stmt.replacen("create", "create or replace", 1) } else { stmt.to_string() };
    let defined = node.descendants().find(|n| DEFS.contains(&n.kind())).map(|n| name_of(&n));
    let object = defined.filter(|o| restricted(o));
    object.map(|object| Act::Create { stmt, what: what.to_string(), object }).into_iter().collect()
}

fn language(options: Option<ast::FuncOptionList>, stmt: &str) -> Vec<Act> {
    let Some(options) = options else { return Vec::new() };
    let refs = options.syntax().descendants().filter(|n| n.kind() == K::LANGUAGE_REF);
    refs.map(|n| name_of(&n).trim_matches('\'').to_string())
        .filter(|l| UNTRUSTED_LANGUAGES.contains(&l.as_str()))
        .map(|language| Act::Superuser(Superuser::UntrustedLanguage { stmt: stmt.to_string(), language }))
        .collect()
}

/// COPY to or from anything but the client (stdin, stdout) reads or writes on the server.
fn copy(node: &SyntaxNode) -> Vec<Act> {
    let ends = node.children().filter(|n| n.kind() == K::COPY_FROM || n.kind() == K::COPY_TO);
    let mut out = Vec::new();
    for end in ends {
        let client = end.children().any(|n| n.kind() == K::COPY_STDIN || n.kind() == K::COPY_STDOUT);
        if client {
            continue;
        }
        let program = end.descendants_with_tokens().any(|t| t.kind() == K::PROGRAM_KW);
        out.push(Act::Superuser(if program { Superuser::CopyProgram } else { Superuser::CopyFile }));
    }
    out
}

fn roles(node: &SyntaxNode) -> Vec<Act> {
    let creating = node.kind() == K::CREATE_ROLE || node.kind() == K::CREATE_USER;
    let stmt = if creating { "create role" } else { "alter role" };
    let role = node
        .children()
        .find(|n| n.kind() == K::ROLE_REF || n.kind() == K::ROLE)
        .map(|n| name_of(&n))
        .unwrap_or_default();
    let mut out = Vec::new();
    let options = node.descendants().filter(|n| n.kind() == K::ROLE_OPTION_GENERIC).map(|n| name_of(&n));
    if options.into_iter().any(|o| o == "superuser") {
        out.push(Act::Superuser(Superuser::SuperuserRole { stmt: stmt.to_string(), role: role.clone() }));
    }
    if platform::is_reserved_role(&role) {
        let settings = |n: &SyntaxNode| matches!(n.kind(), K::SET_CONFIG_PARAM | K::RESET_CONFIG_PARAM);
        let settings_only = !creating && node.children().any(|n| settings(&n));
        out.push(Act::Role { stmt: stmt.to_string(), role, settings_only });
    }
    out
}

fn dropped_roles(node: &SyntaxNode) -> Vec<Act> {
    let roles = node.children().filter(|n| n.kind() == K::ROLE_REF).map(|n| name_of(&n));
    roles
        .filter(|r| platform::is_reserved_role(r))
        .map(|role| Act::Role { stmt: "drop role".to_string(), role, settings_only: false })
        .collect()
}

/// `GRANT <role> TO ...`: the granted roles are role references before `TO`.
fn memberships(node: &SyntaxNode) -> Vec<Act> {
    let Some(granted) = node.children().find(|n| n.kind() == K::REVOKE_COMMAND_LIST) else { return Vec::new() };
    let roles = granted.descendants().filter(|n| n.kind() == K::ROLE_REF).map(|n| name_of(&n));
    roles
        .filter(|r| platform::RESERVED_MEMBERSHIPS.contains(&r.as_str()))
        .map(|role| Act::Membership { role })
        .collect()
}

fn first_ref(node: &SyntaxNode) -> Option<String> {
    node.descendants().find(|n| REFS.contains(&n.kind())).map(|n| object_of(&n))
}

/// Every object a DROP names, not the types inside a function's signature.
fn all_refs(node: &SyntaxNode) -> Vec<String> {
    let inside_params = |n: &SyntaxNode| n.ancestors().any(|a| a.kind() == K::PARAM_LIST);
    node.descendants().filter(|n| REFS.contains(&n.kind()) && !inside_params(n)).map(|n| object_of(&n)).collect()
}

/// `schema.name` of a reference; a column's table.
fn object_of(node: &SyntaxNode) -> String {
    let name = name_of(node);
    if node.kind() == K::QUALIFIED_COLUMN_NAME_REF {
        return name.rsplit_once('.').map_or(name.clone(), |(table, _)| table.to_string());
    }
    name
}

/// Normalised: no quotes or whitespace, lower case, without an argument list.
fn name_of(node: &SyntaxNode) -> String {
    let text: String = node.text().to_string().chars().filter(|c| !c.is_whitespace() && *c != '"').collect();
    text.split('(').next().unwrap_or_default().to_lowercase()
}

/// Whether an object (`schema.name`) lives in a restricted schema; an unqualified one is in `public`.
fn restricted(object: &str) -> bool {
    object.split_once('.').is_some_and(|(schema, _)| platform::is_restricted_schema(schema))
}

fn word_after(node: &SyntaxNode, keyword: K) -> String {
    let mut tokens = node.descendants_with_tokens().filter_map(|t| t.into_token()).filter(|t| !t.kind().is_trivia());
    tokens.find(|t| t.kind() == keyword);
    tokens.next().map(|t| t.text().trim_matches('"').to_lowercase()).unwrap_or_default()
}

fn literal(node: &SyntaxNode) -> String {
    node.children().find(|n| n.kind() == K::LITERAL).map(|n| n.text().to_string()).unwrap_or_default()
}

fn squash(text: &str) -> String {
    text.trim().trim_matches('\'').to_string()
}
