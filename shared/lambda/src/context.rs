//! The [`App`] of a function, from its environment (set by `template.yaml` on AWS, by
//! `.banter/lambda.env` under `cargo lambda watch`, by `env.json` under `sam local`):
//!
//! | variable | for | what |
//! |---|---|---|
//! | `DATABASE_URL_SECRET` | every function | Secrets Manager secret (name or ARN) holding the Postgres URL (Neon: `...?sslmode=require`); `DATABASE_URL` holds the URL itself outside AWS |
//! | `JWT_PRIVATE_KEY_SECRET` | feature `tokens` | secret holding the base64 Ed25519 PKCS#8 signing key (`JWT_PRIVATE_KEY` outside AWS); without either, `JWT_PUBLIC_KEY` makes a verify-only function |
//! | `JWT_DEVELOPMENT_PRIVATE_KEY` | feature `tokens` | the local stack's key (`BANTER_ENV=development` only) |
//! | `CONNECTIONS_TABLE` | feature `registry` | DynamoDB table of WebSocket connections |
//! | `DELIVERY_QUEUE_URL` | feature `queue` | SQS delivery queue |
//! | `WEBSOCKET_MANAGEMENT_URL` | feature `push` | `https://{api}.execute-api.{region}.amazonaws.com/{stage}` |
//! | `MEDIA_BUCKET` | feature `blobs` | S3 bucket for media; `S3_FORCE_PATH_STYLE=true` for emulators |
//! | `NOTIFY_FROM_EMAIL` | feature `notify` | verified SES sender |
//! | `PUSH_PLATFORM_APPLICATION_FCM`, `PUSH_PLATFORM_APPLICATION_APNS` | feature `mobile-push` | SNS platform application ARNs (either may be empty: that platform is not pushed to) |
//! | `TURN_SHARED_KEY_SECRET` | `BANTER_TURN_URLS` set | secret holding the key shared with the TURN servers (`TURN_SHARED_KEY` outside AWS) |
//! | `DB_POOL_SIZE` | | connections per instance (default 2) |
//!
//! A function asks only for what it [`Uses`] (its `USES`, passed to [`crate::run`]); the ports it
//! does not use are [`Absent`]. Every missing variable is named in one [`InitError`], not just the
//! first. The features of this crate (`registry`, `queue`, `push`, `blobs`, `notify`,
//! `mobile-push`) decide which
//! AWS adapters a function links: a function built for AWS enables those it uses.
//!
//! [`Absent`]: banter_core::ports::Absent

use std::sync::Arc;

use banter_core::auth::tokens::TokenKeys;
use banter_core::config::{env_parse, Settings};
use banter_core::ports::Absent;
use banter_core::{db, App, Ports};

/// Why a function could not start: every missing setting with what it is for, or the first
/// setting that is present but wrong. Its `Display` is one line.
#[derive(Debug)]
pub enum InitError {
    Missing(Vec<(&'static str, &'static str)>),
    Invalid(String),
}

impl std::fmt::Display for InitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InitError::Missing(missing) => {
                write!(f, "missing settings: ")?;
                for (i, (name, what)) in missing.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "; " };
                    write!(f, "{sep}{name} ({what})")?;
                }
                write!(
                    f,
                    ". In development, start the local stack (cargo run -p banter-local): it \
                     writes them to .banter/lambda.env, which cargo lambda watch reads"
                )
            }
            InitError::Invalid(why) => write!(f, "invalid settings: {why}"),
        }
    }
}

impl std::error::Error for InitError {}

impl From<String> for InitError {
    fn from(why: String) -> Self {
        InitError::Invalid(why)
    }
}

/// The variables read so far, and those that were missing.
#[derive(Default)]
struct Environment {
    missing: Vec<(&'static str, &'static str)>,
}

impl Environment {
    /// A required variable; empty (and noted as missing) when unset.
    fn required(&mut self, name: &'static str, what: &'static str) -> String {
        match std::env::var(name) {
            Ok(value) if !value.is_empty() => value,
            _ => {
                self.missing.push((name, what));
                String::new()
            }
        }
    }

    /// A secret: from Secrets Manager when `{name}_SECRET` names one (on AWS the template sets
    /// only that name), else the plain `{name}` variable.
    async fn secret(&mut self, name: &'static str) -> Result<Option<String>, InitError> {
        match std::env::var(format!("{name}_SECRET")) {
            Ok(id) if !id.is_empty() => {
                let aws = banter_aws::load_config().await;
                banter_aws::secret_string(&aws, &id)
                    .await
                    .map(Some)
                    .map_err(|e| InitError::Invalid(format!("reading the secret of {name}: {e}")))
            }
            _ => Ok(std::env::var(name).ok().filter(|v| !v.is_empty())),
        }
    }

    fn finish(self) -> Result<(), InitError> {
        if self.missing.is_empty() {
            Ok(())
        } else {
            Err(InitError::Missing(self.missing))
        }
    }
}

/// `BANTER_ENV=development` (what `.banter/lambda.env` and `env.json` set) enables the local
/// stack's development key; a function that also reads secrets from Secrets Manager is deployed,
/// and refuses it.
fn development() -> Result<bool, InitError> {
    if std::env::var("BANTER_ENV").as_deref() != Ok("development") {
        return Ok(false);
    }
    let deployed = ["DATABASE_URL_SECRET", "JWT_PRIVATE_KEY_SECRET"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|v| !v.is_empty()));
    if deployed {
        return Err(InitError::Invalid(
            "BANTER_ENV=development in a function reading Secrets Manager: development \
             settings are refused where production secrets are"
                .into(),
        ));
    }
    Ok(true)
}

/// What a function uses, so the only settings it asks for: its `USES`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Uses {
    /// It verifies or issues tokens (without, it gets a key pair nobody else holds: every token
    /// it sees is refused).
    pub tokens: bool,
    pub registry: bool,
    pub queue: bool,
    pub push: bool,
    pub blobs: bool,
    pub notify: bool,
    pub mobile_push: bool,
}

impl Uses {
    /// Only the database.
    pub const NOTHING: Uses = Uses {
        tokens: false,
        registry: false,
        queue: false,
        push: false,
        blobs: false,
        notify: false,
        mobile_push: false,
    };

    /// The features of this crate a function's manifest enables for these ports: each links a
    /// port's AWS adapter. Built alone (`sam build`), a function that uses a port without its
    /// feature fails at start; one with a feature it does not use links an SDK client for
    /// nothing. (Built with the workspace, features unify and neither shows.)
    pub fn features(self) -> Vec<&'static str> {
        [
            (self.registry, "registry"),
            (self.queue, "queue"),
            (self.push, "push"),
            (self.blobs, "blobs"),
            (self.notify, "notify"),
            (self.mobile_push, "mobile-push"),
        ]
        .into_iter()
        .filter_map(|(used, feature)| used.then_some(feature))
        .collect()
    }
}

/// The function's token keys: the signing key, a verify-only public key, or (in development) the
/// local stack's key.
async fn token_keys(
    env: &mut Environment,
    uses: Uses,
    settings: &Settings,
) -> Result<TokenKeys, InitError> {
    if !uses.tokens {
        return Ok(TokenKeys::from_pkcs8(
            &TokenKeys::generate_pkcs8(),
            settings,
        )?);
    }
    if let Some(private) = env.secret("JWT_PRIVATE_KEY").await? {
        return Ok(TokenKeys::from_private_key_base64(&private, settings)?);
    }
    if let Some(public) = std::env::var("JWT_PUBLIC_KEY")
        .ok()
        .filter(|k| !k.is_empty())
    {
        return Ok(TokenKeys::verify_only_base64(&public, settings)?);
    }
    if let Some(private) = std::env::var("JWT_DEVELOPMENT_PRIVATE_KEY")
        .ok()
        .filter(|k| !k.is_empty())
    {
        if !development()? {
            return Err(InitError::Invalid(
                "JWT_DEVELOPMENT_PRIVATE_KEY is the local stack's key, accepted only with \
                 BANTER_ENV=development"
                    .into(),
            ));
        }
        return Ok(TokenKeys::from_private_key_base64(&private, settings)?);
    }
    env.missing.push((
        "JWT_PRIVATE_KEY_SECRET",
        "the secret holding the token signing key; or JWT_PRIVATE_KEY, or JWT_PUBLIC_KEY to \
         verify only",
    ));
    Ok(TokenKeys::from_pkcs8(
        &TokenKeys::generate_pkcs8(),
        settings,
    )?)
}

/// The CDN media are downloaded through, when `MEDIA_CDN_URL` names one (the template sets it
/// when the stack has a media distribution): its key pair id (`MEDIA_CDN_KEY_PAIR_ID`) and the
/// private key (`MEDIA_CDN_PRIVATE_KEY`, from its secret) are needed then.
async fn media_cdn(
    env: &mut Environment,
) -> Result<Option<banter_core::media_cdn::MediaCdn>, InitError> {
    let Some(url) = std::env::var("MEDIA_CDN_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return Ok(None);
    };
    let key_pair_id = env.required(
        "MEDIA_CDN_KEY_PAIR_ID",
        "the id of the public key in the media distribution's key group",
    );
    let Some(key) = env.secret("MEDIA_CDN_PRIVATE_KEY").await? else {
        env.missing.push((
            "MEDIA_CDN_PRIVATE_KEY_SECRET",
            "the secret holding the PEM private key that signs the media distribution's URLs; \
             or MEDIA_CDN_PRIVATE_KEY, the key itself",
        ));
        return Ok(None);
    };
    if key_pair_id.is_empty() {
        // Said as missing (`env.finish`).
        return Ok(None);
    }
    banter_core::media_cdn::MediaCdn::new(&url, &key_pair_id, &key)
        .map(Some)
        .map_err(|e| InitError::Invalid(format!("MEDIA_CDN_URL: {e}")))
}

/// A port this build does not link (the function's crate does not enable its feature).
#[allow(dead_code)]
fn not_linked(feature: &str) -> InitError {
    InitError::Invalid(format!(
        "this function uses the {feature} port but was built without banter-lambda's \
         `{feature}` feature"
    ))
}

pub async fn app_from_env(uses: Uses) -> Result<App, InitError> {
    let mut settings = Settings::from_env();
    development()?;
    let mut env = Environment::default();
    if !settings.ice.turn_urls.is_empty() {
        settings.ice.turn_key = match env.secret("TURN_SHARED_KEY").await? {
            Some(key) => Some(banter_core::auth::turn::TurnKey::new(key)),
            None => {
                env.missing.push((
                    "TURN_SHARED_KEY_SECRET",
                    "the secret holding the key shared with the TURN servers of BANTER_TURN_URLS; \
                     or TURN_SHARED_KEY, the key itself",
                ));
                None
            }
        };
    }
    if uses.blobs {
        settings.media_cdn = media_cdn(&mut env).await?;
    }
    let database_url = env.secret("DATABASE_URL").await?.unwrap_or_else(|| {
        env.missing.push((
            "DATABASE_URL_SECRET",
            "the secret holding the Postgres URL; or DATABASE_URL, the URL itself",
        ));
        String::new()
    });
    let tokens = token_keys(&mut env, uses, &settings).await?;
    let table = uses.registry.then(|| {
        env.required(
            "CONNECTIONS_TABLE",
            "the DynamoDB table of WebSocket connections",
        )
    });
    let queue_url = uses
        .queue
        .then(|| env.required("DELIVERY_QUEUE_URL", "the SQS delivery queue's URL"));
    let management_url = uses.push.then(|| {
        env.required(
            "WEBSOCKET_MANAGEMENT_URL",
            "the WebSocket API's @connections endpoint",
        )
    });
    let bucket = uses
        .blobs
        .then(|| env.required("MEDIA_BUCKET", "the S3 bucket for media"));
    let from_email = uses
        .notify
        .then(|| env.required("NOTIFY_FROM_EMAIL", "the SES sender address"));
    env.finish()?;

    let db = db::connect(&database_url, env_parse("DB_POOL_SIZE").unwrap_or(2))?;
    // (Unread in a function that links no AWS adapter.)
    #[cfg_attr(
        not(any(
            feature = "registry",
            feature = "queue",
            feature = "push",
            feature = "blobs",
            feature = "notify",
            feature = "mobile-push"
        )),
        allow(unused_variables)
    )]
    let aws = if uses.registry
        || uses.queue
        || uses.push
        || uses.blobs
        || uses.notify
        || uses.mobile_push
    {
        Some(banter_aws::load_config().await)
    } else {
        None
    };
    let ports = Ports {
        connections: match table {
            #[cfg(feature = "registry")]
            Some(table) => Arc::new(banter_aws::DynamoConnectionRegistry::new(
                aws.as_ref().expect("loaded"),
                table,
            )),
            #[cfg(not(feature = "registry"))]
            Some(_) => return Err(not_linked("registry")),
            None => Arc::new(Absent("connection registry")),
        },
        queue: match queue_url {
            #[cfg(feature = "queue")]
            Some(url) => Arc::new(banter_aws::SqsDeliveryQueue::new(
                aws.as_ref().expect("loaded"),
                url,
            )),
            #[cfg(not(feature = "queue"))]
            Some(_) => return Err(not_linked("queue")),
            None => Arc::new(Absent("delivery queue")),
        },
        push: match management_url {
            #[cfg(feature = "push")]
            Some(url) => Arc::new(banter_aws::ApiGatewayPush::new(
                aws.as_ref().expect("loaded"),
                &url,
            )),
            #[cfg(not(feature = "push"))]
            Some(_) => return Err(not_linked("push")),
            None => Arc::new(Absent("connection push")),
        },
        blobs: match bucket {
            #[cfg(feature = "blobs")]
            Some(bucket) => {
                let path_style = std::env::var("S3_FORCE_PATH_STYLE").is_ok_and(|v| v == "true");
                Arc::new(banter_aws::S3BlobStore::new(
                    aws.as_ref().expect("loaded"),
                    bucket,
                    path_style,
                ))
            }
            #[cfg(not(feature = "blobs"))]
            Some(_) => return Err(not_linked("blobs")),
            None => Arc::new(Absent("blob store")),
        },
        notifier: match from_email {
            #[cfg(feature = "notify")]
            Some(from) => Arc::new(banter_aws::SesSnsNotifier::new(
                aws.as_ref().expect("loaded"),
                from,
            )),
            #[cfg(not(feature = "notify"))]
            Some(_) => return Err(not_linked("notify")),
            None => Arc::new(Absent("notifier")),
        },
        mobile_push: match uses.mobile_push {
            #[cfg(feature = "mobile-push")]
            true => Arc::new(banter_aws::SnsMobilePush::new(
                aws.as_ref().expect("loaded"),
                std::env::var("PUSH_PLATFORM_APPLICATION_FCM").ok(),
                std::env::var("PUSH_PLATFORM_APPLICATION_APNS").ok(),
            )),
            #[cfg(not(feature = "mobile-push"))]
            true => return Err(not_linked("mobile-push")),
            false => Arc::new(Absent("mobile push")),
        },
    };
    Ok(App {
        sends: banter_core::db::send_batches::SendBatcher::new(db.clone()),
        relay_turn: Default::default(),
        db,
        tokens: Arc::new(tokens),
        sessions: Arc::new(banter_core::auth::revocation::SessionCheck::new(
            settings.session_check_ttl,
        )),
        settings: Arc::new(settings),
        ports,
    })
}
