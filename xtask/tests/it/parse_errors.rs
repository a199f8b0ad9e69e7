//! SQL that does not parse: `check` names the line and the word as Postgres does, and `promote` pushes nothing to
//! any target, the embedded default included, unless `xtask.toml` lowers `parse-error` (the escape for a gap in
//! squawk's parser), when the push goes on as before.

use crate::support::{Tree, example_versions, versions};

const TYPO: &str = "migrations/20260601000000_typo.sql";
const TYPO_SQL: &str = "select 1;\ncreate tabel public.t (\n  id bigint\n);\n";
const MESSAGE: &str = "syntax error at or near \"tabel\": not a CREATE command";

#[test]
fn check_names_the_line_and_the_word_in_every_format() {
    let tree = Tree::example();
    tree.write(TYPO, TYPO_SQL);
    tree.write("migrations/20260601000001_unclosed.sql", "create index if not exists t_id_idx on public.t (id;\n");
    let run = tree.check();
    assert_eq!(run.code, 1, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let parse_errors: Vec<String> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "parse-error")
        .map(|f| {
            format!("{}:{}:{}: {}", f["file"].as_str().unwrap(), f["line"], f["col"], f["message"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        parse_errors,
        [
            format!("{TYPO}:2:8: {MESSAGE}"),
            "migrations/20260601000001_unclosed.sql:1:52: syntax error at or near \";\": expected `)`".to_string(),
        ]
    );

    let human = tree.run(&["check"]);
    assert_eq!(human.code, 1);
    assert!(human.stdout.contains(&format!("{TYPO}:2:8: error[parse-error]: {MESSAGE}\n")), "{}", human.stdout);
}

#[test]
fn promote_pushes_nothing_to_the_embedded_default() {
    let tree = Tree::example();
    tree.write(TYPO, TYPO_SQL);
    let url = tree.db_start();
    let run = tree.run(&["promote", "--format", "json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains(&format!("{TYPO}:2:8: error[parse-error]: {MESSAGE}")), "{}", run.stderr);
    assert_eq!(run.refusal().as_deref(), Some("blocking_findings"), "{}", run.stderr);
    assert_eq!(versions(&url), Vec::<String>::new(), "not even the files before it");
}

#[test]
fn a_lowered_parse_error_severity_lets_the_push_go_on() {
    let tree = Tree::example();
    let config = String::from_utf8(tree.read("xtask.toml")).unwrap();
    tree.write("xtask.toml", config.replace("[check.severity]\n", "[check.severity]\nparse-error = \"warning\"\n"));
    tree.write(TYPO, TYPO_SQL);
    let url = tree.db_start();
    let run = tree.run(&["promote", "--format", "json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let record: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(record["outcome"], "failed", "{record:#}");
    assert_eq!(record["failed"]["file"], "20260601000000_typo.sql");
    let findings: Vec<String> = record["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{}[{}]: {}", f["severity"].as_str().unwrap(), f["code"].as_str().unwrap(), f["message"]))
        .collect();
    assert!(findings.contains(&format!("warning[parse-error]: {:?}", MESSAGE)), "{findings:?}");
    assert_eq!(versions(&url), example_versions(), "the files before it went, as before");
}
