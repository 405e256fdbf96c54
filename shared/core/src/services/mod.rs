//! The use cases, one module per area. Handlers call these with already-authenticated callers
//! and typed requests (`api::requests`, read by `api::extract`); these authorize, apply the
//! rules that need the database, call Postgres and the ports, and answer `api::models` types.
//! Each route's function carries its OpenAPI description (`#[utoipa::path]`).

pub mod accounts;
pub mod announcements;
pub mod backups;
pub mod blocking;
pub mod calls;
pub mod chats;
pub mod connections;
pub mod contacts;
pub mod credentials;
pub mod data_rights;
pub mod encryption_keys;
pub mod health;
pub mod invite_links;
pub mod media;
pub mod message_changes;
pub mod message_marks;
pub mod messaging;
pub mod moderation;
pub mod notifications;
pub mod participants;
pub mod polls;
pub mod presence;
pub mod profiles;
pub mod rate_limit;
pub mod receipts;
pub mod relay;
pub mod reports;
pub mod search;
pub mod sync;
pub mod two_factor;
pub mod typing;
pub mod verification;
