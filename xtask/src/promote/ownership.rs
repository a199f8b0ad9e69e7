//! On a plain PostgreSQL whose migration user is an ordinary role, the batch's statements that need an object's
//! owner, asked of the target before anything is pushed: a local shadow, where the history created everything
//! as one user, cannot show that an existing object belongs to a role the user is not a member of.

use crate::blocked::blocked;
use crate::domain::lint::sql::ownership::{self, ObjectKind, Owned};
use crate::domain::platform::RoleModel;
use crate::domain::refusal::Refusal;
use crate::edges::supabase::management_api::Access;
use crate::edges::target::Resolved;

use super::Ctx;
use super::plan::Plan;

/// A statement the target would refuse: its object exists there and belongs to a role the user is not in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Offender {
    pub file: String,
    pub owned: Owned,
    /// The role that owns the object on the target.
    pub owner: String,
    /// The error the statement would fail with (`must be owner of table legacy`).
    pub error: String,
}

/// Only on a plain PostgreSQL whose migration user is no superuser: every batch statement that needs an
/// object's owner, with the object on the target owned by a role the user is not a member of, named at once.
pub(super) fn check(ctx: &Ctx, target: &Resolved, plan: &Plan) -> anyhow::Result<()> {
    if target.role_model()? != RoleModel::PlainOwner {
        return Ok(());
    }
    let texts = plan.batch().iter().map(|m| m.text()).collect::<Result<Vec<&str>, _>>()?;
    let owned: Vec<(String, Owned)> = plan
        .batch()
        .iter()
        .zip(ownership::needs_ownership_in_order(&texts))
        .flat_map(|(m, found)| found.into_iter().map(|o| (m.rel_path.clone(), o)))
        .collect();
    if owned.is_empty() {
        return Ok(());
    }
    let direct = target.direct(Access::ReadOnly)?;
    let mut client = direct.connect()?;
    let found = offenders(&mut client, &owned)?;
    if found.is_empty() {
        return Ok(());
    }
    let user: String = client.query_one("select current_user::text", &[])?.get(0);
    Err(blocked(Refusal::NotOwner { explained: message(ctx.name, &user, &found) }))
}

/// The refusal: one sentence for one offender, a list for more.
fn message(target: &str, user: &str, found: &[Offender]) -> String {
    let quoted = |o: &Offender| format!("\"{}\"", o.error);
    if let [o] = found {
        return format!(
            "promote: on {target} the migration user `{user}` does not own {} ({} does): {}:{} `{}` would fail with {}; nothing was pushed. Grant `{}` to `{user}`, or run that statement as `{}`",
            o.owned.object,
            o.owner,
            o.file,
            o.owned.line,
            o.owned.statement,
            quoted(o),
            o.owner,
            o.owner
        );
    }
    let lines: Vec<String> = found
        .iter()
        .map(|o| {
            format!(
                "{} ({} does): {}:{} `{}` would fail with {}",
                o.owned.object,
                o.owner,
                o.file,
                o.owned.line,
                o.owned.statement,
                quoted(o)
            )
        })
        .collect();
    let mut owners: Vec<&str> = found.iter().map(|o| o.owner.as_str()).collect();
    owners.sort_unstable();
    owners.dedup();
    format!(
        "promote: on {target} the migration user `{user}` does not own {} object(s) the batch needs to own; nothing was pushed:\n  - {}\nGrant {} to `{user}`, or run those statements as their owners",
        found.len(),
        lines.join("\n  - "),
        owners.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", ")
    )
}

/// What the target says of an object: (owner, whether the session's user is a member of it, whether the
/// user holds a grant option on it, what it is, its bare name). Nothing when it does not exist there.
const ASK: &str = "select pg_get_userbyid(o.owner)::text, pg_has_role(current_user, o.owner, 'USAGE'), \
     coalesce((select bool_or(case when a.grantee = 0 then false else pg_has_role(current_user, a.grantee, 'USAGE') end) \
               from aclexplode(o.acl) a where a.is_grantable), false), o.what, o.name::text from ";

const RELATION: &str = "(select relowner as owner, relacl as acl, \
     case relkind when 'v' then 'view' when 'm' then 'materialized view' when 'i' then 'index' when 'I' then 'index' \
     when 'S' then 'sequence' when 'f' then 'foreign table' else 'table' end as what, relname as name \
     from pg_class where oid = to_regclass($1)) o";

const PROKIND: &str = "case prokind when 'p' then 'procedure' when 'a' then 'aggregate' else 'function' end";

const TYPE: &str = "(select typowner as owner, typacl as acl, case typtype when 'd' then 'domain' else 'type' end as what, \
     typname as name from pg_type where oid = to_regtype($1)) o";

const SCHEMA: &str = "(select nspowner as owner, nspacl as acl, 'schema' as what, nspname as name \
     from pg_namespace where nspname = (parse_ident($1))[1]) o";

/// The statements of `owned` (with their files) the target would refuse. An object the target does not have is
/// skipped: the batch or the history creates it.
pub(super) fn offenders(client: &mut postgres::Client, owned: &[(String, Owned)]) -> anyhow::Result<Vec<Offender>> {
    let by_signature = format!(
        "(select proowner as owner, proacl as acl, {PROKIND} as what, proname as name from pg_proc \
         where oid = to_regprocedure($1)) o"
    );
    // Named without arguments: by name in its schema (more than one is an error of its own on the target).
    let by_name = format!(
        "(select p.proowner as owner, p.proacl as acl, {PROKIND} as what, p.proname as name from pg_proc p \
         join pg_namespace n on n.oid = p.pronamespace \
         where n.nspname = (parse_ident($1))[1] and p.proname = (parse_ident($1))[2]) o"
    );
    let mut out = Vec::new();
    for (file, o) in owned {
        let from = match o.kind {
            ObjectKind::Relation => RELATION,
            ObjectKind::Type => TYPE,
            ObjectKind::Schema => SCHEMA,
            ObjectKind::Function if o.object.contains('(') => by_signature.as_str(),
            ObjectKind::Function => by_name.as_str(),
        };
        let rows = match client.query(&format!("{ASK}{from}"), &[&o.object]) {
            Ok(rows) => rows,
            // A name the server cannot read as one (a type spelled its own way in a signature): not judged.
            Err(err) if err.as_db_error().is_some() => {
                eprintln!(
                    "warning: could not look up who owns {} ({}:{}) on the target: {err}; not checked",
                    o.object, file, o.line
                );
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        for row in rows {
            let (owner, member, grantable): (String, bool, bool) = (row.get(0), row.get(1), row.get(2));
            if member || (o.is_grant() && grantable) {
                continue;
            }
            let (what, name): (String, String) = (row.get(3), row.get(4));
            let error = if o.is_grant() {
                format!("permission denied for {what} {name}")
            } else {
                format!("must be owner of {what} {name}")
            };
            out.push(Offender { file: file.clone(), owned: o.clone(), owner, error });
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_user(admin: &str, user: &str, password: &str) -> String {
        let mut url = url::Url::parse(admin).unwrap();
        url.set_username(user).unwrap();
        url.set_password(Some(password)).unwrap();
        url.to_string()
    }

    #[test]
    fn objects_of_other_roles_are_offenders_and_missing_or_shared_ones_are_not() {
        let (_tmp, admin) = crate::edges::postgres::TempCluster::start();
        let mut su = crate::edges::postgres::connect(&admin).unwrap();
        su.batch_execute(
            "create role legacy_owner nologin;
             create role team nologin;
             create role app_migrator login password 'app-pw' in role team;
             create table public.legacy (a int);
             alter table public.legacy owner to legacy_owner;
             create table public.mine (a int);
             alter table public.mine owner to app_migrator;
             create table public.teams (a int);
             alter table public.teams owner to team;
             create table public.shared (a int);
             alter table public.shared owner to legacy_owner;
             grant select on public.shared to app_migrator with grant option;
             create function public.legacy_fn(int) returns int language sql as 'select 1';
             alter function public.legacy_fn(int) owner to legacy_owner;
             create type public.mood as enum ('ok');
             alter type public.mood owner to legacy_owner;
             create schema legacy_schema authorization legacy_owner;",
        )
        .unwrap();
        let mut client = crate::edges::postgres::connect(&as_user(&admin, "app_migrator", "app-pw")).unwrap();
        let text = "alter table legacy enable row level security;\n\
                    alter table mine add column b int;\n\
                    alter table teams add column b int;\n\
                    grant select on shared to anon;\n\
                    alter table shared add column b int;\n\
                    drop table if exists nowhere;\n\
                    alter function legacy_fn(integer) owner to app_migrator;\n\
                    comment on function legacy_fn is 'x';\n\
                    drop function if exists legacy_fn(text);\n\
                    alter type mood add value 'meh';\n\
                    comment on schema legacy_schema is 'x';\n\
                    grant select on legacy to anon;\n";
        let owned: Vec<(String, Owned)> =
            ownership::needs_ownership(text).into_iter().map(|o| ("m/1_x.sql".to_string(), o)).collect();
        let found = offenders(&mut client, &owned).unwrap();
        let got: Vec<(usize, &str, &str, &str)> =
            found.iter().map(|o| (o.owned.line, o.owned.object.as_str(), o.owner.as_str(), o.error.as_str())).collect();
        assert_eq!(
            got,
            [
                (1, "public.legacy", "legacy_owner", "must be owner of table legacy"),
                (5, "public.shared", "legacy_owner", "must be owner of table shared"),
                (7, "public.legacy_fn(integer)", "legacy_owner", "must be owner of function legacy_fn"),
                (8, "public.legacy_fn", "legacy_owner", "must be owner of function legacy_fn"),
                (10, "public.mood", "legacy_owner", "must be owner of type mood"),
                (11, "legacy_schema", "legacy_owner", "must be owner of schema legacy_schema"),
                (12, "public.legacy", "legacy_owner", "permission denied for table legacy"),
            ]
        );
        let one = message("prod", "app_migrator", &found[..1]);
        assert_eq!(
            one,
            "promote: on prod the migration user `app_migrator` does not own public.legacy (legacy_owner does): m/1_x.sql:1 `alter table` would fail with \"must be owner of table legacy\"; nothing was pushed. Grant `legacy_owner` to `app_migrator`, or run that statement as `legacy_owner`"
        );
        let many = message("prod", "app_migrator", &found);
        assert!(many.contains("does not own 7 object(s)"), "{many}");
        assert!(many.contains("\n  - public.mood (legacy_owner does): m/1_x.sql:10 `alter type`"), "{many}");

        // What the server says when the statement runs, to keep the quoted errors honest.
        let err = client.batch_execute("alter table legacy enable row level security").unwrap_err();
        assert!(err.as_db_error().unwrap().message().contains("must be owner of table legacy"), "{err}");
    }
}
