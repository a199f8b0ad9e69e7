//! The platform baseline is faithful to a current Supabase project: a history modelled on real apps (auth users
//! with the current columns, identities and sessions, storage buckets and owner_id policies, a database webhook
//! through `supabase_functions`, a realtime policy, a vault secret, policies on `auth.uid()` and `auth.jwt()`)
//! replays on the embedded default, and what it wrote is there afterwards.

use crate::support::{Tree, connect};

#[test]
fn an_app_history_using_the_platform_schemas_replays_on_the_embedded_default() {
    let tree = Tree::example();
    for entry in std::fs::read_dir(tree.path("migrations")).unwrap().flatten() {
        std::fs::remove_file(entry.path()).unwrap();
    }
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/app");
    for entry in std::fs::read_dir(fixtures).unwrap().flatten() {
        std::fs::copy(entry.path(), tree.path("migrations").join(entry.file_name())).unwrap();
    }
    let run = tree.run(&["promote", "--skip-catalog"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Promoted 4 migration(s) to local"), "{}", run.stdout);

    let mut db = connect(&tree.admin_url("postgres"));
    let one = |db: &mut postgres::Client, sql: &str| -> String { db.query_one(sql, &[]).unwrap().get(0) };
    assert_eq!(one(&mut db, "select email from public.profiles"), "seed@example.com", "the auth.users trigger ran");
    assert_eq!(
        one(
            &mut db,
            "select (confirmed_at is not null)::text || ',' || is_sso_user::text || ',' || is_anonymous::text from auth.users"
        ),
        "true,false,false",
        "confirmed_at is generated from email_confirmed_at"
    );
    assert_eq!(one(&mut db, "select hook_name from supabase_functions.hooks"), "profiles_webhook", "the webhook fired");
    assert_eq!(
        one(&mut db, "select decrypted_secret from vault.decrypted_secrets where name = 'mail_api_key'"),
        "local-only-api-key"
    );
    assert_eq!(one(&mut db, "select file_size_limit::text from storage.buckets where id = 'avatars'"), "5242880");
    assert_eq!(one(&mut db, "select public.active_sessions('0b3f1a2c-0000-4000-8000-000000000001')::text"), "1");
    assert_eq!(
        one(
            &mut db,
            "select storage.extension('u/1/me.png') || storage.filename('u/1/me.png') || array_to_string(storage.foldername('u/1/me.png'), '/')"
        ),
        "pngme.pngu/1"
    );
    let policies: i64 = db
        .query_one("select count(*) from pg_policies where schemaname in ('public', 'storage', 'realtime')", &[])
        .unwrap()
        .get(0);
    assert_eq!(policies, 6);
}

#[test]
fn a_baseline_captured_from_a_url_target_is_what_local_databases_start_from() {
    let tree = Tree::example();
    tree.append("xtask.toml", "\n[targets.hosted]\ndb_url_env = \"XTASK_TEST_HOSTED_URL\"\n");
    tree.db_start();
    // The target: a platform with a column and an extension the hand-written baseline does not have.
    let hosted = tree.create_db("hosted");
    // As the platform's own superuser: its services change their schemas, `postgres` cannot.
    connect(&tree.admin_url("hosted"))
        .batch_execute(
            "alter table auth.users add column platform_flag boolean not null default false;
             create extension if not exists hstore with schema extensions;
             create policy \"platform objects\" on storage.objects for select to service_role using (true);",
        )
        .unwrap();
    let env = [("XTASK_TEST_HOSTED_URL", hosted.as_str())];
    let missing = tree.run_env(&["platform-baseline", "--target", "hosted", "--check"], &env);
    assert_eq!(missing.code, 1, "{}{}", missing.stdout, missing.stderr);
    assert!(missing.stderr.contains("docs/database/platform/baseline.sql is missing"), "{}", missing.stderr);
    let run = tree.run_env(&["platform-baseline", "--target", "hosted", "--format", "json"], &env);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        (report["state"].as_str(), report["file"].as_str()),
        (Some("written"), Some("docs/database/platform/baseline.sql"))
    );
    let file = String::from_utf8(tree.read("docs/database/platform/baseline.sql")).unwrap();
    for expected in [
        "platform_flag boolean default false not null",
        "create extension if not exists hstore with schema extensions",
        "-- version ",
        "--> policy storage.objects.\"platform objects\"",
        "--> role service_role",
    ] {
        assert!(file.contains(expected), "{expected} missing from the captured baseline");
    }

    // Local databases now start from it: another checkout's embedded database, and the history replays on it.
    let (other, local) = started_from(&file);
    let flag: i64 = connect(&local)
        .query_one("select count(*) from information_schema.columns where table_schema = 'auth' and table_name = 'users' and column_name = 'platform_flag'", &[])
        .unwrap()
        .get(0);
    assert_eq!(flag, 1, "the embedded database starts from the captured baseline");
    let run = other.run(&["promote", "--skip-catalog"]);
    assert_eq!(run.code, 0, "the example's history replays on it: {}{}", run.stdout, run.stderr);
    let hstore: i64 =
        connect(&local).query_one("select count(*) from pg_extension where extname = 'hstore'", &[]).unwrap().get(0);
    assert_eq!(hstore, 1, "with the target's extensions");

    assert_eq!(tree.run_env(&["platform-baseline", "--target", "hosted", "--check"], &env).code, 0);
    connect(&tree.admin_url("hosted")).batch_execute("alter table storage.buckets add column region text").unwrap();
    let stale = tree.run_env(&["platform-baseline", "--target", "hosted", "--check"], &env);
    assert_eq!(stale.code, 1, "{}{}", stale.stdout, stale.stderr);
    assert!(
        stale.stderr.contains("docs/database/platform/baseline.sql is stale: hosted changed its platform schemas"),
        "{}",
        stale.stderr
    );
    assert!(stale.stderr.contains("`cargo xtask platform-baseline --target hosted`"), "{}", stale.stderr);

    other.write("docs/database/platform/baseline.sql", file.replace("platform_flag", "hand_edited"));
    let edited = other.run(&["db", "reset"]);
    assert_eq!(edited.code, 2);
    assert!(edited.stderr.contains("was edited by hand"), "{}", edited.stderr);
}

/// The extension folder of the owned PostgreSQL 17 tree these tests' embedded databases run on, shared with
/// every other test.
fn extension_dir() -> std::path::PathBuf {
    let tree = xtask::edges::postgres::tree::ServerTree::locate(xtask::domain::major::Major::V17).unwrap();
    tree.owned_extensions.expect("the PostgreSQL 17 tree is owned (XTASK_PG_TREES)")
}

/// A platform extension this tree lacks: a throwaway extension written into the tree (named after this
/// process) so a target can create it, then removed. When dropped, every file of its name goes from the tree,
/// the stand-in the xtask added included, whether the test passed or not.
struct ThrowawayExtension {
    dir: std::path::PathBuf,
    name: String,
}

impl ThrowawayExtension {
    /// A schema of its own with a table, an enum, a plpgsql function and a C function (fuzzystrmatch's
    /// soundex, under another name).
    fn write() -> ThrowawayExtension {
        let ext = ThrowawayExtension { dir: extension_dir(), name: format!("xtask_test_ext_{}", std::process::id()) };
        let name = &ext.name;
        let script = format!(
            "create schema {name};
             create type {name}.mood as enum ('sad', 'ok', 'happy');
             create table {name}.jobs (id bigserial primary key, title text not null unique, mood {name}.mood not null default 'ok');
             create function {name}.greet(who text default 'world') returns text language plpgsql stable
               as $$ begin return 'hello ' || who || ' (' || (select count(*) from {name}.jobs) || ' jobs)'; end $$;
             create function {name}.sound(text) returns text language c immutable strict as '$libdir/fuzzystrmatch', 'soundex';\n"
        );
        ext.put(&format!("{name}--1.0.sql"), &script);
        ext.put(
            &format!("{name}.control"),
            "comment = 'a test extension'\ndefault_version = '1.0'\nrelocatable = false\n",
        );
        ext
    }

    /// Atomically, as the servers of other tests read this folder meanwhile.
    fn put(&self, file: &str, text: &str) {
        let tmp = self.dir.join(format!(".{file}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.dir.join(file)).unwrap();
    }

    /// Gone from the tree, as from every tree without it.
    fn remove_real(&self) {
        std::fs::remove_file(self.dir.join(format!("{}--1.0.sql", self.name))).unwrap();
        std::fs::remove_file(self.dir.join(format!("{}.control", self.name))).unwrap();
    }

    /// Its files in the tree now.
    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|f| f == &format!("{}.control", self.name) || f.starts_with(&format!("{}--", self.name)))
            .collect();
        names.sort();
        names
    }
}

impl Drop for ThrowawayExtension {
    fn drop(&mut self) {
        for file in self.files() {
            let _ = std::fs::remove_file(self.dir.join(file));
        }
    }
}

/// Captured stand-in files of real extensions, which no correct run writes: removed when dropped, so a failing
/// run leaves the shared tree as it found it.
struct Copies {
    dir: std::path::PathBuf,
    of: &'static [&'static str],
}

impl Copies {
    fn found(&self) -> Vec<String> {
        std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|f| f.contains("-captured-") && self.of.iter().any(|name| f.starts_with(&format!("{name}--"))))
            .collect()
    }
}

impl Drop for Copies {
    fn drop(&mut self) {
        for file in self.found() {
            let _ = std::fs::remove_file(self.dir.join(file));
        }
    }
}

const HOSTED_ENV: &str = "XTASK_TEST_HOSTED_URL";

/// A `hosted` target in `tree`'s cluster, changed by `sql`, and the platform baseline captured from it.
fn captured_from(tree: &Tree, sql: &str) -> (String, String) {
    tree.append("xtask.toml", &format!("\n[targets.hosted]\ndb_url_env = \"{HOSTED_ENV}\"\n"));
    tree.db_start();
    let hosted = tree.create_db("hosted");
    connect(&tree.admin_url("hosted")).batch_execute(sql).unwrap();
    (hosted.clone(), capture(tree, &hosted))
}

/// `platform-baseline --target hosted`, and the file it wrote.
fn capture(tree: &Tree, hosted: &str) -> String {
    let run = tree.run_env(&["platform-baseline", "--target", "hosted"], &[(HOSTED_ENV, hosted)]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    String::from_utf8(tree.read("docs/database/platform/baseline.sql")).unwrap()
}

/// Rows of `sql` as text, to compare a target with a local database.
fn rows(url: &str, sql: &str) -> Vec<String> {
    connect(url).query(sql, &[]).unwrap().iter().map(|r| r.get::<_, Option<String>>(0).unwrap_or_default()).collect()
}

/// The version of `extension` the database at `url` has.
fn extversion(url: &str, extension: &str) -> String {
    let found = rows(url, &format!("select extversion from pg_extension where extname = '{extension}'"));
    let [version] = found.as_slice() else { panic!("{extension} is not created: {found:?}") };
    version.clone()
}

#[test]
fn an_extension_missing_here_is_created_from_its_capture_as_a_stand_in() {
    let ext = ThrowawayExtension::write();
    let name = ext.name.clone();
    let tree = Tree::example();
    let (hosted, file) = captured_from(&tree, &format!("create extension {name} with schema extensions;"));
    assert!(file.contains(&format!("--> stand-in {name} 1.0\n")), "{file}");
    assert!(file.contains(&format!("create extension if not exists {name} with schema extensions;")));
    ext.remove_real();

    let other = Tree::example();
    other.write("docs/database/platform/baseline.sql", &file);
    let run = other.run(&["promote", "--skip-catalog"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!run.stderr.contains("could not be applied here"), "{}", run.stderr);
    let local = other.admin_url("postgres");
    let version = extversion(&local, &name);
    assert!(version.starts_with("1.0-captured-") && version.len() == "1.0-captured-".len() + 8, "{version}");
    let listed =
        format!("{name} {version}: stand-in, captured from the platform baseline; schema only; calls are not made");
    assert!(run.stdout.contains(&listed), "promote names it a stand-in: {}", run.stdout);
    assert_eq!(
        ext.files(),
        [format!("{name}--{version}.control"), format!("{name}--{version}.sql"), format!("{name}.control")],
        "its own version beside a stand-in control file"
    );

    // The same objects as on the target: its members, the table, the enum, the function signatures.
    for sql in [
        format!(
            "select count(*)::text from pg_depend where deptype = 'e' and refobjid = (select oid from pg_extension where extname = '{name}')"
        ),
        format!(
            "select format('%s(%s) %s %s %s', proname, pg_get_function_arguments(oid), pg_get_function_result(oid), provolatile, proisstrict) from pg_proc where pronamespace = '{name}'::regnamespace order by 1"
        ),
        format!(
            "select format('%s %s %s %s', column_name, data_type, is_nullable, column_default) from information_schema.columns where table_schema = '{name}' order by ordinal_position"
        ),
        format!("select enum_range(null::{name}.mood)::text"),
        format!("select {name}.greet()"),
    ] {
        assert_eq!(rows(&local, &sql), rows(&hosted, &sql), "{sql}");
    }
    connect(&local).batch_execute(&format!("insert into {name}.jobs (title) values ('one')")).unwrap();
    let greeting = format!("select {name}.greet('you') || ' ' || mood from {name}.jobs");
    assert_eq!(rows(&local, &greeting), ["hello you (1 jobs) ok"], "the plpgsql function runs as on the target");
    assert_eq!(rows(&hosted, &format!("select {name}.sound('Robert')")), ["R163"]);
    let stub = format!("select ({name}.sound('Robert') is null)::text");
    assert_eq!(rows(&local, &stub), ["true"], "the C function is a stub");

    // The target's extension changes: its capture is a version of its own, which a fresh local database
    // creates though the tree's control file names the first capture's.
    connect(&tree.admin_url("hosted"))
        .batch_execute(&format!(
            "create function {name}.added() returns int language sql as 'select 2';
             alter extension {name} add function {name}.added();"
        ))
        .unwrap();
    other.write("docs/database/platform/baseline.sql", capture(&tree, &hosted));
    let reset = other.run(&["db", "reset"]);
    assert_eq!(reset.code, 0, "{}", reset.stderr);
    let local = other.admin_url("postgres");
    let second = extversion(&local, &name);
    assert!(second.starts_with("1.0-captured-") && second != version, "{second} after {version}");
    assert_eq!(rows(&local, &format!("select {name}.added()::text")), ["2"]);
    assert_eq!(ext.files().len(), 5, "both captures' versions: {:?}", ext.files());
}

#[test]
fn an_extension_real_here_is_created_not_copied() {
    let copies = Copies { dir: extension_dir(), of: &["citext", "pg_trgm", "pgcrypto", "uuid-ossp"] };
    let tree = Tree::example();
    // The baseline the target starts from has these extensions, all real in this tree.
    let (_, file) = captured_from(&tree, "select 1;");
    assert!(file.contains("--> stand-in citext "), "their members are captured all the same");
    let other = Tree::example();
    other.write("docs/database/platform/baseline.sql", &file);
    let start = other.run(&["db", "start"]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    let local = other.admin_url("postgres");
    for extension in copies.of {
        let real = rows(
            &local,
            &format!(
                "select default_version::text from pg_available_extensions where name = '{extension}' and comment not like 'stand-in%'"
            ),
        );
        assert_eq!([extversion(&local, extension)], real.as_slice(), "{extension} is the tree's own");
    }
    assert_eq!(copies.found(), Vec::<String>::new(), "no stand-in is written for a real extension");
}

/// An object's ACL as `grantee privilege grantable` lines (grantors left out: here every grant is the owner's).
fn acl(url: &str, catalog: &str, column: &str, object: &str) -> Vec<String> {
    acl_but(url, catalog, column, object, &[])
}

/// `acl` without the grants to `owners`: an owner's own privileges go with the ownership.
fn acl_but(url: &str, catalog: &str, column: &str, object: &str, owners: &[&str]) -> Vec<String> {
    let owners = owners.iter().map(|o| format!("'{o}'")).chain(["''".to_string()]).collect::<Vec<_>>().join(", ");
    rows(
        url,
        &format!(
            "select coalesce(string_agg(e, ', ' order by e), '') from (select format('%s %s %s', a.grantee::regrole,
               a.privilege_type, a.is_grantable) as e from {catalog} o, aclexplode(o.{column}) a where o.oid = {object}
               and a.grantee::regrole::text not in ({owners})) x"
        ),
    )
}

/// Another checkout whose embedded database starts from the captured `file`, every statement of it applied (in
/// dependency order: foreign keys after the keys they reference); its superuser's URL.
fn started_from(file: &str) -> (Tree, String) {
    let other = Tree::example();
    other.write("docs/database/platform/baseline.sql", file);
    let start = other.run(&["db", "start"]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    assert!(!start.stderr.contains("could not be applied here"), "{}", start.stderr);
    let local = other.admin_url("postgres");
    (other, local)
}

/// What the test compares between the target and a local database: owners, ACLs, default privileges, roles.
fn role_model(url: &str) -> Vec<Vec<String>> {
    vec![
        // auth.users is `postgres`'s locally (supautils' policy grants, held by ownership); the owner it has on the
        // platform is kept beside it.
        rows(
            url,
            "select coalesce((select platform_owner::text from supabase_xtask.managed where relid = c.oid), relowner::regrole::text)
             from pg_class c where oid = 'auth.users'::regclass",
        ),
        rows(url, "select proowner::regrole::text from pg_proc where oid = 'auth.uid()'::regprocedure"),
        rows(url, "select nspowner::regrole::text from pg_namespace where nspname = 'storage'"),
        // The owner's own privileges move with auth.users' ownership (`postgres`'s locally): the others are compared.
        acl_but(url, "pg_class", "relacl", "'auth.users'::regclass", &["postgres", "supabase_auth_admin"]),
        acl(url, "pg_namespace", "nspacl", "'auth'::regnamespace"),
        rows(
            url,
            "select format('%s %s %s %s %s', d.defaclrole::regrole, d.defaclnamespace::regnamespace, d.defaclobjtype,
               a.grantee::regrole, a.privilege_type) from pg_default_acl d, aclexplode(d.defaclacl) a order by 1",
        ),
        rows(
            url,
            "select format('%s createdb=%s createrole=%s replication=%s bypassrls=%s inherit=%s login=%s', rolname, rolcreatedb,
               rolcreaterole, rolreplication, rolbypassrls, rolinherit, rolcanlogin) from pg_roles
             where rolname in ('postgres', 'app_reader', 'service_role') order by 1",
        ),
        rows(
            url,
            "select format('%s in %s admin=%s', member::regrole, roleid::regrole, admin_option) from pg_auth_members
             where member = 'app_reader'::regrole",
        ),
    ]
}

#[test]
fn a_capture_carries_roles_owners_grants_and_supautils_settings_to_a_fresh_database() {
    use xtask::domain::schema::platform_file;
    let tree = Tree::example();
    let (hosted, file) = captured_from(
        &tree,
        r#"create role app_reader nologin noinherit;
           grant authenticated to app_reader with admin option;
           alter role postgres with nocreatedb noreplication;
           alter table auth.users owner to supabase_auth_admin;
           alter function auth.uid() owner to supabase_auth_admin;
           alter schema storage owner to supabase_storage_admin;
           grant select, trigger on auth.users to postgres;
           grant select on auth.users to app_reader with grant option;
           grant usage on schema auth to app_reader;
           alter default privileges for role postgres in schema public grant select on tables to app_reader;
           alter default privileges for role postgres revoke execute on functions from public;
           do $$ begin
             execute format('alter database %I set "supautils.policy_grants" = %L', current_database(),
               '{"postgres": ["auth.users", "storage.objects"]}');
             execute format('alter database %I set "supautils.reserved_roles" = %L', current_database(), 'supabase_admin, anon*');
           end $$;"#,
    );
    for expected in [
        "--> format 2\n",
        "--> role postgres\n",
        "alter role app_reader with nosuperuser nocreatedb nocreaterole noreplication nobypassrls noinherit nologin;",
        "--> membership authenticated to app_reader\ngrant authenticated to app_reader with admin option;",
        "--> owner table auth.users\nalter table auth.users owner to supabase_auth_admin;",
        "grant select on table auth.users to app_reader with grant option;",
        "--> supautils policy_grants\n{\"postgres\": [\"auth.users\", \"storage.objects\"]}\n",
    ] {
        assert!(file.contains(expected), "{expected} missing from the capture:\n{file}");
    }
    let (body, _) = platform_file::parse(&file, "baseline.sql").unwrap();
    let settings = platform_file::supautils(&body).unwrap();
    assert_eq!(settings.policy_grants, Some(vec!["auth.users".to_string(), "storage.objects".to_string()]));
    assert_eq!(settings.reserved_roles, Some(vec!["supabase_admin".to_string(), "anon".to_string()]));
    assert_eq!(settings.drop_trigger_grants, None, "a setting the target lacks is not made up");

    // A fresh cluster starting from the capture has the target's owners, grants, default privileges and roles.
    let (other, local) = started_from(&file);
    let expected = role_model(&hosted);
    assert_eq!(expected[0], ["supabase_auth_admin"]);
    assert!(expected[3][0].contains("app_reader SELECT t"), "{:?}", expected[3]);
    assert_eq!(role_model(&local), expected);
    assert!(expected[5].contains(&"postgres - f postgres EXECUTE".to_string()), "{:?}", expected[5]);
    assert_eq!(rows(&local, "select rolsuper::text from pg_roles where rolname = 'supabase_admin'"), ["true"]);

    // Applying it again converges: a grant made here since is revoked, the owner put back.
    connect(&local)
        .batch_execute(
            "grant insert on auth.users to anon; alter table auth.users owner to postgres;
             alter default privileges for role postgres grant execute on functions to public;",
        )
        .unwrap();
    let captured = xtask::edges::postgres::PlatformSchema::Captured(body.clone());
    captured.apply(&mut connect(&local)).unwrap();
    assert_eq!(role_model(&local), expected);

    // A capture by the older xtask (no format chunk) still applies, with a note naming the command.
    let old = platform_file::render("hosted", &body.replacen(&platform_file::format_chunk(), "", 1));
    other.write("docs/database/platform/baseline.sql", &old);
    let start = other.run(&["db", "start"]);
    assert_eq!(start.code, 0, "{}", start.stderr);
    assert!(
        start.stderr.contains("docs/database/platform/baseline.sql was captured by an older xtask (format 1)")
            && start.stderr.contains("`cargo xtask platform-baseline --target hosted`"),
        "{}",
        start.stderr
    );
    assert_eq!(start.stderr.matches("captured by an older xtask").count(), 1, "once: {}", start.stderr);
}
