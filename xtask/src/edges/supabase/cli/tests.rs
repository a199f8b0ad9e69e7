//! The CLI's argument lists, output parsing and error advice (pure), and the real CLI from `npm ci`, offline.

use super::*;

const V3: Version = Version { major: 3, minor: 1, patch: 0 };
const V2: Version = Version { major: 2, minor: 122, patch: 1 };

#[test]
fn push_command_lines_name_the_target_explicitly() {
    let wd = Path::new("/w");
    let url = Remote::Url("postgresql://u:p@h:5432/db".into());
    let project = Remote::Project("srcaoozjkrughebmbvfb".into());
    assert_eq!(
        push_args(V3, wd, &url, Push::DryRun).join(" "),
        "--workdir /w db push --remote=postgresql://u:p@h:5432/db --dry-run --yes --output-format json"
    );
    assert_eq!(
        push_args(V3, wd, &project, Push::Apply).join(" "),
        "--workdir /w db push --remote=srcaoozjkrughebmbvfb --yes --output-format json"
    );
    assert_eq!(
        push_args(V2, wd, &url, Push::Apply).join(" "),
        "--workdir /w db push --db-url postgresql://u:p@h:5432/db --yes"
    );
    assert_eq!(push_args(V2, wd, &project, Push::DryRun).join(" "), "--workdir /w db push --linked --dry-run --yes");
    assert_eq!(
        link_args(V3, wd, "srcaoozjkrughebmbvfb").join(" "),
        "--workdir /w link --project-ref srcaoozjkrughebmbvfb --output-format json"
    );
    assert_eq!(
        query_args(wd, &project, "select 1").join(" "),
        "--workdir /w db query --remote=srcaoozjkrughebmbvfb --read-only --output-format json select 1"
    );
}

#[test]
fn parses_push_results_and_errors() {
    let ok = parse_push_json(
        r#"{"upToDate":false,"dryRun":true,"migrations":["1_a.sql","2_b.sql"],"target":{"kind":"db-url","host":"127.0.0.1","port":5432}}"#,
    );
    assert_eq!(ok.migrations, ["1_a.sql", "2_b.sql"]);
    assert_eq!(ok.target.unwrap().port, Some(5432));
    let failed = parse_push_json(
        r#"{"target":{"kind":"db-url"},"_tag":"Error","error":{"code":"DbPushApplyError","message":"ERROR: boom"}}"#,
    );
    assert_eq!(failed.error, Some(CliError { code: "DbPushApplyError".into(), message: "ERROR: boom".into() }));
    // The excerpt keeps its lines; the code follows on a line of its own, with no advice (promote gives one that
    // fits where the file is recorded).
    assert_eq!(explain(&failed.error.unwrap()), "ERROR: boom\n(DbPushApplyError)");
    let token = CliError { code: "AccessTokenRequiredError".into(), message: "no token\nat: link".into() };
    assert!(explain(&token).starts_with("no token\nat: link\n(AccessTokenRequiredError) set SUPABASE_ACCESS_TOKEN"));
    let v2 = parse_push_text("Would push these migrations:\n • 1_a.sql\n • 2_b.sql\n", "");
    assert_eq!(v2.migrations, ["1_a.sql", "2_b.sql"]);
}

#[test]
fn passwords_leave_the_command_line_for_the_environment() {
    let url = Remote::Url("postgresql://postgres:p%40ss%3Aw0rd@127.0.0.1:5433/db?sslmode=disable".into());
    let (remote, password) = url.for_command_line().unwrap();
    assert_eq!(remote, Remote::Url("postgresql://postgres@127.0.0.1:5433/db?sslmode=disable".into()));
    assert_eq!(password.as_deref(), Some("p@ss:w0rd"));
    let none = Remote::Url("postgresql://postgres@[::1]:5432/postgres".into()).for_command_line().unwrap();
    assert_eq!(none, (Remote::Url("postgresql://postgres@[::1]:5432/postgres".into()), None));
    assert!(Remote::Url("postgresql://u:p@/db".into()).for_command_line().is_err());
}

#[test]
fn versions() {
    assert_eq!(Version::parse("3.1.0\n"), Some(V3));
    assert_eq!(Version::parse("v2.122.1"), Some(V2));
    assert_eq!(Version::parse("dev"), None);
}

#[test]
fn the_status_is_read_where_the_cli_prints_it() {
    assert_eq!(unexpected_status("unexpected status 404: {\"message\":\"not found\"}"), Some(404));
    assert_eq!(unexpected_status("failed: unexpected status 503"), Some(503));
    assert_eq!(unexpected_status("unexpected status 4040: x"), None);
    assert_eq!(unexpected_status("query failed: ERROR: boom"), None);
}

#[test]
fn the_sqlstate_is_the_code_the_cli_prints_not_any_mention() {
    let failed = "ERROR: canceling statement due to lock timeout (SQLSTATE 55P03)\nAt statement: 0\nalter table a";
    assert_eq!(sqlstate(failed), Some("55P03"));
    assert_eq!(sqlstate("ERROR: must be owner of table users (SQLSTATE 42501)"), Some("42501"));
    // A file's SQL quoted in the message may mention a code; only the printed form counts.
    assert_eq!(sqlstate("ERROR: boom\nalter table a -- retried on 55P03"), None);
    assert_eq!(sqlstate("(SQLSTATE 55p0"), None);
}

mod real_cli {
    use super::*;

    /// The real CLI from `npm ci`, offline: the Management API paths fail before any network use.
    fn cli(sh: &Shell) -> Cli {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        sh.set_var("SUPABASE_ACCESS_TOKEN", ""); // empty is "not provided" to the CLI
        Cli::locate(sh, root).unwrap()
    }

    #[test]
    fn link_and_query_without_a_token_say_which_variable_to_set() {
        let sh = Shell::new().unwrap();
        let cli = cli(&sh);
        assert_eq!(cli.version.major, 3);
        let dir = tempfile::tempdir().unwrap();
        let err = cli.link(&sh, dir.path(), "srcaoozjkrughebmbvfb").unwrap_err().to_string();
        assert!(err.contains("(AccessTokenRequiredError) set SUPABASE_ACCESS_TOKEN"), "{err}");
        let remote = Remote::Project("srcaoozjkrughebmbvfb".into());
        let err = cli.query(&sh, dir.path(), &remote, "select 1").unwrap_err().to_string();
        assert!(err.contains("SUPABASE_ACCESS_TOKEN"), "{err}");
    }

    #[test]
    fn the_platform_executable_is_run_not_the_node_launcher() {
        let path = cli(&Shell::new().unwrap()).path;
        let shown = path.display().to_string();
        assert!(shown.contains("node_modules/@supabase/cli-") && shown.ends_with("/bin/supabase"), "{shown}");
        assert!(!std::fs::read(&path).unwrap().starts_with(b"#!"), "a binary, not a script");
    }
}
