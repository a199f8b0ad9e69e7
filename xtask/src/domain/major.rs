//! Which PostgreSQL major a database runs, and which one the embedded database and a rehearsal must run.
//!
//! Supabase projects run 15 (older) or 17 (new ones). A rehearsal on another major than its target's proves
//! nothing about it: 17's `MERGE ... RETURNING` fails on 15, and 15 accepts things 17 refuses. So the embedded
//! target takes its major from configuration, and every hosted target's major is read live and recorded in the
//! lock (`lock::TargetState::major`). A leaf: the configuration and the lock depend on it, not it on them.

/// The majors the platform runs and the xtask has server trees for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub enum Major {
    V15,
    V17,
}

/// What new projects run, and so what the embedded default runs unless something says otherwise.
pub const DEFAULT: Major = Major::V17;

impl Major {
    pub const ALL: [Major; 2] = [Major::V15, Major::V17];

    pub fn number(self) -> u32 {
        match self {
            Major::V15 => 15,
            Major::V17 => 17,
        }
    }

    /// A major read from a server's `server_version_num` (e.g. 170006); `Err` names a major we have no tree for.
    pub fn from_version_num(num: u32) -> Result<Major, u32> {
        Major::try_from(num / 10000)
    }
}

impl TryFrom<u32> for Major {
    type Error = u32;

    fn try_from(n: u32) -> Result<Major, u32> {
        match n {
            15 => Ok(Major::V15),
            17 => Ok(Major::V17),
            other => Err(other),
        }
    }
}

impl From<Major> for u32 {
    fn from(m: Major) -> u32 {
        m.number()
    }
}

impl std::fmt::Display for Major {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.number())
    }
}

/// The message for a major the xtask cannot run, naming where it was set.
pub fn unsupported(n: u32, setting: &str) -> String {
    format!("{setting} = {n} is not a PostgreSQL major the xtask runs; use 15 or 17 (what Supabase projects run)")
}

/// Where the embedded major came from, for people ("PostgreSQL 17 (the default)").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `[targets.X] major_version` in xtask.toml.
    Target(String),
    /// `[db] major_version` in supabase/config.toml.
    SupabaseConfig,
    /// The major recorded for a protected target in the lock.
    Recorded(String),
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Target(name) => write!(f, "[targets.{name}] major_version in xtask.toml"),
            Source::SupabaseConfig => write!(f, "[db] major_version in supabase/config.toml"),
            Source::Recorded(name) => write!(f, "the major recorded for `{name}` in the lock"),
            Source::Default => write!(f, "the default, what new Supabase projects run"),
        }
    }
}

/// What decides the embedded target's major, gathered by the caller: its own `major_version`, supabase/config.toml's
/// `[db] major_version`, and the majors recorded in the lock for the protected targets.
pub struct Settings<'a> {
    pub target: &'a str,
    pub own: Option<u32>,
    pub supabase: Option<u32>,
    pub recorded: Vec<(&'a str, Major)>,
}

/// The major of an embedded target: its own `major_version`, else supabase/config.toml's, else the one recorded
/// for the protected target(s), else the default. Protected targets of different recorded majors leave the
/// choice to the user.
pub fn embedded(settings: &Settings) -> Result<(Major, Source), String> {
    let name = settings.target;
    if let Some(n) = settings.own {
        let major = Major::try_from(n).map_err(|n| unsupported(n, &format!("[targets.{name}] major_version")))?;
        return Ok((major, Source::Target(name.to_string())));
    }
    if let Some(n) = settings.supabase {
        let major = Major::try_from(n).map_err(|n| unsupported(n, "supabase/config.toml [db] major_version"))?;
        return Ok((major, Source::SupabaseConfig));
    }
    match settings.recorded.as_slice() {
        [] => Ok((DEFAULT, Source::Default)),
        [(first, major), rest @ ..] if rest.iter().all(|(_, m)| m == major) => {
            Ok((*major, Source::Recorded(first.to_string())))
        }
        recorded => Err(format!(
            "the protected targets run different PostgreSQL majors ({}), so the embedded target `{name}` cannot take one from them; \
             set `major_version = 15` or `17` under [targets.{name}] in xtask.toml",
            recorded.iter().map(|(n, m)| format!("{n}: {m}")).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// `--major`: 15 or 17.
pub fn parse_arg(text: &str) -> Result<Major, String> {
    let n: u32 = text.parse().map_err(|_| format!("`{text}` is not a PostgreSQL major; use 15 or 17"))?;
    Major::try_from(n).map_err(|n| unsupported(n, "--major"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings<'a>(own: Option<u32>, supabase: Option<u32>, recorded: Vec<(&'a str, Major)>) -> Settings<'a> {
        Settings { target: "local", own, supabase, recorded }
    }

    #[test]
    fn the_target_then_supabase_config_then_the_lock_then_the_default() {
        assert_eq!(embedded(&settings(Some(15), Some(17), vec![])), Ok((Major::V15, Source::Target("local".into()))));
        assert_eq!(
            embedded(&settings(None, Some(15), vec![("prod", Major::V17)])),
            Ok((Major::V15, Source::SupabaseConfig))
        );
        assert_eq!(embedded(&settings(None, None, vec![])), Ok((Major::V17, Source::Default)));
        assert_eq!(
            embedded(&settings(None, None, vec![("prod", Major::V15)])),
            Ok((Major::V15, Source::Recorded("prod".into())))
        );
    }

    #[test]
    fn protected_targets_of_different_majors_ask_for_a_setting() {
        let err = embedded(&settings(None, None, vec![("eu", Major::V17), ("prod", Major::V15)])).unwrap_err();
        assert_eq!(
            err,
            "the protected targets run different PostgreSQL majors (eu: 17, prod: 15), so the embedded target `local` cannot take one from them; \
             set `major_version = 15` or `17` under [targets.local] in xtask.toml"
        );
    }

    #[test]
    fn an_unknown_major_names_its_setting() {
        let err = embedded(&settings(None, Some(16), vec![])).unwrap_err();
        assert_eq!(
            err,
            "supabase/config.toml [db] major_version = 16 is not a PostgreSQL major the xtask runs; use 15 or 17 (what Supabase projects run)"
        );
        assert_eq!(Major::from_version_num(170006), Ok(Major::V17));
        assert_eq!(Major::from_version_num(150013), Ok(Major::V15));
        assert_eq!(Major::from_version_num(160004), Err(16));
    }
}
