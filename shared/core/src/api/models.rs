//! Response models: everything the REST API answers in `data` (and the WebSocket API carries in
//! acks and events), one `Serialize` type per shape, camelCase on the wire. The OpenAPI and
//! AsyncAPI documents are generated from these.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A point in time, RFC 3339 UTC with millisecond precision, as every timestamp in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ToSchema)]
#[schema(value_type = String, format = DateTime)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    pub fn now() -> Self {
        Self(Utc::now())
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(t: DateTime<Utc>) -> Self {
        Self(t)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        DateTime::<Utc>::deserialize(d).map(Self)
    }
}

// --- envelopes ----------------------------------------------------------------------------------

/// `{"success": true, "data": ..., "meta": {"timestamp"}}`: every successful REST answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    /// Always `true`.
    pub success: bool,
    pub data: T,
    pub meta: Meta,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Meta {
    pub timestamp: Timestamp,
}

/// A page of a list: `data` is the items, `meta.pagination` says how to get the next page.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageEnvelope<T, P> {
    /// Always `true`.
    pub success: bool,
    pub data: T,
    pub meta: PageMeta<P>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PageMeta<P> {
    pub timestamp: Timestamp,
    pub pagination: P,
}

/// A page of items and how it was cut.
#[derive(Debug)]
pub struct Page<T, P> {
    pub items: T,
    pub pagination: P,
}

/// Offset paging (chat list, user search), with the PRD's `page` and `totalPages`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OffsetPagination {
    pub limit: i64,
    pub offset: i64,
    pub total: i64,
    /// The `offset` of the next page, or null on the last one.
    pub next_offset: Option<i64>,
    /// Which page this is, counting from 1, in pages of `limit` (PRD).
    pub page: i64,
    /// How many pages of `limit` the `total` makes (PRD); 0 when there is nothing.
    pub total_pages: i64,
}

impl OffsetPagination {
    pub fn new(limit: i64, offset: i64, returned: usize, total: i64) -> Self {
        let end = offset + returned as i64;
        let per_page = limit.max(1);
        Self {
            limit,
            offset,
            total,
            next_offset: (end < total).then_some(end),
            page: offset / per_page + 1,
            total_pages: (total + per_page - 1) / per_page,
        }
    }
}

#[cfg(test)]
mod offset_pagination_tests {
    use super::OffsetPagination;

    #[test]
    fn pages_count_from_one_and_cover_the_total() {
        let first = OffsetPagination::new(50, 0, 50, 101);
        assert_eq!(
            (first.page, first.total_pages, first.next_offset),
            (1, 3, Some(50))
        );
        let last = OffsetPagination::new(50, 100, 1, 101);
        assert_eq!(
            (last.page, last.total_pages, last.next_offset),
            (3, 3, None)
        );
        let exact = OffsetPagination::new(10, 10, 10, 20);
        assert_eq!((exact.page, exact.total_pages), (2, 2));
        let none = OffsetPagination::new(50, 0, 0, 0);
        assert_eq!((none.page, none.total_pages), (1, 0));
    }
}

/// Cursor paging over message history.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CursorPagination {
    pub limit: i64,
    /// More messages exist in the direction paged.
    pub has_more: bool,
    /// The first message of the page: pass as `before` for older messages.
    pub before: Option<Uuid>,
    /// The last message of the page: pass as `after` for newer messages.
    pub after: Option<Uuid>,
}

// --- health ------------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// `up`.
    pub database: String,
}

// --- auth --------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tokens {
    /// A JWT for `Authorization: Bearer`, valid `expiresIn` seconds.
    pub access_token: String,
    /// Opaque and single-use: spend it at `/api/auth/refresh`.
    pub refresh_token: String,
    pub expires_in: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredUser {
    pub id: Uuid,
    pub email: String,
    pub username: String,
    pub is_verified: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    pub user: RegisteredUser,
    pub tokens: Tokens,
    /// Keep it on the device and send it with later logins (see `LoginRequest.deviceToken`).
    pub device_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResult {
    pub user: OwnProfile,
    pub tokens: Tokens,
    /// Keep it on the device and send it with later logins (see `LoginRequest.deviceToken`).
    pub device_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Refreshed {
    pub tokens: Tokens,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoggedOut {
    /// Whether a live session was revoked.
    pub logged_out: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Verified {
    pub verified: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Sent {
    pub sent: bool,
}

/// A confirmed 2FA reset: two-factor authentication goes off at the first login after
/// `resetAfter`, unless a login with a code cancels it before.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TwoFactorResetScheduled {
    pub reset_after: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordReset {
    pub reset: bool,
    pub sessions_revoked: i64,
}

/// A changed password: the other device sessions are revoked, the one that changed it stays.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChanged {
    pub changed: bool,
    pub sessions_revoked: i64,
}

/// An email change under way: the link that confirms it went to `pendingEmail`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailChangeStarted {
    pub sent: bool,
    pub pending_email: String,
    /// Seconds the link stays valid.
    pub expires_in: i64,
}

/// An undone email change: the old address is the account's again, and every device session was
/// revoked.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailChangeUndone {
    pub email: String,
    pub sessions_revoked: i64,
}

/// A confirmed email change: the account's address, verified.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailChanged {
    pub email: String,
    pub verified: bool,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhoneCodeSent {
    pub sent: bool,
    /// Seconds the code stays valid.
    pub expires_in: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PhoneVerified {
    pub verified: bool,
    pub phone: String,
}

/// One device session (one login).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub id: Uuid,
    pub device_name: Option<String>,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub remember_me: bool,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
    pub expires_at: Timestamp,
    /// The session of the token making this request.
    pub current: bool,
    /// The device's end-to-end encryption identity key (base64), if it published keys
    /// (`PUT /api/keys`): what the account's chats were told in `keys:changed`, for the owner
    /// to check each linked device against.
    pub identity_key: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionRevoked {
    pub revoked: Uuid,
}

/// `DELETE /api/auth/sessions`: the other device sessions logged out.
#[derive(Debug, Serialize, ToSchema)]
pub struct OtherSessionsRevoked {
    pub revoked: Vec<Uuid>,
}

/// What happened to an account, in its security activity (`GET /api/auth/activity`). Stored as
/// its wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// The account was made, with its first device session.
    Registered,
    /// A login: a new device session.
    Login,
    /// A login with the account's email and a wrong password or second factor.
    LoginFailed,
    /// A device session logged out.
    LoggedOut,
    /// A device session was revoked from another device (`DELETE /api/auth/sessions/{id}`).
    SessionRevoked,
    /// A spent refresh token was presented again (a copy of it in other hands): its device
    /// session was revoked.
    RefreshTokenReused,
    /// A login past the account's limit of device sessions signed out the one used least
    /// recently (this one).
    SignedOutForNewDevice,
    /// The password was changed from a signed-in device (the others were logged out).
    PasswordChanged,
    /// The password was reset through an emailed link (every device was logged out).
    PasswordReset,
    /// The account's email address changed (a link sent to the new address was used).
    EmailChanged,
    /// An email change was undone from the old address (every device was logged out).
    EmailChangeUndone,
    TwoFactorEnabled,
    TwoFactorDisabled,
    /// A reset of two-factor authentication was confirmed from the account's address: it goes
    /// off after the waiting period unless a login with a code cancels it.
    TwoFactorResetConfirmed,
    /// A copy of the account's data was downloaded (`GET /api/users/me/export`).
    DataExported,
}

impl ActivityKind {
    /// The stored text: the wire name.
    pub fn as_stored(self) -> String {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::String(name)) => name,
            _ => unreachable!("a unit variant serializes as its name"),
        }
    }

    /// Back from the stored text (the table's check admits only these).
    pub fn parse_stored(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

/// One entry of an account's security activity.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountActivity {
    pub id: Uuid,
    pub kind: ActivityKind,
    /// The device session it concerns: the one that logged in, logged out or was revoked, or
    /// the one that made the change. None for a failed login or a change made through an
    /// emailed link.
    pub session_id: Option<Uuid>,
    /// The user agent of that session (of the request, for a failed login).
    pub user_agent: Option<String>,
    /// Where that session logged in from (where the request came from, for a failed login).
    pub ip_address: Option<String>,
    /// It concerns the session of the token making this request.
    pub current_session: bool,
    pub created_at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TwoFactorSetup {
    /// Base32 secret for an authenticator app.
    pub secret: String,
    pub otpauth_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TwoFactorState {
    pub enabled: bool,
    /// Ten single-use codes, shown once when 2FA is turned on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

// --- users -------------------------------------------------------------------------------------

/// Who may see a profile field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    Everyone,
    Contacts,
    Nobody,
}

/// The user's privacy settings, each with its value (a new account's defaults filled in). The
/// PRD's three flags say whether a field is shown to anyone at all (`status` covering the status
/// and about texts); each `...Audience` says to whom: `everyone`, `contacts` (the people the
/// user has as contacts) or `nobody`. `PUT /api/users/profile` takes either form, by either
/// name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct PrivacySettings {
    /// (PRD) The last seen and online status are shown to anyone: `lastSeenAudience` is not
    /// `nobody`.
    #[serde(deserialize_with = "shown_to_anyone")]
    pub last_seen: bool,
    /// (PRD) The profile picture is shown to anyone.
    #[serde(deserialize_with = "shown_to_anyone")]
    pub profile_picture: bool,
    /// (PRD) The status and about texts are shown to anyone.
    #[serde(deserialize_with = "shown_to_anyone")]
    pub status: bool,
    pub last_seen_audience: Audience,
    pub profile_picture_audience: Audience,
    /// Who sees the status and about texts.
    pub about_audience: Audience,
    pub read_receipts: bool,
    /// Who may add the user to groups.
    pub groups: Audience,
    /// Others may find the user by their verified phone number or email (contact sync, vCard
    /// import).
    pub discoverable: bool,
    /// The disappearing-messages timer of the chats the user starts (0: off).
    pub default_disappearing_seconds: i32,
}

/// A new account's settings: everything shown to everyone, read receipts sent, found by its
/// verified phone or email, no default timer. (A setting missing from an event read back from
/// the log, or never set, is its default: `db::users::StoredPrivacy`.)
impl Default for PrivacySettings {
    fn default() -> Self {
        Self {
            last_seen: true,
            profile_picture: true,
            status: true,
            last_seen_audience: Audience::Everyone,
            profile_picture_audience: Audience::Everyone,
            about_audience: Audience::Everyone,
            read_receipts: true,
            groups: Audience::Everyone,
            discoverable: true,
            default_disappearing_seconds: 0,
        }
    }
}

/// A PRD flag read back from an event in the log: a flag, or (written before the flags were
/// answered) the audience it stood for then.
fn shown_to_anyone<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum FlagOrAudience {
        Flag(bool),
        Audience(Audience),
    }
    Ok(match FlagOrAudience::deserialize(d)? {
        FlagOrAudience::Flag(flag) => flag,
        FlagOrAudience::Audience(audience) => audience != Audience::Nobody,
    })
}

#[cfg(test)]
mod privacy_settings_tests {
    use super::{Audience, PrivacySettings};

    /// A `user:profile:updated` in the log from before the flags were answered reads back (a
    /// payload that did not would be dropped from sync), each audience as the flag it means.
    #[test]
    fn settings_answered_before_the_flags_read_back() {
        let old = serde_json::json!({ "lastSeen": "nobody", "profilePicture": "contacts",
                                      "about": "nobody", "readReceipts": false });
        let read: PrivacySettings = serde_json::from_value(old).unwrap();
        assert_eq!(
            (read.last_seen, read.profile_picture, read.read_receipts),
            (false, true, false)
        );
        let now = serde_json::to_value(&read).unwrap();
        assert_eq!(
            serde_json::from_value::<PrivacySettings>(now).unwrap(),
            read
        );
        assert_eq!(
            read.groups,
            Audience::Everyone,
            "what it did not hold: the default"
        );
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NotificationSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<bool>,
    /// Push notifications show the message's text (default on); off, only who wrote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previews: Option<bool>,
}

/// The caller's own profile: every field.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnProfile {
    pub id: Uuid,
    pub email: String,
    pub is_verified: bool,
    pub username: String,
    pub phone: Option<String>,
    pub display_name: Option<String>,
    /// A signed, expiring URL to the picture's 400-pixel WebP (`GET /api/media/{id}` of
    /// `profilePictureMediaId` has every size); null in events, which outlive the signature.
    pub profile_picture_url: Option<String>,
    pub profile_picture_media_id: Option<Uuid>,
    pub phone_verified: bool,
    pub two_factor_enabled: bool,
    pub status: Option<String>,
    pub about: Option<String>,
    pub last_seen: Option<Timestamp>,
    pub is_online: bool,
    pub privacy_settings: PrivacySettings,
    pub notification_settings: NotificationSettings,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Another user, as their privacy settings and blocks let the caller see them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicUser {
    pub id: Uuid,
    pub username: String,
    pub display_name: Option<String>,
    /// A signed, expiring URL to the picture's 400-pixel WebP (`GET /api/media/{id}` of
    /// `profilePictureMediaId` has every size); null in events, which outlive the signature.
    pub profile_picture_url: Option<String>,
    pub profile_picture_media_id: Option<Uuid>,
    pub status: Option<String>,
    pub about: Option<String>,
    pub last_seen: Option<Timestamp>,
    pub is_online: bool,
    /// The caller blocks this user.
    pub is_blocked: bool,
}

/// `GET /api/users/{userId}`: the caller's own profile when the id is theirs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum UserView {
    Own(OwnProfile),
    Public(PublicUser),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserSearchResult {
    pub users: Vec<PublicUser>,
    pub total: i64,
}

/// One of the caller's devices with end-to-end encryption keys (`GET /api/keys`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OwnDeviceKeys {
    /// The device session (as `GET /api/auth/sessions` lists it).
    pub device_id: Uuid,
    /// This is the device asking.
    pub current_device: bool,
    pub identity_key: String,
    pub signed_pre_key_id: i64,
    /// One-time pre-keys not yet handed out.
    pub one_time_pre_keys: i64,
    pub updated_at: Timestamp,
}

/// `GET /api/keys`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnKeys {
    pub devices: Vec<OwnDeviceKeys>,
}

/// `GET /api/users/{userId}/keys`: what starts an encrypted session with each of a user's
/// devices.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyBundles {
    pub user_id: Uuid,
    pub devices: Vec<KeyBundle>,
}

/// One device's bundle. Each one-time pre-key is handed out once; a device that has none left
/// is reached with its signed pre-key alone.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyBundle {
    pub device_id: Uuid,
    pub identity_key: String,
    pub signed_pre_key: SignedPreKey,
    pub one_time_pre_key: Option<PreKey>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignedPreKey {
    pub key_id: i64,
    pub public_key: String,
    pub signature: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreKey {
    pub key_id: i64,
    pub public_key: String,
}

/// This device's registration for push notifications.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushDevice {
    pub platform: crate::ports::PushPlatform,
    pub registered_at: Timestamp,
}

/// `DELETE /api/notifications/device`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushDeviceRemoved {
    /// Whether this device was registered.
    pub removed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockedUser {
    pub id: Uuid,
    pub username: String,
    pub blocked_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockState {
    pub user_id: Uuid,
    pub blocked: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountDeleted {
    pub deleted: bool,
}

/// `GET /api/users/me/export`: everything Banter holds about the caller.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountExport {
    pub exported_at: Timestamp,
    pub profile: OwnProfile,
    pub sessions: Vec<Session>,
    pub relationships: ExportRelationships,
    pub chats: Vec<ExportChat>,
    pub messages_sent: Vec<ExportMessage>,
    pub media: Vec<ExportMedia>,
    /// The caller's contacts as they keep them (nickname, note, favorite, groups).
    pub contacts: Vec<ExportContact>,
    pub contact_groups: Vec<ContactGroup>,
    /// The devices registered for push notifications, by session.
    pub push_devices: Vec<ExportPushDevice>,
    /// The calls of the caller's 1:1 chats, newest first (as `GET /api/calls`).
    pub calls: Vec<Call>,
    /// The abuse reports the caller filed (within their 90 days), newest first.
    pub reports: Vec<ExportReport>,
    /// The account's security activity (its last 180 days), newest first (as
    /// `GET /api/auth/activity`).
    pub account_activity: Vec<AccountActivity>,
    /// The caller's votes in polls (of messages that still exist), newest first.
    pub poll_votes: Vec<ExportPollVote>,
    /// The public keys the caller's devices published for end-to-end encryption (as
    /// `GET /api/keys`; private keys never reach the server).
    pub encryption_keys: Vec<OwnDeviceKeys>,
    /// The caller's reactions (one a message), oldest first.
    pub reactions: Vec<ExportReaction>,
    /// The messages the caller starred, oldest first.
    pub starred: Vec<ExportStar>,
}

/// A reaction of the caller's, to a message of a chat.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportReaction {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub emoji: String,
    pub reacted_at: Timestamp,
}

/// A message the caller starred.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportStar {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub starred_at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportReport {
    pub id: Uuid,
    pub reason: ReportReason,
    pub reported_user_id: Option<Uuid>,
    pub chat_id: Option<Uuid>,
    pub message_id: Option<Uuid>,
    pub comment: Option<String>,
    pub created_at: Timestamp,
}

/// An abuse report as Banter's moderators read it (`ModerationFunction`, never the public API):
/// with who filed it and the messages kept with it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportForModerators {
    /// The report as its reporter's export shows it.
    #[serde(flatten)]
    pub report: ExportReport,
    pub reporter_id: Option<Uuid>,
    /// The last messages the reporter could read then (as `Message`s), at most five.
    pub evidence: serde_json::Value,
    /// The reported account is suspended now.
    pub reported_user_suspended: bool,
    /// How a moderator resolved it; none while it is open.
    pub resolution: Option<ReportResolution>,
}

/// A moderator's decision on a report.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportResolution {
    pub outcome: ReportOutcome,
    pub note: Option<String>,
    pub resolved_at: Timestamp,
}

/// What came of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportOutcome {
    /// Nothing to act on.
    Dismissed,
    /// The reported account was dealt with.
    Actioned,
}

impl ReportOutcome {
    pub fn as_stored(self) -> &'static str {
        match self {
            Self::Dismissed => "dismissed",
            Self::Actioned => "actioned",
        }
    }

    pub fn parse_stored(s: &str) -> Self {
        if s == "dismissed" {
            Self::Dismissed
        } else {
            Self::Actioned
        }
    }
}

/// Which reports moderators list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportQueue {
    /// Not yet resolved (the default).
    #[default]
    Open,
    Resolved,
    All,
}

/// An account's suspension after a moderator suspended or reinstated it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Suspension {
    pub user_id: Uuid,
    pub suspended: bool,
    /// It was not so before.
    pub changed: bool,
    /// Device sessions revoked (a suspension logs every device out).
    pub sessions_revoked: i64,
    /// Open reports about the account, resolved as actioned by the suspension.
    pub reports_resolved: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportPushDevice {
    pub session_id: Uuid,
    pub platform: crate::ports::PushPlatform,
    pub token: String,
    pub registered_at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportContact {
    pub user_id: Uuid,
    pub nickname: Option<String>,
    pub note: Option<String>,
    pub favorite: bool,
    /// The names of the contact groups they are in.
    pub groups: Vec<String>,
    pub since: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportRelationships {
    pub contact: Vec<ExportRelation>,
    pub favorite: Vec<ExportRelation>,
    pub blocked: Vec<ExportRelation>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportRelation {
    pub user_id: Uuid,
    pub username: String,
    pub since: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportChat {
    pub chat_id: Uuid,
    #[serde(rename = "type")]
    pub kind: ChatType,
    pub name: Option<String>,
    pub role: ParticipantRole,
    pub joined_at: Timestamp,
    pub left_at: Option<Timestamp>,
    /// The caller's memberships of the chat before the latest (they left and joined again).
    pub earlier_memberships: Vec<ExportMembership>,
    /// The caller's own settings of the chat (mute, pin, archive, marked unread).
    pub settings: ChatSettings,
}

/// A membership of a chat that ended.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportMembership {
    pub joined_at: Timestamp,
    pub left_at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportMessage {
    pub id: Uuid,
    pub chat_id: Uuid,
    pub seq: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub content: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: MessageMetadata,
    pub created_at: Timestamp,
    pub edited_at: Option<Timestamp>,
    pub deleted_for_everyone: bool,
    /// The file the message carries (in `media`, or a file forwarded from someone else).
    pub media_id: Option<Uuid>,
    /// Its earlier versions, oldest first (as `GET .../messages/{messageId}/edits`).
    pub edits: Vec<MessageEdit>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportMedia {
    pub id: Uuid,
    pub file_key: String,
    pub file_name: String,
    pub file_type: String,
    pub mime_type: String,
    pub file_size: i64,
    pub status: String,
    pub created_at: Timestamp,
}

// --- chats -------------------------------------------------------------------------------------

/// Why something is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportReason {
    Spam,
    Scam,
    Harassment,
    HateSpeech,
    Violence,
    SexualContent,
    Other,
}

impl ReportReason {
    pub fn parse_stored(s: &str) -> Self {
        match s {
            "spam" => Self::Spam,
            "scam" => Self::Scam,
            "harassment" => Self::Harassment,
            "hate_speech" => Self::HateSpeech,
            "violence" => Self::Violence,
            "sexual_content" => Self::SexualContent,
            _ => Self::Other,
        }
    }

    pub fn as_stored(self) -> &'static str {
        match self {
            Self::Spam => "spam",
            Self::Scam => "scam",
            Self::Harassment => "harassment",
            Self::HateSpeech => "hate_speech",
            Self::Violence => "violence",
            Self::SexualContent => "sexual_content",
            Self::Other => "other",
        }
    }
}

/// A filed report, and what was done with it for the reporter.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportFiled {
    pub id: Uuid,
    pub reason: ReportReason,
    pub reported_user_id: Option<Uuid>,
    pub chat_id: Option<Uuid>,
    pub message_id: Option<Uuid>,
    /// The messages sent to the moderators with the report: the last ones the reporter could
    /// read (around the reported message), at most five.
    pub messages_included: i64,
    /// The reported user is blocked now.
    pub blocked: bool,
    /// The reporter left the reported group.
    pub left: bool,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChatType {
    Individual,
    Group,
}

impl ChatType {
    pub fn parse_stored(s: &str) -> Self {
        if s == "group" {
            Self::Group
        } else {
            Self::Individual
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParticipantRole {
    Admin,
    Moderator,
    Member,
}

impl ParticipantRole {
    pub fn parse_stored(s: &str) -> Self {
        match s {
            "admin" => Self::Admin,
            "moderator" => Self::Moderator,
            _ => Self::Member,
        }
    }
}

impl ParticipantRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Moderator => "moderator",
            Self::Member => "member",
        }
    }
}

/// `POST /api/chats/{chatId}/participants`: what became of the user.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantAdded {
    pub chat_id: Uuid,
    pub user_id: Uuid,
    /// `added`, or `invited` when their privacy lets the caller only invite them (they join by
    /// accepting: `POST /api/chats/{chatId}/invitation`).
    pub status: AddStatus,
    /// Their role, once added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<ParticipantRole>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AddStatus {
    Added,
    Invited,
}

/// `POST /api/chats/{chatId}/clear`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryCleared {
    pub chat_id: Uuid,
    /// The last `seq` cleared: history continues after it, but for `keptStarred`.
    pub cleared_seq: i64,
    /// The caller's starred messages up to `clearedSeq`, which stay in the history.
    pub kept_starred: Vec<Uuid>,
}

/// A group's invite link (`POST /api/chats/{chatId}/invite-link`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteLinkCreated {
    /// Follow it with `POST /api/invites/{code}/join` (or `chat:join`).
    pub code: String,
    /// The link to share (the QR code encodes it).
    pub url: String,
    /// When it stops working (never, if absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// Joining through it waits for an admin's approval.
    pub require_approval: bool,
}

/// `DELETE /api/chats/{chatId}/invite-link`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteLinkRevoked {
    pub revoked: bool,
}

/// `GET /api/invites/{code}`: the group a code invites to, as someone holding it sees it before
/// joining (WhatsApp's "Join group?" screen): no members' names, only how many.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitePreview {
    pub chat_id: Uuid,
    pub name: Option<String>,
    pub description: Option<String>,
    /// The group's picture: an outside `https://` address, or a signed, expiring URL to the
    /// 400-pixel WebP of a picture uploaded to Banter (`avatarMediaId`; null in events, which
    /// outlive the signature).
    pub avatar_url: Option<String>,
    /// The group's picture's file, when it was uploaded to Banter.
    pub avatar_media_id: Option<Uuid>,
    pub participant_count: i64,
    /// Joining asks the admins first.
    pub require_approval: bool,
    /// The caller is a member already.
    pub already_member: bool,
}

/// `POST /api/invites/{code}/join` and `chat:join`: the group joined, or the request waiting.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteFollowed {
    pub chat_id: Uuid,
    pub status: JoinStatus,
    /// The group as the new member sees it (absent while a request waits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat: Option<Box<ChatDetails>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JoinStatus {
    /// A member now (or already).
    Joined,
    /// Waiting for an admin's approval (`chat:join_request:answered` tells the outcome).
    Requested,
}

/// A group invitation waiting for the caller's answer (`GET /api/chats/invitations`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationListed {
    pub chat_id: Uuid,
    /// The group's name.
    pub name: String,
    /// The group's picture, as `ChatDetails.avatarUrl`.
    pub avatar_url: Option<String>,
    /// The group's picture's file, when it was uploaded to Banter.
    pub avatar_media_id: Option<Uuid>,
    /// Who invited them (absent once that account is erased).
    pub invited_by: Option<Uuid>,
    pub invited_at: Timestamp,
    /// Unanswered by then, it is gone (three days after it was sent).
    pub expires_at: Timestamp,
}

/// A waiting join request (`GET /api/chats/{chatId}/join-requests`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JoinRequestListed {
    pub user_id: Uuid,
    pub username: String,
    pub display_name: Option<String>,
    /// Their profile picture as their privacy settings show it to the admin asking (signed,
    /// expiring).
    pub profile_picture_url: Option<String>,
    pub requested_at: Timestamp,
}

/// `POST /api/chats/{chatId}/join-requests/{userId}/approve` and `/reject`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JoinRequestDecided {
    pub chat_id: Uuid,
    pub user_id: Uuid,
    pub approved: bool,
}

/// `DELETE /api/chats/{chatId}/join-request`: the caller's request to join, taken back.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JoinRequestWithdrawn {
    pub chat_id: Uuid,
    pub withdrawn: bool,
}

/// A member's role after `PUT /api/chats/{chatId}/participants/{userId}/role`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantRoleSet {
    pub chat_id: Uuid,
    pub user_id: Uuid,
    pub role: ParticipantRole,
}

/// `DELETE /api/chats/{chatId}/participants/{userId}`: who is no longer a member.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantRemoved {
    pub chat_id: Uuid,
    pub user_id: Uuid,
    /// `removed` by someone else, or `left` by themselves.
    pub status: RemovalStatus,
}

/// `DELETE /api/chats/{chatId}`: a group left, or a 1:1 chat deleted for the caller.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatRemoved {
    pub chat_id: Uuid,
    pub status: ChatRemoval,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChatRemoval {
    /// The caller left the group (it stays in their list, read-only, with its `leftAt`).
    Left,
    /// The 1:1 chat is out of the caller's list until its next message, or the group they had
    /// left out of it for good (until they rejoin); its history cleared for them.
    Deleted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RemovalStatus {
    Removed,
    Left,
}

/// The PRD's `ChatDetails`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatDetails {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: ChatType,
    /// The group's name; for a 1:1 chat, the other person as the caller saved them (their
    /// contact nickname), else the name they give themselves, else their username.
    pub name: Option<String>,
    pub description: Option<String>,
    /// The group's picture: an outside `https://` address, or a signed, expiring URL to the
    /// 400-pixel WebP of a picture uploaded to Banter (`avatarMediaId`; null in events, which
    /// outlive the signature). For a 1:1 chat, the other person's profile picture as their
    /// privacy settings show it to the caller (in answers; null in events).
    pub avatar_url: Option<String>,
    /// The picture's file, when it was uploaded to Banter.
    pub avatar_media_id: Option<Uuid>,
    /// For a 1:1 chat, the other person (the caller, in their chat with themselves); null when
    /// they erased their account, and for a group.
    pub other_user_id: Option<Uuid>,
    pub participants: Vec<Participant>,
    pub settings: ChatSettings,
    /// A group's permissions (absent for a 1:1 chat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<GroupPermissions>,
    /// Pinned messages that have not expired, most recently pinned first (at most 3).
    pub pinned_messages: Vec<PinnedMessage>,
    /// Messages sent now disappear after this many seconds (0: off).
    pub disappearing_seconds: i32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When the caller left the group or was removed (absent while a member). A former member
    /// keeps the chat read-only as it was then: its name, description, picture, permissions and
    /// timer, its history and members of that moment, no pinned messages, until
    /// `DELETE /api/chats/{chatId}` deletes it for them. What changes only their own view (read,
    /// star, delete for me, clear, forward out) works; what would change the group answers 403.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_at: Option<Timestamp>,
    /// In the answer to `POST /api/chats` only: those asked for whose privacy lets the creator
    /// only invite them (`privacySettings.groups`). They are not members yet; each was sent an
    /// invitation and joins by accepting it (`POST /api/chats/{chatId}/invitation`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invited: Vec<Uuid>,
}

/// Who may do what in a group (its admins change these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupPermissions {
    pub send_messages: Allowed,
    pub edit_info: Allowed,
    pub add_members: Allowed,
}

/// Every member, or the group's admins only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Allowed {
    All,
    Admins,
}

impl Allowed {
    pub fn parse_stored(s: &str) -> Self {
        if s == "all" {
            Self::All
        } else {
            Self::Admins
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Admins => "admins",
        }
    }

    /// Whether a member with `role` may.
    pub fn lets(self, role: ParticipantRole) -> bool {
        self == Self::All || role == ParticipantRole::Admin
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    pub id: Uuid,
    pub username: String,
    pub role: ParticipantRole,
    pub joined_at: Timestamp,
    /// As the participant's privacy settings let the caller see it: a signed, expiring URL
    /// (absent in `chat:created`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_picture_url: Option<Option<String>>,
    /// As the participant's privacy settings let the caller see it (absent in `chat:created`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_online: Option<bool>,
}

/// Someone who left a group, or was removed from it, lately (`GET
/// /api/chats/{chatId}/past-participants`): since someone leaving is told to the admins alone,
/// this is where the other members see who left (WhatsApp's "past participants").
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PastParticipant {
    pub id: Uuid,
    pub username: String,
    pub left_at: Timestamp,
    /// As their privacy settings let the caller see it: a signed, expiring URL.
    pub profile_picture_url: Option<String>,
}

/// The caller's own settings for a chat.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatSettings {
    /// Muted now.
    pub mute_notifications: bool,
    /// Until when (absent: not muted, or muted until unmuted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mute_until: Option<Timestamp>,
    pub pin_chat: bool,
    pub archived: bool,
    /// Marked unread by the caller: show it unread until they read in it.
    #[serde(default)]
    pub marked_unread: bool,
}

/// The PRD's `ChatSummary`: a row of the chat list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChatSummary {
    pub id: Uuid,
    /// As `ChatDetails.name`.
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: ChatType,
    /// The group's picture: an outside `https://` address, or a signed, expiring URL to the
    /// 400-pixel WebP of a picture uploaded to Banter (`avatarMediaId`; null in events, which
    /// outlive the signature). For a 1:1 chat, the other person's profile picture as their
    /// privacy settings show it to the caller (in answers; null in events).
    pub avatar_url: Option<String>,
    /// The picture's file, when it was uploaded to Banter.
    pub avatar_media_id: Option<Uuid>,
    pub last_message: Option<LastMessage>,
    pub unread_count: i64,
    /// An unread message mentions the caller (the list shows "@").
    pub unread_mention: bool,
    pub participant_count: i64,
    /// For a 1:1 chat, the other person (the caller, in their chat with themselves); null when
    /// they erased their account, and for a group.
    pub other_user_id: Option<Uuid>,
    /// The caller's own settings of the chat.
    pub settings: ChatSettings,
    pub updated_at: Timestamp,
    /// When the caller left the group or was removed (absent while a member): the chat stays
    /// in their list, read-only, until they delete it (`ChatDetails.leftAt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_at: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastMessage {
    /// Null for a deleted message or one without text.
    pub content: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    /// Deleted for everyone: a client shows "This message was deleted" (as the message's own
    /// `isDeleted`), not an empty line.
    pub is_deleted: bool,
    /// Who deleted it for everyone (as the message's own `deletedBy`): "deleted by admin" when
    /// not its sender.
    pub deleted_by: Option<Uuid>,
    /// The sender's username.
    pub sender: Option<String>,
    /// Who sent it (null for a system line): a client shows its own name for them, as a
    /// group's preview does ("Bob from work: see you").
    pub sender_id: Option<Uuid>,
    pub timestamp: Timestamp,
}

// --- messages ----------------------------------------------------------------------------------

/// A message's free-form details (a location, a contact card...): a JSON object.
pub type MessageMetadata = serde_json::Map<String, serde_json::Value>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    Sent,
    Delivered,
    Read,
}

/// The PRD's `Message`, plus `clientMessageId` and the per-chat `seq`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub id: Uuid,
    pub chat_id: Uuid,
    pub client_message_id: String,
    /// Strictly increasing per chat in the order the server stored messages.
    pub seq: i64,
    /// Null for system messages.
    pub sender: Option<MessageSender>,
    /// Null when deleted for everyone, or for a message without text.
    pub content: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    /// In answers (history, the gallery, search, starred, a send or forward), once the file is
    /// processed: a signed, expiring URL to it as shown (video and audio compressed, a picture
    /// without its metadata, a document as uploaded). Null in events, which outlive the
    /// signature: `GET /api/media/{mediaId}` signs fresh ones, with every size.
    pub media_url: Option<String>,
    /// As `mediaUrl`: a picture's 150x150 thumbnail, a video's frame or a document's first page.
    pub thumbnail_url: Option<String>,
    pub reply_to: Option<ReplyPreview>,
    #[schema(value_type = Object)]
    pub metadata: MessageMetadata,
    /// The uploaded file of a media message (`GET /api/media/{fileId}`).
    pub media_id: Option<Uuid>,
    /// Members this message mentions.
    pub mentions: Vec<Uuid>,
    /// A forwarded copy of another message.
    pub forwarded: bool,
    /// Forwarded 5 or more hops from its original (it can go to one chat at a time).
    pub forwarded_many_times: bool,
    /// A view-once picture or video: its file is not shown here; each recipient opens it once
    /// (`POST .../messages/{messageId}/open`).
    pub view_once: bool,
    /// When it disappears (the chat's timer when it was sent); null if it does not.
    pub expires_at: Option<Timestamp>,
    /// A member kept this disappearing message in the chat (`POST .../keep`): it stays until
    /// unkept.
    #[serde(default)]
    pub kept: bool,
    /// A voice note: in an answer to someone it was sent to, when they first played it (each
    /// of their devices shows it played); to its sender in a 1:1 chat, when the other did
    /// (WhatsApp's blue microphone; in a group, message info says who). Null in events, which
    /// `message:played` follows.
    #[serde(default)]
    pub played_at: Option<Timestamp>,
    /// A view-once: as `playedAt`, when it was opened (to its sender as read receipts allow).
    #[serde(default)]
    pub opened_at: Option<Timestamp>,
    pub is_edited: bool,
    pub is_deleted: bool,
    /// Who deleted it for everyone: its sender, or an admin of its group (a client shows "deleted
    /// by admin" when it is not the sender). Null while it is not deleted, and once the account
    /// that deleted it is gone.
    pub deleted_by: Option<Uuid>,
    pub reactions: Vec<ReactionGroup>,
    /// In a history page: of the caller's own message, the receipts as they see them (every
    /// recipient's, as their privacy shows them: `read` once all read it); of anyone else's,
    /// the caller's own receipt: `delivered`, then `read` once they read it (or a later
    /// message). Elsewhere (an event, a search result) `sent`: receipts come as their own
    /// events.
    pub status: MessageStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Message {
    /// The message as `device` reads it: an encrypted message keeps only that device's
    /// envelope (none for the device that sent it), so no device is sent every other device's
    /// ciphertext; any other message as it is.
    pub fn for_device(mut self, device: Uuid) -> Self {
        if self.kind == "encrypted" {
            if let Some(serde_json::Value::Array(envelopes)) = self.metadata.get_mut("envelopes") {
                let mine = device.to_string();
                envelopes.retain(|e| e["deviceId"].as_str() == Some(mine.as_str()));
            }
        }
        self
    }

    /// Who sent the message this one quotes, and when, if it quotes one.
    pub fn quoted(&self) -> Option<(Uuid, DateTime<Utc>)> {
        let reply = self.reply_to.as_ref()?;
        Some((reply.sender_id?, reply.sent_at?))
    }

    /// Everyone who reacted to the message, and when.
    pub fn reactors(&self) -> impl Iterator<Item = (Uuid, DateTime<Utc>)> + '_ {
        self.reactions
            .iter()
            .flat_map(|g| g.users.iter().copied().zip(g.reacted_at.iter().copied()))
    }

    /// Whether a reaction to the message is kept from `viewer` ([`ReactionGroup::kept_from`]).
    pub fn keeps_a_reaction_from(&self, viewer: Uuid) -> bool {
        self.reactions
            .iter()
            .any(|g| g.kept_from.contains(&Some(viewer)))
    }

    /// The message as `viewer` sees it, who does not see what `hidden(user, at)` says they
    /// blocked by then (`db::not_sent_while_blocked`): without the text of a quoted message
    /// sent by such a user, and without such a user's reactions, nor those kept from them.
    pub fn as_seen_by(
        mut self,
        viewer: Uuid,
        hidden: impl Fn(Uuid, DateTime<Utc>) -> bool,
    ) -> Self {
        if let Some((sender, sent_at)) = self.quoted() {
            if hidden(sender, sent_at) {
                if let Some(reply) = self.reply_to.as_mut() {
                    reply.content = None;
                }
            }
        }
        // (A group read without its times, as a stored payload is, stays as it is.)
        for group in self
            .reactions
            .iter_mut()
            .filter(|g| g.reacted_at.len() == g.users.len())
        {
            let kept_from = |n: usize| group.kept_from.get(n).copied().flatten();
            let (users, at): (Vec<Uuid>, Vec<DateTime<Utc>>) = group
                .users
                .iter()
                .copied()
                .zip(group.reacted_at.iter().copied())
                .enumerate()
                .filter(|&(n, (user, at))| !hidden(user, at) && kept_from(n) != Some(viewer))
                .map(|(_, reaction)| reaction)
                .unzip();
            group.count = users.len() as i64;
            group.users = users;
            group.reacted_at = at;
            group.kept_from.clear();
        }
        self.reactions.retain(|g| g.count > 0);
        self
    }
}

/// Who sent a message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessageSender {
    pub id: Uuid,
    pub username: String,
    /// In answers that list messages (history, the gallery, search, starred, a forward): the
    /// sender's profile picture as their privacy settings show it to the caller, a signed,
    /// expiring URL. Absent in events (each reader's view differs, and the log outlives the
    /// signature) and in a send's answer (the sender knows their own).
    #[serde(
        rename = "profilePictureUrl",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub profile_picture_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplyPreview {
    pub id: Uuid,
    /// The chat the quoted message is in: the reply's own, or, for a private reply (a 1:1
    /// message quoting what the other member sent in a group), that group.
    pub chat_id: Uuid,
    /// Null when the quoted message was deleted for everyone (or, for someone who blocks its
    /// sender, was sent while they did).
    pub content: Option<String>,
    /// The quoted message's sender's username.
    pub sender: Option<String>,
    /// Who sent the quoted message, and when: not shown, but what decides whether a viewer who
    /// blocks them sees its text ([`Message::as_seen_by`]).
    #[serde(skip)]
    pub sender_id: Option<Uuid>,
    #[serde(skip)]
    pub sent_at: Option<DateTime<Utc>>,
}

/// Everyone who reacted to a message with one emoji.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReactionGroup {
    pub emoji: String,
    pub count: i64,
    /// User ids, earliest first.
    pub users: Vec<Uuid>,
    /// When each of `users` reacted: not sent, but what decides whether a viewer who blocks
    /// one of them sees their reaction ([`Message::as_seen_by`]).
    #[serde(default, skip_serializing, rename = "reactedAt")]
    #[schema(ignore)]
    pub reacted_at: Vec<DateTime<Utc>>,
    /// Whom each of `users`' reactions is kept from for good (the other member of a 1:1 chat,
    /// who blocked them when they reacted): not sent; [`Message::as_seen_by`] leaves it out
    /// for them.
    #[serde(default, skip_serializing, rename = "keptFrom")]
    #[schema(ignore)]
    pub kept_from: Vec<Option<Uuid>>,
}

/// One earlier version of an edited message (`GET .../messages/{messageId}/edits`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageEdit {
    /// The text before this edit.
    pub previous_content: Option<String>,
    /// When it was replaced.
    pub edited_at: Timestamp,
}

/// How a message was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Deletion {
    /// Hidden from the caller's own view (their devices); the others keep it.
    ForMe,
    /// Erased for everyone: a tombstone stays in its place.
    ForEveryone,
}

/// `DELETE /api/chats/{chatId}/messages/{messageId}` and `message:delete`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageRemoved {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub deletion: Deletion,
}

/// The caller's reaction to a message after `POST`/`DELETE .../reactions` or
/// `message:reaction`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReactionSet {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    /// The caller's reaction now (null once removed).
    #[schema(required = true)]
    pub emoji: Option<String>,
}

/// A poll and its votes (`GET .../messages/{messageId}/poll`, and the answer to a vote).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PollResults {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub question: String,
    pub multiple_answers: bool,
    /// In the order the poll lists them; an answer's `index` names it in a vote.
    pub options: Vec<PollOptionResult>,
    /// Members who voted (for anything).
    pub voters: i64,
    /// The caller's own answers.
    pub my_options: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PollOptionResult {
    pub index: u8,
    pub text: String,
    pub votes: i64,
    /// Who chose it, earliest first (votes are not secret, as in WhatsApp), but for someone
    /// the caller blocked when they voted (`votes` counts them all).
    pub voter_ids: Vec<Uuid>,
}

/// A message kept or unkept (`POST`/`DELETE .../messages/{messageId}/keep`, and
/// `message:kept`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeptState {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub kept: bool,
    /// Who kept it (while kept).
    pub kept_by: Option<Uuid>,
    /// When it disappears now (null while kept).
    pub expires_at: Option<Timestamp>,
}

/// A vote the caller cast (in the data export).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportPollVote {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub options: Vec<u8>,
    pub voted_at: Timestamp,
}

/// `POST .../messages/{messageId}/read` and `message:read`: the caller has read the chat up to
/// here.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadUpTo {
    pub chat_id: Uuid,
    /// Every message up to this `seq` is read (it never moves back).
    pub read_seq: i64,
}

/// The answer to `message:typing` / `message:stop_typing` (who was told is not said: it would
/// tell who is online).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TypingSent {
    pub chat_id: Uuid,
    pub is_typing: bool,
    pub activity: crate::api::ws::TypingActivity,
}

/// A message pinned in a chat, until `expiresAt`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PinnedMessage {
    pub message_id: Uuid,
    pub pinned_by: Option<Uuid>,
    pub pinned_at: Timestamp,
    pub expires_at: Timestamp,
}

/// `POST`/`DELETE .../messages/{messageId}/pin`: the message's pin now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PinState {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub pinned: bool,
    /// When the pin ends (null once unpinned).
    #[schema(required = true)]
    pub expires_at: Option<Timestamp>,
}

/// `POST`/`DELETE .../messages/{messageId}/star`: whether the caller has it starred now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StarState {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub starred: bool,
}

/// `GET .../messages/{messageId}/info`: who of the chat got and read the caller's message, and
/// when, as each recipient's privacy allows.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageInfo {
    pub message_id: Uuid,
    pub chat_id: Uuid,
    pub recipients: Vec<RecipientReceipt>,
}

/// One recipient's receipt of a message. A time is null when it has not happened, when the
/// recipient's privacy hides it, or when it is too old to be remembered (the status stays).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecipientReceipt {
    pub user_id: Uuid,
    pub username: String,
    pub status: MessageStatus,
    #[schema(required = true)]
    pub delivered_at: Option<Timestamp>,
    #[schema(required = true)]
    pub read_at: Option<Timestamp>,
    /// Of a voice note: when they first played it.
    #[schema(required = true)]
    pub played_at: Option<Timestamp>,
    /// Of a view-once picture or video: when they opened it (as read receipts show).
    #[schema(required = true)]
    pub opened_at: Option<Timestamp>,
}

/// Online or offline (PRD `UserStatusPayload.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnlineStatus {
    Online,
    Offline,
}

/// The answer to `user:online` / `user:offline`: whether this device counts as in use.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
// Only these fields (`additionalProperties: false`), so an ack is told from the other answers.
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceActivity {
    pub active: bool,
}

/// The answer to `user:status_update`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
// Only these fields (`additionalProperties: false`), so an ack is told from the other answers.
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusSet {
    #[schema(required = true)]
    pub status: Option<String>,
}

/// `POST .../messages/{messageId}/open`: a view-once message's file, handed out once: its
/// signed URLs are the only way to it (`GET /api/media/{fileId}` answers 404 once it is open).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ViewOnceOpened {
    pub message_id: Uuid,
    pub media_id: Uuid,
    pub media: MediaFile,
}

/// `POST .../messages/{messageId}/played`: a voice note the caller played, and when they first
/// did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VoiceNotePlayed {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub played_at: Timestamp,
}

/// A live location as it is now (`message:location:updated`, and the answer to moving or
/// stopping it).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveLocation {
    pub chat_id: Uuid,
    pub message_id: Uuid,
    pub latitude: f64,
    pub longitude: f64,
    /// Still shared (false once its sender stopped it).
    pub live: bool,
    /// When sharing ends by itself.
    pub live_until: Timestamp,
}

/// `GET /api/sync`: the caller's events after the cursor, in order.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncPage {
    pub events: Vec<crate::api::ws::EventFrame>,
    /// Where the next sync starts (also when there were no events).
    pub next_cursor: String,
    /// More events are ready: sync again from `nextCursor` at once.
    pub has_more: bool,
}

/// `DELETE /api/chats/{chatId}/invitation`.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationDeclined {
    pub declined: bool,
}

// --- files -------------------------------------------------------------------------------------

/// A file answered as it is, outside the JSON envelope (a QR code, a vCard export).
#[derive(Debug)]
pub struct RawFile {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

// --- contacts ----------------------------------------------------------------------------------

/// One of the caller's contacts: their profile as their privacy lets the caller see it (a
/// contact's "contacts only" fields show once they have the caller as a contact too).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub user: PublicUser,
    pub nickname: Option<String>,
    pub note: Option<String>,
    pub favorite: bool,
    /// The caller's contact groups (labels) this contact is in.
    pub group_ids: Vec<Uuid>,
    pub added_at: Timestamp,
}

/// `contact:removed`: the user removed a contact (on another device).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactRemoved {
    pub user_id: Uuid,
}

/// A contact group (label) and its members (user ids of the owner's contacts).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactGroup {
    pub id: Uuid,
    pub name: String,
    pub member_ids: Vec<Uuid>,
    pub created_at: Timestamp,
}

/// `contact:group:deleted`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactGroupDeleted {
    pub group_id: Uuid,
}

/// `system:maintenance`: the operators announce maintenance (the service down or slow for a
/// while), to every account (`services::announcements`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemMaintenance {
    /// What to tell the user (1 to 1,000 characters).
    pub message: String,
    /// When it starts, if said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<Timestamp>,
    /// When it should be over, if said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<Timestamp>,
    pub announced_at: Timestamp,
}

/// `system:notification`: a notice from the operators to every account
/// (`services::announcements`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemNotification {
    /// Its title, if it has one (at most 100 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What to tell the user (1 to 1,000 characters).
    pub message: String,
    pub announced_at: Timestamp,
}

/// What an announcement to every account came to (the moderators' function's answer).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Announced {
    /// The event told (`system:maintenance` or `system:notification`).
    pub event: &'static str,
    /// The accounts it was written for (each of their devices gets it live or from sync).
    pub accounts: u64,
}

/// The caller's contact link: what their QR code encodes. Resetting it makes a new one; the
/// old one then resolves to nobody.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactLink {
    pub code: String,
    pub url: String,
}

/// `POST /api/contacts/sync`: the Banter users among the numbers (now the caller's contacts).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactSyncResult {
    pub matches: Vec<PhoneMatch>,
    /// Numbers read (valid or not).
    pub checked: usize,
    /// Numbers that are not phone numbers in any region.
    pub invalid: usize,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhoneMatch {
    /// The number as it was sent.
    pub phone: String,
    /// The same number in E.164.
    pub e164: String,
    pub user: PublicUser,
}

/// `POST /api/contacts/import`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactImportResult {
    /// Cards read.
    pub imported: usize,
    /// Cards that matched a Banter user by a verified phone or email (now a contact).
    pub matched: usize,
    /// Cards that matched nobody, or named the caller (nothing of them is kept).
    pub skipped: usize,
}

// --- search ------------------------------------------------------------------------------------

/// One message found by `GET /api/messages/search`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageSearchHit {
    pub message: Message,
    /// The text around the words found (the whole text when short).
    pub snippet: String,
    /// Where the words found are in `snippet`: UTF-16 code unit offsets, `end` exclusive (as
    /// JavaScript, Java and Swift's `NSString` index strings).
    pub highlights: Vec<TextRange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct TextRange {
    pub start: usize,
    pub end: usize,
}

// --- calls -------------------------------------------------------------------------------------

/// A voice or video call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CallKind {
    Audio,
    Video,
}

impl CallKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Audio => "audio",
            Self::Video => "video",
        }
    }

    pub fn parse_stored(s: &str) -> Self {
        if s == "video" {
            Self::Video
        } else {
            Self::Audio
        }
    }
}

/// Where a call stands: ringing until the callee answers, ongoing until someone hangs up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CallStatus {
    Ringing,
    Ongoing,
    Ended,
}

impl CallStatus {
    pub fn parse_stored(s: &str) -> Self {
        match s {
            "ringing" => Self::Ringing,
            "ongoing" => Self::Ongoing,
            _ => Self::Ended,
        }
    }
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallEndReason {
    /// Someone hung up after it was answered.
    HungUp,
    /// The callee declined it.
    Declined,
    /// Nobody answered: the caller hung up first, or it rang out.
    Missed,
    /// A new call in the chat took its place (its devices had lost it).
    Replaced,
}

impl CallEndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HungUp => "hung_up",
            Self::Declined => "declined",
            Self::Missed => "missed",
            Self::Replaced => "replaced",
        }
    }

    pub fn parse_stored(s: &str) -> Self {
        match s {
            "declined" => Self::Declined,
            "missed" => Self::Missed,
            "replaced" => Self::Replaced,
            _ => Self::HungUp,
        }
    }
}

/// A call of a 1:1 chat, as the call history and the `call:*` events show it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Call {
    pub id: Uuid,
    pub chat_id: Uuid,
    /// Who called (null once their account is erased).
    pub caller_id: Option<Uuid>,
    pub kind: CallKind,
    pub status: CallStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_reason: Option<CallEndReason>,
    pub started_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
}

/// A STUN or TURN server, as WebRTC's `RTCIceServer` takes it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IceServer {
    pub urls: Vec<String>,
    /// For TURN: the short-lived username and password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// `GET /api/calls/ice-servers`: what a device configures its `RTCPeerConnection` with.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IceServers {
    /// Empty where none is configured (devices then reach each other directly, or not).
    pub ice_servers: Vec<IceServer>,
    /// When the TURN credentials stop working (absent without TURN): ask again before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

// --- backups -----------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackupStatus {
    Pending,
    Building,
    Ready,
    Failed,
}

/// A chat backup (`POST /api/backups`): a zip with `export.json`, one transcript per chat
/// (`chats/<name>.txt`, like WhatsApp's "Export chat") and the media files (`media/`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Backup {
    pub id: Uuid,
    pub status: BackupStatus,
    pub created_at: Timestamp,
    /// A signed link to the zip (when ready), valid until `expiresAt` (ask again for a fresh one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub download_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

// --- media -------------------------------------------------------------------------------------

/// Where a file is in its processing (PRD `processingStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProcessingStatus {
    /// The upload URL was issued; the bytes have not been processed yet.
    Pending,
    Processing,
    Completed,
    /// See `error`: `INVALID_FILE_TYPE`, `INFECTED`, `CANCELLED`, `PROCESSING_FAILED`.
    Failed,
}

impl ProcessingStatus {
    pub fn parse(s: &str) -> Self {
        match s {
            "processing" => Self::Processing,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// `POST /api/upload/presigned-url`: where to `PUT` the file's bytes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadUrl {
    pub file_id: Uuid,
    /// `PUT` exactly `fileSize` bytes here, with `headers`.
    pub upload_url: String,
    pub file_key: String,
    /// Seconds the URL stays valid.
    pub expires_in: u64,
    /// Headers the `PUT` must send (they are signed): `Content-Type`, the declared type. No
    /// other is needed (the store encrypts the file by default), and an x-amz- header the URL
    /// was not signed for is refused.
    pub headers: std::collections::BTreeMap<String, String>,
}

/// One part's upload URL in a multipart upload.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadPartUrl {
    pub part_number: i32,
    pub upload_url: String,
}

/// `POST /api/upload/multipart`: `PUT` each part (`partSize` bytes, the last one the rest) to
/// its URL, keep each answer's `ETag`, then complete.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MultipartUpload {
    pub file_id: Uuid,
    pub file_key: String,
    pub upload_id: String,
    pub part_size: u64,
    pub expires_in: u64,
    pub parts: Vec<UploadPartUrl>,
}

/// Signed, expiring URLs of a file and what processing made of it. Only what exists is
/// present.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaUrls {
    /// The file as uploaded (for pictures: without their metadata).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    /// Pictures: WebP 150x150 (cover); videos: a 320x180 frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
    /// Pictures: WebP within 400x400.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
    /// Pictures: WebP within 800x800.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub large: Option<String>,
    /// Videos: H.264 + AAC MP4 at the largest of 480p, 720p, 1080p at or below the source;
    /// audio: Opus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compressed: Option<String>,
    /// Videos: every rendition, by height (`"480"`, `"720"`, `"1080"`).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty", default)]
    pub renditions: std::collections::BTreeMap<String, String>,
    /// Documents: a PNG of the first page; videos: a frame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    /// Audio: a 300x60 PNG of the waveform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waveform: Option<String>,
}

/// What processing measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaMetadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Seconds (the PRD's `duration`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    /// Documents: how many pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<u32>,
    /// Audio: 300 peaks, 0-255.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waveform: Option<Vec<u8>>,
    /// Animated GIF or WebP (the thumbnail is its first frame).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub animated: Option<bool>,
}

/// `GET /api/media/{fileId}` (PRD `MediaFile`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaFile {
    pub id: Uuid,
    pub file_name: String,
    /// `image`, `video`, `audio`, `document` or `sticker`.
    pub file_type: String,
    /// The type the bytes turned out to be (the declared one until they are checked).
    pub mime_type: String,
    pub file_size: i64,
    /// The chat it was uploaded for.
    pub chat_id: Option<Uuid>,
    pub urls: MediaUrls,
    pub metadata: MediaMetadata,
    pub processing_status: ProcessingStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: Timestamp,
}

/// `GET /api/media/{fileId}/status` (PRD `MediaProcessingStatus`), and the `media:processing:*`
/// events.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaProcessingStatus {
    pub file_id: Uuid,
    pub status: ProcessingStatus,
    /// 0-100.
    pub progress: i16,
    /// Seconds left, estimated from the file's size and kind (while pending or processing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_time: Option<u64>,
    /// The step under way: `scanning`, `checking`, `thumbnails`, `transcoding`, `waveform`,
    /// `preview`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// A code when failed: `INVALID_FILE_TYPE`, `INFECTED`, `CANCELLED`, `PROCESSING_FAILED`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
