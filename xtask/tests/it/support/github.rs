//! A double of GitHub's REST API, enough for `review`'s pull-request comment: list a pull request's comments (in
//! pages), create one, update one. It checks the bearer token, logs every request, and can play a token that
//! may read but not write (403, as a fork's pull request has). HTTP on 127.0.0.1 (`api::serve`).

use std::sync::{Arc, Mutex};

use super::api::{Request, serve};

pub struct GithubDouble {
    /// `http://127.0.0.1:<port>`: `GITHUB_API_URL`.
    pub url: String,
    state: Arc<State>,
}

struct State {
    repository: String,
    token: String,
    read_only: Mutex<bool>,
    /// (id, issue number, body)
    comments: Mutex<Vec<(u64, u64, String)>>,
    log: Mutex<Vec<String>>,
}

impl GithubDouble {
    /// `repository` (`owner/name`) with `others` comments by other people on pull request `number` already.
    pub fn start(repository: &str, token: &str, number: u64, others: usize) -> GithubDouble {
        let comments = (0..others as u64).map(|i| (1000 + i, number, format!("a reviewer's comment {i}"))).collect();
        let state = Arc::new(State {
            repository: repository.into(),
            token: token.into(),
            read_only: Mutex::new(false),
            comments: Mutex::new(comments),
            log: Mutex::new(Vec::new()),
        });
        let shared = state.clone();
        let url = serve(move |request| shared.serve(request));
        GithubDouble { url, state }
    }

    /// From now on, writes answer 403 as for a fork's read-only token.
    pub fn read_only(&self) {
        *self.state.read_only.lock().unwrap() = true;
    }

    /// The bodies of the comments on pull request `number`, oldest first.
    pub fn comments(&self, number: u64) -> Vec<String> {
        self.state.comments.lock().unwrap().iter().filter(|c| c.1 == number).map(|c| c.2.clone()).collect()
    }

    /// `METHOD /path` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.state.log.lock().unwrap().clone()
    }
}

impl State {
    fn serve(&self, request: &Request) -> (u16, String) {
        self.log.lock().unwrap().push(format!("{} {}", request.method, request.path));
        self.answer(request)
    }

    fn answer(&self, request: &Request) -> (u16, String) {
        let message = |m: &str| serde_json::json!({ "message": m }).to_string();
        if request.authorization != format!("Bearer {}", self.token) {
            return (401, message("Bad credentials"));
        }
        let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
        let Some(rest) = path.strip_prefix(&format!("/repos/{}/issues/", self.repository)) else {
            return (404, message("Not Found"));
        };
        let writes = request.method != "GET";
        if writes && *self.read_only.lock().unwrap() {
            return (403, message("Resource not accessible by integration"));
        }
        let body =
            || serde_json::from_str::<serde_json::Value>(&request.body).unwrap()["body"].as_str().unwrap().to_string();
        let mut comments = self.comments.lock().unwrap();
        let json = |c: &(u64, u64, String)| serde_json::json!({ "id": c.0, "body": c.2, "user": { "login": "github-actions[bot]" } });
        let segments: Vec<&str> = rest.split('/').collect();
        match (request.method.as_str(), &segments[..]) {
            ("GET", &[number, "comments"]) => {
                let number: u64 = number.parse().unwrap();
                let page: usize =
                    query.split('&').find_map(|kv| kv.strip_prefix("page=")).unwrap_or("1").parse().unwrap();
                let per_page: usize =
                    query.split('&').find_map(|kv| kv.strip_prefix("per_page=")).unwrap_or("30").parse().unwrap();
                let list: Vec<_> = comments
                    .iter()
                    .filter(|c| c.1 == number)
                    .skip((page - 1) * per_page)
                    .take(per_page)
                    .map(json)
                    .collect();
                (200, serde_json::Value::Array(list).to_string())
            }
            ("POST", &[number, "comments"]) => {
                let id = 5000 + comments.len() as u64;
                comments.push((id, number.parse().unwrap(), body()));
                (201, json(comments.last().unwrap()).to_string())
            }
            ("PATCH", &["comments", id]) => {
                let id: u64 = id.parse().unwrap();
                match comments.iter_mut().find(|c| c.0 == id) {
                    Some(c) => {
                        c.2 = body();
                        (200, json(c).to_string())
                    }
                    None => (404, message("Not Found")),
                }
            }
            _ => (404, message("Not Found")),
        }
    }
}
