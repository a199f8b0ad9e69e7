//! GitHub's REST API, for the one comment `review` keeps on a pull request: found again by its hidden marker
//! and updated in place on each push, never posted twice. What it needs comes from the Actions environment:
//! `GITHUB_TOKEN` (a secret: added to `redact`'s registry, sent only in the Authorization header), `GITHUB_REPOSITORY`,
//! `GITHUB_API_URL` and the pull request's number from the event at `GITHUB_EVENT_PATH`. A token that may not
//! comment (403: a fork's pull request gets a read-only one) leaves the review in the job summary alone.

use anyhow::{Context, bail};
use serde::Deserialize;

pub const TOKEN_ENV: &str = "GITHUB_TOKEN";
pub const REPOSITORY_ENV: &str = "GITHUB_REPOSITORY";
pub const API_URL_ENV: &str = "GITHUB_API_URL";
pub const EVENT_PATH_ENV: &str = "GITHUB_EVENT_PATH";

/// The pull request this run is for.
pub struct PullRequest {
    api: String,
    repository: String,
    number: u64,
    token: String,
}

/// What became of the comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created(u64),
    Updated(u64),
    /// The token may not comment here (403).
    Forbidden,
}

#[derive(Deserialize)]
struct Comment {
    id: u64,
    #[serde(default)]
    body: String,
}

impl PullRequest {
    /// The pull request of this Actions run; `Err` says why there is none (no token, not a pull-request event).
    pub fn from_env() -> Result<PullRequest, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let token = var(TOKEN_ENV)
            .ok_or(format!("${TOKEN_ENV} is not set (pass `GITHUB_TOKEN: ${{{{ github.token }}}}` to the step)"))?;
        let repository =
            var(REPOSITORY_ENV).ok_or(format!("${REPOSITORY_ENV} is not set: not a GitHub Actions run"))?;
        let api = var(API_URL_ENV).unwrap_or_else(|| "https://api.github.com".to_string());
        let event = var(EVENT_PATH_ENV).ok_or(format!("${EVENT_PATH_ENV} is not set: not a GitHub Actions run"))?;
        let number = pull_request_number(&event)?;
        Ok(PullRequest { api: api.trim_end_matches('/').to_string(), repository, number, token })
    }

    /// Updates the comment that carries `marker`, or creates it.
    pub fn upsert(&self, marker: &str, body: &str) -> anyhow::Result<Outcome> {
        let comments = format!("/repos/{}/issues/{}/comments", self.repository, self.number);
        let payload = serde_json::json!({ "body": body }).to_string();
        let mine = match self.find(&comments, marker)? {
            Err(Forbidden) => return Ok(Outcome::Forbidden),
            Ok(mine) => mine,
        };
        let (path, method) = match mine {
            Some(id) => (format!("/repos/{}/issues/comments/{id}", self.repository), "PATCH"),
            None => (comments, "POST"),
        };
        let answer = crate::edges::http::request(&self.api, method, &path, &self.token, Some(&payload))?;
        let (status, text) = (answer.status, answer.text.as_str());
        match status {
            200 | 201 => {
                let id = serde_json::from_str::<Comment>(text).map(|c| c.id).unwrap_or_default();
                Ok(if method == "PATCH" { Outcome::Updated(id) } else { Outcome::Created(id) })
            }
            403 if !rate_limited(answer.throttled, text) => Ok(Outcome::Forbidden),
            _ => bail!("{method} {path}: GitHub answered {status}: {}", first_line(text)),
        }
    }

    /// The id of the comment holding `marker`, reading every page of the pull request's comments.
    fn find(&self, comments: &str, marker: &str) -> anyhow::Result<Result<Option<u64>, Forbidden>> {
        for page in 1..=50 {
            let path = format!("{comments}?per_page=100&page={page}");
            let answer = crate::edges::http::request(&self.api, "GET", &path, &self.token, None)?;
            let (status, text) = (answer.status, answer.text.as_str());
            match status {
                200 => {}
                403 if !rate_limited(answer.throttled, text) => return Ok(Err(Forbidden)),
                _ => bail!("GET {path}: GitHub answered {status}: {}", first_line(text)),
            }
            let list: Vec<Comment> =
                serde_json::from_str(text).with_context(|| format!("GET {path}: not a list of comments"))?;
            // Ours starts with the marker; a person quoting it further down is not ours to overwrite.
            if let Some(c) = list.iter().find(|c| c.body.starts_with(marker)) {
                return Ok(Ok(Some(c.id)));
            }
            if list.len() < 100 {
                break;
            }
        }
        Ok(Ok(None))
    }
}

struct Forbidden;

/// GitHub's rate limits also answer 403: that is a failure to retry, not a token that may not comment. Its headers
/// say so (`throttled`); a secondary limit may come with neither header (GitHub's docs then say "wait at least one
/// minute"), so its message ("You have exceeded a secondary rate limit") is the fallback for that case alone.
fn rate_limited(throttled: bool, text: &str) -> bool {
    throttled || text.to_ascii_lowercase().contains("rate limit")
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// The Actions run's page (`$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID`), where its job
/// summary is; `None` outside Actions.
pub fn run_url() -> Option<String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    Some(format!("{}/{}/actions/runs/{}", var("GITHUB_SERVER_URL")?, var(REPOSITORY_ENV)?, var("GITHUB_RUN_ID")?))
}

/// The pull request's number from the event payload (`pull_request.number`, or `number`).
fn pull_request_number(path: &str) -> Result<u64, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading ${EVENT_PATH_ENV} ({path}): {e}"))?;
    let event: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("${EVENT_PATH_ENV} ({path}) is not JSON: {e}"))?;
    event["pull_request"]["number"]
        .as_u64()
        .or_else(|| event["number"].as_u64())
        .ok_or_else(|| "this run's event is not a pull request: nothing to comment on".to_string())
}

/// Keeps the review's comment on the pull request (`body` carries `marker`). Never fails the run: a token that
/// may not comment is a note, any other failure a warning annotation; the job summary has the review either way.
pub fn publish(marker: &str, body: &str) {
    let pr = match PullRequest::from_env() {
        Ok(pr) => pr,
        Err(why) => return eprintln!("note: no pull-request comment: {why}"),
    };
    crate::edges::output::redact::add(&pr.token);
    let body = crate::edges::output::redact::redact(body);
    match pr.upsert(marker, &body) {
        Ok(Outcome::Created(id)) => eprintln!("review: commented on pull request #{} (comment {id})", pr.number),
        Ok(Outcome::Updated(id)) => {
            eprintln!("review: updated its comment on pull request #{} (comment {id})", pr.number)
        }
        Ok(Outcome::Forbidden) => eprintln!(
            "note: the token may not comment on pull request #{} (403: a fork's pull request gets a read-only token); the review is in the job summary",
            pr.number
        ),
        Err(err) => {
            let why = crate::edges::output::redact::redact(&format!("{err:#}"));
            println!(
                "::warning title=xtask review::the pull-request comment was not written: {}",
                why.replace('\n', "%0A")
            );
            eprintln!("warning: the pull-request comment was not written: {why}");
        }
    }
}
