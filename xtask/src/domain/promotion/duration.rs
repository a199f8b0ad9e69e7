//! Durations as people write them in flags and `xtask.toml`: `30d`, `12h`, `90m`, `5s`, `2w`. Pure.

use anyhow::{Context, bail};

/// `30d`, `7d`, `12h`, `90m`, `45s`, `2w`.
pub fn parse_duration(text: &str) -> anyhow::Result<chrono::Duration> {
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: i64 = digits.parse().with_context(|| format!("`{text}` is not a duration like 30d, 12h or 90m"))?;
    Ok(match unit {
        "s" => chrono::Duration::seconds(n),
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        "w" => chrono::Duration::weeks(n),
        _ => bail!("`{text}` is not a duration like 30d, 12h or 90m (units: s, m, h, d, w)"),
    })
}

/// A duration as it was written (`30d`), parsed: what a flag holds, so clap refuses a bad one before anything
/// runs, and records keep the text people wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub duration: chrono::Duration,
}

impl std::str::FromStr for Span {
    type Err = String;

    fn from_str(text: &str) -> Result<Span, String> {
        let duration = parse_duration(text).map_err(|e| e.to_string())?;
        Ok(Span { text: text.to_string(), duration })
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30d").unwrap(), chrono::Duration::days(30));
        assert_eq!(parse_duration("12h").unwrap(), chrono::Duration::hours(12));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("3y").is_err());
        let span: Span = "90m".parse().unwrap();
        assert_eq!((span.to_string(), span.duration), ("90m".to_string(), chrono::Duration::minutes(90)));
        assert_eq!("x".parse::<Span>().unwrap_err(), "`x` is not a duration like 30d, 12h or 90m");
    }
}
