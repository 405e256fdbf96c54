//! Settings read from the environment, with the PRD's defaults. Secrets (database URL, JWT
//! signing key) are read here and never logged.

use std::time::Duration;

/// Tunable limits and lifetimes. `Settings::default()` is the PRD's configuration;
/// [`Settings::from_env`] overrides any of them.
#[derive(Clone, Debug)]
pub struct Settings {
    /// JWT `iss` and `aud`.
    pub token_issuer: String,
    pub token_audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    /// Refresh lifetime when the user ticks "remember me".
    pub remember_me_ttl: Duration,
    /// Largest REST request body accepted (bigger ones answer 413).
    pub max_body_bytes: usize,
    /// Longest text message, in bytes.
    pub max_message_bytes: usize,
    pub max_group_members: usize,
    pub edit_window: Duration,
    pub delete_window: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            token_issuer: "banter".into(),
            token_audience: "banter-clients".into(),
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(7 * 24 * 3600),
            remember_me_ttl: Duration::from_secs(30 * 24 * 3600),
            max_body_bytes: 256 * 1024,
            max_message_bytes: 64 * 1024,
            max_group_members: 1024,
            edit_window: Duration::from_secs(15 * 60),
            delete_window: Duration::from_secs(60 * 3600),
        }
    }
}

impl Settings {
    /// Defaults overridden by `BANTER_*` variables (seconds for durations).
    pub fn from_env() -> Self {
        let mut s = Self::default();
        let secs = |name: &str, d: &mut Duration| {
            if let Some(v) = env_parse::<u64>(name) {
                *d = Duration::from_secs(v);
            }
        };
        secs("BANTER_ACCESS_TOKEN_TTL", &mut s.access_token_ttl);
        secs("BANTER_REFRESH_TOKEN_TTL", &mut s.refresh_token_ttl);
        secs("BANTER_REMEMBER_ME_TTL", &mut s.remember_me_ttl);
        secs("BANTER_EDIT_WINDOW", &mut s.edit_window);
        secs("BANTER_DELETE_WINDOW", &mut s.delete_window);
        if let Some(v) = env_parse("BANTER_MAX_GROUP_MEMBERS") {
            s.max_group_members = v;
        }
        if let Ok(v) = std::env::var("BANTER_TOKEN_ISSUER") {
            s.token_issuer = v;
        }
        s
    }
}

/// An environment variable parsed as `T`, or `None` when unset or unparsable.
pub fn env_parse<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// A required environment variable, with an error naming it.
pub fn env_required(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))
}
