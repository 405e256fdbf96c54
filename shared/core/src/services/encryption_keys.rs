//! End-to-end encryption keys (PRD "Data protection: end-to-end encryption (optional)"): the
//! server's part of the Signal protocol. Each device publishes public keys (`PUT /api/keys`,
//! `POST /api/keys/one-time`); a device starting an encrypted conversation claims a bundle per
//! device of the other user (`GET /api/users/{userId}/keys`), each one-time pre-key handed out
//! once. A new identity key is told to the chats of its owner (`keys:changed`); a device running
//! out of one-time pre-keys is told to add more (`keys:low`). Private keys never reach the
//! server, and it reads no encrypted message (`content::encrypted`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use uuid::Uuid;

use crate::api::models::{
    Envelope, KeyBundle, KeyBundles, OwnDeviceKeys, OwnKeys, PreKey, SignedPreKey, Timestamp,
};
use crate::api::requests::{AddPreKeysRequest, PreKeyInput, PublishKeysRequest};
use crate::api::ws::{KeysChanged, KeysLow, ServerEvent};
use crate::auth::tokens::Caller;
use crate::db::device_keys::{self, DeviceKeysInput, PreKeyRow};
use crate::db::{events, relationships};
use crate::error::ApiError;
use crate::App;

/// One-time pre-keys one request adds at most.
pub const MAX_PRE_KEYS_PER_REQUEST: usize = 100;

/// `PUT /api/keys`.
#[utoipa::path(put, path = "/api/keys", tag = "encryption", security(("bearer" = [])),
    request_body = PublishKeysRequest,
    responses((status = 200, description = "This device's keys as published (a new identity key is told to the owner's chats as `keys:changed`)", body = Envelope<OwnDeviceKeys>)))]
pub async fn publish(
    app: &App,
    caller: Caller,
    body: PublishKeysRequest,
) -> Result<OwnDeviceKeys, ApiError> {
    let one_time = pre_keys(body.one_time_pre_keys)?;
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let keys = DeviceKeysInput {
        identity_key: body.identity_key.as_bytes(),
        signed_pre_key_id: key_id(body.signed_pre_key.key_id.0)?,
        signed_pre_key: body.signed_pre_key.public_key.as_bytes(),
        signature: body.signed_pre_key.signature.as_bytes(),
    };
    let new_identity = device_keys::publish(&tx, caller.user_id, caller.session_id, &keys).await?;
    device_keys::add_one_time(&tx, caller.session_id, &one_time).await?;
    if new_identity {
        let event = ServerEvent::KeysChanged(KeysChanged {
            chat_id: None,
            user_id: caller.user_id,
            device_id: caller.session_id,
            identity_key: Some(STANDARD.encode(keys.identity_key)),
            removed: false,
        });
        events::append_device_change_to_chats(&tx, caller.user_id, event.name(), &event.data())
            .await?;
        events::append_own_event(&tx, caller.user_id, &event).await?;
    }
    let device = this_device(&tx, caller).await?;
    tx.commit().await?;
    if new_identity {
        super::relay::wake(app, "keys:changed").await;
    }
    Ok(device)
}

/// `POST /api/keys/one-time`.
#[utoipa::path(post, path = "/api/keys/one-time", tag = "encryption", security(("bearer" = [])),
    request_body = AddPreKeysRequest,
    responses((status = 200, description = "This device's keys, with the one-time pre-keys it holds now", body = Envelope<OwnDeviceKeys>),
        (status = 404, description = "This device has published no keys (`PUT /api/keys` first)")))]
pub async fn add_one_time(
    app: &App,
    caller: Caller,
    body: AddPreKeysRequest,
) -> Result<OwnDeviceKeys, ApiError> {
    let one_time = pre_keys(body.one_time_pre_keys)?;
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    device_keys::add_one_time(&tx, caller.session_id, &one_time)
        .await?
        .ok_or(ApiError::NotFound("encryption keys of this device"))?;
    let device = this_device(&tx, caller).await?;
    tx.commit().await?;
    Ok(device)
}

/// `GET /api/keys`.
#[utoipa::path(get, path = "/api/keys", tag = "encryption", security(("bearer" = [])),
    responses((status = 200, description = "The caller's devices with keys, and the one-time pre-keys each holds", body = Envelope<OwnKeys>)))]
pub async fn own(app: &App, caller: Caller) -> Result<OwnKeys, ApiError> {
    let devices = device_keys::of_user(&app.db.get().await?, caller.user_id).await?;
    Ok(OwnKeys {
        devices: devices
            .into_iter()
            .map(|d| shown(d, caller.session_id))
            .collect(),
    })
}

/// `GET /api/users/{userId}/keys`.
#[utoipa::path(get, path = "/api/users/{userId}/keys", tag = "encryption", security(("bearer" = [])),
    params(("userId" = Uuid, Path)),
    responses((status = 200, description = "A bundle for each of the user's devices (each one-time pre-key is handed out once; the caller's own devices are the caller's other devices)", body = Envelope<KeyBundles>),
        (status = 403, description = "The caller blocks the user (someone blocked is not told so: their messages are stored and never delivered)"),
        (status = 404, description = "No such user, or none of their devices has keys")))]
pub async fn claim(app: &App, caller: Caller, user_id: Uuid) -> Result<KeyBundles, ApiError> {
    if user_id != caller.user_id
        && relationships::standing(&app.db, caller.user_id, user_id)
            .await?
            .viewer_blocked_target
    {
        return Err(super::messaging::unblock_to_message());
    }
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let bundles: Vec<KeyBundle> = device_keys::claim(&tx, user_id, caller.session_id)
        .await?
        .into_iter()
        .map(|b| KeyBundle {
            device_id: b.session_id,
            identity_key: STANDARD.encode(&b.identity_key),
            signed_pre_key: SignedPreKey {
                key_id: b.signed_pre_key_id.into(),
                public_key: STANDARD.encode(&b.signed_pre_key),
                signature: STANDARD.encode(&b.signature),
            },
            one_time_pre_key: b.one_time_pre_key.map(|k| PreKey {
                key_id: k.key_id.into(),
                public_key: STANDARD.encode(&k.public_key),
            }),
        })
        .collect();
    if bundles.is_empty() {
        return Err(ApiError::NotFound("encryption keys of this user"));
    }
    let low = device_keys::newly_low(&tx, user_id).await?;
    let told: Vec<(Uuid, serde_json::Value)> = low
        .into_iter()
        .map(|(device_id, remaining)| {
            let event = ServerEvent::KeysLow(KeysLow {
                device_id,
                remaining,
            });
            (user_id, event.data())
        })
        .collect();
    events::append_user_events_each(&tx, None, "keys:low", &told).await?;
    tx.commit().await?;
    if !told.is_empty() {
        super::relay::wake(app, "keys:low").await;
    }
    Ok(KeyBundles {
        user_id,
        devices: bundles,
    })
}

/// The caller's device as it is now (in `tx`).
async fn this_device(
    tx: &deadpool_postgres::Transaction<'_>,
    caller: Caller,
) -> Result<OwnDeviceKeys, ApiError> {
    device_keys::of_user(tx, caller.user_id)
        .await?
        .into_iter()
        .find(|d| d.session_id == caller.session_id)
        .map(|d| shown(d, caller.session_id))
        .ok_or(ApiError::Unauthorized)
}

fn shown(d: device_keys::OwnDeviceRow, current: Uuid) -> OwnDeviceKeys {
    OwnDeviceKeys {
        device_id: d.session_id,
        current_device: d.session_id == current,
        identity_key: STANDARD.encode(&d.identity_key),
        signed_pre_key_id: d.signed_pre_key_id.into(),
        one_time_pre_keys: d.one_time_pre_keys,
        updated_at: Timestamp::from(d.updated_at),
    }
}

/// Pre-keys as stored, or why a request's list is refused.
fn pre_keys(keys: Vec<PreKeyInput>) -> Result<Vec<PreKeyRow>, ApiError> {
    if keys.len() > MAX_PRE_KEYS_PER_REQUEST {
        return Err(ApiError::Validation(format!(
            "`oneTimePreKeys`: at most {MAX_PRE_KEYS_PER_REQUEST} a request"
        )));
    }
    keys.into_iter()
        .map(|k| {
            Ok(PreKeyRow {
                key_id: key_id(k.key_id.0)?,
                public_key: k.public_key.as_bytes().to_vec(),
            })
        })
        .collect()
}

/// A pre-key id (24 bits, checked as it was read) as stored.
fn key_id(id: i64) -> Result<i32, ApiError> {
    i32::try_from(id).map_err(|_| ApiError::Validation("`keyId` must be 24-bit".into()))
}
