//! Queries on `chats` and `chat_participants`. Every read takes the viewer and returns nothing
//! for a chat they are not an active member of, so "not yours" and "not there" look the same.

use chrono::{DateTime, Utc};
use tokio_postgres::types::Json;
use uuid::Uuid;

use crate::api::models::{
    Allowed, CallEndReason, CallKind, ChatDetails, ChatSettings, ChatSummary, ChatType,
    GroupPermissions, InvitationListed, LastMessage, Participant, ParticipantRole, PastParticipant,
    Timestamp,
};
use crate::api::requests::{ChatListFilter, Patch, UpdateChatRequest};
use crate::api::ws::{
    ChatCleared, ChatDeleted, ChatInvitation, ChatUpdated, JoinRequestOutcome, JoinedParticipant,
    ParticipantJoined, ParticipantLeft, ParticipantRoleChanged, ServerEvent,
};
use crate::error::ApiError;

use super::Db;

/// What makes a 1:1 chat unique: its two members, in order.
fn individual_key(a: Uuid, b: Uuid) -> String {
    if a < b {
        format!("{a}:{b}")
    } else {
        format!("{b}:{a}")
    }
}

/// The 1:1 chat between two users, if they have one.
pub async fn individual_between(
    client: &impl deadpool_postgres::GenericClient,
    a: Uuid,
    b: Uuid,
) -> Result<Option<Uuid>, ApiError> {
    let stmt = client
        .prepare_cached("SELECT id FROM chats WHERE individual_key = $1")
        .await?;
    Ok(client
        .query_opt(&stmt, &[&individual_key(a, b)])
        .await?
        .map(|r| r.get("id")))
}

/// What opening a 1:1 chat did.
pub struct OpenedIndividual {
    pub chat_id: Uuid,
    /// It was made now.
    pub created: bool,
    /// Its `chat:created` is in the log for the relay: made now, or shown again to its opener.
    pub announced: bool,
}

/// The 1:1 chat between two users, created if it does not exist (in the caller's transaction).
pub async fn open_individual(
    tx: &deadpool_postgres::Transaction<'_>,
    creator: Uuid,
    other: Uuid,
) -> Result<OpenedIndividual, ApiError> {
    let key = individual_key(creator, other);
    let created = tx
        .query_opt(
            "INSERT INTO chats (id, type, created_by, individual_key) VALUES ($1, 'individual', $2, $3)
             ON CONFLICT (individual_key) DO NOTHING RETURNING id",
            &[&Uuid::now_v7(), &creator, &key],
        )
        .await?;
    let (chat_id, is_new) = match created {
        Some(row) => (row.get("id"), true),
        None => (
            tx.query_one("SELECT id FROM chats WHERE individual_key = $1", &[&key])
                .await?
                .get("id"),
            false,
        ),
    };
    // Both people are members again, even if one had left or cleared the chat before (one
    // person, in a chat with themselves). A new chat stays out of the other's list until its
    // first message (`hidden`, as a chat deleted for oneself is): opening a chat puts nothing
    // in the other's list, as in WhatsApp.
    let members = if creator == other {
        vec![creator]
    } else {
        vec![creator, other]
    };
    // Opening a chat that the opener's list does not show (the other opened it first, or they
    // deleted it for themselves) shows it again, empty of what they cleared, on each of their
    // devices (`chat:created`, which in a 1:1 chat reaches only its actor). (`was` reads the
    // opener's row as it stood before this statement.)
    let reopened: bool = tx
        .query(
            "WITH was AS (SELECT hidden FROM chat_participants WHERE chat_id = $1 AND user_id = $3)
             INSERT INTO chat_participants (chat_id, user_id, role, hidden)
             SELECT $1, u, 'member', $4 AND u <> $3 FROM unnest($2::uuid[]) u
             ON CONFLICT (chat_id, user_id) DO UPDATE
                 SET left_at = NULL,
                     hidden = chat_participants.hidden AND chat_participants.user_id <> $3
             RETURNING coalesce((SELECT hidden FROM was), false) AS reopened",
            &[&chat_id, &members, &creator, &is_new],
        )
        .await?
        .first()
        .is_some_and(|r| r.get("reopened"));
    if is_new || reopened {
        super::events::append_chat_event(tx, chat_id, Some(creator), "chat:created", None).await?;
    }
    if is_new {
        start_default_timer(tx, chat_id, creator).await?;
    }
    Ok(OpenedIndividual {
        chat_id,
        created: is_new,
        announced: is_new || reopened,
    })
}

/// Give a new chat its creator's default disappearing-messages timer, if they set one, with
/// its line in the timeline (WhatsApp's default message timer). The line is the creator's: for
/// the other person it falls before their history starts (`cleared_seq`), or it would put the
/// chat in their list, and push it to them, before anyone wrote (they see the timer in the
/// chat's details and on each message's `expiresAt`).
async fn start_default_timer(
    tx: &deadpool_postgres::Transaction<'_>,
    chat_id: Uuid,
    creator: Uuid,
) -> Result<(), ApiError> {
    let stmt = tx
        .prepare_cached(
            "UPDATE chats c SET disappearing_seconds = (u.privacy_settings ->> 'defaultDisappearingSeconds')::int
             FROM users u
             WHERE c.id = $1 AND u.id = $2
               AND coalesce((u.privacy_settings ->> 'defaultDisappearingSeconds')::int, 0) > 0
             RETURNING c.disappearing_seconds",
        )
        .await?;
    if let Some(row) = tx.query_opt(&stmt, &[&chat_id, &creator]).await? {
        let timer = SystemAction::DefaultDisappearing(row.get("disappearing_seconds"));
        append_system_message(tx, chat_id, timer, Some(creator), None, None).await?;
        let stmt = tx
            .prepare_cached(
                "UPDATE chat_participants p SET cleared_seq = s.last_seq
                 FROM chat_sequences s
                 WHERE s.chat_id = p.chat_id AND p.chat_id = $1 AND p.user_id <> $2 AND p.hidden",
            )
            .await?;
        tx.execute(&stmt, &[&chat_id, &creator]).await?;
    }
    Ok(())
}

/// A chat member as the relay fans out to ([`members_since`]): who, for which time, and which
/// of the actors the relay asked about they block.
pub struct Member {
    pub chat_id: Uuid,
    pub user_id: Uuid,
    pub joined_at: chrono::DateTime<chrono::Utc>,
    pub left_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Their earlier memberships that ended at or after the time asked about (V57): when each
    /// began, and when it ended.
    pub earlier: Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)>,
    pub blocked_actors: Vec<Uuid>,
    /// The chat's messages up to this `seq` they cleared for themselves.
    pub cleared_seq: i64,
}

impl Member {
    /// Whether an event of `at` falls in this membership or an earlier one (the event that
    /// removes them does).
    pub fn during(&self, at: chrono::DateTime<chrono::Utc>) -> bool {
        self.joined_at <= at && self.left_at.is_none_or(|left| at <= left)
            || self
                .earlier
                .iter()
                .any(|&(joined, left)| joined <= at && at <= left)
    }

    /// Whether this member blocks `actor` (one of the actors [`members_since`] was given).
    pub fn blocks(&self, actor: Uuid) -> bool {
        self.blocked_actors.contains(&actor)
    }
}

/// A row's earlier memberships (V57), from its `earlier_joined` and `earlier_left` arrays
/// (each `NULL` for none): `(joined, left)`, oldest first.
pub fn earlier_memberships(
    r: &tokio_postgres::Row,
) -> Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> {
    let column = |name| r.get::<_, Option<Vec<_>>>(name).unwrap_or_default();
    column("earlier_joined")
        .into_iter()
        .zip(column("earlier_left"))
        .collect()
}

/// The members of these chats: current ones, and those who left at or after `since` (events
/// from before they left are still theirs), each with their earlier memberships that ended at
/// or after `since` and those of `actors` they block (in the same statement: a relay round's
/// blocks cost no round trip of their own).
pub async fn members_since(
    client: &impl deadpool_postgres::GenericClient,
    chats: &[Uuid],
    since: chrono::DateTime<chrono::Utc>,
    actors: &[Uuid],
) -> Result<Vec<Member>, ApiError> {
    if chats.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = client
        .prepare_cached(
            "SELECT p.chat_id, p.user_id, p.joined_at, p.left_at, p.cleared_seq,
                    w.earlier_joined, w.earlier_left,
                    ARRAY(SELECT b.related_user_id FROM user_relationships b
                          WHERE b.user_id = p.user_id AND b.related_user_id = ANY($3)
                            AND b.relationship_type = 'blocked') AS blocked_actors
             FROM chat_participants p
             -- (Only one who joined since can have an earlier membership that ended since: the
             -- others' are not looked up.)
             LEFT JOIN LATERAL (
                 SELECT array_agg(w.joined_at ORDER BY w.joined_at) AS earlier_joined,
                        array_agg(w.left_at ORDER BY w.joined_at) AS earlier_left
                 FROM earlier_memberships w
                 WHERE p.joined_at > $2 AND w.chat_id = p.chat_id AND w.user_id = p.user_id
                   AND w.left_at >= $2
             ) w ON true
             WHERE p.chat_id = ANY($1) AND (p.left_at IS NULL OR p.left_at >= $2)",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&chats, &since, &actors])
        .await?
        .iter()
        .map(|r| Member {
            chat_id: r.get("chat_id"),
            user_id: r.get("user_id"),
            joined_at: r.get("joined_at"),
            left_at: r.get("left_at"),
            earlier: earlier_memberships(r),
            blocked_actors: r.get("blocked_actors"),
            cleared_seq: r.get("cleared_seq"),
        })
        .collect())
}

/// The ids of this chat's current members.
pub async fn current_member_ids(
    client: &impl deadpool_postgres::GenericClient,
    chat: Uuid,
) -> Result<Vec<Uuid>, ApiError> {
    let stmt = client
        .prepare_cached(
            "SELECT user_id FROM chat_participants WHERE chat_id = $1 AND left_at IS NULL",
        )
        .await?;
    Ok(client
        .query(&stmt, &[&chat])
        .await?
        .iter()
        .map(|r| r.get("user_id"))
        .collect())
}

/// A group's picture as stored: an outside address or the file of an uploaded image (one, or
/// neither).
type Picture = (Option<String>, Option<Uuid>);

/// A group to make ([`create_group`]).
pub struct NewGroup<'a> {
    pub creator: Uuid,
    /// The creator's own id for it: a second creation with the same one makes nothing.
    pub client_chat_id: Option<&'a str>,
    pub name: &'a str,
    pub description: Option<&'a str>,
    /// An outside address, or an uploaded image's file (one, or neither).
    pub avatar: (Option<&'a str>, Option<Uuid>),
    /// Everyone who joins now, the creator (its admin) included.
    pub members: &'a [Uuid],
    /// Those invited instead, and told so (`chat:invitation`).
    pub invitees: &'a [Uuid],
}

/// A new group with its creator as admin and `members` as members; or, when the creator made one
/// with the same client id before, that group, and nothing new.
pub async fn create_group(db: &Db, group: NewGroup<'_>) -> Result<GroupMade, ApiError> {
    let NewGroup {
        creator,
        client_chat_id,
        name,
        description,
        avatar,
        members,
        invitees,
    } = group;
    let chat_id = Uuid::now_v7();
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let (avatar_url, avatar_media_id) = avatar;
    let inserted = tx
        .execute(
            "INSERT INTO chats (id, type, name, description, avatar_url, avatar_media_id,
                                created_by, client_chat_id)
             VALUES ($1, 'group', $2, $3, $4, $5, $6, $7)
             ON CONFLICT (created_by, client_chat_id) WHERE client_chat_id IS NOT NULL DO NOTHING",
            &[
                &chat_id,
                &name,
                &description,
                &avatar_url,
                &avatar_media_id,
                &creator,
                &client_chat_id,
            ],
        )
        .await?;
    if inserted == 0 {
        // The creator's group with this client id: an earlier attempt's, or a concurrent one's
        // that the insert waited for (read by a statement of its own, which sees it committed).
        let twin = tx
            .query_one(
                "SELECT id FROM chats WHERE created_by = $1 AND client_chat_id = $2",
                &[&creator, &client_chat_id],
            )
            .await?;
        return Ok(GroupMade::Earlier(twin.get("id")));
    }
    tx.execute(
        "INSERT INTO chat_participants (chat_id, user_id, role)
         SELECT $1, u, CASE WHEN u = $2 THEN 'admin' ELSE 'member' END FROM unnest($3::uuid[]) u",
        &[&chat_id, &creator, &members],
    )
    .await?;
    super::events::append_chat_event(&tx, chat_id, Some(creator), "chat:created", None).await?;
    append_system_message(
        &tx,
        chat_id,
        SystemAction::Created,
        Some(creator),
        None,
        None,
    )
    .await?;
    start_default_timer(&tx, chat_id, creator).await?;
    if !invitees.is_empty() {
        tx.execute(
            "INSERT INTO chat_invitations (chat_id, user_id, invited_by) SELECT $1, u, $2 FROM unnest($3::uuid[]) u",
            &[&chat_id, &creator, &invitees],
        )
        .await?;
        let invitation =
            crate::api::ws::ServerEvent::ChatInvitation(crate::api::ws::ChatInvitation {
                chat_id,
                name: name.to_owned(),
                invited_by: creator,
            });
        super::events::append_user_events(
            &tx,
            invitees,
            Some(creator),
            invitation.name(),
            &invitation.data(),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(GroupMade::Now(chat_id))
}

/// What [`create_group`] did.
pub enum GroupMade {
    /// Made the group.
    Now(Uuid),
    /// Found the group the creator made earlier with the same client id; nothing was made.
    Earlier(Uuid),
}

/// How long an invitation waits for its answer (WhatsApp's three days); after it, it is gone
/// (answered 404, forgotten by the scheduled run) and inviting again renews it.
pub const INVITATION_LIFETIME_DAYS: i32 = 3;

/// A statement's condition (SQL) that the invitation `i` has not expired.
fn invitation_live(i: &str) -> String {
    format!("{i}.created_at > now() - make_interval(days => {INVITATION_LIFETIME_DAYS})")
}

/// The group invitations waiting for `user`'s answer, newest first.
pub async fn invitations_of(db: &Db, user: Uuid) -> Result<Vec<InvitationListed>, ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT i.chat_id, c.name, c.avatar_url, c.avatar_media_id, i.invited_by, i.created_at
             FROM chat_invitations i JOIN chats c ON c.id = i.chat_id
             WHERE i.user_id = $1 AND {live} ORDER BY i.created_at DESC, i.chat_id",
            live = invitation_live("i"),
        ))
        .await?;
    Ok(client
        .query(&stmt, &[&user])
        .await?
        .iter()
        .map(|r| {
            let invited_at: DateTime<Utc> = r.get("created_at");
            InvitationListed {
                chat_id: r.get("chat_id"),
                name: r.get::<_, Option<String>>("name").unwrap_or_default(),
                avatar_url: r.get("avatar_url"),
                avatar_media_id: r.get("avatar_media_id"),
                invited_by: r.get("invited_by"),
                invited_at: Timestamp(invited_at),
                expires_at: Timestamp(
                    invited_at + chrono::Duration::days(INVITATION_LIFETIME_DAYS.into()),
                ),
            }
        })
        .collect())
}

/// Forget the invitations nobody answered in time; how many.
pub async fn forget_expired_invitations(
    client: &impl deadpool_postgres::GenericClient,
) -> Result<u64, ApiError> {
    Ok(client
        .execute(
            &format!(
                "DELETE FROM chat_invitations i WHERE NOT {}",
                invitation_live("i")
            ),
            &[],
        )
        .await?)
}

/// What answering an invitation came to.
pub enum InvitationAnswer {
    /// Accepted or declined: the invitation is gone.
    Answered,
    NotFound,
    /// Accepting would take the group past `max_members`: the invitation stays.
    Full,
}

/// Answer an invitation: accepting makes `user` a member (from now on), unless the group is
/// full (counted and serialized as [`add_participant`] counts: then nothing is committed and
/// the invitation stays); either way it is gone.
pub async fn answer_invitation(
    db: &Db,
    chat_id: Uuid,
    user: Uuid,
    accept: bool,
    max_members: usize,
) -> Result<InvitationAnswer, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    if accept {
        match lock_group(&tx, chat_id).await {
            Err(ApiError::NotFound(_)) => return Ok(InvitationAnswer::NotFound),
            locked => locked?,
        }
    }
    let found = tx
        .execute(
            &format!(
                "DELETE FROM chat_invitations i WHERE i.chat_id = $1 AND i.user_id = $2 AND {}",
                invitation_live("i")
            ),
            &[&chat_id, &user],
        )
        .await?
        == 1;
    if !found {
        return Ok(InvitationAnswer::NotFound);
    }
    if accept {
        if is_full(&tx, chat_id, max_members).await? {
            // Dropped uncommitted: the invitation stays.
            return Ok(InvitationAnswer::Full);
        }
        join_group(&tx, chat_id, user, ParticipantRole::Member, None).await?;
    }
    tx.commit().await?;
    Ok(InvitationAnswer::Answered)
}

/// Whether the group holds `max_members` members already (in the caller's transaction, which
/// locked the group so that the count holds until it commits).
pub(super) async fn is_full(
    tx: &deadpool_postgres::Transaction<'_>,
    chat_id: Uuid,
    max_members: usize,
) -> Result<bool, ApiError> {
    let members: i64 = tx
        .query_one(
            "SELECT count(*) AS members FROM chat_participants
             WHERE chat_id = $1 AND left_at IS NULL",
            &[&chat_id],
        )
        .await?
        .get("members");
    Ok(members as usize >= max_members)
}

/// A subquery (SQL) naming the other member of the 1:1 chat `c` as `viewer` (a parameter) sees
/// them, as WhatsApp does: the name they saved them under, else the name the other gives
/// themselves, else their username; a chat with themselves is their own name and "(You)". (No
/// row for a group.)
/// A statement's subquery (SQL) for the other member of the 1:1 chat `c` (the viewer, in
/// their chat with themselves); no row for a group, or once the other erased their account.
fn other_member(viewer: &str) -> String {
    format!(
        "SELECT p.user_id FROM chat_participants p
         WHERE c.type = 'individual' AND p.chat_id = c.id AND (p.user_id <> {viewer} OR {to_self})
         ORDER BY p.joined_at LIMIT 1",
        to_self = super::note_to_self("c"),
    )
}

fn other_name(viewer: &str) -> String {
    format!(
        "SELECT coalesce(
             (SELECT coalesce(n.nickname, u.display_name, u.username)
                     || CASE WHEN p.user_id = {viewer} THEN ' (You)' ELSE '' END
              FROM chat_participants p JOIN users u ON u.id = p.user_id
              LEFT JOIN user_relationships n ON n.user_id = {viewer} AND n.related_user_id = p.user_id
                                            AND n.relationship_type = 'contact'
              WHERE p.chat_id = c.id AND (p.user_id <> {viewer} OR {to_self})
              ORDER BY p.joined_at LIMIT 1),
             -- The other member erased their account (their membership went with it), as the
             -- timeline's lines name them.
             '{erased}')
         WHERE c.type = 'individual'",
        to_self = super::note_to_self("c"),
        erased = super::ERASED_ACCOUNT,
    )
}

/// `ChatDetails` (PRD 1.4) without the participants' presence and pictures (which depend on
/// their privacy settings: `services::chats` adds them), or `None` if the viewer is not a member.
pub async fn details(
    db: &Db,
    chat_id: Uuid,
    viewer: Uuid,
) -> Result<Option<ChatDetails>, ApiError> {
    let client = db.get().await?;
    let chat = client
        .prepare_cached(&format!(
            // A former member sees the chat as it was when they left (`ChatDetails.leftAt`).
            "SELECT c.type, {name} AS name, ({other_name}) AS other_name,
                    ({other_id}) AS other_user_id, {description} AS description,
                    {avatar_url} AS avatar_url, {avatar_media_id} AS avatar_media_id, c.created_at,
                    coalesce(me.left_at, greatest(c.updated_at, {last_message_at})) AS updated_at,
                    {timer} AS disappearing_seconds, me.left_at,
                    {SETTINGS_COLUMNS},
                    {send} AS send_permission, {edit_info} AS edit_info_permission,
                    {add} AS add_permission
             FROM chats c JOIN chat_sequences s ON s.chat_id = c.id
             JOIN chat_participants me ON me.chat_id = c.id AND me.user_id = $2 AND {reads}
             WHERE c.id = $1",
            reads = super::reads_the_chat("me"),
            last_message_at = super::last_message_at("s", "$2"),
            name = super::group_as_seen("me", "c", "name"),
            other_name = other_name("$2"),
            other_id = other_member("$2"),
            description = super::group_as_seen("me", "c", "description"),
            avatar_url = super::group_as_seen("me", "c", "avatar_url"),
            avatar_media_id = super::group_as_seen("me", "c", "avatar_media_id"),
            timer = super::group_as_seen("me", "c", "disappearing_seconds"),
            send = super::group_as_seen("me", "c", "send_permission"),
            edit_info = super::group_as_seen("me", "c", "edit_info_permission"),
            add = super::group_as_seen("me", "c", "add_permission"),
        ))
        .await?;
    let Some(c) = client.query_opt(&chat, &[&chat_id, &viewer]).await? else {
        return Ok(None);
    };
    let left_at: Option<DateTime<Utc>> = c.get("left_at");
    // The members now, or, for a former member, those of the moment they left (without them).
    let members = client
        .prepare_cached(&format!(
            "SELECT u.id, u.username, p.role, p.joined_at
             FROM chat_participants p JOIN users u ON u.id = p.user_id
             WHERE p.chat_id = $1 AND {}
             ORDER BY p.joined_at, u.id",
            super::member_at("p", "coalesce($2::timestamptz, 'infinity')")
        ))
        .await?;
    let participants: Vec<Participant> = client
        .query(&members, &[&chat_id, &left_at])
        .await?
        .iter()
        .map(|r| Participant {
            id: r.get("id"),
            username: r.get("username"),
            role: ParticipantRole::parse_stored(r.get("role")),
            joined_at: Timestamp(r.get("joined_at")),
            profile_picture_url: None,
            is_online: None,
        })
        .collect();
    let kind = ChatType::parse_stored(c.get("type"));
    let name = match kind {
        ChatType::Individual => c.get("other_name"),
        ChatType::Group => c.get("name"),
    };
    Ok(Some(ChatDetails {
        id: chat_id,
        kind,
        name,
        description: c.get("description"),
        avatar_url: c.get("avatar_url"),
        avatar_media_id: c.get("avatar_media_id"),
        other_user_id: c.get("other_user_id"),
        participants,
        settings: settings_row(&c),
        permissions: (kind == ChatType::Group).then(|| permissions_row(&c)),
        pinned_messages: match left_at {
            None => super::message_marks::pins_of(&client, chat_id, viewer).await?,
            Some(_) => Vec::new(),
        },
        disappearing_seconds: c.get("disappearing_seconds"),
        created_at: Timestamp(c.get("created_at")),
        updated_at: Timestamp(c.get("updated_at")),
        left_at: left_at.map(Timestamp),
        invited: Vec::new(),
    }))
}

/// A group's permissions from the columns `send_permission`, `edit_info_permission`,
/// `add_permission`.
fn permissions_row(r: &tokio_postgres::Row) -> GroupPermissions {
    GroupPermissions {
        send_messages: Allowed::parse_stored(r.get("send_permission")),
        edit_info: Allowed::parse_stored(r.get("edit_info_permission")),
        add_members: Allowed::parse_stored(r.get("add_permission")),
    }
}

/// A member's own settings of a chat (`me`, a `chat_participants` row), as `settings_row`
/// reads them: muted now, until when (not for a mute without end), pinned, archived, marked
/// unread.
pub(crate) const SETTINGS_COLUMNS: &str = "coalesce(me.muted_until > now(), false) AS muted,
    CASE WHEN me.muted_until > now() AND me.muted_until <> 'infinity' THEN me.muted_until END
        AS mute_until,
    me.pinned_at IS NOT NULL AS pinned, me.archived, me.marked_unread";

/// A member's own settings of a chat from [`SETTINGS_COLUMNS`].
pub(crate) fn settings_row(r: &tokio_postgres::Row) -> ChatSettings {
    ChatSettings {
        mute_notifications: r.get("muted"),
        mute_until: r
            .get::<_, Option<DateTime<Utc>>>("mute_until")
            .map(Timestamp),
        pin_chat: r.get("pinned"),
        archived: r.get("archived"),
        marked_unread: r.get("marked_unread"),
    }
}

/// Unread counts stop here (clients show "999+"): a chat list reads at most this many unread
/// messages per chat, through the `(chat_id, seq)` index from the reader's `read_seq` on.
pub const UNREAD_COUNT_CAP: i64 = 1000;

/// Which of the viewer's chats a list shows.
pub struct Listing<'a> {
    /// The archived ones (and only those), or the others.
    pub archived: bool,
    /// Those whose name or other members match it (their username, display name, or the
    /// viewer's nickname for them), archived or not.
    pub search: Option<&'a str>,
    /// Those of one of the list's filters.
    pub filter: Option<ChatListFilter>,
}

/// The viewer's chats, pinned ones first (most recently pinned first), then most recently
/// active first (`ChatSummary`, PRD 1.4), as `listing` picks them; and how many there are in
/// all.
pub async fn list(
    db: &Db,
    viewer: Uuid,
    limit: i64,
    offset: i64,
    listing: Listing<'_>,
) -> Result<(Vec<ChatSummary>, i64), ApiError> {
    let pattern = listing.search.map(|q| super::like_pattern(q, false));
    let filter = listing.filter.map(ChatListFilter::as_str);
    // The unread counts and the last message leave out what the caller never got, and what
    // they deleted for themselves.
    let not_blocked = super::not_sent_while_blocked("$1", "m.sender_id", "m.created_at");
    let not_hidden = super::not_hidden_for("$1", "m");
    // A message `m` of chat `c` unread by `me` (the caller), as the unread count counts them.
    let unread = format!(
        "m.chat_id = c.id
         AND m.seq > greatest(me.read_seq, me.cleared_seq) AND m.seq <= {last_read}
         AND m.created_at >= me.joined_at
         AND m.sender_id IS DISTINCT FROM $1 AND NOT m.deleted_for_everyone
         AND {not_expired}
         -- Nor the timeline's record of what the caller did themselves, nor a
         -- call's line unless it was missed.
         AND NOT (m.type = 'system' AND (m.metadata ->> 'actorId' = $1::text
                  OR m.metadata ->> 'endReason' IS DISTINCT FROM 'missed'
                     AND m.metadata ->> 'action' = 'call'))
         AND {not_blocked} AND {not_hidden}",
        last_read = super::last_seq_read("me"),
        not_expired = super::not_expired("m"),
    );
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            // The page is cut first (the caller's rows and the chats' order only); the
            // per-chat figures are then read for its rows alone, not for every chat.
            // A chat's time in the list is its last message's or its own last change's.
            // A group the caller left stays until they delete it, as it was when they left.
            "WITH page AS (
                 SELECT c.id, count(*) OVER () AS total,
                        coalesce(me.left_at, greatest(c.updated_at, {last_message_at})) AS active_at
                 FROM chat_participants me
                 JOIN chats c ON c.id = me.chat_id
                 JOIN chat_sequences s ON s.chat_id = c.id
                 WHERE me.user_id = $1 AND {reads}
                   AND (me.archived = $5 OR $6::text IS NOT NULL)
                   AND {shows}
                   AND ($7::text IS NULL
                        OR $7 = 'unread' AND (me.marked_unread
                                              OR EXISTS (SELECT 1 FROM messages m WHERE {unread}))
                        OR $7 = 'groups' AND c.type = 'group'
                        OR $7 = 'favorites' AND EXISTS (
                            SELECT 1 FROM user_relationships f
                            WHERE f.user_id = $1 AND f.related_user_id = ({other_id})
                              AND f.relationship_type = 'contact' AND f.favorite))
                   AND ($6::text IS NULL
                        OR lower({name}) LIKE $6
                        OR EXISTS (
                       SELECT 1 FROM chat_participants o JOIN users u ON u.id = o.user_id
                       LEFT JOIN user_relationships n ON n.user_id = $1 AND n.related_user_id = o.user_id
                                                     AND n.relationship_type = 'contact'
                       WHERE o.chat_id = c.id AND (o.user_id <> $1 OR {to_self}) AND {member_then_o}
                         AND (u.username LIKE $6 OR lower(u.display_name) LIKE $6
                              OR lower(n.nickname) LIKE $6)))
                 ORDER BY me.pinned_at DESC NULLS LAST, active_at DESC, c.id LIMIT $2 OFFSET $3
             )
             SELECT c.id, c.type, page.active_at AS updated_at, page.total,
                    {name} AS name, {avatar_url} AS avatar_url,
                    {avatar_media_id} AS avatar_media_id,
                    (SELECT count(*) FROM chat_participants p
                      WHERE p.chat_id = c.id AND {member_then}) AS participant_count,
                    ({other_name}) AS other_name, ({other_id}) AS other_user_id,
                    (SELECT count(*) FROM (SELECT 1 FROM messages m WHERE {unread} LIMIT $4)
                      AS unread) AS unread_count,
                    EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id
                      AND m.seq > greatest(me.read_seq, me.cleared_seq) AND m.seq <= {last_read}
                      AND m.created_at >= me.joined_at AND m.mentions @> ARRAY[$1::uuid]
                      AND cardinality(m.mentions) > 0 AND NOT m.deleted_for_everyone
                      AND {not_expired} AND {not_blocked} AND {not_hidden})
                        AS unread_mention,
                    lm.content AS last_content, lm.type AS last_type, lm.created_at AS last_at,
                    lu.username AS last_sender, lm.sender_id AS last_sender_id,
                    lm.deleted_for_everyone AS last_deleted, lm.deleted_by AS last_deleted_by,
                    me.left_at, {SETTINGS_COLUMNS}
             FROM page
             JOIN chats c ON c.id = page.id
             JOIN chat_participants me ON me.chat_id = page.id AND me.user_id = $1
             LEFT JOIN LATERAL (SELECT m.content, m.type, m.created_at, m.sender_id, m.deleted_for_everyone,
                                       m.deleted_by
                                FROM messages m WHERE m.chat_id = c.id AND m.seq > me.cleared_seq
                                  AND m.seq <= {last_read} AND {not_expired} AND {not_blocked}
                                  AND {not_hidden}
                                ORDER BY m.seq DESC LIMIT 1) lm ON true
             LEFT JOIN users lu ON lu.id = lm.sender_id
             ORDER BY me.pinned_at DESC NULLS LAST, page.active_at DESC, c.id",
            reads = super::reads_the_chat("me"),
            last_message_at = super::last_message_at("s", "$1"),
            shows = super::shows_the_chat("me", "s.last_seq"),
            last_read = super::last_seq_read("me"),
            member_then = super::member_at("p", "coalesce(me.left_at, 'infinity')"),
            member_then_o = super::member_at("o", "coalesce(me.left_at, 'infinity')"),
            other_name = other_name("$1"),
            other_id = other_member("$1"),
            to_self = super::note_to_self("c"),
            name = super::group_as_seen("me", "c", "name"),
            avatar_url = super::group_as_seen("me", "c", "avatar_url"),
            avatar_media_id = super::group_as_seen("me", "c", "avatar_media_id"),
            not_expired = super::not_expired("m"),
        ))
        .await?;
    let rows = client
        .query(
            &stmt,
            &[
                &viewer,
                &limit,
                &offset,
                &UNREAD_COUNT_CAP,
                &listing.archived,
                &pattern,
                &filter,
            ],
        )
        .await?;
    let total = rows.first().map(|r| r.get::<_, i64>("total")).unwrap_or(0);
    let chats = rows
        .iter()
        .map(|r| {
            let kind = ChatType::parse_stored(r.get("type"));
            let name: Option<String> = match kind {
                ChatType::Individual => r.get("other_name"),
                ChatType::Group => r.get("name"),
            };
            let last_message = r
                .get::<_, Option<DateTime<Utc>>>("last_at")
                .map(|at| LastMessage {
                    content: r
                        .get::<_, Option<String>>("last_content")
                        .filter(|_| !r.get::<_, bool>("last_deleted")),
                    kind: r.get("last_type"),
                    is_deleted: r.get("last_deleted"),
                    deleted_by: r
                        .get::<_, Option<Uuid>>("last_deleted_by")
                        .filter(|_| r.get::<_, bool>("last_deleted")),
                    sender: r.get("last_sender"),
                    sender_id: r.get("last_sender_id"),
                    timestamp: Timestamp(at),
                });
            ChatSummary {
                id: r.get("id"),
                name,
                kind,
                avatar_url: r.get("avatar_url"),
                avatar_media_id: r.get("avatar_media_id"),
                last_message,
                unread_count: r.get("unread_count"),
                unread_mention: r.get("unread_mention"),
                participant_count: r.get("participant_count"),
                other_user_id: r.get("other_user_id"),
                settings: settings_row(r),
                updated_at: Timestamp(r.get("updated_at")),
                left_at: r.get::<_, Option<DateTime<Utc>>>("left_at").map(Timestamp),
            }
        })
        .collect();
    Ok((chats, total))
}

/// `user`'s role in a group they are an active member of; `None` for a non-member (or a 1:1
/// chat's member: 1:1 chats have no participants to manage).
pub async fn group_role(
    client: &impl deadpool_postgres::GenericClient,
    chat_id: Uuid,
    user: Uuid,
) -> Result<Option<ParticipantRole>, ApiError> {
    Ok(group_standing(client, chat_id, user).await?.map(|s| s.role))
}

/// A member's standing in a chat: its kind, their role, and (in a group) its permissions.
pub struct Standing {
    pub kind: ChatType,
    pub role: ParticipantRole,
    pub permissions: GroupPermissions,
    /// A 1:1 whose other member the user blocks.
    pub blocks_other: bool,
    /// A 1:1 whose other member blocks the user.
    pub blocked_by_other: bool,
}

/// Is `user` a former member of `chat_id` who kept it (reads it as it was when they left)?
pub async fn kept_after_leaving(
    client: &impl deadpool_postgres::GenericClient,
    chat_id: Uuid,
    user: Uuid,
) -> Result<bool, ApiError> {
    let stmt = client
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM chat_participants
                            WHERE chat_id = $1 AND user_id = $2 AND left_at IS NOT NULL AND NOT hidden) AS kept",
        )
        .await?;
    Ok(client
        .query_one(&stmt, &[&chat_id, &user])
        .await?
        .get("kept"))
}

/// `user`'s standing in a chat they are an active member of; `None` otherwise.
pub async fn standing(
    client: &impl deadpool_postgres::GenericClient,
    chat_id: Uuid,
    user: Uuid,
) -> Result<Option<Standing>, ApiError> {
    let stmt = client
        .prepare_cached(
            "SELECT c.type, p.role, c.send_permission, c.edit_info_permission, c.add_permission,
                    coalesce(o.blocks_other, false) AS blocks_other,
                    coalesce(o.blocked_by_other, false) AS blocked_by_other
             FROM chat_participants p JOIN chats c ON c.id = p.chat_id
             -- The other member of a 1:1 chat, and the blocks each way (each by its whole key).
             LEFT JOIN LATERAL (
                 SELECT EXISTS (SELECT 1 FROM user_relationships b
                                WHERE b.user_id = $2 AND b.related_user_id = o.user_id
                                  AND b.relationship_type = 'blocked') AS blocks_other,
                        EXISTS (SELECT 1 FROM user_relationships b
                                WHERE b.user_id = o.user_id AND b.related_user_id = $2
                                  AND b.relationship_type = 'blocked') AS blocked_by_other
                 FROM chat_participants o
                 WHERE o.chat_id = c.id AND o.user_id <> $2 AND c.type = 'individual'
             ) o ON true
             WHERE p.chat_id = $1 AND p.user_id = $2 AND p.left_at IS NULL",
        )
        .await?;
    Ok(client
        .query_opt(&stmt, &[&chat_id, &user])
        .await?
        .map(|r| Standing {
            kind: ChatType::parse_stored(r.get("type")),
            role: ParticipantRole::parse_stored(r.get("role")),
            permissions: permissions_row(&r),
            blocks_other: r.get("blocks_other"),
            blocked_by_other: r.get("blocked_by_other"),
        }))
}

/// `user`'s standing in a group they are an active member of; `None` otherwise (a 1:1 chat
/// has no participants to manage).
pub async fn group_standing(
    client: &impl deadpool_postgres::GenericClient,
    chat_id: Uuid,
    user: Uuid,
) -> Result<Option<Standing>, ApiError> {
    Ok(standing(client, chat_id, user)
        .await?
        .filter(|s| s.kind == ChatType::Group))
}

/// Membership changes of one group are serialized on its row (two last admins leaving at once
/// must not leave it without one; two adds must not pass the size limit together).
pub(super) async fn lock_group(
    tx: &deadpool_postgres::Transaction<'_>,
    chat_id: Uuid,
) -> Result<(), ApiError> {
    tx.query_opt("SELECT 1 FROM chats WHERE id = $1 FOR UPDATE", &[&chat_id])
        .await?
        .ok_or(ApiError::NotFound("chat"))?;
    Ok(())
}

/// Who changes a chat (its members, their roles, its details), with the role their permission
/// was decided on.
#[derive(Debug, Clone, Copy)]
pub struct Acting {
    pub user: Uuid,
    pub role: ParticipantRole,
}

/// [`lock_group`] for a change `actor` makes: under the lock they must still be a member with
/// the role it was allowed on. An admin removed or demoted meanwhile (two admins removing each
/// other at once) is refused, not obeyed.
pub(super) async fn lock_group_as(
    tx: &deadpool_postgres::Transaction<'_>,
    chat_id: Uuid,
    actor: Acting,
) -> Result<(), ApiError> {
    lock_group(tx, chat_id).await?;
    match role_in(tx, chat_id, actor.user).await? {
        Some(role) if role == actor.role => Ok(()),
        Some(_) => Err(ApiError::PermissionDenied(
            "your role in this group changed meanwhile".into(),
        )),
        None => Err(ApiError::PermissionDenied(
            "you are no longer a member of this group".into(),
        )),
    }
}

/// `user`'s role in the chat now, if they are a member (read in the caller's transaction).
async fn role_in(
    tx: &deadpool_postgres::Transaction<'_>,
    chat_id: Uuid,
    user: Uuid,
) -> Result<Option<ParticipantRole>, ApiError> {
    Ok(standing(tx, chat_id, user).await?.map(|s| s.role))
}

/// Make `user` a member with `role` from now on (earlier messages are not theirs), in the
/// caller's transaction: their row (a former member's is reused), no invitation left, the
/// `chat:participant:joined` event and the system message (`added` by `added_by`, or `joined`
/// by themselves).
pub(super) async fn join_group(
    tx: &deadpool_postgres::Transaction<'_>,
    chat_id: Uuid,
    user: Uuid,
    role: ParticipantRole,
    added_by: Option<Uuid>,
) -> Result<(), ApiError> {
    let row = tx
        .query_one(
            // What came before they joined is not theirs: it counts as delivered and read
            // (not unread for them, and still read by everyone for its senders).
            "WITH joined AS (
                 INSERT INTO chat_participants (chat_id, user_id, role, delivered_seq, read_seq)
                 SELECT $1, $2, $3, s.last_seq, s.last_seq FROM chat_sequences s WHERE s.chat_id = $1
                 ON CONFLICT (chat_id, user_id) DO UPDATE
                 SET role = EXCLUDED.role, joined_at = now(), left_at = NULL, left_seq = NULL,
                     removed_by_admin = false, hidden = false,
                     delivered_seq = greatest(chat_participants.delivered_seq, EXCLUDED.delivered_seq),
                     read_seq = greatest(chat_participants.read_seq, EXCLUDED.read_seq)
             ), uninvited AS (
                 DELETE FROM chat_invitations WHERE chat_id = $1 AND user_id = $2
             ), unrequested AS (
                 -- A request to join that waited: they are in now, however they came.
                 DELETE FROM chat_join_requests WHERE chat_id = $1 AND user_id = $2 RETURNING 1
             )
             SELECT username, EXISTS (SELECT 1 FROM unrequested) AS had_requested
             FROM users WHERE id = $2",
            &[&chat_id, &user, &role.as_str()],
        )
        .await?;
    if row.get::<_, bool>("had_requested") {
        let actor = added_by.unwrap_or(user);
        super::invite_links::closed(tx, chat_id, user, JoinRequestOutcome::Joined, Some(actor))
            .await?;
    }
    let username: String = row.get("username");
    let joined = ServerEvent::ParticipantJoined(ParticipantJoined {
        chat_id,
        participant: JoinedParticipant {
            id: user,
            username,
            role,
        },
        added_by,
        // (Added per viewer by the relay: the joiner's own.)
        chat: None,
    });
    let actor = added_by.unwrap_or(user);
    super::events::append_chat_event(
        tx,
        chat_id,
        Some(actor),
        joined.name(),
        Some(&joined.data()),
    )
    .await?;
    let action = if added_by.is_some() {
        SystemAction::Added
    } else {
        SystemAction::Joined
    };
    append_system_message(tx, chat_id, action, Some(actor), Some(user), None).await?;
    Ok(())
}

/// What adding someone to a group came to.
pub enum Addition {
    Added,
    AlreadyMember,
    Full,
    /// An admin removed them, and the one adding them back is no admin.
    RemovedByAdmin,
}

/// Add `user` to the group with `role` (from now on: earlier messages are not theirs), with its
/// `chat:participant:joined` event, and drop any invitation they had. Someone an admin removed
/// is added back only `by_admin` (as they rejoin by no invite link).
pub async fn add_participant(
    db: &Db,
    chat_id: Uuid,
    user: Uuid,
    role: ParticipantRole,
    added_by: Acting,
    max_members: usize,
) -> Result<Addition, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    lock_group_as(&tx, chat_id, added_by).await?;
    let row = tx
        .query_one(
            "SELECT count(*) FILTER (WHERE left_at IS NULL) AS members,
                    bool_or(user_id = $2 AND left_at IS NULL) IS TRUE AS present,
                    bool_or(user_id = $2 AND left_at IS NOT NULL AND removed_by_admin) IS TRUE
                        AS removed_by_admin
             FROM chat_participants WHERE chat_id = $1",
            &[&chat_id, &user],
        )
        .await?;
    if row.get::<_, bool>("present") {
        return Ok(Addition::AlreadyMember);
    }
    if row.get::<_, bool>("removed_by_admin") && added_by.role != ParticipantRole::Admin {
        return Ok(Addition::RemovedByAdmin);
    }
    if row.get::<_, i64>("members") as usize >= max_members {
        return Ok(Addition::Full);
    }
    join_group(&tx, chat_id, user, role, Some(added_by.user)).await?;
    tx.commit().await?;
    Ok(Addition::Added)
}

/// End `user`'s membership (`removed_by` someone else, with the role `user` had when that was
/// allowed; or `None` when they leave), with its `chat:participant:left` event. If that leaves
/// the group members but no admin, the longest-standing member becomes admin
/// (`chat:participant:role_changed`). `false` if they were not a member.
pub async fn remove_participant(
    db: &Db,
    chat_id: Uuid,
    user: Uuid,
    removed_by: Option<(Acting, ParticipantRole)>,
) -> Result<bool, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    if let Some((actor, their_role)) = removed_by {
        lock_group_as(&tx, chat_id, actor).await?;
        match role_in(&tx, chat_id, user).await? {
            None => return Ok(false),
            Some(role) if role != their_role => {
                return Err(ApiError::PermissionDenied(
                    "their role in this group changed meanwhile".into(),
                ))
            }
            Some(_) => {}
        }
    }
    if !leave_group(&tx, chat_id, user, removed_by.map(|(actor, _)| actor.user)).await? {
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}

/// [`remove_participant`] in the caller's transaction (an account being erased leaves each of
/// its groups so, before its rows go).
pub(super) async fn leave_group(
    tx: &deadpool_postgres::Transaction<'_>,
    chat_id: Uuid,
    user: Uuid,
    removed_by: Option<Uuid>,
) -> Result<bool, ApiError> {
    lock_group(tx, chat_id).await?;
    let left = tx
        .execute(
            "UPDATE chat_participants SET left_at = now(), removed_by_admin = $3
             WHERE chat_id = $1 AND user_id = $2 AND left_at IS NULL",
            &[&chat_id, &user, &removed_by.is_some()],
        )
        .await?;
    if left == 0 {
        return Ok(false);
    }
    super::messages::stop_live_locations(tx, chat_id, user, user).await?;
    let event = ServerEvent::ParticipantLeft(ParticipantLeft {
        chat_id,
        user_id: user,
        removed_by,
    });
    let actor = removed_by.or(Some(user));
    super::events::append_chat_event(tx, chat_id, actor, event.name(), Some(&event.data())).await?;
    // The admin who takes over from the last one is an admin when the line is written: a line
    // for admins alone (someone left) reaches them too.
    let successor = tx
        .query_one(
            "WITH successor AS (
                 UPDATE chat_participants SET role = 'admin'
                 WHERE chat_id = $1 AND user_id = (
                     SELECT user_id FROM chat_participants WHERE chat_id = $1 AND left_at IS NULL
                     ORDER BY joined_at, user_id LIMIT 1)
                   AND NOT EXISTS (SELECT 1 FROM chat_participants
                                   WHERE chat_id = $1 AND left_at IS NULL AND role = 'admin')
                 RETURNING user_id)
             SELECT (SELECT user_id FROM successor) AS user_id,
                    NOT EXISTS (SELECT 1 FROM chat_participants
                                WHERE chat_id = $1 AND left_at IS NULL) AS ended",
            &[&chat_id],
        )
        .await?;
    let action = if removed_by.is_some() {
        SystemAction::Removed
    } else {
        SystemAction::Left
    };
    append_system_message(tx, chat_id, action, actor, Some(user), None).await?;
    if successor.get("ended") {
        super::invite_links::end_with_the_group(tx, chat_id).await?;
    }
    if let Some(successor) = successor.get::<_, Option<Uuid>>("user_id") {
        let event = ServerEvent::ParticipantRoleChanged(ParticipantRoleChanged {
            chat_id,
            user_id: successor,
            role: ParticipantRole::Admin,
            changed_by: None,
        });
        super::events::append_chat_event(tx, chat_id, None, event.name(), Some(&event.data()))
            .await?;
        append_system_message(
            tx,
            chat_id,
            SystemAction::RoleChanged,
            None,
            Some(successor),
            Some(ParticipantRole::Admin),
        )
        .await?;
    }
    // The history they keep ends with this transaction's own messages: it holds the chat's
    // counter row (taken by its first system message) until it commits (V38). The group's
    // name, description and picture (V41), permissions and timer (V45) stay as they see them
    // now.
    tx.execute(
        "UPDATE chat_participants p SET left_seq = s.last_seq, left_name = c.name,
                left_description = c.description, left_avatar_url = c.avatar_url,
                left_avatar_media_id = c.avatar_media_id,
                left_disappearing_seconds = c.disappearing_seconds,
                left_send_permission = c.send_permission,
                left_edit_info_permission = c.edit_info_permission,
                left_add_permission = c.add_permission
         FROM chat_sequences s JOIN chats c ON c.id = s.chat_id
         WHERE s.chat_id = p.chat_id AND p.chat_id = $1 AND p.user_id = $2",
        &[&chat_id, &user],
    )
    .await?;
    Ok(true)
}

/// Those who left `chat_id` (or were removed) within `window` and are not members again, the
/// latest first: a page of them, and how many there are.
pub async fn past_members(
    db: &Db,
    chat_id: Uuid,
    window: std::time::Duration,
    limit: i64,
    offset: i64,
) -> Result<(Vec<PastParticipant>, i64), ApiError> {
    let client = db.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT u.id, u.username, p.left_at, count(*) OVER () AS total
             FROM chat_participants p JOIN users u ON u.id = p.user_id
             WHERE p.chat_id = $1 AND p.left_at > now() - make_interval(secs => $2)
             ORDER BY p.left_at DESC, u.id LIMIT $3 OFFSET $4",
        )
        .await?;
    let rows = client
        .query(&stmt, &[&chat_id, &window.as_secs_f64(), &limit, &offset])
        .await?;
    let total = rows.first().map_or(0, |r| r.get::<_, i64>("total"));
    let past = rows
        .iter()
        .map(|r| PastParticipant {
            id: r.get("id"),
            username: r.get("username"),
            left_at: Timestamp(r.get("left_at")),
            profile_picture_url: None,
        })
        .collect();
    Ok((past, total))
}

/// What changing a role came to.
pub enum RoleChange {
    Changed,
    NotMember,
    /// It would leave the group without an admin.
    LastAdmin,
}

/// Give `user` `role`, with its `chat:participant:role_changed` event.
pub async fn set_role(
    db: &Db,
    chat_id: Uuid,
    user: Uuid,
    role: ParticipantRole,
    changed_by: Acting,
) -> Result<RoleChange, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    lock_group_as(&tx, chat_id, changed_by).await?;
    let changed_by = changed_by.user;
    let row = tx
        .query_opt(
            "SELECT role, (SELECT count(*) FROM chat_participants
                           WHERE chat_id = $1 AND left_at IS NULL AND role = 'admin') AS admins
             FROM chat_participants WHERE chat_id = $1 AND user_id = $2 AND left_at IS NULL",
            &[&chat_id, &user],
        )
        .await?;
    let Some(row) = row else {
        return Ok(RoleChange::NotMember);
    };
    let current = ParticipantRole::parse_stored(row.get("role"));
    if current == role {
        return Ok(RoleChange::Changed);
    }
    if current == ParticipantRole::Admin && row.get::<_, i64>("admins") == 1 {
        return Ok(RoleChange::LastAdmin);
    }
    tx.execute(
        "UPDATE chat_participants SET role = $3 WHERE chat_id = $1 AND user_id = $2",
        &[&chat_id, &user, &role.as_str()],
    )
    .await?;
    let event = ServerEvent::ParticipantRoleChanged(ParticipantRoleChanged {
        chat_id,
        user_id: user,
        role,
        changed_by: Some(changed_by),
    });
    super::events::append_chat_event(
        &tx,
        chat_id,
        Some(changed_by),
        event.name(),
        Some(&event.data()),
    )
    .await?;
    append_system_message(
        &tx,
        chat_id,
        SystemAction::RoleChanged,
        Some(changed_by),
        Some(user),
        Some(role),
    )
    .await?;
    tx.commit().await?;
    Ok(RoleChange::Changed)
}

/// Invite `user` to the group (their privacy lets `invited_by` only invite them), with the
/// `chat:invitation` event in their stream. An invitation already waiting stays; an expired one
/// is renewed, from `invited_by`.
pub async fn invite(db: &Db, chat_id: Uuid, user: Uuid, invited_by: Uuid) -> Result<(), ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let name: Option<String> = tx
        .query_one(
            &format!(
                "WITH new AS (
                     INSERT INTO chat_invitations AS i (chat_id, user_id, invited_by) VALUES ($1, $2, $3)
                     ON CONFLICT (chat_id, user_id) DO UPDATE
                     SET invited_by = excluded.invited_by, created_at = now()
                     WHERE NOT {live}
                     RETURNING 1
                 )
                 SELECT CASE WHEN EXISTS (SELECT 1 FROM new) THEN (SELECT name FROM chats WHERE id = $1) END AS name",
                live = invitation_live("i"),
            ),
            &[&chat_id, &user, &invited_by],
        )
        .await?
        .get("name");
    if let Some(name) = name {
        let invitation = ServerEvent::ChatInvitation(ChatInvitation {
            chat_id,
            name,
            invited_by,
        });
        super::events::append_user_events(
            &tx,
            &[user],
            Some(invited_by),
            invitation.name(),
            &invitation.data(),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Publish `chat:updated` for a change to the chat everyone sees (`changed`, with `update`'s
/// values), by `user`, in the change's transaction.
async fn publish_update(
    tx: &deadpool_postgres::Transaction<'_>,
    chat_id: Uuid,
    user: Uuid,
    changed: &[&str],
    update: ChatUpdated,
) -> Result<(), ApiError> {
    let event = ServerEvent::ChatUpdated(ChatUpdated {
        chat_id,
        changed: changed.iter().map(|c| (*c).to_owned()).collect(),
        updated_by: Some(user),
        ..update
    });
    super::events::append_chat_event(tx, chat_id, Some(user), event.name(), Some(&event.data()))
        .await
}

/// What a system message records (its `metadata.action`).
#[derive(Clone, Copy)]
pub enum SystemAction {
    Created,
    Added,
    Joined,
    Removed,
    Left,
    RoleChanged,
    NameChanged,
    DescriptionChanged,
    AvatarChanged,
    /// One of the group's permissions changed.
    PermissionsChanged(PermissionChange),
    /// The disappearing-messages timer is now this many seconds (0: off).
    DisappearingChanged(i32),
    /// A chat starts with its creator's default timer (`privacySettings.
    /// defaultDisappearingSeconds`): `disappearing_changed` with `byDefault`.
    DefaultDisappearing(i32),
    /// A 1:1 call ended (its line in the chat, written as it ends).
    Call(CallLine),
}

/// A group permission (`sendMessages`, `editInfo`, `addMembers`) and who has it now.
#[derive(Clone, Copy)]
pub struct PermissionChange {
    pub setting: &'static str,
    pub allowed: Allowed,
}

/// What a call's timeline line says of it.
#[derive(Clone, Copy)]
pub struct CallLine {
    pub call_id: Uuid,
    pub kind: CallKind,
    pub end_reason: CallEndReason,
    /// How long it lasted once answered (none if it never was).
    pub seconds: Option<i64>,
    /// The callee, for a call from someone they block: the line is theirs never (hidden for
    /// them as a message deleted for themselves is, and told to the caller's devices alone).
    pub kept_from: Option<Uuid>,
}

impl SystemAction {
    fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Added => "added",
            Self::Joined => "joined",
            Self::Removed => "removed",
            Self::Left => "left",
            Self::RoleChanged => "role_changed",
            Self::NameChanged => "name_changed",
            Self::DescriptionChanged => "description_changed",
            Self::AvatarChanged => "avatar_changed",
            Self::PermissionsChanged(_) => "permissions_changed",
            Self::DisappearingChanged(_) | Self::DefaultDisappearing(_) => "disappearing_changed",
            Self::Call(_) => "call",
        }
    }

    /// Whether its line is told to the group's admins alone (and to whom it is about): since
    /// 2022 WhatsApp tells only the admins that someone left. The others see the member list
    /// change (`chat:participant:left`), not a line in their timeline, and the group does not
    /// move up anyone's list for it.
    fn for_admins_only(self) -> bool {
        matches!(self, Self::Left)
    }
}

/// A system message in the chat's timeline (type `system`, no sender), stored and published
/// (`message:received`) with the change it records, so every device renders the same history.
/// `metadata` says what happened (`action`, `actorId`, `userId`, `role`, and the permission's
/// `setting` and who is `allowed` it, the timer, or the call's details) for clients to render
/// in their own language; `content` is the English line, with usernames as they were. A line
/// that shows a 1:1 chat to a member whose list did not (a call to someone who was only opened
/// a chat with, a timer set there) brings them the chat first, as a message does
/// (`relay::ChatShownTo`); a default timer's line is its creator's alone
/// ([`start_default_timer`]); a line [`SystemAction::for_admins_only`] is hidden from the other
/// members as a message they deleted for themselves is, and told to the admins' and its
/// subject's own streams. Whom it showed the chat to, if it did.
pub(super) async fn append_system_message(
    tx: &deadpool_postgres::Transaction<'_>,
    chat_id: Uuid,
    action: SystemAction,
    actor: Option<Uuid>,
    user: Option<Uuid>,
    role: Option<ParticipantRole>,
) -> Result<Option<ChatShown>, ApiError> {
    let id = Uuid::now_v7();
    let mut metadata = serde_json::Map::new();
    metadata.insert("action".into(), action.as_str().into());
    if let Some(actor) = actor {
        metadata.insert("actorId".into(), actor.to_string().into());
    }
    if let Some(user) = user {
        metadata.insert("userId".into(), user.to_string().into());
    }
    if let Some(role) = role {
        metadata.insert("role".into(), role.as_str().into());
    }
    match action {
        SystemAction::PermissionsChanged(change) => {
            metadata.insert("setting".into(), change.setting.into());
            metadata.insert("allowed".into(), change.allowed.as_str().into());
        }
        SystemAction::DisappearingChanged(seconds) => {
            metadata.insert("disappearingSeconds".into(), seconds.into());
        }
        SystemAction::DefaultDisappearing(seconds) => {
            metadata.insert("disappearingSeconds".into(), seconds.into());
            metadata.insert("byDefault".into(), true.into());
        }
        SystemAction::Call(call) => {
            metadata.insert("callId".into(), call.call_id.to_string().into());
            metadata.insert("kind".into(), call.kind.as_str().into());
            metadata.insert("endReason".into(), call.end_reason.as_str().into());
            if let Some(seconds) = call.seconds {
                metadata.insert("durationSeconds".into(), seconds.into());
            }
        }
        _ => {}
    }
    let kept_from = match action {
        SystemAction::Call(CallLine { kept_from, .. }) => kept_from.filter(|_| actor.is_some()),
        _ => None,
    };
    let stmt = tx
        .prepare_cached(&format!(
            "WITH names AS (
                 SELECT (SELECT username FROM users WHERE id = $3) AS actor,
                        (SELECT username FROM users WHERE id = $4) AS target,
                        c.name AS chat, c.description IS NULL AS no_description,
                        c.avatar_url IS NULL AND c.avatar_media_id IS NULL AS no_avatar,
                        ($6::jsonb ->> 'disappearingSeconds')::int AS timer,
                        CASE $6::jsonb ->> 'kind' WHEN 'video' THEN 'video' ELSE 'voice' END AS call_kind,
                        ($6::jsonb ->> 'durationSeconds')::int AS call_seconds
                 FROM chats c WHERE c.id = $1
             ), line AS (
                 SELECT CASE $5::text
                     WHEN 'created' THEN format('%s created the group \"%s\"', actor, chat)
                     WHEN 'added' THEN format('%s added %s', actor, target)
                     WHEN 'joined' THEN format('%s joined', target)
                     WHEN 'removed' THEN format('%s removed %s', actor, target)
                     WHEN 'left' THEN format('%s left', target)
                     WHEN 'name_changed' THEN format('%s changed the group name to \"%s\"', actor, chat)
                     WHEN 'description_changed' THEN format(CASE WHEN no_description
                         THEN '%s deleted the group description' ELSE '%s changed the group description' END, actor)
                     WHEN 'avatar_changed' THEN format(CASE WHEN no_avatar
                         THEN '%s removed the group picture' ELSE '%s changed the group picture' END, actor)
                     WHEN 'permissions_changed' THEN format('%s changed the group settings: %s can %s', actor,
                         CASE $6::jsonb ->> 'allowed' WHEN 'admins' THEN 'only admins' ELSE 'all members' END,
                         CASE $6::jsonb ->> 'setting' WHEN 'sendMessages' THEN 'send messages'
                                                     WHEN 'editInfo' THEN 'edit the group info'
                                                     ELSE 'add members' END)
                     WHEN 'disappearing_changed' THEN CASE
                         WHEN timer = 0 THEN format('%s turned off disappearing messages', actor)
                         ELSE format(CASE WHEN ($6::jsonb ->> 'byDefault')::boolean
                                 THEN '%s uses a default timer for disappearing messages in new chats: new messages disappear %s after they are sent'
                                 ELSE '%s turned on disappearing messages: new messages disappear %s after they are sent' END,
                                     actor, CASE WHEN timer > 86400 THEN (timer / 86400) || ' days'
                                                 ELSE (timer / 3600) || ' hours' END) END
                     WHEN 'call' THEN CASE $6::jsonb ->> 'endReason'
                         WHEN 'missed' THEN format('Missed %s call', call_kind)
                         WHEN 'declined' THEN format('Declined %s call', call_kind)
                         ELSE format('%s call', initcap(call_kind)) || CASE WHEN call_seconds IS NULL THEN ''
                             ELSE format(', %s:%s', call_seconds / 60, lpad((call_seconds % 60)::text, 2, '0')) END
                     END
                     ELSE CASE WHEN actor IS NULL
                         THEN format('%s is now %s', target, $7::text)
                         ELSE format('%s made %s %s', actor, target, $7::text) END
                 END AS content FROM names
             ), next AS (
                 -- (A line for admins alone leaves the chat's place in every list as it was.)
                 UPDATE chat_sequences SET last_seq = last_seq + 1,
                     last_message_at = CASE WHEN $9 THEN last_message_at ELSE now() END,
                     quiet_for = CASE WHEN $9 THEN quiet_for ELSE $8::uuid END,
                     quiet_since = CASE WHEN $9 THEN quiet_since
                                        WHEN $8::uuid IS NULL THEN NULL
                                        WHEN quiet_for = $8::uuid THEN quiet_since
                                        ELSE last_message_at END
                 WHERE chat_id = $1 RETURNING last_seq
             ), stored AS (
                 INSERT INTO messages (id, chat_id, sender_id, client_message_id, seq, type, content, metadata)
                 SELECT $2::uuid, $1, NULL, 'system:' || $2::uuid::text, last_seq, 'system',
                        (SELECT content FROM line), $6
                 FROM next RETURNING id
             ), shown AS (
                 INSERT INTO events (chat_id, actor_id, name, data)
                 SELECT $1, $3, 'chat:created', jsonb_build_object('shownTo', o.user_id)
                 FROM chat_participants o JOIN chats c ON c.id = o.chat_id CROSS JOIN next
                 WHERE o.chat_id = $1 AND c.type = 'individual' AND o.left_at IS NULL
                   AND NOT {shown_before} AND {shown_now}
                   AND NOT coalesce(($6::jsonb ->> 'byDefault')::boolean, false)
                   AND o.user_id IS DISTINCT FROM $8::uuid
                 RETURNING (data ->> 'shownTo')::uuid AS shown_to
             ), kept AS (
                 -- A line kept from a blocker ($8, a call they were not rung for): hidden for
                 -- them for good, and a list of theirs that did not show the chat goes on not
                 -- showing it (what they cleared reaches past the line).
                 INSERT INTO message_hidden (message_id, user_id, never_delivered)
                 SELECT id, $8::uuid, true FROM stored WHERE $8::uuid IS NOT NULL
             ), still_hidden AS (
                 UPDATE chat_participants p SET cleared_seq = next.last_seq FROM next
                 WHERE p.chat_id = $1 AND p.user_id = $8::uuid AND p.hidden
                   AND p.cleared_seq = next.last_seq - 1
             ), kept_from_members AS (
                 -- A line for admins alone ($9): hidden for good from the members who are not.
                 INSERT INTO message_hidden (message_id, user_id, never_delivered)
                 SELECT s.id, p.user_id, true FROM stored s JOIN chat_participants p ON p.chat_id = $1
                 WHERE $9 AND p.left_at IS NULL AND p.role <> 'admin'
             ), told AS (
                 -- Whose stream the line goes to: the chat's; a line kept from a blocker, its
                 -- actor's alone; a line for admins alone, each admin's and its subject's ($4,
                 -- who left).
                 SELECT $1 AS chat_id, NULL::uuid AS user_id WHERE $8::uuid IS NULL AND NOT $9
                 UNION ALL
                 SELECT NULL, $3 WHERE $8::uuid IS NOT NULL
                 UNION ALL
                 SELECT NULL, p.user_id FROM chat_participants p
                 WHERE $9 AND p.chat_id = $1
                   AND (p.left_at IS NULL AND p.role = 'admin' OR p.user_id = $4::uuid)
             )
             -- (After the chat it shows: reading `shown` first writes it first.)
             INSERT INTO events (chat_id, user_id, actor_id, name, message_id)
             SELECT t.chat_id, t.user_id, $3, 'message:received', s.id FROM stored s CROSS JOIN told t
             WHERE (SELECT count(*) FROM shown) >= 0
             RETURNING (SELECT shown_to FROM shown LIMIT 1) AS shown_to",
            shown_before = super::shows_the_chat("o", "next.last_seq - 1"),
            shown_now = super::shows_the_chat("o", "next.last_seq"),
        ))
        .await?;
    let rows = tx
        .query(
            &stmt,
            &[
                &chat_id,
                &id,
                &actor,
                &user,
                &action.as_str(),
                &Json(&metadata),
                &role.map(ParticipantRole::as_str),
                &kept_from,
                &action.for_admins_only(),
            ],
        )
        .await?;
    let to: Option<Uuid> = rows.first().and_then(|r| r.get("shown_to"));
    Ok(to
        .zip(actor)
        .filter(|(to, by)| to != by)
        .map(|(to, by)| ChatShown { by, to }))
}

/// A line showed its 1:1 chat to `to`, whose list did not show it (someone who was only opened
/// a chat with, then called or set a timer for): they are told `by`'s presence once committed
/// (`services::presence::chat_shown`), as a first message does.
pub struct ChatShown {
    pub by: Uuid,
    pub to: Uuid,
}

/// What changing a chat came to.
pub enum ChatChange {
    /// `shown`: whom a line of the change showed the chat to (a timer set in a 1:1 chat they
    /// did not see yet).
    Changed { shown: Option<ChatShown> },
    /// A fourth pinned chat.
    TooManyPinned,
    /// A pin for an archived chat (archiving unpins, as WhatsApp's does: the list shows no
    /// archived chat among its pinned ones).
    ArchivedNotPinned,
}

/// Pinned chats per user at most (WhatsApp's three).
pub const MAX_PINNED_CHATS: i64 = 3;

/// Apply `PUT /api/chats/{chatId}` for `actor` (a member, or a former member who kept the
/// group and changes only their own settings; the caller checked the permission for group
/// info, on the role given) in one transaction: group info with its `chat:updated`
/// event and system message, the user's own settings with a `chat:updated` event in their own
/// stream (their other devices).
pub async fn update(
    db: &Db,
    chat_id: Uuid,
    actor: Acting,
    request: UpdateChatRequest,
) -> Result<ChatChange, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    if request.changes_the_chat() {
        lock_group_as(&tx, chat_id, actor).await?;
    } else {
        lock_group(&tx, chat_id).await?;
    }
    let user = actor.user;
    if let Some(p) = request
        .permissions
        .as_ref()
        .filter(|_| request.changes_permissions())
    {
        // The group's row is locked (`lock_group`): what it held before is what this changes.
        let before = tx
            .query_one(
                "SELECT send_permission, edit_info_permission, add_permission FROM chats WHERE id = $1",
                &[&chat_id],
            )
            .await?;
        let before = permissions_row(&before);
        let row = tx
            .query_one(
                "UPDATE chats SET send_permission = coalesce($2, send_permission),
                        edit_info_permission = coalesce($3, edit_info_permission),
                        add_permission = coalesce($4, add_permission)
                 WHERE id = $1
                 RETURNING send_permission, edit_info_permission, add_permission",
                &[
                    &chat_id,
                    &p.send_messages.map(Allowed::as_str),
                    &p.edit_info.map(Allowed::as_str),
                    &p.add_members.map(Allowed::as_str),
                ],
            )
            .await?;
        let after = permissions_row(&row);
        // A line for each setting that changed (none, and no event, if none did).
        let changes: Vec<PermissionChange> = [
            ("sendMessages", before.send_messages, after.send_messages),
            ("editInfo", before.edit_info, after.edit_info),
            ("addMembers", before.add_members, after.add_members),
        ]
        .into_iter()
        .filter(|(_, before, after)| before != after)
        .map(|(setting, _, allowed)| PermissionChange { setting, allowed })
        .collect();
        if !changes.is_empty() {
            let update = ChatUpdated {
                permissions: Some(after),
                ..ChatUpdated::default()
            };
            publish_update(&tx, chat_id, user, &["permissions"], update).await?;
        }
        for change in changes {
            let action = SystemAction::PermissionsChanged(change);
            append_system_message(&tx, chat_id, action, Some(user), None, None).await?;
        }
    }
    let mut shown = None;
    if let Some(timer) = request.disappearing_seconds {
        let changed = tx
            .execute(
                "UPDATE chats SET disappearing_seconds = $2 WHERE id = $1 AND disappearing_seconds <> $2",
                &[&chat_id, &timer.0],
            )
            .await?
            == 1;
        if changed {
            // The line first: in a 1:1 chat the other's list does not show yet, it brings
            // them the chat, which the update is about.
            shown = append_system_message(
                &tx,
                chat_id,
                SystemAction::DisappearingChanged(timer.0),
                Some(user),
                None,
                None,
            )
            .await?;
            let update = ChatUpdated {
                disappearing_seconds: Some(timer.0),
                ..ChatUpdated::default()
            };
            publish_update(&tx, chat_id, user, &["disappearingSeconds"], update).await?;
        }
    }
    let info = request.changes_group_info();
    let name = request.name.map(|n| n.as_str().to_owned());
    let description = request.description.into_option();
    // One picture or the other (`services::chats::update` refuses both): either one set
    // replaces the picture, either one null clears it.
    let avatar: Option<Picture> = match (request.avatar_url, request.avatar_media_id) {
        (Patch::Set(url), _) => Some((Some(url.as_str().to_owned()), None)),
        (_, Patch::Set(file)) => Some((None, Some(file))),
        (Patch::Clear, _) | (_, Patch::Clear) => Some((None, None)),
        (Patch::Keep, Patch::Keep) => None,
    };
    if info {
        // The group's row is locked (`lock_group`): what it holds is what this changes. Only
        // what differs counts (a client may send the whole form again).
        let before = tx
            .query_one(
                "SELECT name, description, avatar_url, avatar_media_id FROM chats WHERE id = $1",
                &[&chat_id],
            )
            .await?;
        let (old_name, old_description, old_avatar): (Option<String>, Option<String>, Picture) = (
            before.get("name"),
            before.get("description"),
            (before.get("avatar_url"), before.get("avatar_media_id")),
        );
        let new_name = name.or_else(|| old_name.clone());
        let new_description = match description {
            Some(d) => d.and_then(|d| d.into_inner()),
            None => old_description.clone(),
        };
        let new_avatar = avatar.unwrap_or_else(|| old_avatar.clone());
        let (name_changed, description_changed, avatar_changed) = (
            new_name != old_name,
            new_description != old_description,
            new_avatar != old_avatar,
        );
        let differs = [
            ("name", name_changed, SystemAction::NameChanged),
            (
                "description",
                description_changed,
                SystemAction::DescriptionChanged,
            ),
            ("avatarUrl", avatar_changed, SystemAction::AvatarChanged),
        ];
        let changed: Vec<&str> = differs
            .iter()
            .filter(|(_, differs, _)| *differs)
            .map(|(field, _, _)| *field)
            .collect();
        if !changed.is_empty() {
            tx.execute(
                "UPDATE chats SET name = $2, description = $3, avatar_url = $4, avatar_media_id = $5
                 WHERE id = $1",
                &[
                    &chat_id,
                    &new_name,
                    &new_description,
                    &new_avatar.0,
                    &new_avatar.1,
                ],
            )
            .await?;
            // The new values of what changed (a cleared one is absent: see `changed`).
            let update = ChatUpdated {
                name: new_name.filter(|_| name_changed),
                description: new_description.filter(|_| description_changed),
                avatar_url: new_avatar.0.filter(|_| avatar_changed),
                avatar_media_id: new_avatar.1.filter(|_| avatar_changed),
                ..ChatUpdated::default()
            };
            publish_update(&tx, chat_id, user, &changed, update).await?;
        }
        // A line for each thing changed, as each would have had on its own.
        for (_, _, action) in differs.into_iter().filter(|(_, differs, _)| *differs) {
            append_system_message(&tx, chat_id, action, Some(user), None, None).await?;
        }
    }
    if let Some(settings) = request.settings {
        if settings.pin_chat == Some(true) {
            // Counted under the user's lock: pins sent together do not all count the same
            // few, and pass the limit together.
            super::users::lock(&tx, user).await?;
            let row = tx
                .query_one(
                    &format!(
                        "SELECT count(*) FILTER (WHERE chat_id <> $2 AND pinned_at IS NOT NULL) AS pinned,
                                coalesce(bool_or(archived) FILTER (WHERE chat_id = $2), false) AS archived
                         FROM chat_participants me WHERE user_id = $1 AND {}",
                        super::reads_the_chat("me")
                    ),
                    &[&user, &chat_id],
                )
                .await?;
            if settings.archived.unwrap_or(row.get("archived")) {
                return Ok(ChatChange::ArchivedNotPinned);
            }
            if row.get::<_, i64>("pinned") >= MAX_PINNED_CHATS {
                return Ok(ChatChange::TooManyPinned);
            }
        }
        // (None: they left or deleted it since they were looked up.)
        let row = tx
            .query_opt(
                &format!(
                    "UPDATE chat_participants AS me SET
                 muted_until = CASE WHEN $3::boolean IS NULL THEN muted_until
                                    WHEN $3 THEN coalesce($4, 'infinity'::timestamptz) END,
                 pinned_at = CASE WHEN $6::boolean THEN NULL
                                  WHEN $5::boolean IS NULL THEN pinned_at
                                  WHEN $5 THEN coalesce(pinned_at, now()) END,
                 archived = coalesce($6, archived),
                 marked_unread = coalesce($7, marked_unread)
             WHERE chat_id = $1 AND user_id = $2 AND {reads}
             RETURNING {SETTINGS_COLUMNS}",
                    reads = super::reads_the_chat("me")
                ),
                &[
                    &chat_id,
                    &user,
                    &settings.mute_notifications,
                    &settings.mute_until,
                    &settings.pin_chat,
                    &settings.archived,
                    &settings.marked_unread,
                ],
            )
            .await?
            .ok_or(ApiError::NotFound("chat"))?;
        let updated = ServerEvent::ChatUpdated(ChatUpdated {
            chat_id,
            changed: vec!["settings".to_owned()],
            settings: Some(settings_row(&row)),
            updated_by: Some(user),
            ..ChatUpdated::default()
        });
        super::events::append_user_events(
            &tx,
            &[user],
            Some(user),
            updated.name(),
            &updated.data(),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(ChatChange::Changed { shown })
}

/// Delete a 1:1 chat, or a group they left, for `user`: their history so far is cleared, the
/// chat leaves their list (and their pins) until its next message (a 1:1 chat) or for good
/// (a group they left, until they rejoin), and their other devices are told (`chat:deleted`
/// in their own stream). `false` if it is neither.
pub async fn delete_for_me(
    tx: &deadpool_postgres::Transaction<'_>,
    chat_id: Uuid,
    user: Uuid,
) -> Result<bool, ApiError> {
    let hidden = tx
        .execute(
            "UPDATE chat_participants p SET cleared_seq = s.last_seq, hidden = true, pinned_at = NULL
             FROM chats c JOIN chat_sequences s ON s.chat_id = c.id
             WHERE c.id = p.chat_id AND p.chat_id = $1 AND p.user_id = $2
               AND (c.type = 'individual' AND p.left_at IS NULL
                    OR p.left_at IS NOT NULL AND NOT p.hidden)",
            &[&chat_id, &user],
        )
        .await?;
    if hidden == 0 {
        return Ok(false);
    }
    let deleted = ServerEvent::ChatDeleted(ChatDeleted { chat_id });
    super::events::append_user_events(tx, &[user], Some(user), deleted.name(), &deleted.data())
        .await?;
    Ok(true)
}

/// The other member of `user`'s 1:1 chat `chat_id` (`None`: not a 1:1 chat they are in, or
/// their chat with themselves).
pub async fn partner_in(
    client: &impl deadpool_postgres::GenericClient,
    chat_id: Uuid,
    user: Uuid,
) -> Result<Option<Uuid>, ApiError> {
    let stmt = client
        .prepare_cached(
            "SELECT o.user_id FROM chats c
             JOIN chat_participants me ON me.chat_id = c.id AND me.user_id = $2
             JOIN chat_participants o ON o.chat_id = c.id AND o.user_id <> $2
             WHERE c.id = $1 AND c.type = 'individual'",
        )
        .await?;
    Ok(client
        .query_opt(&stmt, &[&chat_id, &user])
        .await?
        .map(|r| r.get("user_id")))
}

/// What clearing a chat came to: the last `seq` cleared, and the starred messages kept.
pub struct Cleared {
    pub cleared_seq: i64,
    pub kept_starred: Vec<Uuid>,
}

/// Clear a chat's history so far for `user` (a 1:1 chat or a group they are in): what they read
/// and the list's preview start after it, the chat stays in their list, and their other
/// devices are told (`chat:cleared`). With `keep_starred` (WhatsApp's default) the messages they
/// starred stay: the history's start moves to just before the first of them, and the others
/// after it are hidden for them one by one, as deleting for themselves hides one. `None` if
/// they do not read the chat.
pub async fn clear_for_me(
    db: &Db,
    chat_id: Uuid,
    user: Uuid,
    keep_starred: bool,
) -> Result<Option<Cleared>, ApiError> {
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    let Some(row) = tx
        .query_opt(
            &format!(
                "SELECT least(s.last_seq, {last_seq}) AS upto
                 FROM chat_participants p JOIN chat_sequences s ON s.chat_id = p.chat_id
                 WHERE p.chat_id = $1 AND p.user_id = $2 AND {reads}
                 FOR UPDATE OF p",
                last_seq = super::last_seq_read("p"),
                reads = super::reads_the_chat("p"),
            ),
            &[&chat_id, &user],
        )
        .await?
    else {
        return Ok(None);
    };
    let upto: i64 = row.get("upto");
    let kept: Vec<(Uuid, i64)> = if keep_starred {
        tx.query(
            &format!(
                "SELECT m.id, m.seq FROM message_stars st
                 JOIN messages m ON m.id = st.message_id
                 JOIN chat_participants p ON p.chat_id = m.chat_id AND p.user_id = $2
                 WHERE st.user_id = $2 AND m.chat_id = $1 AND m.seq <= $3
                   AND NOT m.deleted_for_everyone AND {sees}
                 ORDER BY m.seq",
                sees = super::sees_message("p", "$2", "m"),
            ),
            &[&chat_id, &user, &upto],
        )
        .await?
        .iter()
        .map(|r| (r.get("id"), r.get("seq")))
        .collect()
    } else {
        Vec::new()
    };
    let kept_starred: Vec<Uuid> = kept.iter().map(|(id, _)| *id).collect();
    // History starts after `upto`, or just before the first message kept; what follows it
    // up to `upto`, the kept ones aside, is hidden for them.
    let start = kept.first().map_or(upto, |(_, seq)| seq - 1);
    tx.execute(
        "UPDATE chat_participants SET cleared_seq = greatest(cleared_seq, $3)
         WHERE chat_id = $1 AND user_id = $2",
        &[&chat_id, &user, &start],
    )
    .await?;
    if !kept.is_empty() {
        tx.execute(
            "INSERT INTO message_hidden (message_id, user_id)
             SELECT m.id, $2 FROM messages m
             WHERE m.chat_id = $1 AND m.seq > $3 AND m.seq <= $4 AND m.id <> ALL($5)
             ON CONFLICT DO NOTHING",
            &[&chat_id, &user, &start, &upto, &kept_starred],
        )
        .await?;
    }
    let cleared = ServerEvent::ChatCleared(ChatCleared {
        chat_id,
        cleared_seq: upto,
        kept_starred: kept_starred.clone(),
    });
    super::events::append_user_events(&tx, &[user], Some(user), cleared.name(), &cleared.data())
        .await?;
    tx.commit().await?;
    Ok(Some(Cleared {
        cleared_seq: upto,
        kept_starred,
    }))
}

/// Who may see `user`'s activity in a chat (typing), and whether `user` may send there at all;
/// `None` if `user` is not a current member.
pub struct ActivityAudience {
    pub username: String,
    /// The chat's other current members, leaving out anyone who blocks `user` or whom they
    /// block, and anyone whose list does not show the chat (a 1:1 chat before its first
    /// message, or one they deleted for themselves since its last).
    pub members: Vec<Uuid>,
    /// An admin, or a member of a chat where everyone sends (a group's `sendMessages`).
    pub may_send: bool,
}

/// [`ActivityAudience`] of `user` in `chat_id`; `None` if `user` is not a current member.
pub async fn activity_audience(
    client: &impl deadpool_postgres::GenericClient,
    chat_id: Uuid,
    user: Uuid,
) -> Result<Option<ActivityAudience>, ApiError> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT u.username,
                    coalesce((SELECT array_agg(o.user_id) FROM chat_participants o
                              WHERE o.chat_id = $1 AND o.user_id <> $2 AND o.left_at IS NULL
                                AND NOT EXISTS (SELECT 1 FROM user_relationships b
                                    WHERE b.relationship_type = 'blocked'
                                      AND b.user_id = o.user_id AND b.related_user_id = $2)
                                AND NOT EXISTS (SELECT 1 FROM user_relationships b
                                    WHERE b.relationship_type = 'blocked'
                                      AND b.user_id = $2 AND b.related_user_id = o.user_id)
                                AND {shows}),
                             '{{}}') AS audience,
                    p.role = 'admin' OR c.send_permission = 'all' AS may_send
             FROM chat_participants p JOIN users u ON u.id = p.user_id
                  JOIN chats c ON c.id = p.chat_id
             WHERE p.chat_id = $1 AND p.user_id = $2 AND p.left_at IS NULL",
            shows = super::shows_the_chat(
                "o",
                "(SELECT s.last_seq FROM chat_sequences s WHERE s.chat_id = $1)"
            ),
        ))
        .await?;
    Ok(client
        .query_opt(&stmt, &[&chat_id, &user])
        .await?
        .map(|r| ActivityAudience {
            username: r.get("username"),
            members: r.get("audience"),
            may_send: r.get("may_send"),
        }))
}
