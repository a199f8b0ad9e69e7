//! A double of the Supabase Management API, enough for the CLI's token path (`link`, `db push`, `db query`) and
//! the xtask's own login-role calls, backed by a real local Postgres. It checks the bearer token, logs every
//! request, runs `read_only` queries in a read-only transaction, and can play a paused project or a failing
//! platform. HTTP on 127.0.0.1 through tiny_http: the doubles are request handlers.

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Healthy,
    /// The project exists but is paused: its database is not served.
    Paused,
    /// Every call answers 500.
    ServerError,
    /// Login roles cannot be had (500); everything else works, so the xtask reads through `db query`.
    NoLoginRoles,
    /// The next login role is removed as soon as it is handed out, as another machine's cleanup
    /// (`DELETE .../cli/login-role` names only the project) would; then the double is healthy again.
    NextRoleRemoved,
}

pub struct ApiDouble {
    /// `http://127.0.0.1:<port>`: the profile's `api_url`.
    pub url: String,
    state: Arc<State>,
}

struct State {
    project_ref: String,
    token: String,
    /// Superuser URL of the database the project serves.
    admin_url: String,
    behaviour: Mutex<Behaviour>,
    log: Mutex<Vec<String>>,
    roles: AtomicUsize,
}

/// One request as the doubles' handlers see it.
pub struct Request {
    pub method: String,
    pub path: String,
    pub authorization: String,
    pub body: String,
}

impl ApiDouble {
    pub fn start(project_ref: &str, token: &str, admin_url: &str) -> ApiDouble {
        let state = Arc::new(State {
            project_ref: project_ref.into(),
            token: token.into(),
            admin_url: admin_url.into(),
            behaviour: Mutex::new(Behaviour::Healthy),
            log: Mutex::new(Vec::new()),
            roles: AtomicUsize::new(0),
        });
        let shared = state.clone();
        let url = serve(move |request| shared.serve(request));
        ApiDouble { url, state }
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.state.behaviour.lock().unwrap() = behaviour;
    }

    /// `METHOD /path` of every request so far, in order (bodies of POSTs appended after a space).
    pub fn requests(&self) -> Vec<String> {
        self.state.log.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.state.log.lock().unwrap().clear();
    }

    /// A profile for the CLI pointing at this double; the project's database is `db.<ref>.local.test`.
    pub fn profile_yaml(&self) -> String {
        format!(
            "name: double\napi_url: {}\nproject_host: local.test\npooler_host: pooler.local.test\ndashboard_url: {}\n",
            self.url, self.url
        )
    }
}

impl State {
    fn serve(&self, request: &Request) -> (u16, String) {
        let entry = match request.method.as_str() {
            "POST" => format!("{} {} {}", request.method, request.path, request.body),
            _ => format!("{} {}", request.method, request.path),
        };
        self.log.lock().unwrap().push(entry);
        self.answer(request)
    }

    fn answer(&self, request: &Request) -> (u16, String) {
        let message = |m: &str| serde_json::json!({ "message": m }).to_string();
        if *self.behaviour.lock().unwrap() == Behaviour::ServerError {
            return (500, message("Internal Server Error"));
        }
        if request.authorization != format!("Bearer {}", self.token) {
            return (401, message("Unauthorized"));
        }
        let Some(rest) = request.path.strip_prefix("/v1/projects/") else { return (404, message("Not Found")) };
        let (project_ref, endpoint) = rest.split_once('/').unwrap_or((rest, ""));
        if project_ref != self.project_ref {
            return (404, message(&format!("Project {project_ref} not found")));
        }
        let paused = *self.behaviour.lock().unwrap() == Behaviour::Paused;
        let endpoint = endpoint.split('?').next().unwrap_or("");
        match (request.method.as_str(), endpoint) {
            ("GET", "") => (200, self.project(paused)),
            ("GET", "api-keys") => {
                (200, serde_json::json!([{"name": "anon", "api_key": "anon-key"}, {"name": "service_role", "api_key": "service-key"}]).to_string())
            }
            ("GET", "config/database/pooler") => (200, self.pooler()),
            ("GET", "postgrest") => (200, serde_json::json!({"db_schema": "public,graphql_public", "max_rows": 1000, "db_extra_search_path": "public,extensions"}).to_string()),
            (_, _) if paused => (400, message("Project is paused; restore it from the dashboard")),
            ("POST", "database/query") => self.query(&request.body),
            ("POST", "cli/login-role") if *self.behaviour.lock().unwrap() == Behaviour::NoLoginRoles => {
                (500, message("login roles are unavailable"))
            }
            ("POST", "cli/login-role") => {
                let handed = self.login_role(&request.body);
                let mut behaviour = self.behaviour.lock().unwrap();
                if *behaviour == Behaviour::NextRoleRemoved {
                    *behaviour = Behaviour::Healthy;
                    self.drop_login_roles();
                }
                handed
            }
            ("DELETE", "cli/login-role") => self.drop_login_roles(),
            _ => (404, message("Not Found")),
        }
    }

    fn project(&self, paused: bool) -> String {
        let r = &self.project_ref;
        serde_json::json!({
            "id": r, "ref": r, "organization_id": "org", "organization_slug": "org", "name": "double",
            "region": "local", "created_at": "2026-01-01T00:00:00Z",
            "status": if paused { "INACTIVE" } else { "ACTIVE_HEALTHY" },
            "database": {"host": format!("db.{r}.local.test"), "version": "15.8", "postgres_engine": "15", "release_channel": "ga"}
        })
        .to_string()
    }

    fn pooler(&self) -> String {
        let r = &self.project_ref;
        serde_json::json!([{
            "database_type": "PRIMARY", "db_port": 6543, "db_host": "pooler.local.test", "db_name": "postgres",
            "db_user": format!("postgres.{r}"), "pool_mode": "transaction",
            "connection_string": format!("postgresql://postgres.{r}:[YOUR-PASSWORD]@pooler.local.test:6543/postgres")
        }])
        .to_string()
    }

    /// Rows as JSON objects, typed as Postgres types them; `read_only` in a read-only transaction.
    fn query(&self, body: &str) -> (u16, String) {
        let body: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let sql = body["query"].as_str().unwrap_or("").trim().trim_end_matches(';').to_string();
        let read_only = body["read_only"].as_bool().unwrap_or(false);
        let result = (|| -> Result<String, postgres::Error> {
            let mut client = postgres::Client::connect(&self.admin_url, postgres::NoTls)?;
            let mut tx = client.build_transaction().read_only(read_only).start()?;
            let row = tx.query_one(&format!("select coalesce(json_agg(q), '[]'::json)::text from ({sql}) q"), &[])?;
            let rows: String = row.get(0);
            tx.commit()?;
            Ok(rows)
        })();
        match result {
            Ok(rows) => (201, rows),
            Err(e) => {
                let detail = e
                    .as_db_error()
                    .map_or(e.to_string(), |d| format!("ERROR: {} (SQLSTATE {})", d.message(), d.code().code()));
                (400, serde_json::json!({ "message": format!("Failed to run sql query: {detail}") }).to_string())
            }
        }
    }

    /// A short-lived role: read-only ones can read everything and write nothing; others can migrate.
    fn login_role(&self, body: &str) -> (u16, String) {
        let body: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let read_only = body["read_only"].as_bool().unwrap_or(false);
        let n = self.roles.fetch_add(1, Ordering::SeqCst);
        let role = format!("cli_login_{}_{n}", if read_only { "ro" } else { "rw" });
        let password = format!("pw{n}{}", std::process::id());
        let grant = if read_only {
            format!("grant pg_read_all_data to {role}; alter role {role} set default_transaction_read_only = on;")
        } else {
            format!("alter role {role} superuser;")
        };
        let sql = format!("create role {role} login password '{password}' valid until 'infinity'; {grant}");
        match postgres::Client::connect(&self.admin_url, postgres::NoTls).and_then(|mut c| c.batch_execute(&sql)) {
            Ok(()) => (201, serde_json::json!({"role": role, "password": password, "ttl_seconds": 3600}).to_string()),
            Err(e) => (500, serde_json::json!({ "message": e.to_string() }).to_string()),
        }
    }

    fn drop_login_roles(&self) -> (u16, String) {
        let sql = "do $$ declare r text; begin for r in select rolname from pg_roles where rolname like 'cli\\_login\\_%' loop \
                   execute format('drop owned by %I; drop role %I', r, r); end loop; end $$";
        match postgres::Client::connect(&self.admin_url, postgres::NoTls).and_then(|mut c| c.batch_execute(sql)) {
            Ok(()) => (200, serde_json::json!({"message": "ok"}).to_string()),
            Err(e) => (500, serde_json::json!({ "message": e.to_string() }).to_string()),
        }
    }
}

/// The login roles handed out and not yet removed, in the database at `admin_url`.
pub fn live_login_roles(admin_url: &str) -> Vec<String> {
    let mut client = postgres::Client::connect(admin_url, postgres::NoTls).unwrap();
    client
        .query("select rolname::text from pg_roles where rolname like 'cli\\_login\\_%' order by 1", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Serves `handle`'s JSON answers on 127.0.0.1 (a port of its own) and returns `http://127.0.0.1:<port>`. A
/// thread per request, as the CLI and the xtask send some at once (a query may wait on a lock another one holds).
pub fn serve(handle: impl Fn(&Request) -> (u16, String) + Send + Sync + 'static) -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    let handle = Arc::new(handle);
    std::thread::spawn(move || {
        for mut incoming in server.incoming_requests() {
            let handle = handle.clone();
            std::thread::spawn(move || {
                let mut body = String::new();
                let _ = incoming.as_reader().read_to_string(&mut body);
                let header = |name: &'static str| {
                    incoming.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.to_string())
                };
                let request = Request {
                    method: incoming.method().to_string(),
                    path: incoming.url().to_string(),
                    authorization: header("authorization").unwrap_or_default(),
                    body,
                };
                let (status, body) = handle(&request);
                let json = tiny_http::Header::from_bytes("content-type", "application/json").unwrap();
                let _ =
                    incoming.respond(tiny_http::Response::from_string(body).with_status_code(status).with_header(json));
            });
        }
    });
    url
}

/// Forwards `[::1]:5432` (where the CLI looks for `db.<ref>.<project_host>`) to the local cluster's port.
pub fn forward_ipv6_5432(to_port: u16) {
    let listener = TcpListener::bind("[::1]:5432").unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", to_port)) else { continue };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut c1, mut s1) = (client, server);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c1, &mut s1);
                let _ = s1.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut c2);
                let _ = c2.shutdown(std::net::Shutdown::Write);
            });
        }
    });
}
