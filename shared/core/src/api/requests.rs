//! Request types: one `Deserialize` struct per REST body, query string and WebSocket action
//! payload, camelCase on the wire. Fields are the validated domain types where one exists, so a
//! value of a request type is already well-formed; `api::extract` turns serde's errors into the
//! API's (`MISSING_REQUIRED_FIELD` / `VALIDATION_ERROR` naming the field). Unknown fields are
//! ignored, except where a body names settings that are stored (`deny_unknown_fields`).

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::models::{
    Allowed, Audience, ChatType, MessageMetadata, ParticipantRole, ReportReason,
};
use crate::domain::{
    AvatarUrl, ClientId, ClientMessageId, DisplayText, Email, Emoji, GroupName, KeySignature,
    MessageType, NameText, Password, Phone, PublicKey, Secret, SixDigitCode, Username,
    NAME_PATTERN, REQUIRED_NAME_PATTERN,
};

/// `null` and absent both read as `None`; present values as `Some`. For fields where "set to
/// null" differs from "leave alone", see [`Patch`].
fn default_none<T>() -> Option<T> {
    None
}

/// A nested struct, read only from a JSON object (serde would also read a struct from an array
/// of its fields in order, which no document allows). Read in place, so an error inside it
/// names its whole path (`settings.muteUntil`).
fn optional_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<FromObject<T>>::deserialize(d)?.map(|o| o.0))
}

/// A required nested struct, read only from a JSON object (as [`optional_object`]).
fn object<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(FromObject::<T>::deserialize(d)?.0)
}

/// A list of nested structs, each read only from a JSON object (as [`optional_object`]).
fn objects<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Vec::<FromObject<T>>::deserialize(d)?
        .into_iter()
        .map(|o| o.0)
        .collect())
}

/// A `T` read from a JSON object only: its struct is asked of the input as a map.
struct FromObject<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for FromObject<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(ObjectOnly(d)).map(FromObject)
    }
}

/// A struct's visitor that says what it expects in the document's words (an object), not
/// Rust's (`struct PrivacySettingsPatch`).
struct AnObject<V>(V);

impl<'de, V: serde::de::Visitor<'de>> serde::de::Visitor<'de> for AnObject<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(map)
    }
}

/// A deserializer that reads a struct only as a map (an array is the wrong type); anything else
/// as the one it wraps does.
struct ObjectOnly<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(v)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(AnObject(v))
    }

    fn deserialize_enum<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, v)
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_option(v)
    }

    fn deserialize_newtype_struct<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, v)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

/// A date and time in RFC 3339, with a message that says so when it is not one (chrono's own
/// says only that the input has invalid characters).
fn optional_time<'de, D>(d: D) -> Result<Option<chrono::DateTime<chrono::Utc>>, D::Error>
where
    D: Deserializer<'de>,
{
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(text) => chrono::DateTime::parse_from_rfc3339(&text)
            .map(|t| Some(t.to_utc()))
            .map_err(|_| {
                serde::de::Error::custom(
                    "must be a date and time in RFC 3339, such as 2026-12-03T10:00:00Z",
                )
            }),
    }
}

// --- auth --------------------------------------------------------------------------------------

/// `POST /api/auth/register`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    pub email: Email,
    pub password: Password,
    /// Derived from the email when absent.
    #[serde(default = "default_none")]
    pub username: Option<Username>,
    #[serde(default = "default_none")]
    pub phone: Option<Phone>,
}

/// `POST /api/auth/login`. The email is not checked for form: a malformed one fails as an
/// unknown one does.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    #[schema(max_length = 1024)]
    pub email: Secret,
    #[schema(max_length = 1024)]
    pub password: Secret,
    /// A longer-lived device session (30 days instead of 7).
    #[serde(default)]
    pub remember_me: bool,
    /// Required when two-factor authentication is on (or `recoveryCode`).
    #[serde(default = "default_none")]
    #[schema(max_length = 64)]
    pub totp_code: Option<Secret>,
    #[serde(default = "default_none")]
    #[schema(max_length = 64)]
    pub recovery_code: Option<Secret>,
    /// The `deviceToken` this device got at an earlier login or registration: a known device
    /// is exempt from the account-wide backoff that others' failed logins may have started.
    #[serde(default = "default_none")]
    #[schema(max_length = 200)]
    pub device_token: Option<Secret>,
}

/// `POST /api/auth/refresh`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRequest {
    #[schema(max_length = 1024)]
    pub refresh_token: Secret,
}

/// `POST /api/auth/logout`: the session of `refreshToken`, or without one (or without a body)
/// the caller's current session.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogoutRequest {
    #[serde(default = "default_none")]
    #[schema(max_length = 1024)]
    pub refresh_token: Option<Secret>,
}

/// `POST /api/auth/verify-email`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct VerifyEmailRequest {
    /// The token from the verification email.
    #[schema(max_length = 1024)]
    pub token: Secret,
}

/// `POST /api/auth/forgot-password`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ForgotPasswordRequest {
    pub email: Email,
}

/// `POST /api/auth/2fa/reset`: ask for a reset link, having lost the authenticator.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TwoFactorResetRequest {
    pub email: Email,
}

/// `POST /api/auth/2fa/reset/confirm`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TwoFactorResetConfirmRequest {
    /// The token from the reset email.
    #[schema(max_length = 1024)]
    pub token: Secret,
}

/// `POST /api/auth/reset-password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResetPasswordRequest {
    /// The token from the reset email.
    #[schema(max_length = 1024)]
    pub token: Secret,
    pub new_password: Password,
}

/// `POST /api/auth/change-password`: a signed-in device sets a new password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangePasswordRequest {
    /// The password the account has now.
    #[schema(max_length = 1024)]
    pub current_password: Secret,
    pub new_password: Password,
}

/// `POST /api/auth/change-email`: ask for a new address; a link sent there confirms it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangeEmailRequest {
    pub new_email: Email,
    /// The current password, to confirm.
    #[schema(max_length = 1024)]
    pub password: Secret,
    /// A code from the authenticator, when two-factor authentication is on (the address is
    /// where a 2FA reset goes, so changing it takes the second factor too).
    #[serde(default)]
    pub code: Option<SixDigitCode>,
}

/// `POST /api/auth/change-email/confirm` and `/undo`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EmailChangeLinkRequest {
    /// The token from the link: the one sent to the new address (confirm), or the one sent to
    /// the old address once it changed (undo).
    #[schema(max_length = 1024)]
    pub token: Secret,
}

/// `POST /api/auth/phone/start`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PhoneStartRequest {
    pub phone: Phone,
    /// The current password: required unless this device logged in within 10 minutes.
    #[serde(default = "default_none")]
    #[schema(max_length = 1024)]
    pub password: Option<Secret>,
}

/// `POST /api/auth/phone/verify`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PhoneVerifyRequest {
    pub phone: Phone,
    pub code: SixDigitCode,
    /// The current password: required unless this device logged in within 10 minutes.
    #[serde(default = "default_none")]
    #[schema(max_length = 1024)]
    pub password: Option<Secret>,
}

/// `POST /api/auth/2fa/enable`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TwoFactorEnableRequest {
    /// The current code from the authenticator app.
    pub code: SixDigitCode,
    /// The current password: required unless this device logged in within 10 minutes.
    #[serde(default = "default_none")]
    #[schema(max_length = 1024)]
    pub password: Option<Secret>,
}

/// `POST /api/auth/2fa/disable`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TwoFactorDisableRequest {
    #[schema(max_length = 1024)]
    pub password: Secret,
    pub code: SixDigitCode,
}

// --- users -------------------------------------------------------------------------------------

/// A field of a partial update: absent leaves it alone, `null` clears it, a value sets it.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Self::Clear,
            Some(v) => Self::Set(v),
        })
    }
}

impl<T> Patch<T> {
    pub fn is_keep(&self) -> bool {
        matches!(self, Self::Keep)
    }

    /// `None` to keep, `Some(None)` to clear, `Some(Some(v))` to set.
    pub fn into_option(self) -> Option<Option<T>> {
        match self {
            Self::Keep => None,
            Self::Clear => Some(None),
            Self::Set(v) => Some(Some(v)),
        }
    }
}

impl<const MAX: usize, const NAME: bool> Patch<DisplayText<MAX, NAME>> {
    /// A text field's update: `None` keeps it, `Some(None)` clears it (null, or only spaces).
    pub fn into_text(self) -> Option<Option<String>> {
        self.into_option()
            .map(|text| text.and_then(DisplayText::into_inner))
    }
}

/// `PUT /api/users/profile`: any of these; other fields (email, phone...) cannot be changed
/// here and are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateProfileRequest {
    #[serde(default = "default_none")]
    pub username: Option<Username>,
    /// Up to 100 characters, one line, without text-direction controls; empty or null clears
    /// it.
    #[serde(default)]
    #[schema(schema_with = optional_name::<100>)]
    pub display_name: Patch<NameText<100>>,
    /// Up to 140 characters; empty or null clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 140)]
    pub status: Patch<DisplayText<140>>,
    /// Up to 500 characters; empty or null clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub about: Patch<DisplayText<500>>,
    /// An image the caller uploaded, or null to remove the picture.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub profile_picture_media_id: Patch<Uuid>,
    #[serde(default, deserialize_with = "optional_object")]
    pub privacy_settings: Option<PrivacySettingsPatch>,
    #[serde(default, deserialize_with = "optional_object")]
    pub notification_settings: Option<NotificationSettingsPatch>,
}

/// The privacy settings to change; the others keep their values. Each audience may also be
/// given as the PRD's boolean flag (`true`: everyone, `false`: nobody), and by the name it is
/// answered under (`lastSeenAudience`, ...); `status`, the PRD's name for the status text's
/// setting, is `about`'s (one setting covers both texts).
#[derive(Debug, Default, Deserialize, serde::Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrivacySettingsPatch {
    #[serde(
        default,
        alias = "lastSeenAudience",
        deserialize_with = "audience_or_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_seen: Option<Audience>,
    #[serde(
        default,
        alias = "profilePictureAudience",
        deserialize_with = "audience_or_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub profile_picture: Option<Audience>,
    /// Who sees the about and status texts (`status`, as the PRD names it, and
    /// `aboutAudience` are accepted for it).
    #[serde(
        default,
        alias = "status",
        alias = "aboutAudience",
        deserialize_with = "audience_or_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub about: Option<Audience>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_receipts: Option<bool>,
    /// Who may add you to groups: `everyone`, `contacts` (people you have as contacts) or
    /// `nobody`.
    #[serde(
        default,
        deserialize_with = "audience_or_flag",
        skip_serializing_if = "Option::is_none"
    )]
    pub groups: Option<Audience>,
    /// Whether others may find you by your verified phone number or email (contact sync, vCard
    /// import).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discoverable: Option<bool>,
    /// The disappearing-messages timer of the chats you start from now on (1:1 chats and the
    /// groups you create), as WhatsApp's default message timer: 0 (off), 86400, 604800 or
    /// 7776000 seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_disappearing_seconds: Option<DisappearingTimer>,
}

/// An audience of [`PrivacySettingsPatch`]: its name, or the PRD's boolean flag for it (`true`:
/// everyone, `false`: nobody), so clients written against the PRD's `privacySettings` keep
/// working. Null keeps the setting.
fn audience_or_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Audience>, D::Error> {
    struct AudienceOrFlag;
    impl<'de> serde::de::Visitor<'de> for AudienceOrFlag {
        type Value = Option<Audience>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(
                "`everyone`, `contacts` or `nobody` (or true for everyone, false for nobody)",
            )
        }
        fn visit_bool<E: serde::de::Error>(self, flag: bool) -> Result<Self::Value, E> {
            Ok(Some(if flag {
                Audience::Everyone
            } else {
                Audience::Nobody
            }))
        }
        fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Self::Value, E> {
            use serde::de::IntoDeserializer;
            Audience::deserialize(name.into_deserializer()).map(Some)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(AudienceOrFlag)
}

/// The notification settings to change; the others keep their values.
#[derive(Debug, Default, Deserialize, serde::Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettingsPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<bool>,
    /// Push notifications show the message's text (default on); off, only who wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previews: Option<bool>,
}

/// `GET /api/users/search`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserSearchQuery {
    /// Part of a username.
    #[param(value_type = String, min_length = 1, max_length = 50, pattern = r"\S")]
    pub query: SearchText,
    #[serde(default = "default_limit")]
    #[param(value_type = i64, minimum = 1, maximum = 100, default = 50)]
    pub limit: PageLimit,
    #[serde(default)]
    #[param(value_type = i64, minimum = 0, maximum = 10000, default = 0)]
    pub offset: SearchOffset,
}

/// `POST /api/users/block` and `/unblock`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockRequest {
    pub user_id: Uuid,
}

/// `POST /api/reports`: report a user, a chat or a message to Banter's moderators. Name the
/// user, the chat, or both; a message is named with its chat.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportRequest {
    /// The user reported; for a 1:1 chat or a message it follows from them when not given.
    /// Given with a message, it must be the message's sender; with a chat, someone who is or
    /// was a member of it.
    #[serde(default)]
    pub user_id: Option<Uuid>,
    #[serde(default)]
    pub chat_id: Option<Uuid>,
    /// A message of `chatId`.
    #[serde(default)]
    pub message_id: Option<Uuid>,
    pub reason: ReportReason,
    /// What the reporter adds, up to 500 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub comment: Option<DisplayText<500>>,
    /// Block the reported user too.
    #[serde(default)]
    pub block: bool,
    /// Leave the reported group too.
    #[serde(default)]
    pub leave: bool,
}

/// `POST /api/notifications/device`: this device's token for push notifications.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterPushDeviceRequest {
    pub platform: crate::ports::PushPlatform,
    pub token: crate::domain::PushToken,
}

// --- end-to-end encryption keys ------------------------------------------------------------

/// `PUT /api/keys`: this device's end-to-end encryption keys (Signal protocol: its identity key,
/// a signed pre-key and one-time pre-keys), replacing what it published before.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishKeysRequest {
    /// The device's identity key.
    #[schema(value_type = String, pattern = r"^[A-Za-z0-9+/]{44}$")]
    pub identity_key: PublicKey,
    #[serde(deserialize_with = "object")]
    pub signed_pre_key: SignedPreKeyInput,
    /// At most 100 a request (a later one with the same `keyId` wins).
    #[serde(default, deserialize_with = "objects")]
    #[schema(max_items = 100)]
    pub one_time_pre_keys: Vec<PreKeyInput>,
}

/// `POST /api/keys/one-time`: more one-time pre-keys for this device.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddPreKeysRequest {
    /// 1 to 100 a request (a later one with the same `keyId` wins).
    #[serde(deserialize_with = "objects")]
    #[schema(min_items = 1, max_items = 100)]
    pub one_time_pre_keys: Vec<PreKeyInput>,
}

/// A pre-key: its id (Signal's are 24-bit) and public key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreKeyInput {
    #[schema(value_type = i64, minimum = 0, maximum = 16777215)]
    pub key_id: PreKeyId,
    #[schema(value_type = String, pattern = r"^[A-Za-z0-9+/]{44}$")]
    pub public_key: PublicKey,
}

/// The signed pre-key: a pre-key and the identity key's signature of it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedPreKeyInput {
    #[schema(value_type = i64, minimum = 0, maximum = 16777215)]
    pub key_id: PreKeyId,
    #[schema(value_type = String, pattern = r"^[A-Za-z0-9+/]{44}$")]
    pub public_key: PublicKey,
    #[schema(value_type = String, pattern = r"^[A-Za-z0-9+/]{85}[AQgw]==$")]
    pub signature: KeySignature,
}

/// A pre-key's id.
pub type PreKeyId = Bounded<0, 16_777_215>;

/// `DELETE /api/users/me`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteAccountRequest {
    /// The current password, to confirm.
    #[schema(max_length = 1024)]
    pub password: Secret,
}

// --- chats -------------------------------------------------------------------------------------

/// `POST /api/chats` (and the `chat:create` action).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum CreateChatRequest {
    /// A 1:1 chat with one other user (the existing one is answered if there is one).
    #[serde(rename_all = "camelCase")]
    Individual {
        #[schema(min_items = 1, max_items = 1)]
        participant_ids: Vec<Uuid>,
    },
    /// A group, with the caller as its admin.
    #[serde(rename_all = "camelCase")]
    Group {
        /// The other members.
        #[schema(max_items = 1023)]
        participant_ids: Vec<Uuid>,
        name: GroupName,
        #[serde(default = "default_none")]
        #[schema(value_type = Option<String>, max_length = 2048)]
        description: Option<DisplayText<2048>>,
        /// The group's picture, an outside `https://` address; or
        #[serde(default)]
        avatar_url: Option<AvatarUrl>,
        /// the group's picture, an image the caller uploaded (its URL is signed when the chat
        /// is answered). Not both.
        #[serde(default = "default_none")]
        avatar_media_id: Option<Uuid>,
        /// The client's own id for this group (1 to 100 characters), for a retry after a
        /// timeout: the caller's group made with the same id is answered (200) and nothing new
        /// is made or told, as a send with the same `clientMessageId`.
        #[serde(default = "default_none")]
        client_chat_id: Option<ClientId>,
    },
}

impl CreateChatRequest {
    pub fn kind(&self) -> ChatType {
        match self {
            Self::Individual { .. } => ChatType::Individual,
            Self::Group { .. } => ChatType::Group,
        }
    }
}

/// `PUT /api/chats/{chatId}` (PRD `UpdateChatRequest`): the group's name and description for
/// everyone (its admins change them), and the caller's own settings of the chat.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateChatRequest {
    #[serde(default = "default_none")]
    pub name: Option<GroupName>,
    /// Up to 2,048 characters; empty or null clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2048)]
    pub description: Patch<DisplayText<2048>>,
    /// The group's picture, an outside `https://` address; null clears the picture.
    #[serde(default)]
    #[schema(value_type = Option<AvatarUrl>)]
    pub avatar_url: Patch<AvatarUrl>,
    /// The group's picture, an image the caller uploaded (`avatarUrl` then answers a signed URL
    /// to it); null clears the picture. Not with `avatarUrl`, unless both are null.
    #[serde(default)]
    #[schema(value_type = Option<Uuid>)]
    pub avatar_media_id: Patch<Uuid>,
    #[serde(default, deserialize_with = "optional_object")]
    pub settings: Option<ChatSettingsPatch>,
    /// Who may send, edit the info, add members (the group's admins change these).
    #[serde(default, deserialize_with = "optional_object")]
    pub permissions: Option<GroupPermissionsPatch>,
    /// Messages sent from now on disappear after this many seconds: 0 (off), 86400 (24 h),
    /// 604800 (7 days) or 7776000 (90 days). For everyone in the chat (in a group, whoever may
    /// edit its info).
    #[serde(default = "default_none")]
    pub disappearing_seconds: Option<DisappearingTimer>,
}

/// A chat's disappearing-messages timer, in seconds (WhatsApp's choices, 0 for off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisappearingTimer(pub i32);

impl DisappearingTimer {
    pub const CHOICES: [i64; 4] = [0, 86_400, 604_800, 7_776_000];
}

impl utoipa::PartialSchema for DisappearingTimer {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .enum_values(Some(Self::CHOICES))
            .into()
    }
}

impl ToSchema for DisappearingTimer {}

impl serde::Serialize for DisappearingTimer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(self.0)
    }
}

impl<'de> Deserialize<'de> for DisappearingTimer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = d.deserialize_any(Integer)?;
        if Self::CHOICES.contains(&n) {
            Ok(Self(n as i32))
        } else {
            Err(serde::de::Error::custom(
                "must be 0, 86400, 604800 or 7776000 (off, 24 hours, 7 days, 90 days)",
            ))
        }
    }
}

impl UpdateChatRequest {
    /// Whether it changes the group's name, description or picture.
    pub fn changes_group_info(&self) -> bool {
        self.name.is_some()
            || !self.description.is_keep()
            || !self.avatar_url.is_keep()
            || !self.avatar_media_id.is_keep()
    }

    /// Whether it sets the disappearing-messages timer.
    pub fn changes_timer(&self) -> bool {
        self.disappearing_seconds.is_some()
    }

    /// Whether it changes the group's permissions.
    pub fn changes_permissions(&self) -> bool {
        self.permissions.as_ref().is_some_and(|p| {
            p.send_messages.is_some() || p.edit_info.is_some() || p.add_members.is_some()
        })
    }

    /// Whether it changes the chat for everyone (its info, permissions or timer), not just the
    /// caller's own view of it (`settings`).
    pub fn changes_the_chat(&self) -> bool {
        self.changes_group_info() || self.changes_permissions() || self.changes_timer()
    }
}

/// The group permissions to change; the others keep their values.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupPermissionsPatch {
    #[serde(default)]
    pub send_messages: Option<Allowed>,
    #[serde(default)]
    pub edit_info: Option<Allowed>,
    #[serde(default)]
    pub add_members: Option<Allowed>,
}

/// The caller's settings of a chat to change; the others keep their values.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatSettingsPatch {
    /// `true` mutes until `muteUntil` (or until unmuted); `false` unmutes.
    #[serde(default)]
    pub mute_notifications: Option<bool>,
    /// When the mute ends (WhatsApp offers 8 hours, a week, always): in the future; alone, it
    /// mutes until then.
    #[serde(default, deserialize_with = "optional_time")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub mute_until: Option<chrono::DateTime<chrono::Utc>>,
    /// Pinned chats come first in the list; three at most, none of them archived.
    #[serde(default)]
    pub pin_chat: Option<bool>,
    /// Archived chats are left out of the list unless `archived=true` asks for them. Archiving
    /// unpins.
    #[serde(default)]
    pub archived: Option<bool>,
    /// `true` marks the chat unread (until the caller next reads in it); `false` unmarks it.
    #[serde(default)]
    pub marked_unread: Option<bool>,
}

/// `POST /api/chats/{chatId}/participants` (PRD `AddParticipantRequest`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddParticipantRequest {
    pub user_id: Uuid,
    /// `member` unless said; admins are made with the role route.
    #[serde(default)]
    pub role: Option<AddedRole>,
}

/// `POST /api/chats/{chatId}/invite-link`: a new link (any earlier one stops working).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateInviteLinkRequest {
    /// The link stops working after this many seconds (60 s to 1 year); never, if absent.
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 60, maximum = 31536000)]
    pub expires_in_seconds: Option<InviteLinkLifetime>,
    /// Joining waits for an admin's approval.
    #[serde(default)]
    pub require_approval: bool,
}

/// The image format of a QR code.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum QrFormat {
    #[default]
    Png,
    Svg,
}

/// `GET /api/chats/{chatId}/invite-link/qr?format=png|svg` (PNG if absent).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QrQuery {
    #[serde(default)]
    pub format: QrFormat,
}

/// The roles someone can be added with.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AddedRole {
    Member,
    Moderator,
}

impl From<AddedRole> for ParticipantRole {
    fn from(role: AddedRole) -> Self {
        match role {
            AddedRole::Member => Self::Member,
            AddedRole::Moderator => Self::Moderator,
        }
    }
}

/// `PUT /api/chats/{chatId}/participants/{userId}/role` (PRD `UpdateParticipantRoleRequest`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateParticipantRoleRequest {
    pub role: ParticipantRole,
}

/// `GET /api/chats`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChatListQuery {
    #[serde(default = "default_limit")]
    #[param(value_type = i64, minimum = 1, maximum = 100, default = 50)]
    pub limit: PageLimit,
    #[serde(default)]
    #[param(value_type = i64, minimum = 0, maximum = 1000000, default = 0)]
    pub offset: ListOffset,
    /// `true` lists the archived chats instead of the others.
    #[serde(default)]
    #[param(value_type = Option<bool>)]
    pub archived: bool,
    /// Only chats whose name, or one of whose other members' username, display name or the
    /// caller's nickname for them, contains this (archived ones included).
    #[serde(default)]
    #[param(value_type = Option<String>, min_length = 1, max_length = 50, pattern = r"\S")]
    pub search: Option<SearchText>,
    /// Only the chats of one of the list's filters (WhatsApp's chips above it).
    #[serde(default)]
    #[param(value_type = Option<ChatListFilter>, inline)]
    pub filter: Option<ChatListFilter>,
}

/// A chat list's filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChatListFilter {
    /// Chats with a message the caller has not read (as `unreadCount` counts them), or that
    /// they marked unread.
    Unread,
    /// 1:1 chats with a contact the caller marked favorite.
    Favorites,
    /// Groups.
    Groups,
}

impl ChatListFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unread => "unread",
            Self::Favorites => "favorites",
            Self::Groups => "groups",
        }
    }
}

/// The kinds of file a chat's media gallery lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
    /// An encrypted message's attachment: ciphertext (`application/octet-stream`), stored
    /// unprocessed.
    Encrypted,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Document => "document",
            Self::Sticker => "sticker",
            Self::Encrypted => "encrypted",
        }
    }
}

/// A tab of a chat's media gallery: a kind of file, or the messages holding links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GalleryKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
    Encrypted,
    /// Text messages holding a link (WhatsApp's Links tab).
    Link,
}

impl GalleryKind {
    /// The message type of a file tab (`None` for links).
    pub fn file_type(self) -> Option<&'static str> {
        let kind = match self {
            Self::Image => MediaKind::Image,
            Self::Video => MediaKind::Video,
            Self::Audio => MediaKind::Audio,
            Self::Document => MediaKind::Document,
            Self::Sticker => MediaKind::Sticker,
            Self::Encrypted => MediaKind::Encrypted,
            Self::Link => return None,
        };
        Some(kind.as_str())
    }
}

/// `GET /api/chats/{chatId}/media?type&limit&before`: the chat's media messages, newest page
/// first (oldest first within it), as the history pages.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GalleryQuery {
    /// Only this kind of file; `link`, instead of files, the text messages holding a link.
    #[serde(rename = "type", default = "default_none")]
    #[param(value_type = Option<GalleryKind>, inline)]
    pub kind: Option<GalleryKind>,
    #[serde(default = "default_limit")]
    #[param(value_type = i64, minimum = 1, maximum = 100, default = 50)]
    pub limit: PageLimit,
    /// A message id: older media than it.
    #[serde(default = "default_none")]
    pub before: Option<Uuid>,
    /// Only files whose name contains this (ignoring case).
    #[serde(rename = "q", default = "default_none")]
    #[param(value_type = Option<String>, min_length = 1, max_length = 50, pattern = r"\S")]
    pub file_name: Option<SearchText>,
}

/// `PUT /api/chats/{chatId}/messages/{messageId}/location`: where a live location is now.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LiveLocationUpdate {
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub latitude: f64,
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub longitude: f64,
}

/// `GET /api/chats/{chatId}/messages`: the latest page, or the page before / after a message
/// (both: the messages between the two).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    #[serde(default = "default_limit")]
    #[param(value_type = i64, minimum = 1, maximum = 100, default = 50)]
    pub limit: PageLimit,
    /// A message id: older messages than it.
    #[serde(default = "default_none")]
    pub before: Option<Uuid>,
    /// A message id: newer messages than it.
    #[serde(default = "default_none")]
    pub after: Option<Uuid>,
    /// A message id: that message with the older and newer ones around it (half the page each
    /// way; `before` and `after` are then ignored). For jumping to a reply's original or a
    /// search result.
    #[serde(default = "default_none")]
    pub around: Option<Uuid>,
    /// Only messages of this type.
    #[serde(rename = "type", default = "default_none")]
    #[param(value_type = Option<MessageType>, inline)]
    pub kind: Option<MessageType>,
    /// Only messages holding these words (the chat's search, PRD `GetMessagesRequest`): matched
    /// as `GET /api/messages/search` matches them, paged as the history is.
    #[serde(default = "default_none")]
    #[param(value_type = Option<String>, min_length = 1, max_length = 200)]
    pub search: Option<SearchWords>,
}

// --- sync --------------------------------------------------------------------------------------

/// `GET /api/sync?since&limit`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    /// The cursor of the last event the client has; without it, sync starts from the present.
    #[serde(default = "default_none")]
    #[param(value_type = Option<String>, max_length = 40, pattern = "^[0-9]{1,19}\\.[0-9]{1,19}$")]
    pub since: Option<SyncCursor>,
    #[serde(default = "default_limit")]
    #[param(value_type = i64, minimum = 1, maximum = 100, default = 50)]
    pub limit: PageLimit,
}

/// A sync cursor, as the server gave it.
#[derive(Debug, Clone, Copy)]
pub struct SyncCursor(pub crate::db::events::Position);

impl<'de> Deserialize<'de> for SyncCursor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        crate::db::events::Position::parse(&raw)
            .map(Self)
            .ok_or_else(|| serde::de::Error::custom("not a cursor this server gave"))
    }
}

// --- messages ----------------------------------------------------------------------------------

/// `POST /api/chats/{chatId}/messages`, and the body of the `message:send` action (with
/// `chatId`). A `text` message (the default type) needs `content` with something other than
/// spaces; the document states that rule with [`TextMessage`] and [`OtherMessage`].
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageRequest {
    /// The client's own id for the message: sending it again returns the stored message.
    /// Without one (the PRD's send names none), the server makes one.
    #[serde(default = "ClientMessageId::fresh")]
    pub client_message_id: ClientMessageId,
    #[serde(rename = "type", default)]
    pub kind: MessageType,
    #[serde(default = "default_none")]
    pub content: Option<String>,
    #[serde(default = "default_none")]
    pub reply_to_id: Option<Uuid>,
    /// What the type carries beyond the text: a location's `{latitude, longitude, name?,
    /// address?, liveSeconds?}`, a contact's `{vcard}`, a poll's `{options, multipleAnswers?}`
    /// (its `content` is the question); a text message may carry the
    /// `linkPreview` its device made, `{url, title?, description?, siteName?}`, whose `url` is a
    /// link of its text (http or https).
    #[serde(default = "default_none")]
    pub metadata: Option<MessageMetadata>,
    #[serde(default = "default_none")]
    pub media_id: Option<Uuid>,
    #[serde(default = "default_none")]
    pub mentions: Option<Vec<Uuid>>,
    #[serde(default)]
    pub view_once: bool,
}

/// A text message, as the document describes [`SendMessageRequest`].
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TextMessage {
    /// The client's own id for the message, 1 to 100 characters: the same send again (after a
    /// timeout, over REST or the WebSocket) returns the stored message, never a second one.
    /// Without it the server makes one, and a send retried is stored again: give one.
    client_message_id: Option<ClientMessageId>,
    #[serde(rename = "type", default)]
    kind: Option<TextKind>,
    /// The text: at most 65,536 characters, not only spaces.
    #[schema(min_length = 1, max_length = 65536, pattern = r"\S")]
    content: String,
    /// A message this one answers: of the same chat, or, replying privately in a 1:1, one the
    /// other member sent in a chat you share.
    reply_to_id: Option<Uuid>,
    /// Details: a JSON object of at most 4 KB.
    #[schema(value_type = Option<Object>)]
    metadata: Option<MessageMetadata>,
    /// Members of the chat this message mentions (at most 50): their chat list shows it.
    #[schema(max_items = 50)]
    mentions: Option<Vec<Uuid>>,
}

#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum TextKind {
    Text,
}

/// Any other message (a picture, a location...), as the document describes
/// [`SendMessageRequest`].
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OtherMessage {
    /// The client's own id for the message, 1 to 100 characters: the same send again (after a
    /// timeout, over REST or the WebSocket) returns the stored message, never a second one.
    /// Without it the server makes one, and a send retried is stored again: give one.
    client_message_id: Option<ClientMessageId>,
    #[serde(rename = "type")]
    kind: OtherKind,
    /// A caption: at most 65,536 characters.
    #[schema(max_length = 65536)]
    content: Option<String>,
    /// A message this one answers: of the same chat, or, replying privately in a 1:1, one the
    /// other member sent in a chat you share.
    reply_to_id: Option<Uuid>,
    /// Details: for `location`, `{latitude, longitude, name?, address?, liveSeconds?}`
    /// (`liveSeconds` 900, 3600 or 28800 shares a live location); for `contact`, `{vcard}` (one
    /// vCard card: 4.0, 3.0 or 2.1, stored without its `PHOTO`, `LOGO` and `SOUND`, in at most
    /// 3 KB); for `poll`, `{options, multipleAnswers?}` (2 to 12 different answers of at most
    /// 100 characters; `content` is the question, at most 255); for `encrypted` (no `content`),
    /// `{envelopes: [{deviceId, body, preKey?}]}` (one base64 ciphertext for each device of the
    /// chat's members but the sending one, at most 256) or `{senderKey: {distributionId,
    /// body}}`. A JSON object of at most 4 KB (96 KB for `contact` and `encrypted`).
    #[schema(value_type = Option<Object>)]
    metadata: Option<MessageMetadata>,
    /// For `image`, `video`, `audio`, `document` and `sticker` (and only those): the uploaded
    /// file, uploaded by the sender for this chat.
    media_id: Option<Uuid>,
    /// An `image` or `video` each recipient opens once (`POST .../messages/{id}/open`).
    view_once: Option<bool>,
    /// Members of the chat this message mentions (at most 50).
    #[schema(max_items = 50)]
    mentions: Option<Vec<Uuid>>,
}

#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum OtherKind {
    Image,
    Video,
    Audio,
    Document,
    Location,
    Contact,
    Sticker,
    Poll,
    Encrypted,
}

impl utoipa::PartialSchema for SendMessageRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(TextMessage::schema())
            .item(OtherMessage::schema())
            .description(Some(
                "A text message (`type` absent or `text`) needs `content`; other types may omit it.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for SendMessageRequest {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <TextMessage as utoipa::ToSchema>::schemas(schemas);
        <OtherMessage as utoipa::ToSchema>::schemas(schemas);
    }
}

/// `PUT /api/chats/{chatId}/messages/{messageId}` (PRD `EditMessageRequest`): the sender's new
/// text for a text message, or new caption for a photo, video or document, within the edit
/// window.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EditMessageRequest {
    /// The new text: at most 65,536 characters, not only spaces.
    #[schema(min_length = 1, max_length = 65536, pattern = r"\S")]
    pub content: String,
    /// The members of the chat the new text mentions (at most 50), in place of those the
    /// message mentioned: an edit that takes "@bob" out takes bob's mention with it. Absent,
    /// the mentions stay as they were.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub mentions: Option<Vec<Uuid>>,
}

/// `DELETE /api/chats/{chatId}/messages/{messageId}` (PRD `DeleteMessageRequest`); an absent
/// body deletes for the caller only.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteMessageRequest {
    /// Erase it for everyone (the sender within the delete window, or a group admin); otherwise
    /// hide it from the caller's own view.
    #[serde(default)]
    pub delete_for_everyone: bool,
}

/// `POST /api/chats/{chatId}/messages/{messageId}/reactions` (PRD `AddReactionRequest`): one
/// reaction per user per message; reacting again replaces it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddReactionRequest {
    pub emoji: Emoji,
}

/// `PUT /api/chats/{chatId}/messages/{messageId}/poll/vote`: the caller's answers now, by index
/// (none takes the vote back; one, unless the poll allows `multipleAnswers`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PollVoteRequest {
    #[schema(value_type = Vec<PollAnswerIndex>, max_items = 12)]
    pub options: Vec<PollAnswer>,
}

/// An answer of a poll, by its place in the poll's `options` (a poll has at most 12).
pub type PollAnswer = Bounded<0, 11>;

/// [`PollAnswer`] in the document: an integer from 0 to 11.
struct PollAnswerIndex;

impl utoipa::PartialSchema for PollAnswerIndex {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .maximum(Some(11))
            .into()
    }
}

impl ToSchema for PollAnswerIndex {}

/// `POST /api/chats/{chatId}/clear` (the body may be left out).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClearChatRequest {
    /// Keep the messages you starred in the history (default `true`); `false` clears them too.
    #[serde(default)]
    pub keep_starred: Option<bool>,
}

/// `POST .../messages/{messageId}/pin`: for how long, and what to do when the chat holds 3 pins.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PinMessageRequest {
    /// 86400 (24 h), 604800 (7 days) or 2592000 (30 days); 7 days if absent.
    #[serde(default)]
    #[schema(required = false)]
    pub duration_seconds: PinDuration,
    /// With 3 pins in the chat already, unpin the one pinned longest ago to make room (a
    /// client asks its user first, as WhatsApp's "replace oldest pin?"); without it such a pin
    /// is refused (409).
    #[serde(default)]
    pub replace_oldest: bool,
}

/// How long a pin lasts: 24 hours, 7 days or 30 days (WhatsApp's choices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinDuration(pub i64);

impl PinDuration {
    pub const CHOICES: [i64; 3] = [86_400, 604_800, 2_592_000];
}

impl Default for PinDuration {
    fn default() -> Self {
        Self(604_800)
    }
}

impl<'de> Deserialize<'de> for PinDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = d.deserialize_any(Integer)?;
        if Self::CHOICES.contains(&n) {
            Ok(Self(n))
        } else {
            Err(serde::de::Error::custom(
                "must be 86400, 604800 or 2592000 (24 hours, 7 days, 30 days)",
            ))
        }
    }
}

impl utoipa::PartialSchema for PinDuration {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .enum_values(Some(Self::CHOICES))
            .default(Some(Self::default().0.into()))
            .into()
    }
}

impl ToSchema for PinDuration {}

/// `GET /api/messages/starred`: a page of the caller's starred messages, in one chat or all.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct StarredQuery {
    /// Only those of this chat (a chat's "starred messages").
    #[serde(default = "default_none")]
    pub chat_id: Option<Uuid>,
    #[serde(default = "default_limit")]
    #[param(value_type = i64, minimum = 1, maximum = 100, default = 50)]
    pub limit: PageLimit,
    #[serde(default)]
    #[param(value_type = i64, minimum = 0, maximum = 1000000, default = 0)]
    pub offset: ListOffset,
}

/// A page of a list by offset: `GET /api/calls`, `GET /api/auth/activity`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OffsetPageQuery {
    #[serde(default = "default_limit")]
    #[param(value_type = i64, minimum = 1, maximum = 100, default = 50)]
    pub limit: PageLimit,
    #[serde(default)]
    #[param(value_type = i64, minimum = 0, maximum = 1000000, default = 0)]
    pub offset: ListOffset,
}

/// `POST /api/chats/{chatId}/messages/{messageId}/forward`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForwardMessageRequest {
    /// Your chats to forward it to: 1 to 5 (1 for a message forwarded many times).
    #[schema(min_items = 1, max_items = 5)]
    #[serde(deserialize_with = "forward_targets")]
    pub chat_ids: Vec<Uuid>,
    /// The client's own id for this forward (1 to 100 characters), as a send's
    /// `clientMessageId`: asked again with it, the forward answers the copies it made. Absent,
    /// the message and chat are the id, so the same message forwarded to the same chat again
    /// answers the first copy; a client that lets its user forward a message again names a new
    /// id each time.
    #[serde(default = "default_none")]
    pub client_forward_id: Option<ClientId>,
}

fn forward_targets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Uuid>, D::Error> {
    let ids = Vec::<Uuid>::deserialize(d)?;
    if ids.is_empty() || ids.len() > 5 {
        return Err(serde::de::Error::custom("name 1 to 5 chats"));
    }
    Ok(ids)
}

// --- paging values ------------------------------------------------------------------------------

fn default_limit() -> PageLimit {
    Bounded(50)
}

/// An integer from `MIN` to `MAX` (the error names the field and the range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounded<const MIN: i64, const MAX: i64>(pub i64);

impl<const MIN: i64, const MAX: i64> Default for Bounded<MIN, MAX> {
    fn default() -> Self {
        Self(MIN)
    }
}

/// An integer as JSON spells it (`60`, or `60.0`: JSON Schema's integers include numbers with
/// no fraction) or as a query string does (`"60"`).
struct Integer;

impl serde::de::Visitor<'_> for Integer {
    type Value = i64;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<i64, E> {
        Ok(n)
    }

    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<i64, E> {
        i64::try_from(n).map_err(|_| E::custom("too large"))
    }

    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<i64, E> {
        if n.fract() == 0.0 && n.abs() < 9.0e15 {
            Ok(n as i64)
        } else {
            Err(E::custom("must be an integer"))
        }
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<i64, E> {
        s.trim()
            .parse()
            .map_err(|_| E::custom("must be an integer"))
    }
}

impl<'de, const MIN: i64, const MAX: i64> Deserialize<'de> for Bounded<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = d.deserialize_any(Integer)?;
        if (MIN..=MAX).contains(&n) {
            Ok(Self(n))
        } else {
            Err(serde::de::Error::custom(format!(
                "must be between {MIN} and {MAX}"
            )))
        }
    }
}

/// A page size: 1 to 100 (default 50).
pub type PageLimit = Bounded<1, 100>;
/// An offset into the chat list.
pub type ListOffset = Bounded<0, 1_000_000>;
/// An offset into search results.
pub type SearchOffset = Bounded<0, 10_000>;
/// How long an invite link lasts, in seconds: a minute to a year.
pub type InviteLinkLifetime = Bounded<60, 31_536_000>;

/// A search term: trimmed and lower-cased, 1 to 50 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText(pub String);

impl<'de> Deserialize<'de> for SearchText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        let q = crate::domain::trim_blank(&raw).to_lowercase();
        if q.is_empty() || raw.chars().count() > 50 {
            return Err(serde::de::Error::custom("query must be 1 to 50 characters"));
        }
        Ok(Self(q))
    }
}

// --- contacts ----------------------------------------------------------------------------------

/// `GET /api/contacts?favorite=&groupId=&search=&limit=&offset=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct ContactListQuery {
    /// `true`: only favorites; `false`: only the others.
    #[serde(default = "default_none")]
    pub favorite: Option<bool>,
    /// Only the members of this contact group (label).
    #[serde(default = "default_none")]
    pub group_id: Option<Uuid>,
    /// Only contacts whose nickname, display name or username contains this.
    #[serde(default)]
    #[param(value_type = Option<String>, min_length = 1, max_length = 50, pattern = r"\S")]
    pub search: Option<SearchText>,
    #[serde(default = "default_limit")]
    #[param(value_type = i64, minimum = 1, maximum = 100, default = 50)]
    pub limit: PageLimit,
    #[serde(default)]
    #[param(value_type = i64, minimum = 0, maximum = 1000000, default = 0)]
    pub offset: ListOffset,
}

/// `POST /api/contacts`: add someone (again: it updates the given fields).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddContactRequest {
    pub user_id: Uuid,
    /// What the caller calls them (up to 100 characters, one line).
    #[serde(default)]
    #[schema(schema_with = optional_name::<100>)]
    pub nickname: Patch<NameText<100>>,
    /// Up to 1,000 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub note: Patch<DisplayText<1000>>,
    #[serde(default = "default_none")]
    pub favorite: Option<bool>,
}

/// `PUT /api/contacts/{userId}`: the fields to change; empty or null clears a text.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateContactRequest {
    #[serde(default)]
    #[schema(schema_with = optional_name::<100>)]
    pub nickname: Patch<NameText<100>>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub note: Patch<DisplayText<1000>>,
    #[serde(default = "default_none")]
    pub favorite: Option<bool>,
}

/// `POST /api/contacts/groups` and `PUT /api/contacts/groups/{groupId}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactGroupRequest {
    /// 1 to 50 characters, one line, unique among the caller's groups (ignoring case).
    #[schema(schema_with = label_name)]
    pub name: LabelName,
}

/// The document's schema of a name that may be cleared ([`NameText`]): null, or a string of at
/// most `MAX` characters as [`NAME_PATTERN`] says.
fn optional_name<const MAX: usize>() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .description(Some(format!(
            "A name of up to {MAX} characters, one line, without text-direction controls; \
             empty or null clears it."
        )))
        .max_length(Some(MAX))
        .pattern(Some(NAME_PATTERN))
        .build()
}

/// The document's schema of a [`LabelName`].
fn label_name() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "1 to 50 characters, one line, unique among the caller's groups (ignoring case).",
        ))
        .min_length(Some(1))
        .max_length(Some(50))
        .pattern(Some(REQUIRED_NAME_PATTERN))
        .build()
}

/// A contact group's name: 1 to 50 characters once trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelName(pub String);

impl<'de> Deserialize<'de> for LabelName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        NameText::<50>::deserialize(d)?
            .into_inner()
            .map(Self)
            .ok_or_else(|| serde::de::Error::custom("must not be blank"))
    }
}

/// `POST /api/contacts/groups/{groupId}/members`: contacts of the caller to add to the group.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactGroupMembersRequest {
    #[schema(value_type = Vec<Uuid>, min_items = 1, max_items = 256)]
    pub user_ids: BoundedList<Uuid, 1, 256>,
}

/// `POST /api/contacts/sync`: phone numbers from the device's address book.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactSyncRequest {
    /// As the address book has them: international (`+44 20 7946 0958`) or national in
    /// `region` (`020 7946 0958`). At most 1,000 a request.
    #[schema(value_type = Vec<String>, min_items = 1, max_items = 1000)]
    pub phones: BoundedList<ShortText<40>, 1, 1000>,
    /// The region national numbers belong to (ISO 3166-1 alpha-2, e.g. `GB`); by default the
    /// region of the caller's own verified phone, else the server's default.
    #[serde(default = "default_none")]
    #[schema(value_type = Option<String>, pattern = "^[A-Z]{2}$")]
    pub region: Option<ShortText<2>>,
}

/// A list of `MIN` to `MAX` items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundedList<T, const MIN: usize, const MAX: usize>(pub Vec<T>);

impl<'de, T: Deserialize<'de>, const MIN: usize, const MAX: usize> Deserialize<'de>
    for BoundedList<T, MIN, MAX>
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = Vec::<T>::deserialize(d)?;
        if !(MIN..=MAX).contains(&items.len()) {
            return Err(serde::de::Error::custom(format!(
                "must hold {MIN} to {MAX} items"
            )));
        }
        Ok(Self(items))
    }
}

/// A string of at most `MAX` characters, as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ShortText<const MAX: usize>(pub String);

impl<'de, const MAX: usize> Deserialize<'de> for ShortText<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.chars().count() > MAX {
            return Err(serde::de::Error::custom(format!(
                "at most {MAX} characters"
            )));
        }
        Ok(Self(s))
    }
}

/// What someone typed into message search: 1 to 200 characters (words or not: text without
/// any word finds nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchWords(pub String);

impl<'de> Deserialize<'de> for SearchWords {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() || s.chars().count() > 200 {
            return Err(serde::de::Error::custom("must be 1 to 200 characters"));
        }
        Ok(Self(s))
    }
}

/// `GET /api/messages/search`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct MessageSearchQuery {
    /// Words to find (all of them; the last may be the start of a word). Case and accents do
    /// not matter.
    #[param(value_type = String, min_length = 1, max_length = 200)]
    pub q: SearchWords,
    /// Only in this chat.
    #[serde(default = "default_none")]
    pub chat_id: Option<Uuid>,
    /// Only messages of this type.
    #[serde(rename = "type", default = "default_none")]
    #[param(value_type = Option<MessageType>, inline)]
    pub kind: Option<MessageType>,
    /// Only messages from this sender.
    #[serde(default = "default_none")]
    pub sender_id: Option<Uuid>,
    /// Sent at or after this time (RFC 3339).
    #[serde(default = "default_none", deserialize_with = "optional_time")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Sent before this time (RFC 3339).
    #[serde(default = "default_none", deserialize_with = "optional_time")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default = "default_limit")]
    #[param(value_type = i64, minimum = 1, maximum = 100, default = 50)]
    pub limit: PageLimit,
    #[serde(default)]
    #[param(value_type = i64, minimum = 0, maximum = 10000, default = 0)]
    pub offset: SearchOffset,
}

/// `POST /api/backups`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateBackupRequest {
    /// The chats to back up (up to 100); all of the caller's chats when absent.
    #[serde(default = "default_none")]
    #[schema(value_type = Option<Vec<Uuid>>, min_items = 1, max_items = 100)]
    pub chat_ids: Option<BoundedList<Uuid, 1, 100>>,
}

// --- media -------------------------------------------------------------------------------------

/// A file's name as the client gives it: at most 255 characters, no path separators and no
/// control characters, and something besides dots and spaces; kept trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName(pub String);

impl<'de> Deserialize<'de> for FileName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        if raw.chars().count() > 255 {
            return Err(serde::de::Error::custom("at most 255 characters"));
        }
        if raw.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
            return Err(serde::de::Error::custom(
                "must be a file name, without `/`, `\\` or control characters",
            ));
        }
        if raw.chars().all(|c| c == '.' || c.is_whitespace()) {
            return Err(serde::de::Error::custom(
                "must hold something besides dots and spaces",
            ));
        }
        Ok(Self(raw.trim().to_owned()))
    }
}

/// A MIME type as `type/subtype`, lower-cased, without parameters; at most 100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MimeType(pub String);

impl<'de> Deserialize<'de> for MimeType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?.to_ascii_lowercase();
        let valid = raw.len() <= 100
            && raw.split_once('/').is_some_and(|(t, s)| {
                let token = |p: &str| {
                    !p.is_empty()
                        && p.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b".+-".contains(&b))
                };
                token(t) && token(s)
            });
        if !valid {
            return Err(serde::de::Error::custom(
                "must be a MIME type such as image/jpeg",
            ));
        }
        Ok(Self(raw))
    }
}

/// A file size in bytes, at least 1 (the limit per kind of file answers 413).
pub type FileSize = Bounded<1, 1_099_511_627_776>;

/// `POST /api/upload/presigned-url` and `POST /api/upload/multipart` (PRD
/// `GetUploadUrlRequest`): the file to upload.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadRequest {
    #[schema(value_type = MediaKind)]
    pub file_type: MediaKind,
    #[schema(value_type = String, min_length = 1, max_length = 255,
        pattern = r"^[^/\\\x00-\x1f\x7f-\x9f]*[^/\\\x00-\x1f\x7f-\x9f\s.][^/\\\x00-\x1f\x7f-\x9f]*$")]
    pub file_name: FileName,
    #[schema(value_type = i64, minimum = 1, maximum = 1_099_511_627_776_i64)]
    pub file_size: FileSize,
    /// The chat the file is for: only there can it be attached to a message. Without it, the
    /// file can be attached in any of the uploader's chats (or be their profile picture).
    #[serde(default = "default_none")]
    pub chat_id: Option<Uuid>,
    /// The file's MIME type; guessed from the name's extension when absent.
    #[serde(default = "default_none")]
    #[schema(value_type = Option<String>, max_length = 100, example = "image/jpeg",
        pattern = r"^[A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+$")]
    pub mime_type: Option<MimeType>,
}

/// `POST /api/upload/complete` (PRD `CompleteUploadRequest`): the client finished its `PUT`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompleteUploadRequest {
    /// The `fileKey` the upload URL came with.
    #[schema(value_type = String, max_length = 512)]
    pub file_key: ShortText<512>,
}

/// One uploaded part, as its `PUT` answered.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadedPartRequest {
    #[schema(value_type = i64, minimum = 1, maximum = 10000)]
    pub part_number: Bounded<1, 10_000>,
    /// The part's `ETag` response header.
    #[schema(value_type = String, max_length = 200)]
    pub etag: ShortText<200>,
}

/// `POST /api/upload/multipart/{fileId}/complete`: every part, each once (at most 1,000: 5 GB
/// in 5 MiB parts, far past any kind's limit).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompleteMultipartRequest {
    #[schema(value_type = Vec<UploadedPartRequest>, min_items = 1, max_items = 1000)]
    pub parts: BoundedList<UploadedPartRequest, 1, 1000>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_names_every_message_type_a_client_may_send() {
        for kind in crate::domain::MESSAGE_TYPES {
            let named = *kind == "text"
                || serde_json::from_value::<OtherKind>(serde_json::json!(kind)).is_ok();
            assert!(
                named,
                "`{kind}` is missing from the document's message types"
            );
        }
    }
}
