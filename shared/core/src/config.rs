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
    /// How long an instance trusts what it last saw of a device session: a revocation elsewhere
    /// takes effect on every request within this time.
    pub session_check_ttl: Duration,
    /// `forgot-password` answers no sooner than this, whether or not the account exists, so
    /// its timing tells nobody which addresses have accounts.
    pub forgot_password_floor: Duration,
    /// A refresh token presented again this soon after it was spent is a retry (a lost answer),
    /// answered with a new pair; later, it is theft and revokes the session.
    pub refresh_retry_grace: Duration,
    /// A sensitive change (2FA, phone) without the current password is allowed only this soon
    /// after the session's login.
    pub step_up_window: Duration,
    /// A confirmed 2FA reset by email takes effect after this wait (WhatsApp: 7 days), during
    /// which a login with a code cancels it.
    pub two_factor_reset_wait: Duration,
    /// WebSocket connections one user may hold at once (WhatsApp: a phone and 4 linked devices).
    pub max_connections_per_user: usize,
    /// Live device sessions one user may hold: a login past it signs out the one used least
    /// recently (each session is a device with its own keys and connections; logins that never
    /// log out would otherwise pile up without end).
    pub max_sessions_per_user: usize,
    /// Events older than this are compacted away; a sync cursor from before answers
    /// `410 SYNC_CURSOR_EXPIRED`.
    pub event_retention: Duration,
    /// A data export larger than this is stored and answered with a signed download (a Lambda
    /// response is at most 6 MB).
    pub export_inline_max_bytes: usize,
    /// Largest REST request body accepted (bigger ones answer 413).
    pub max_body_bytes: usize,
    /// Longest text message, in characters.
    pub max_message_chars: usize,
    pub max_group_members: usize,
    pub edit_window: Duration,
    pub delete_window: Duration,
    pub rate_limits: RateLimits,
    /// Where links in emails point (the client app or the API).
    pub public_url: String,
    /// Where each abuse report is announced to the moderators (`BANTER_ABUSE_REPORTS_EMAIL`; the
    /// report and the messages kept with it stay in the database); none: nobody is emailed.
    pub abuse_reports_email: Option<String>,
    pub email_token_ttl: Duration,
    pub reset_token_ttl: Duration,
    pub phone_code_ttl: Duration,
    pub phone_code_attempts: i32,
    /// The region (ISO 3166-1 alpha-2) of national numbers in a contact sync when neither the
    /// request nor the caller's own phone says.
    pub default_phone_region: String,
    /// How long a finished backup stays downloadable.
    pub backup_ttl: Duration,
    /// How long a call rings unanswered before it is missed (WhatsApp: about 45 seconds).
    pub call_ring_timeout: Duration,
    /// How long a file in `processing` may say nothing (no step, no progress) before its worker
    /// counts as gone: a retry may take the file over, and the scheduled run fails it if none
    /// does. Above the longest a worker runs (a Lambda runs 15 minutes at most).
    pub media_processing_stale: Duration,
    /// The servers a call's devices may use to reach each other (`GET /api/calls/ice-servers`).
    pub ice: IceSettings,
    /// What may be uploaded (PRD `FileUploadConfig`).
    pub uploads: UploadPolicy,
    /// Where media are downloaded from: a CDN's signed URLs (`BANTER_MEDIA_CDN_URL`, its key
    /// pair id and signing key), or, without one, the blob store's own.
    pub media_cdn: Option<crate::media_cdn::MediaCdn>,
}

/// Size limit and allowed MIME types of one kind of file.
#[derive(Clone, Debug)]
pub struct UploadKindPolicy {
    pub max_bytes: u64,
    pub types: Vec<String>,
}

impl UploadKindPolicy {
    fn new(max_bytes: u64, types: &[&str]) -> Self {
        Self {
            max_bytes,
            types: types.iter().map(|t| (*t).to_owned()).collect(),
        }
    }
}

/// The PRD's `FileUploadConfig`: limits per kind of file, and how long signed upload and
/// download URLs last.
#[derive(Clone, Debug)]
pub struct UploadPolicy {
    pub image: UploadKindPolicy,
    pub video: UploadKindPolicy,
    pub audio: UploadKindPolicy,
    pub document: UploadKindPolicy,
    /// Stickers: small pictures.
    pub sticker: UploadKindPolicy,
    /// Attachments of encrypted messages: ciphertext, stored as it comes (nothing can scan or
    /// process it), as large as the largest other kind.
    pub encrypted: UploadKindPolicy,
    pub url_ttl: Duration,
}

impl UploadPolicy {
    /// The policy of a kind of file (`image`, `video`, `audio`, `document`, `sticker`,
    /// `encrypted`).
    pub fn of(&self, kind: &str) -> &UploadKindPolicy {
        match kind {
            "video" => &self.video,
            "audio" => &self.audio,
            "document" => &self.document,
            "sticker" => &self.sticker,
            "encrypted" => &self.encrypted,
            _ => &self.image,
        }
    }

    fn of_mut(&mut self, kind: &str) -> &mut UploadKindPolicy {
        match kind {
            "video" => &mut self.video,
            "audio" => &mut self.audio,
            "document" => &mut self.document,
            "sticker" => &mut self.sticker,
            "encrypted" => &mut self.encrypted,
            _ => &mut self.image,
        }
    }
}

impl Default for UploadPolicy {
    fn default() -> Self {
        const MIB: u64 = 1024 * 1024;
        Self {
            image: UploadKindPolicy::new(
                10 * MIB,
                &["image/jpeg", "image/png", "image/webp", "image/gif"],
            ),
            video: UploadKindPolicy::new(
                100 * MIB,
                &["video/mp4", "video/webm", "video/quicktime"],
            ),
            audio: UploadKindPolicy::new(50 * MIB, &["audio/mpeg", "audio/wav", "audio/ogg"]),
            document: UploadKindPolicy::new(
                25 * MIB,
                &[
                    "application/pdf",
                    "application/msword",
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                ],
            ),
            sticker: UploadKindPolicy::new(MIB, &["image/webp", "image/png", "image/gif"]),
            encrypted: UploadKindPolicy::new(100 * MIB, &[ENCRYPTED_MIME]),
            url_ttl: Duration::from_secs(3600),
        }
    }
}

/// The only type of an encrypted message's attachment: bytes nobody but its recipients reads.
pub const ENCRYPTED_MIME: &str = "application/octet-stream";

/// One fixed-window limit: at most `max` hits per `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub max: i64,
    pub window: Duration,
}

impl Limit {
    pub const fn new(max: i64, window_secs: u64) -> Self {
        Self {
            max,
            window: Duration::from_secs(window_secs),
        }
    }

    /// The window's length in whole seconds (at least one), as the counters' SQL takes it.
    pub fn window_secs(&self) -> f64 {
        self.window.as_secs().max(1) as f64
    }
}

/// The PRD's `rateLimitConfig`, plus brute-force thresholds. Counters live in Postgres, so
/// they hold across Lambda instances.
#[derive(Clone, Debug)]
pub struct RateLimits {
    /// Every REST request, per client IP.
    pub general: Limit,
    /// Each credential route on its own: per client IP on the routes without a session
    /// (register, verify-email, forgot-password, reset-password, 2FA reset), per user on those
    /// with one (phone, 2FA, account deletion). Login has no attempt limit of its own: only
    /// failures count there (the backoffs below), so people behind one NAT never block each
    /// other by logging in.
    pub auth: Limit,
    /// Messages sent, per user.
    pub messages: Limit,
    /// Upload URLs issued, per user.
    pub uploads: Limit,
    /// Phone numbers and emails looked up, per user (contact sync and vCard import): what
    /// keeps anyone from walking the number space to learn who uses Banter.
    pub contact_lookups: Limit,
    /// Backups asked for, per user.
    pub backups: Limit,
    /// Calls started, per user (each rings the callee's devices and may push to them).
    pub calls: Limit,
    /// Abuse reports filed, per user.
    pub reports: Limit,
    /// Encryption key bundles claimed, per user, of anyone: enough for a member joining the
    /// largest group to claim every other member's.
    pub key_claims: Limit,
    /// Bundles of one user claimed, per claiming user: each takes a one-time pre-key from
    /// every device of the user claimed, so this is what keeps anyone from draining them.
    pub key_claims_per_user: Limit,
    /// Encryption keys published or added, per user: a new identity key is told in every chat
    /// of its owner, so this is what keeps anyone from flooding them with `keys:changed`.
    pub key_publishes: Limit,
    /// Failed logins for one account from one source (an IP, or a known device) before that
    /// source backs off.
    pub account_failures: i32,
    /// Failed logins for one account from all sources before logins from unknown devices back
    /// off (known devices are exempt, so nobody can keep the owner out).
    pub account_failures_any_source: i32,
    /// Failed logins from one IP, whatever the accounts, before backoff starts.
    pub ip_failures: i32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            general: Limit::new(1000, 15 * 60),
            auth: Limit::new(5, 15 * 60),
            messages: Limit::new(30, 60),
            uploads: Limit::new(50, 3600),
            contact_lookups: Limit::new(2000, 24 * 3600),
            backups: Limit::new(3, 24 * 3600),
            calls: Limit::new(60, 3600),
            reports: Limit::new(20, 3600),
            key_claims: Limit::new(2_000, 3600),
            key_claims_per_user: Limit::new(10, 3600),
            key_publishes: Limit::new(30, 3600),
            account_failures: 5,
            account_failures_any_source: 10,
            ip_failures: 20,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            token_issuer: "banter".into(),
            token_audience: "banter-clients".into(),
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(7 * 24 * 3600),
            remember_me_ttl: Duration::from_secs(30 * 24 * 3600),
            session_check_ttl: Duration::from_secs(2),
            step_up_window: Duration::from_secs(10 * 60),
            two_factor_reset_wait: Duration::from_secs(7 * 24 * 3600),
            refresh_retry_grace: Duration::from_secs(10),
            forgot_password_floor: Duration::from_millis(400),
            max_connections_per_user: 5,
            max_sessions_per_user: 32,
            max_body_bytes: crate::api::limits::MAX_BODY_BYTES,
            export_inline_max_bytes: 5 * 1024 * 1024,
            event_retention: Duration::from_secs(30 * 24 * 3600),
            max_message_chars: crate::api::limits::MAX_MESSAGE_CHARS,
            max_group_members: crate::api::limits::DEFAULT_MAX_GROUP_MEMBERS,
            edit_window: Duration::from_secs(15 * 60),
            delete_window: Duration::from_secs(60 * 3600),
            rate_limits: RateLimits::default(),
            public_url: "http://127.0.0.1:3001".into(),
            abuse_reports_email: None,
            email_token_ttl: Duration::from_secs(24 * 3600),
            reset_token_ttl: Duration::from_secs(3600),
            phone_code_ttl: Duration::from_secs(10 * 60),
            phone_code_attempts: 5,
            default_phone_region: "US".into(),
            backup_ttl: Duration::from_secs(7 * 24 * 3600),
            call_ring_timeout: Duration::from_secs(45),
            media_processing_stale: Duration::from_secs(15 * 60),
            ice: IceSettings::default(),
            uploads: UploadPolicy::default(),
            media_cdn: None,
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
        secs("BANTER_TWO_FACTOR_RESET_WAIT", &mut s.two_factor_reset_wait);
        secs("BANTER_EVENT_RETENTION", &mut s.event_retention);
        secs("BANTER_CALL_RING_TIMEOUT", &mut s.call_ring_timeout);
        secs(
            "BANTER_MEDIA_PROCESSING_STALE",
            &mut s.media_processing_stale,
        );
        secs("BANTER_TURN_CREDENTIAL_TTL", &mut s.ice.turn_credential_ttl);
        let urls = |name: &str| -> Vec<String> {
            std::env::var(name)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_owned)
                .collect()
        };
        s.ice.stun_urls = urls("BANTER_STUN_URLS");
        s.abuse_reports_email = std::env::var("BANTER_ABUSE_REPORTS_EMAIL")
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        s.ice.turn_urls = urls("BANTER_TURN_URLS");
        if let Some(v) = env_parse("BANTER_MAX_GROUP_MEMBERS") {
            s.max_group_members = v;
        }
        if let Some(v) = env_parse("BANTER_MAX_CONNECTIONS_PER_USER") {
            s.max_connections_per_user = v;
        }
        if let Some(v) = env_parse::<usize>("BANTER_MAX_SESSIONS_PER_USER") {
            s.max_sessions_per_user = v.max(1);
        }
        if let Ok(v) = std::env::var("BANTER_TOKEN_ISSUER") {
            s.token_issuer = v;
        }
        if let Ok(v) = std::env::var("BANTER_PUBLIC_URL") {
            s.public_url = v;
        }
        let limit = |name: &str, l: &mut Limit| {
            // `max/window_secs`, e.g. BANTER_RATE_LIMIT_AUTH=5/900
            if let Some((max, window)) = std::env::var(name)
                .ok()
                .as_deref()
                .and_then(|v| v.split_once('/'))
            {
                if let (Ok(max), Ok(window)) = (max.trim().parse(), window.trim().parse()) {
                    *l = Limit::new(max, window);
                }
            }
        };
        limit("BANTER_RATE_LIMIT_GENERAL", &mut s.rate_limits.general);
        limit("BANTER_RATE_LIMIT_AUTH", &mut s.rate_limits.auth);
        limit("BANTER_RATE_LIMIT_MESSAGES", &mut s.rate_limits.messages);
        limit("BANTER_RATE_LIMIT_UPLOADS", &mut s.rate_limits.uploads);
        limit(
            "BANTER_RATE_LIMIT_CONTACT_LOOKUPS",
            &mut s.rate_limits.contact_lookups,
        );
        limit("BANTER_RATE_LIMIT_BACKUPS", &mut s.rate_limits.backups);
        limit("BANTER_RATE_LIMIT_CALLS", &mut s.rate_limits.calls);
        limit("BANTER_RATE_LIMIT_REPORTS", &mut s.rate_limits.reports);
        limit(
            "BANTER_RATE_LIMIT_KEY_CLAIMS",
            &mut s.rate_limits.key_claims,
        );
        limit(
            "BANTER_RATE_LIMIT_KEY_CLAIMS_PER_USER",
            &mut s.rate_limits.key_claims_per_user,
        );
        limit(
            "BANTER_RATE_LIMIT_KEY_PUBLISHES",
            &mut s.rate_limits.key_publishes,
        );
        if let Ok(v) = std::env::var("BANTER_DEFAULT_PHONE_REGION") {
            s.default_phone_region = v;
        }
        // BANTER_MAX_UPLOAD_BYTES_IMAGE=10485760, BANTER_UPLOAD_TYPES_IMAGE=image/jpeg,image/png
        for kind in [
            "image",
            "video",
            "audio",
            "document",
            "sticker",
            "encrypted",
        ] {
            let upper = kind.to_ascii_uppercase();
            let policy = s.uploads.of_mut(kind);
            if let Some(max) = env_parse(&format!("BANTER_MAX_UPLOAD_BYTES_{upper}")) {
                policy.max_bytes = max;
            }
            if let Ok(types) = std::env::var(format!("BANTER_UPLOAD_TYPES_{upper}")) {
                policy.types = types.split(',').map(|t| t.trim().to_owned()).collect();
            }
        }
        secs("BANTER_MEDIA_URL_TTL", &mut s.uploads.url_ttl);
        // Wrong passwords before an account and an IP start backing off.
        if let Some(n) = env_parse("BANTER_LOGIN_FAILURES_BEFORE_BACKOFF") {
            s.rate_limits.account_failures = n;
            s.rate_limits.account_failures_any_source = n;
            s.rate_limits.ip_failures = n;
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

/// STUN and TURN servers for calls. TURN servers are given with short-lived credentials made
/// from `turn_key` (`auth::turn`); without a key they are not offered.
#[derive(Debug, Clone)]
pub struct IceSettings {
    /// `stun:` URLs (`BANTER_STUN_URLS`, comma-separated).
    pub stun_urls: Vec<String>,
    /// `turn:` / `turns:` URLs (`BANTER_TURN_URLS`).
    pub turn_urls: Vec<String>,
    /// The key shared with the TURN servers (the `TURN_SHARED_KEY` secret).
    pub turn_key: Option<crate::auth::turn::TurnKey>,
    /// How long a TURN credential lasts (`BANTER_TURN_CREDENTIAL_TTL`).
    pub turn_credential_ttl: Duration,
}

impl Default for IceSettings {
    fn default() -> Self {
        Self {
            stun_urls: Vec::new(),
            turn_urls: Vec::new(),
            turn_key: None,
            turn_credential_ttl: Duration::from_secs(12 * 3600),
        }
    }
}
