//! Presence and status (PRD 2.2 "User status", API.md): a user is online while any of their
//! connections is open and in use. Connecting, disconnecting and a device's `user:online` /
//! `user:offline` change it; each transition, and each `user:status_update`, is published
//! (through the event log, like every event) to the people who may see it: those sharing a 1:1
//! chat or a contact with the user, never a whole large group, as the privacy settings allow
//! (presence by both last-seen settings, the status text by the user's `about`).

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use crate::api::models::{DeviceActivity, OnlineStatus, StatusSet, Timestamp};
use crate::api::ws::{ServerEvent, UserPictureUpdated, UserPresence, UserStatusUpdated};
use crate::auth::tokens::Caller;
use crate::db::events;
use crate::db::presence::{self, ConnectionChange, Presence};
use crate::domain::DisplayText;
use crate::error::ApiError;
use crate::App;

/// A connection of `user` changed; publish the transition it causes, if any.
pub async fn connection_changed(
    app: &App,
    user: Uuid,
    connection: &str,
    change: ConnectionChange,
) -> Result<(), ApiError> {
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let Some(transition) = presence::change(&tx, user, connection, change).await? else {
        tx.commit().await?;
        return Ok(());
    };
    let event = presence_event(Presence {
        user_id: user,
        username: transition.username,
        online: transition.online,
        last_seen: transition.last_seen,
    });
    let audience = presence::audience(&tx, user).await?;
    events::append_user_events(&tx, &audience, Some(user), event.name(), &event.data()).await?;
    tx.commit().await?;
    if !audience.is_empty() {
        super::relay::wake(app, event.name()).await;
    }
    Ok(())
}

/// `user:online`, or `user:offline` with the last seen (absent: not shown).
fn presence_event(presence: Presence) -> ServerEvent {
    let payload = UserPresence {
        user_id: presence.user_id,
        username: presence.username,
        status: if presence.online {
            OnlineStatus::Online
        } else {
            OnlineStatus::Offline
        },
        last_seen: presence.last_seen.map(Timestamp),
    };
    if presence.online {
        ServerEvent::UserOnline(payload)
    } else {
        ServerEvent::UserOffline(payload)
    }
}

/// Who sees whose presence, from one user's side: the people who see theirs, and the people
/// whose they see (the last-seen settings work both ways). Read in the transaction of a change
/// that may alter them, before it, and again after it ([`publish_sightline_changes`]).
pub(super) struct Sightlines {
    /// Only between the user and these people (`None`: with everyone).
    among: Option<Vec<Uuid>>,
    seen_by: HashSet<Uuid>,
    sees: HashSet<Uuid>,
}

impl Sightlines {
    /// All of `user`'s (a change of their last-seen setting).
    pub(super) async fn of(
        tx: &deadpool_postgres::Transaction<'_>,
        user: Uuid,
    ) -> Result<Self, ApiError> {
        Ok(Self {
            among: None,
            seen_by: presence::audience(tx, user).await?.into_iter().collect(),
            sees: presence::watched(tx, user).await?.into_iter().collect(),
        })
    }

    /// Only those between `user` and each of `others` (a block, a contact).
    pub(super) async fn between(
        tx: &deadpool_postgres::Transaction<'_>,
        user: Uuid,
        others: &[Uuid],
    ) -> Result<Self, ApiError> {
        let pairs = presence::sightlines_between(tx, user, others).await?;
        Ok(Self {
            among: Some(others.to_vec()),
            seen_by: pairs
                .iter()
                .filter(|p| p.sees_user)
                .map(|p| p.other)
                .collect(),
            sees: pairs
                .iter()
                .filter(|p| p.seen_by_user)
                .map(|p| p.other)
                .collect(),
        })
    }

    /// The same sightlines of `user`, read again.
    async fn again(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        user: Uuid,
    ) -> Result<Self, ApiError> {
        match &self.among {
            None => Self::of(tx, user).await,
            Some(others) => Self::between(tx, user, others).await,
        }
    }
}

/// After a change to `user`'s sightlines (a last-seen setting, a block, a contact), in its
/// transaction: whoever no longer sees a presence is told it is hidden (offline, no last seen),
/// so no client goes on showing an "online" that nothing will end; whoever sees one now is told
/// what it is. Whether anything was published.
pub(super) async fn publish_sightline_changes(
    tx: &deadpool_postgres::Transaction<'_>,
    user: Uuid,
    before: Sightlines,
) -> Result<bool, ApiError> {
    let after = before.again(tx, user).await?;
    let hidden_from: Vec<Uuid> = before.seen_by.difference(&after.seen_by).copied().collect();
    let shown_to: Vec<Uuid> = after.seen_by.difference(&before.seen_by).copied().collect();
    let no_longer_seen: Vec<Uuid> = before.sees.difference(&after.sees).copied().collect();
    let now_seen: Vec<Uuid> = after.sees.difference(&before.sees).copied().collect();
    if hidden_from.is_empty()
        && shown_to.is_empty()
        && no_longer_seen.is_empty()
        && now_seen.is_empty()
    {
        return Ok(false);
    }
    let subjects: Vec<Uuid> = [user]
        .into_iter()
        .chain(no_longer_seen.iter().copied())
        .chain(now_seen.iter().copied())
        .collect();
    let mut now: HashMap<Uuid, Presence> = presence::presence_of(tx, &subjects)
        .await?
        .into_iter()
        .map(|p| (p.user_id, p))
        .collect();
    let hidden = |p: &Presence| {
        presence_event(Presence {
            online: false,
            last_seen: None,
            username: p.username.clone(),
            ..*p
        })
    };
    // The user's own presence, to those who stopped or started seeing it.
    if let Some(own) = now.get(&user) {
        let hide = hidden(own);
        events::append_user_events(tx, &hidden_from, Some(user), hide.name(), &hide.data()).await?;
        let show = presence_event(Presence {
            username: own.username.clone(),
            ..*own
        });
        events::append_user_events(tx, &shown_to, Some(user), show.name(), &show.data()).await?;
    }
    // Others' presence, to the user (caused by the user: one they block is not its actor).
    let mut others: Vec<ServerEvent> = no_longer_seen
        .iter()
        .filter_map(|subject| Some(hidden(now.get(subject)?)))
        .collect();
    others.extend(
        now_seen
            .iter()
            .filter_map(|subject| Some(presence_event(now.remove(subject)?))),
    );
    for name in ["user:offline", "user:online"] {
        let told: Vec<(Uuid, serde_json::Value)> = others
            .iter()
            .filter(|event| event.name() == name)
            .map(|event| (user, event.data()))
            .collect();
        events::append_user_events_each(tx, Some(user), name, &told).await?;
    }
    Ok(true)
}

/// `sender` wrote in a 1:1 chat that `other`'s list did not show (one `sender` opened with
/// them, or one they deleted for themselves): their list shows it now, and with it `sender`'s
/// presence (`presence_viewers`, V60), so they are told what it is, after the message that
/// brought the chat. Best effort, logged: the message is stored and acknowledged whatever
/// happens here, and the chat a client is handed this way is one it reads (with its members'
/// `isOnline`).
pub(super) async fn chat_shown(app: &App, sender: Uuid, other: Uuid) {
    let told = async {
        let mut client = app.db.get().await?;
        let tx = client.transaction().await?;
        let sees = presence::sightlines_between(&tx, sender, &[other])
            .await?
            .iter()
            .any(|s| s.sees_user);
        let now = if sees {
            presence::presence_of(&tx, &[sender]).await?.pop()
        } else {
            None
        };
        let Some(now) = now else {
            return Ok::<_, ApiError>(None);
        };
        let event = presence_event(now);
        events::append_user_events(&tx, &[other], Some(sender), event.name(), &event.data())
            .await?;
        tx.commit().await?;
        Ok(Some(event.name()))
    };
    match told.await {
        Ok(Some(told)) => super::relay::wake(app, told).await,
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "presence: could not tell the presence a new chat shows")
        }
    }
}

/// A connection is gone (disconnected, or a push found it gone): best effort, logged.
pub async fn connection_closed(app: &App, user: Uuid, connection: &str) {
    if let Err(e) = connection_changed(app, user, connection, ConnectionChange::Closed).await {
        tracing::warn!(error = %e, "presence: could not record a closed connection");
    }
}

/// `user:online` / `user:offline`: the device of this connection is in use, or idle.
pub async fn set_device_active(
    app: &App,
    caller: Caller,
    connection: &str,
    active: bool,
) -> Result<DeviceActivity, ApiError> {
    let change = if active {
        ConnectionChange::Active
    } else {
        ConnectionChange::Idle
    };
    connection_changed(app, caller.user_id, connection, change).await?;
    Ok(DeviceActivity { active })
}

/// `user:status_update`: set the status text (blank clears it) and tell the presence audience.
/// The same text again (a client setting it as it starts) tells nobody anything.
pub async fn update_status(
    app: &App,
    caller: Caller,
    status: DisplayText<140>,
) -> Result<StatusSet, ApiError> {
    let status = status.into_inner();
    let mut client = app.db.get().await?;
    let tx = client.transaction().await?;
    let set = presence::set_status(&tx, caller.user_id, status.as_deref()).await?;
    if !set.changed {
        tx.commit().await?;
        return Ok(StatusSet { status });
    }
    let change = ShownChange {
        now: status.clone(),
        changed: true,
        seen_before_by: None,
    };
    publish_status(&tx, caller.user_id, &set.username, change).await?;
    super::profiles::commit_own_profile_change(app, tx, caller.user_id).await?;
    Ok(StatusSet { status })
}

/// A change to what a privacy setting shows of a profile (its status text, by `about`; its
/// picture, by `profilePicture`), told in the transaction that made it as each person sees it
/// now.
pub(super) struct ShownChange<T> {
    /// What it is now.
    pub now: Option<T>,
    /// It is not what it was.
    pub changed: bool,
    /// When its setting changed: who saw it until now.
    pub seen_before_by: Option<Vec<Uuid>>,
}

impl<T> ShownChange<T> {
    /// Who is told what, of those the setting shows it to now (`after`, looked up only if
    /// anyone is to be told anything): a new value to all of them; after a change of the
    /// setting, the value to those who did not see it, and none to those who no longer do.
    /// (With nothing before or after, a change of the setting shows nobody anything new.)
    async fn told(
        self,
        after: impl std::future::Future<Output = Result<Vec<Uuid>, ApiError>>,
    ) -> Result<Vec<(Vec<Uuid>, Option<T>)>, ApiError> {
        let shows_something = self.changed || (self.seen_before_by.is_some() && self.now.is_some());
        if !shows_something {
            return Ok(Vec::new());
        }
        let before = self.seen_before_by.unwrap_or_default();
        let after = after.await?;
        let told: Vec<Uuid> = after
            .iter()
            .filter(|u| self.changed || !before.contains(u))
            .copied()
            .collect();
        let hidden: Vec<Uuid> = before.into_iter().filter(|u| !after.contains(u)).collect();
        Ok(vec![(told, self.now), (hidden, None)])
    }
}

/// Tell `user`'s status text (`user:status_updated`) as [`ShownChange`] says, to whom their
/// `about` setting shows it (`user:status_update`, or `PUT /api/users/profile`).
pub(super) async fn publish_status(
    tx: &deadpool_postgres::Transaction<'_>,
    user_id: Uuid,
    username: &str,
    change: ShownChange<String>,
) -> Result<(), ApiError> {
    for (audience, status) in change.told(presence::status_audience(tx, user_id)).await? {
        let event = ServerEvent::UserStatusUpdated(UserStatusUpdated {
            user_id,
            username: username.to_owned(),
            status,
        });
        events::append_user_events(tx, &audience, Some(user_id), event.name(), &event.data())
            .await?;
    }
    Ok(())
}

/// Tell `user`'s picture (`user:profile_picture_updated`) as [`ShownChange`] says, to whom
/// their `profilePicture` setting shows it.
pub(super) async fn publish_picture(
    tx: &deadpool_postgres::Transaction<'_>,
    user_id: Uuid,
    username: &str,
    change: ShownChange<Uuid>,
) -> Result<(), ApiError> {
    for (audience, picture) in change.told(presence::picture_audience(tx, user_id)).await? {
        let event = ServerEvent::UserPictureUpdated(UserPictureUpdated {
            user_id,
            username: username.to_owned(),
            profile_picture_media_id: picture,
        });
        events::append_user_events(tx, &audience, Some(user_id), event.name(), &event.data())
            .await?;
    }
    Ok(())
}
