//! The locks the platform takes for a file's policy statements. On a Supabase project `postgres` is not a
//! superuser, so supautils handles every CREATE, ALTER, DROP and COMMENT ON POLICY it runs
//! (`supabase/supautils`, `src/policy_grants.c`): it walks `supautils.policy_grants` in its configured order and
//! takes ACCESS EXCLUSIVE on each listed table until it reaches the policy's own table (a table not in the list:
//! every listed one; a listed table the database lacks is skipped), and those locks last until the transaction
//! ends, which is the whole file (the CLI runs each file in one). A shadow has no supautils, so these locks are
//! decided here from the file's statements, never measured. Pure.

use serde::Serialize;

use crate::domain::findings::Pos;
use crate::domain::lint::sql::{Fact, norm};

/// The mode supautils locks each managed table in.
pub const MODE: &str = "ACCESS EXCLUSIVE";

/// What a file holds through supautils, for its whole transaction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyLocks {
    pub mode: &'static str,
    /// The managed tables, in the list's order.
    pub tables: Vec<String>,
    /// How long the file's transaction took on the shadow: how long the tables stay locked (`None`: the file
    /// was not measured).
    pub held_ms: Option<u64>,
}

/// The tables a file's policy statements are on (`public.` dropped, as `norm` does), in statement order.
pub fn policy_tables(facts: &[(Pos, Fact)]) -> Vec<String> {
    facts
        .iter()
        .filter_map(|(_, fact)| match fact {
            Fact::Policy { table } => Some(table.clone()),
            _ => None,
        })
        .collect()
}

/// The managed tables supautils holds for policy statements on `tables`, in `grants`' order. Each statement
/// locks the list's prefix up to and including its own table (all of it when its table is not listed), so the
/// union over a file's statements is the longest of those prefixes.
pub fn held(tables: &[String], grants: &[&str]) -> Vec<String> {
    let reach = tables.iter().map(|t| grants.iter().position(|g| norm(g) == *t).unwrap_or(grants.len())).max();
    match reach {
        Some(last) => grants.iter().take(last + 1).map(|g| g.to_string()).collect(),
        None => Vec::new(),
    }
}

/// A file's locks through supautils on a Supabase target, or `None` when it has no policy statement (or the
/// list is empty). `held_ms` is the file's duration on the shadow.
pub fn for_file(facts: &[(Pos, Fact)], grants: &[&str], held_ms: Option<u64>) -> Option<PolicyLocks> {
    let tables = held(&policy_tables(facts), grants);
    (!tables.is_empty()).then_some(PolicyLocks { mode: MODE, tables, held_ms })
}

/// Who waits while `tables` are held, by the services that read them, for the report's words.
pub fn who_waits(tables: &[String]) -> String {
    let services: [(&str, &[&str]); 3] = [
        ("auth.", &["sign-in", "token refresh"]),
        ("storage.", &["storage reads"]),
        ("realtime.", &["Realtime broadcasts"]),
    ];
    let waiting: Vec<&str> = services
        .iter()
        .filter(|(schema, _)| tables.iter().any(|t| t.starts_with(schema)))
        .flat_map(|(_, who)| who.iter().copied())
        .collect();
    match waiting.as_slice() {
        [] => "their readers wait".to_string(),
        [one] => format!("{one} wait"),
        [rest @ .., last] => format!("{} and {last} wait", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::platform::POLICY_GRANTS;

    fn on(tables: &[&str]) -> Vec<String> {
        tables.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn a_policy_on_a_listed_table_locks_the_list_up_to_it() {
        assert_eq!(
            held(&on(&["auth.users"]), POLICY_GRANTS),
            ["auth.audit_log_entries", "auth.identities", "auth.refresh_tokens", "auth.sessions", "auth.users"]
        );
        assert_eq!(held(&on(&["auth.audit_log_entries"]), POLICY_GRANTS), ["auth.audit_log_entries"]);
    }

    #[test]
    fn a_policy_on_an_app_table_locks_every_listed_table() {
        // `norm` drops `public.`: the fact for `public.notes` names `notes`.
        assert_eq!(held(&on(&["notes"]), POLICY_GRANTS), POLICY_GRANTS);
    }

    #[test]
    fn several_statements_lock_the_union_in_list_order() {
        assert_eq!(
            held(&on(&["storage.buckets", "auth.identities", "storage.buckets"]), POLICY_GRANTS),
            POLICY_GRANTS[..7]
        );
        assert_eq!(held(&on(&["auth.identities", "notes"]), POLICY_GRANTS), POLICY_GRANTS);
    }

    #[test]
    fn a_captured_list_is_followed_in_its_own_order() {
        let captured = ["storage.objects", "public.profiles", "auth.users", "auth.sessions"];
        assert_eq!(held(&on(&["profiles"]), &captured), ["storage.objects", "public.profiles"]);
        assert_eq!(held(&on(&["auth.users"]), &captured), ["storage.objects", "public.profiles", "auth.users"]);
        assert_eq!(held(&on(&["other"]), &captured), captured);
    }

    #[test]
    fn no_policy_statement_or_no_list_locks_nothing() {
        assert!(held(&[], POLICY_GRANTS).is_empty());
        assert!(held(&on(&["auth.users"]), &[]).is_empty());
        let facts = [(Pos { line: 1, col: 1 }, Fact::CreateExtension("pg_cron".into()))];
        assert_eq!(for_file(&facts, POLICY_GRANTS, Some(5)), None);
    }

    #[test]
    fn a_files_policy_statements_become_its_locks_with_its_duration() {
        let at = Pos { line: 1, col: 1 };
        let facts = [(at, Fact::Policy { table: "auth.identities".into() }), (at, Fact::Destructive("x".into()))];
        assert_eq!(
            for_file(&facts, POLICY_GRANTS, Some(412)),
            Some(PolicyLocks {
                mode: "ACCESS EXCLUSIVE",
                tables: on(&["auth.audit_log_entries", "auth.identities"]),
                held_ms: Some(412)
            })
        );
    }

    #[test]
    fn the_waiting_are_named_by_the_services_whose_tables_are_held() {
        assert_eq!(who_waits(&on(&["auth.audit_log_entries"])), "sign-in and token refresh wait");
        assert_eq!(who_waits(&on(&["storage.objects"])), "storage reads wait");
        assert_eq!(who_waits(&on(POLICY_GRANTS)), "sign-in, token refresh, storage reads and Realtime broadcasts wait");
        assert_eq!(who_waits(&on(&["public.profiles"])), "their readers wait");
    }
}
