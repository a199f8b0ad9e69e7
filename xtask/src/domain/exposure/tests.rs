//! The exposure judgement on hand-made snapshots: which file is named, what a schema without USAGE hides, what an
//! acknowledgement and applied history make of an error, how a policy condition reads.

use std::collections::BTreeMap;

use super::*;

fn table(rls: bool, access: &[(&str, &[&str])]) -> Relation {
    Relation {
        kind: RelKind::Table,
        rls,
        force: false,
        security_invoker: false,
        access: access
            .iter()
            .map(|(role, privs)| {
                (role.to_string(), Access { table: privs.iter().map(|p| p.to_string()).collect(), columns: vec![] })
            })
            .collect(),
        reads: BTreeMap::new(),
    }
}

fn with(relations: &[(&str, Relation)]) -> Snapshot {
    let mut s = Snapshot::default();
    s.schemas.insert("public".into(), vec!["anon".into(), "authenticated".into()]);
    s.relations = relations.iter().map(|(n, r)| (n.to_string(), r.clone())).collect();
    s
}

fn kinds(review: &ExposureReview) -> Vec<(Severity, &str, &str, Option<&str>)> {
    review.findings.iter().map(|f| (f.severity, f.kind, f.object.as_str(), f.file.as_deref())).collect()
}

#[test]
fn the_file_that_last_made_a_problem_is_named_and_a_standing_one_is_counted() {
    let old = ("public.old", table(false, &[("anon", &["SELECT"])]));
    let before = with(std::slice::from_ref(&old));
    // 1.sql makes public.t reachable under RLS, 2.sql turns RLS off: 2.sql made the error.
    let one = with(&[old.clone(), ("public.t", table(true, &[("anon", &["SELECT"])]))]);
    let two = with(&[old, ("public.t", table(false, &[("anon", &["SELECT"])]))]);
    let review = judge(Inputs::default(), &before, &[("1.sql".into(), one), ("2.sql".into(), two)]);
    assert_eq!(kinds(&review), [(Severity::Error, "table-without-rls", "public.t", Some("2.sql"))]);
    assert_eq!(review.preexisting, 1, "public.old stood before the batch");
}

#[test]
fn a_schema_without_usage_hides_what_it_holds_and_an_ack_makes_a_note() {
    let mut hidden = with(&[("public.t", table(false, &[("anon", &["SELECT"])]))]);
    hidden.schemas.insert("public".into(), vec![]);
    let review = judge(Inputs::default(), &Snapshot::default(), &[("1.sql".into(), hidden)]);
    assert!(review.unacknowledged_errors().is_empty(), "{:?}", review.findings);

    let open = with(&[("public.t", table(false, &[("anon", &["SELECT"])]))]);
    let review = judge(Inputs::default(), &Snapshot::default(), &[("1.sql".into(), open)]);
    let acks = BTreeMap::from([("1.sql".to_string(), "reference data".to_string())]);
    let review = review.acknowledge(&acks);
    let table = review.findings.iter().find(|f| f.kind == "table-without-rls").unwrap();
    assert_eq!(table.severity, Severity::Note);
    assert_eq!(table.acknowledged.as_deref(), Some("reference data"));
}

#[test]
fn always_true_is_read_as_the_server_prints_it() {
    let policy = |command: &str, using: Option<&str>, check: Option<&str>| Policy {
        command: command.into(),
        roles: vec!["anon".into()],
        permissive: true,
        using_expr: using.map(str::to_string),
        with_check: check.map(str::to_string),
    };
    assert!(policy("INSERT", None, Some("true")).always_true());
    assert!(policy("SELECT", Some("(1 = 1)"), None).always_true());
    assert!(policy("ALL", Some("true"), None).always_true());
    assert!(!policy("UPDATE", Some("true"), Some("(owner = auth.uid())")).always_true());
    assert!(!policy("SELECT", Some("(( SELECT auth.uid() AS uid) = owner)"), None).always_true());
    assert_eq!(
        policy("SELECT", Some("(EXISTS ( SELECT 1\n   FROM t))"), None).describe(),
        "SELECT to anon using ((EXISTS ( SELECT 1 FROM t)))"
    );
}

#[test]
fn an_error_in_applied_history_is_a_warning() {
    let open = with(&[("public.t", table(false, &[("anon", &["SELECT"])]))]);
    let review = judge(Inputs::default(), &Snapshot::default(), &[("migrations/1.sql".into(), open)]);
    let review = review.in_applied_history(&["migrations/1.sql"].into());
    let table = review.findings.iter().find(|f| f.kind == "table-without-rls").unwrap();
    assert_eq!(table.severity, Severity::Warning);
    assert!(table.message.ends_with("(in applied history, which cannot be edited: a forward fix changes it)"));
}
