//! Push notifications (PRD: a notification queue for push notifications): a device registers
//! its FCM or APNs token for its session, and a message (a reaction to the user's own message,
//! being added or invited to a group, someone asking to join one the user administers) reaches
//! it as a notification when that session has no live connection, unless the chat is muted (a
//! mention, or a reply to their message in a group, still notifies) or the user's notification
//! settings turn messages or groups off. The relay decides whom to notify as it delivers
//! (`services::relay`), and sends them after its round commits: best effort, as the message
//! itself waits in `/api/sync` either way.

use futures_util::StreamExt;
use uuid::Uuid;

use crate::api::models::{CallKind, Envelope, PushDevice, PushDeviceRemoved, Timestamp};
use crate::api::requests::RegisterPushDeviceRequest;
use crate::auth::tokens::Caller;
use crate::db::push_devices::{self, About, DeviceToNotify, NotifyOf, PushDeviceRow};
use crate::error::ApiError;
use crate::ports::{MobilePushError, PushNotification};
use crate::App;

/// Notifications sent at once.
const SENDS_AT_ONCE: usize = 64;
/// How long a relay round waits for its notifications at most: the relay is the one live path
/// to every connection, and a push service that stops answering must not stop it.
pub const SEND_WITHIN: std::time::Duration = std::time::Duration::from_secs(3);
/// Characters of a text message (or a poll's question) a notification shows.
const PREVIEW_CHARS: usize = 120;

/// A file's line: its `icon` and its caption, or its `kind` when it has none.
fn captioned(icon: &str, kind: &str, caption: Option<&str>) -> String {
    match caption.map(str::trim).filter(|c| !c.is_empty()) {
        Some(caption) => format!("{icon} {}", shortened(Some(caption))),
        None => format!("{icon} {kind}"),
    }
}

/// `text` cut to [`PREVIEW_CHARS`], an ellipsis saying so.
fn shortened(text: Option<&str>) -> String {
    let text = text.unwrap_or_default();
    let mut preview: String = text.chars().take(PREVIEW_CHARS).collect();
    if text.chars().count() > PREVIEW_CHARS {
        preview.push('…');
    }
    preview
}

fn shown(row: PushDeviceRow) -> PushDevice {
    PushDevice {
        platform: row.platform,
        registered_at: Timestamp(row.created_at),
    }
}

/// Retired endpoints the push service forgets per scheduled run at most.
const RETIRE_BATCH: i64 = 500;

/// Have the push service forget the endpoints no device uses any more (the scheduled
/// housekeeping): a failure is logged, and the endpoint left behind takes no notification of
/// ours. How many were forgotten.
pub async fn retire_endpoints(app: &App) -> Result<usize, ApiError> {
    let retired = push_devices::take_retired(&app.db.get().await?, RETIRE_BATCH).await?;
    for endpoint in &retired {
        if let Err(e) = app.ports.mobile_push.unregister(endpoint).await {
            tracing::warn!(error = %e, "a retired push endpoint was not unregistered");
        }
    }
    Ok(retired.len())
}

/// `POST /api/notifications/device {platform, token}`.
#[utoipa::path(post, path = "/api/notifications/device", tag = "notifications", security(("bearer" = [])),
    request_body = RegisterPushDeviceRequest,
    responses((status = 200, description = "This device (session) gets push notifications while it is not connected", body = Envelope<PushDevice>),
        (status = 400, description = "This deployment does not push to the platform")))]
pub async fn register_device(
    app: &App,
    caller: Caller,
    body: RegisterPushDeviceRequest,
) -> Result<PushDevice, ApiError> {
    let endpoint = app
        .ports
        .mobile_push
        .register(body.platform, body.token.as_str())
        .await
        .map_err(|e| match e {
            MobilePushError::Unsupported(_) => ApiError::Validation(e.to_string()),
            MobilePushError::Gone => ApiError::Validation("the token was refused".into()),
            MobilePushError::Failed(e) => e.into(),
        })?;
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let row = push_devices::register(
        &tx,
        caller.user_id,
        caller.session_id,
        body.platform,
        body.token.as_str(),
        &endpoint,
    )
    .await?;
    tx.commit().await?;
    Ok(shown(row))
}

/// `GET /api/notifications/device`.
#[utoipa::path(get, path = "/api/notifications/device", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, description = "This device's registration", body = Envelope<PushDevice>),
        (status = 404, description = "This device is not registered")))]
pub async fn device(app: &App, caller: Caller) -> Result<PushDevice, ApiError> {
    push_devices::of_session(&app.db.get().await?, caller.session_id)
        .await?
        .map(shown)
        .ok_or(ApiError::NotFound("push device"))
}

/// `DELETE /api/notifications/device`.
#[utoipa::path(delete, path = "/api/notifications/device", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, description = "This device gets no more push notifications", body = Envelope<PushDeviceRemoved>)))]
pub async fn unregister_device(app: &App, caller: Caller) -> Result<PushDeviceRemoved, ApiError> {
    let removed = push_devices::remove(&app.db.get().await?, caller.session_id).await?;
    Ok(PushDeviceRemoved { removed })
}

/// What a device shows: the sender (and the group) and a preview of the text (a photo's,
/// video's or document's caption), or what kind of message it is (a view-once message never
/// shows more; with `previews` off, nothing of it);
/// for a reaction, the reactor, the emoji and the preview of the recipient's message it
/// answers; for an addition, invitation or join request, the group and who; for a call (or a
/// missed one), who calls and how.
pub(super) fn notification(row: &DeviceToNotify) -> PushNotification {
    let group = row.chat_name.clone().filter(|_| row.is_group);
    let call = match row.about {
        About::Call(CallKind::Audio) => Some("📞 Incoming voice call"),
        About::Call(CallKind::Video) => Some("📹 Incoming video call"),
        About::MissedCall(CallKind::Audio) => Some("Missed voice call"),
        About::MissedCall(CallKind::Video) => Some("Missed video call"),
        _ => None,
    };
    if let Some(call) = call {
        return PushNotification {
            title: row.actor_name.clone(),
            body: call.to_owned(),
            chat_id: row.chat_id,
            message_id: None,
        };
    }
    let about_group = match row.about {
        About::Added => Some("added you"),
        About::Invited => Some("invited you to join"),
        About::JoinRequest => Some("asked to join"),
        About::Message | About::Reaction(_) | About::Call(_) | About::MissedCall(_) => None,
    };
    if let Some(what) = about_group {
        return PushNotification {
            title: group.unwrap_or_default(),
            body: format!("{} {what}", row.actor_name),
            chat_id: row.chat_id,
            message_id: None,
        };
    }
    let what = match row.message_type.as_deref().unwrap_or_default() {
        "text" if !row.view_once && row.previews => shortened(row.content.as_deref()),
        // Previews off: who wrote, not what.
        _ if !row.previews => "New message".to_owned(),
        // A file shows its caption, as WhatsApp's do, or what kind of file it is.
        "image" => captioned("📷", "Photo", row.content.as_deref()),
        "video" => captioned("🎥", "Video", row.content.as_deref()),
        "audio" => "🎤 Audio".to_owned(),
        "document" => captioned("📄", "Document", row.content.as_deref()),
        "location" => "📍 Location".to_owned(),
        "contact" => "👤 Contact".to_owned(),
        "sticker" => "Sticker".to_owned(),
        "poll" => format!("📊 Poll: {}", shortened(row.content.as_deref())),
        // The server cannot read an encrypted message ("encrypted"), nor shows it reads others.
        _ => "New message".to_owned(),
    };
    let what = match &row.about {
        About::Reaction(emoji) if !row.previews => format!("Reacted {emoji} to your message"),
        About::Reaction(emoji) => format!("Reacted {emoji} to “{what}”"),
        _ => what,
    };
    let (title, body) = match group {
        Some(group) => (group, format!("{}: {what}", row.actor_name)),
        None => (row.actor_name.clone(), what),
    };
    PushNotification {
        title,
        body,
        chat_id: row.chat_id,
        message_id: row.message_id,
    }
}

/// Send notifications side by side, for [`SEND_WITHIN`] at most (the rest are dropped and
/// logged). Failures are logged, never answered: the messages are delivered through sync
/// either way.
pub(super) async fn send(app: &App, notifications: Vec<(String, PushNotification)>) {
    if notifications.is_empty() {
        return;
    }
    let count = notifications.len();
    if tokio::time::timeout(SEND_WITHIN, send_all(app, notifications))
        .await
        .is_err()
    {
        tracing::warn!(
            count,
            "push notifications still unsent were dropped: the push service is slow"
        );
    }
}

/// Send, and forget the devices whose endpoints are gone.
async fn send_all(app: &App, notifications: Vec<(String, PushNotification)>) {
    let gone: Vec<String> = futures_util::stream::iter(notifications)
        .map(|(endpoint, notification)| async move {
            match app.ports.mobile_push.send(&endpoint, &notification).await {
                Ok(()) => None,
                Err(MobilePushError::Gone) => Some(endpoint),
                Err(e) => {
                    tracing::warn!(error = %e, "a push notification was not sent");
                    None
                }
            }
        })
        .buffer_unordered(SENDS_AT_ONCE)
        .filter_map(|gone| async move { gone })
        .collect()
        .await;
    if gone.is_empty() {
        return;
    }
    let forgotten = match app.db.get().await {
        Ok(client) => push_devices::remove_endpoints(&client, &gone).await,
        Err(e) => Err(e.into()),
    };
    if let Err(e) = forgotten {
        tracing::warn!(error = %e, "gone push endpoints were not forgotten");
    }
}

/// The devices to notify of `items`, and what each shows; a device whose session is connected
/// (`connected(user, session)`) is left out: it got the event.
pub(super) async fn to_notify(
    client: &impl deadpool_postgres::GenericClient,
    items: &[NotifyOf],
    connected: impl Fn(Uuid, Uuid) -> bool,
) -> Result<Vec<(String, PushNotification)>, ApiError> {
    let recipients: Vec<Uuid> = items
        .iter()
        .map(|i| i.recipient)
        .collect::<std::collections::HashSet<_>>()
        .into_iter()
        .collect();
    if recipients.is_empty() {
        return Ok(Vec::new());
    }
    let with_devices = push_devices::users_with_devices(client, &recipients).await?;
    let items: Vec<&NotifyOf> = items
        .iter()
        .filter(|i| with_devices.contains(&i.recipient))
        .collect();
    if items.is_empty() {
        return Ok(Vec::new());
    }
    Ok(push_devices::to_notify(client, &items)
        .await?
        .iter()
        .filter(|row| !connected(row.user_id, row.session_id))
        .map(|row| (row.endpoint.clone(), notification(row)))
        .collect())
}
