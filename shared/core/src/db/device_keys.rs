//! End-to-end encryption keys (`V50`): each device session's identity key, signed pre-key and
//! one-time pre-keys, the bundles claimed from them (each one-time pre-key once), and the
//! devices an encrypted message to a chat must be sealed for.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::error::ApiError;

/// Joins the `device_keys` row `k` to its session, which has not ended (SQL): a device whose
/// session expired is no device to seal for (one revoked has no keys left, `V50`).
const LIVE_SESSION: &str = "JOIN device_sessions s ON s.id = k.session_id
                            AND s.revoked_at IS NULL AND s.expires_at > now()";

/// One-time pre-keys a device may hold at most.
pub const MAX_ONE_TIME_PRE_KEYS: i64 = 500;
/// Below this many one-time pre-keys, the device's owner is told to add more (`keys:low`).
pub const LOW_ONE_TIME_PRE_KEYS: i64 = 10;

/// A pre-key as stored: its id and public key.
pub struct PreKeyRow {
    pub key_id: i32,
    pub public_key: Vec<u8>,
}

/// What a device publishes.
pub struct DeviceKeysInput<'a> {
    pub identity_key: &'a [u8],
    pub signed_pre_key_id: i32,
    pub signed_pre_key: &'a [u8],
    pub signature: &'a [u8],
}

/// One of a user's devices with keys, as its owner sees it.
pub struct OwnDeviceRow {
    pub session_id: Uuid,
    pub identity_key: Vec<u8>,
    pub signed_pre_key_id: i32,
    pub one_time_pre_keys: i64,
    pub updated_at: DateTime<Utc>,
}

/// A device's bundle, with the one-time pre-key claimed for it (if it had one left).
pub struct BundleRow {
    pub session_id: Uuid,
    pub identity_key: Vec<u8>,
    pub signed_pre_key_id: i32,
    pub signed_pre_key: Vec<u8>,
    pub signature: Vec<u8>,
    pub one_time_pre_key: Option<PreKeyRow>,
}

/// Publish `session`'s keys (in the caller's transaction), replacing what it published before.
/// A new identity key drops the one-time pre-keys made for the old one. Answers whether the
/// identity key is new (a new device, or one set up again).
pub async fn publish(
    tx: &deadpool_postgres::Transaction<'_>,
    user: Uuid,
    session: Uuid,
    keys: &DeviceKeysInput<'_>,
) -> Result<bool, ApiError> {
    let previous: Option<Vec<u8>> = tx
        .query_opt(
            &tx.prepare_cached(
                "SELECT identity_key FROM device_keys WHERE session_id = $1 FOR UPDATE",
            )
            .await?,
            &[&session],
        )
        .await?
        .map(|r| r.get("identity_key"));
    let new_identity = previous.as_deref() != Some(keys.identity_key);
    if new_identity && previous.is_some() {
        tx.execute(
            &tx.prepare_cached("DELETE FROM one_time_pre_keys WHERE session_id = $1")
                .await?,
            &[&session],
        )
        .await?;
    }
    tx.execute(
        &tx.prepare_cached(
            "INSERT INTO device_keys (session_id, user_id, identity_key, signed_pre_key_id,
                                      signed_pre_key, signed_pre_key_signature)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (session_id) DO UPDATE SET
                 identity_key = EXCLUDED.identity_key,
                 signed_pre_key_id = EXCLUDED.signed_pre_key_id,
                 signed_pre_key = EXCLUDED.signed_pre_key,
                 signed_pre_key_signature = EXCLUDED.signed_pre_key_signature,
                 updated_at = now()",
        )
        .await?,
        &[
            &session,
            &user,
            &keys.identity_key,
            &keys.signed_pre_key_id,
            &keys.signed_pre_key,
            &keys.signature,
        ],
    )
    .await?;
    Ok(new_identity)
}

/// Add one-time pre-keys to `session`'s (in the caller's transaction; a key id it has already
/// gets the new key). Answers how many it holds now, or `None` if it published no keys; more
/// than [`MAX_ONE_TIME_PRE_KEYS`] are refused. Enough of them end a shortage (`keys:low` may be
/// told again at the next one).
pub async fn add_one_time(
    tx: &deadpool_postgres::Transaction<'_>,
    session: Uuid,
    keys: &[PreKeyRow],
) -> Result<Option<i64>, ApiError> {
    let device = tx
        .query_opt(
            &tx.prepare_cached("SELECT 1 FROM device_keys WHERE session_id = $1 FOR UPDATE")
                .await?,
            &[&session],
        )
        .await?;
    if device.is_none() {
        return Ok(None);
    }
    let ids: Vec<i32> = keys.iter().map(|k| k.key_id).collect();
    let public: Vec<&[u8]> = keys.iter().map(|k| k.public_key.as_slice()).collect();
    tx.execute(
        &tx.prepare_cached(
            "INSERT INTO one_time_pre_keys (session_id, key_id, public_key)
             SELECT DISTINCT ON (k) $1, k, p
             FROM unnest($2::int[], $3::bytea[]) WITH ORDINALITY AS x(k, p, n)
             ORDER BY k, n DESC
             ON CONFLICT (session_id, key_id) DO UPDATE SET public_key = EXCLUDED.public_key",
        )
        .await?,
        &[&session, &ids, &public],
    )
    .await?;
    let held: i64 = tx
        .query_one(
            &tx.prepare_cached("SELECT count(*) FROM one_time_pre_keys WHERE session_id = $1")
                .await?,
            &[&session],
        )
        .await?
        .get(0);
    if held > MAX_ONE_TIME_PRE_KEYS {
        return Err(ApiError::Validation(format!(
            "a device holds at most {MAX_ONE_TIME_PRE_KEYS} one-time pre-keys ({held} with these)"
        )));
    }
    if held >= LOW_ONE_TIME_PRE_KEYS {
        tx.execute(
            &tx.prepare_cached(
                "UPDATE device_keys SET low_told_at = NULL
                 WHERE session_id = $1 AND low_told_at IS NOT NULL",
            )
            .await?,
            &[&session],
        )
        .await?;
    }
    Ok(Some(held))
}

/// `user`'s devices with keys (of sessions that have not ended), oldest first.
pub async fn of_user(
    client: &impl GenericClient,
    user: Uuid,
) -> Result<Vec<OwnDeviceRow>, ApiError> {
    let rows = client
        .query(
            &client
                .prepare_cached(&format!(
                    "SELECT k.session_id, k.identity_key, k.signed_pre_key_id, k.updated_at,
                            (SELECT count(*) FROM one_time_pre_keys o
                             WHERE o.session_id = k.session_id) AS one_time_pre_keys
                     FROM device_keys k {LIVE_SESSION}
                     WHERE k.user_id = $1
                     ORDER BY k.created_at, k.session_id"
                ))
                .await?,
            &[&user],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| OwnDeviceRow {
            session_id: r.get("session_id"),
            identity_key: r.get("identity_key"),
            signed_pre_key_id: r.get("signed_pre_key_id"),
            one_time_pre_keys: r.get("one_time_pre_keys"),
            updated_at: r.get("updated_at"),
        })
        .collect())
}

/// Claim a bundle for each of `user`'s devices but `asking` (the device claiming, when it claims
/// its own user's other devices), in the caller's transaction: each takes the device's lowest
/// one-time pre-key away, so no two callers get the same one (a claim racing another skips the
/// key the other holds and takes the next).
pub async fn claim(
    tx: &deadpool_postgres::Transaction<'_>,
    user: Uuid,
    asking: Uuid,
) -> Result<Vec<BundleRow>, ApiError> {
    let claimed = tx
        .query(
            &tx.prepare_cached(&format!(
                "DELETE FROM one_time_pre_keys o
                 USING (SELECT p.session_id, p.key_id
                        FROM device_keys k {LIVE_SESSION}
                        CROSS JOIN LATERAL (
                            SELECT session_id, key_id FROM one_time_pre_keys
                            WHERE session_id = k.session_id
                            ORDER BY key_id LIMIT 1
                            FOR UPDATE SKIP LOCKED) p
                        WHERE k.user_id = $1 AND k.session_id <> $2) pick
                 WHERE o.session_id = pick.session_id AND o.key_id = pick.key_id
                 RETURNING o.session_id, o.key_id, o.public_key"
            ))
            .await?,
            &[&user, &asking],
        )
        .await?;
    let devices = tx
        .query(
            &tx.prepare_cached(&format!(
                "SELECT k.session_id, k.identity_key, k.signed_pre_key_id, k.signed_pre_key,
                        k.signed_pre_key_signature
                 FROM device_keys k {LIVE_SESSION}
                 WHERE k.user_id = $1 AND k.session_id <> $2
                 ORDER BY k.created_at, k.session_id"
            ))
            .await?,
            &[&user, &asking],
        )
        .await?;
    Ok(devices
        .iter()
        .map(|d| {
            let session_id: Uuid = d.get("session_id");
            BundleRow {
                session_id,
                identity_key: d.get("identity_key"),
                signed_pre_key_id: d.get("signed_pre_key_id"),
                signed_pre_key: d.get("signed_pre_key"),
                signature: d.get("signed_pre_key_signature"),
                one_time_pre_key: claimed
                    .iter()
                    .find(|c| c.get::<_, Uuid>("session_id") == session_id)
                    .map(|c| PreKeyRow {
                        key_id: c.get("key_id"),
                        public_key: c.get("public_key"),
                    }),
            }
        })
        .collect())
}

/// `user`'s devices that have just run low on one-time pre-keys and were not told yet, with
/// how many each has left; marked told (in the caller's transaction).
pub async fn newly_low(
    tx: &deadpool_postgres::Transaction<'_>,
    user: Uuid,
) -> Result<Vec<(Uuid, i64)>, ApiError> {
    let rows = tx
        .query(
            &tx.prepare_cached(
                "WITH held AS (
                     SELECT k.session_id,
                            (SELECT count(*) FROM one_time_pre_keys o
                             WHERE o.session_id = k.session_id) AS remaining
                     FROM device_keys k
                     WHERE k.user_id = $1 AND k.low_told_at IS NULL)
                 UPDATE device_keys k SET low_told_at = now()
                 FROM held
                 WHERE k.session_id = held.session_id AND held.remaining < $2
                 RETURNING k.session_id, held.remaining",
            )
            .await?,
            &[&user, &LOW_ONE_TIME_PRE_KEYS],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get("session_id"), r.get("remaining")))
        .collect())
}

/// The devices with keys of `chat`'s members now (of sessions that have not ended): whom an
/// encrypted message to it is sealed for.
pub async fn of_chat(client: &impl GenericClient, chat: Uuid) -> Result<Vec<Uuid>, ApiError> {
    let rows = client
        .query(
            &client
                .prepare_cached(&format!(
                    "SELECT k.session_id
                     FROM chat_participants p
                     JOIN device_keys k ON k.user_id = p.user_id {LIVE_SESSION}
                     WHERE p.chat_id = $1 AND p.left_at IS NULL"
                ))
                .await?,
            &[&chat],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get("session_id")).collect())
}
