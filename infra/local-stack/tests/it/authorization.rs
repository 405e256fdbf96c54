//! The authorization matrix: every REST route in `template.yaml` and every WebSocket action has
//! a row saying whether it touches a chat (or a group through its invite code), and each one
//! that does is tried by someone outside the group, a former member who deleted the group, a
//! former member who kept it (read-only), a member without the permission, and a user whom an
//! admin blocked: 404 for what they may not see, 403 for what they see but may not do, and
//! never the group's name or messages in the body (nor, for who kept it, what came after they
//! left). A route or action without a row fails the test.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::support::{spawn_app, User};

/// Who tries a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Persona {
    /// Never a member.
    Outsider,
    /// Was a member, left, and deleted the group for themselves.
    Former,
    /// Was a member, left, and kept the group: reads it as it was when they left, and does
    /// nothing else in it.
    Left,
    /// A member with the `member` role (the group's permissions are the defaults: admins add
    /// members and edit the info).
    Member,
    /// Never a member; blocked by the group's admin.
    Blocked,
}

use Persona::*;

/// What a route is, for the matrix.
enum Scope {
    /// Does not touch a chat, message or media item (why not: for the reader of the matrix).
    #[allow(dead_code)]
    NoChat(&'static str),
    /// Scoped by `{chatId}`: the statuses each persona gets (a persona not listed is allowed).
    Chat(&'static [(Persona, u16)]),
    /// Scoped by an invite code: unknown codes 404, someone an admin blocked 403.
    InviteCode,
}

/// A former member who kept the group sees it: what no member of their standing may do is 403
/// for them too.
const SEEN_NOT_ALLOWED: &[(Persona, u16)] = &[
    (Outsider, 404),
    (Former, 404),
    (Left, 403),
    (Blocked, 404),
    (Member, 403),
];
/// What members do and non-members may not: a former member who kept the group sees it, and
/// is refused (403).
const MEMBERS_ONLY: &[(Persona, u16)] =
    &[(Outsider, 404), (Former, 404), (Left, 403), (Blocked, 404)];
const NOT_SEEN: &[(Persona, u16)] = &[(Outsider, 404), (Former, 404), (Left, 404), (Blocked, 404)];
/// What a former member who kept the group still does, for themselves (reading, starring,
/// clearing or deleting it): the matrix tries the others; what `Left` does is checked below
/// and in `participants::`.
const KEPT: &[(Persona, u16)] = &[(Outsider, 404), (Former, 404), (Blocked, 404)];
/// Answering an invitation (nobody here has one) or taking back a reaction (nobody here made
/// it): 404 for members too.
const NOTHING_TO_ANSWER: &[(Persona, u16)] = &[
    (Outsider, 404),
    (Former, 404),
    (Left, 404),
    (Blocked, 404),
    (Member, 404),
];

/// Every REST route, by `METHOD path` as in `template.yaml`.
fn route_scope(route: &str) -> Option<Scope> {
    Some(match route {
        "GET /api/health" | "GET /api/openapi.json" | "GET /api/asyncapi.json" => {
            Scope::NoChat("public, the same for everyone")
        }
        r if r.contains(" /api/auth/") => Scope::NoChat("the caller's own account"),
        r if r.contains(" /api/users") => {
            Scope::NoChat("users and the caller's own profile (privacy tested in identity::)")
        }
        "GET /api/chats" => Scope::NoChat("the caller's own list (checked below: no leak)"),
        "POST /api/chats" => Scope::NoChat("creates a chat"),
        "GET /api/sync" => Scope::NoChat("the caller's own stream (checked below: no leak)"),
        r if r.contains(" /api/keys") => {
            Scope::NoChat("the caller's own device keys (encryption_keys::)")
        }
        r if r.ends_with(" /api/notifications/device") => {
            Scope::NoChat("the caller's own device session (notifications::)")
        }
        "GET /api/chats/{chatId}"
        | "GET /api/chats/{chatId}/messages"
        | "GET /api/chats/{chatId}/media"
        | "DELETE /api/chats/{chatId}"
        | "POST /api/chats/{chatId}/clear"
        | "GET /api/chats/{chatId}/messages/{messageId}/edits"
        | "POST /api/chats/{chatId}/messages/{messageId}/read"
        | "POST /api/chats/{chatId}/messages/{messageId}/star" => Scope::Chat(KEPT),
        // Unstarring what is not starred answers `starred: false` (idempotent).
        "DELETE /api/chats/{chatId}/messages/{messageId}/star" => Scope::Chat(KEPT),
        "POST /api/chats/{chatId}/messages"
        | "POST /api/chats/{chatId}/messages/{messageId}/reactions"
        // Into the group itself.
        | "POST /api/chats/{chatId}/messages/{messageId}/forward"
        | "GET /api/chats/{chatId}/past-participants" => Scope::Chat(MEMBERS_ONLY),
        // The admin's message: its info is the admin's; pins need the group's edit permission.
        "GET /api/chats/{chatId}/messages/{messageId}/info"
        | "POST /api/chats/{chatId}/messages/{messageId}/pin" => Scope::Chat(SEEN_NOT_ALLOWED),
        "DELETE /api/chats/{chatId}/messages/{messageId}/pin" => Scope::Chat(SEEN_NOT_ALLOWED),
        "GET /api/messages/starred" => {
            Scope::NoChat("the caller's own stars (checked below: no leak)")
        }
        "GET /api/chats/invitations" => {
            Scope::NoChat("the caller's own invitations (chats::invitations_of)")
        }
        "GET /api/calls" | "GET /api/calls/ice-servers" => {
            Scope::NoChat("the caller's own calls and call servers (calls::)")
        }
        "POST /api/reports" => {
            Scope::NoChat("names its chat in the body: only one the caller reads (reports::)")
        }
        "GET /api/messages/search" => {
            Scope::NoChat("only the caller's own chats (checked below: no leak)")
        }
        r if r.contains(" /api/contacts") => {
            Scope::NoChat("the caller's own contacts and labels (contacts::)")
        }
        r if r.contains(" /api/upload") || r.contains(" /api/media/") => Scope::NoChat(
            "the caller's own uploads; a file is seen only through a message the caller sees (media::)",
        ),
        r if r.contains(" /api/backups") => Scope::NoChat(
            "the caller's own backups; chats they are not in are refused (backups::)",
        ),
        // A member editing, or deleting for everyone, the admin's message.
        "PUT /api/chats/{chatId}/messages/{messageId}"
        | "DELETE /api/chats/{chatId}/messages/{messageId}" => Scope::Chat(SEEN_NOT_ALLOWED),
        // Nothing to take back: 404 for members too; a former member takes back nothing (403).
        "DELETE /api/chats/{chatId}/messages/{messageId}/reactions/{emoji}" => {
            Scope::Chat(&[
                (Outsider, 404),
                (Former, 404),
                (Left, 403),
                (Blocked, 404),
                (Member, 404),
            ])
        }
        // The admin's message is no view-once message, nor a voice note: 404 for members too.
        "POST /api/chats/{chatId}/messages/{messageId}/open"
        | "POST /api/chats/{chatId}/messages/{messageId}/played"
        // Nor a live location.
        | "PUT /api/chats/{chatId}/messages/{messageId}/location"
        | "DELETE /api/chats/{chatId}/messages/{messageId}/location" => {
            Scope::Chat(NOTHING_TO_ANSWER)
        }
        // The admin's message does not disappear: nothing to keep (403) or unkeep (404).
        "POST /api/chats/{chatId}/messages/{messageId}/keep" => Scope::Chat(SEEN_NOT_ALLOWED),
        "DELETE /api/chats/{chatId}/messages/{messageId}/keep" => Scope::Chat(&[
            (Outsider, 404),
            (Former, 404),
            (Left, 403),
            (Blocked, 404),
            (Member, 404),
        ]),
        // The admin's message is no poll: 404 for members too (polls:: votes in a real one).
        "PUT /api/chats/{chatId}/messages/{messageId}/poll/vote" => Scope::Chat(&[
            (Outsider, 404),
            (Former, 404),
            (Left, 403),
            (Blocked, 404),
            (Member, 404),
        ]),
        "GET /api/chats/{chatId}/messages/{messageId}/poll" => Scope::Chat(NOTHING_TO_ANSWER),
        "PUT /api/chats/{chatId}"
        | "POST /api/chats/{chatId}/participants"
        | "DELETE /api/chats/{chatId}/participants/{userId}"
        | "PUT /api/chats/{chatId}/participants/{userId}/role"
        | "POST /api/chats/{chatId}/invite-link"
        | "GET /api/chats/{chatId}/invite-link"
        | "DELETE /api/chats/{chatId}/invite-link"
        | "GET /api/chats/{chatId}/invite-link/qr"
        | "GET /api/chats/{chatId}/join-requests"
        | "POST /api/chats/{chatId}/join-requests/{userId}/approve"
        | "POST /api/chats/{chatId}/join-requests/{userId}/reject" => Scope::Chat(SEEN_NOT_ALLOWED),
        "POST /api/chats/{chatId}/invitation" | "DELETE /api/chats/{chatId}/invitation" => {
            Scope::Chat(NOTHING_TO_ANSWER)
        }
        // The caller's own request: none of them asked, so none has one to take back.
        "DELETE /api/chats/{chatId}/join-request" => Scope::Chat(&[
            (Outsider, 404),
            (Former, 404),
            (Left, 404),
            (Blocked, 404),
            (Member, 404),
        ]),
        "GET /api/invites/{code}" | "POST /api/invites/{code}/join" => Scope::InviteCode,
        _ => return None,
    })
}

/// Every WebSocket action.
fn action_scope(action: &str) -> Option<Scope> {
    Some(match action {
        "chat:create" => Scope::NoChat("creates a chat"),
        "user:online" | "user:offline" | "user:status_update" | "socket:ping" => {
            Scope::NoChat("the caller's own presence and status, and the heartbeat")
        }
        "media:processing:status"
        | "media:upload:start"
        | "media:upload:progress"
        | "media:upload:complete" => {
            Scope::NoChat("the caller's own uploads, or files they see (media::)")
        }
        // The admin's message is no voice note: 404 for everyone (as the REST route).
        "message:played" => Scope::Chat(NOTHING_TO_ANSWER),
        // The admin's message is no poll: 404 for members too (as the REST route).
        "message:poll:vote" => Scope::Chat(&[
            (Outsider, 404),
            (Former, 404),
            (Left, 403),
            (Blocked, 404),
            (Member, 404),
        ]),
        "message:send"
        | "chat:leave"
        | "message:reaction"
        | "message:typing"
        | "message:stop_typing"
        | "user:typing" => Scope::Chat(MEMBERS_ONLY),
        "message:read" => Scope::Chat(KEPT),
        "chat:update" | "chat:participant:add" | "chat:participant:remove" | "message:delete" => {
            Scope::Chat(SEEN_NOT_ALLOWED)
        }
        "chat:join" => Scope::InviteCode,
        // Calls are 1:1 (a member calling in this group gets 400); who may answer, pass
        // candidates for and end a call is in calls::. Here nobody has a call to act on.
        "call:start" => Scope::Chat(NOT_SEEN),
        "call:answer" | "call:candidate" | "call:end" => Scope::Chat(NOTHING_TO_ANSWER),
        _ => return None,
    })
}

/// A request a member with the permission could make: the body is valid, so only
/// authorization can refuse it.
fn rest_request(
    route: &str,
    chat: &str,
    message: &str,
    target: &User,
) -> (reqwest::Method, String, Value) {
    let (method, path) = route.split_once(' ').unwrap();
    let path = path
        .replace("{chatId}", chat)
        .replace("{messageId}", message)
        // An emoji nobody reacted with.
        .replace("{emoji}", "%F0%9F%99%88")
        .replace("{userId}", &target.id);
    let body = match route {
        "POST /api/chats/{chatId}/messages" => {
            json!({ "clientMessageId": "matrix", "content": "hello" })
        }
        "PUT /api/chats/{chatId}" => json!({ "name": "renamed" }),
        "POST /api/chats/{chatId}/participants" => json!({ "userId": target.id }),
        "PUT /api/chats/{chatId}/participants/{userId}/role" => json!({ "role": "moderator" }),
        "PUT /api/chats/{chatId}/messages/{messageId}" => json!({ "content": "edited" }),
        "DELETE /api/chats/{chatId}/messages/{messageId}" => json!({ "deleteForEveryone": true }),
        "POST /api/chats/{chatId}/messages/{messageId}/reactions" => json!({ "emoji": "👍" }),
        "PUT /api/chats/{chatId}/messages/{messageId}/poll/vote" => json!({ "options": [0] }),
        "PUT /api/chats/{chatId}/messages/{messageId}/location" => {
            json!({ "latitude": 1.0, "longitude": 2.0 })
        }
        // Into the group itself: only who sees the message and may send there can.
        "POST /api/chats/{chatId}/messages/{messageId}/forward" => json!({ "chatIds": [chat] }),
        _ => json!({}),
    };
    (method.parse().unwrap(), path, body)
}

fn action_data(action: &str, chat: &str, message: &str, target: &User) -> Value {
    match action {
        "message:read" | "message:played" => json!({ "chatId": chat, "messageId": message }),
        "message:reaction" => json!({ "chatId": chat, "messageId": message, "emoji": "👍" }),
        "message:poll:vote" => json!({ "chatId": chat, "messageId": message, "options": [0] }),
        "message:delete" => json!({ "chatId": chat, "messageId": message, "forEveryone": true }),
        "message:send" => json!({ "chatId": chat, "clientMessageId": "matrix", "content": "hi" }),
        "call:start" => json!({ "chatId": chat, "kind": "audio", "sdp": "v=0\r\n" }),
        "call:answer" => json!({ "callId": uuid::Uuid::new_v4(), "sdp": "v=0\r\n" }),
        "call:candidate" => {
            json!({ "callId": uuid::Uuid::new_v4(), "candidate": { "candidate": "" } })
        }
        "call:end" => json!({ "callId": uuid::Uuid::new_v4() }),
        "chat:update" => json!({ "chatId": chat, "name": "renamed" }),
        "chat:participant:add" | "chat:participant:remove" => {
            json!({ "chatId": chat, "userId": target.id })
        }
        _ => json!({ "chatId": chat }),
    }
}

const SECRET_NAME: &str = "matrix-secret-club";
const SECRET_TEXT: &str = "matrix-secret-text";
/// Sent after the former members left.
const LATER_TEXT: &str = "matrix-later-text";

fn leaks(body: &Value) -> bool {
    let text = body.to_string();
    text.contains(SECRET_NAME) || text.contains(SECRET_TEXT) || text.contains(LATER_TEXT)
}

#[tokio::test]
async fn every_route_and_action_refuses_who_may_not_see_or_do_it_without_leaking() {
    let app = spawn_app().await;
    let admin = app.register("admin").await;
    let member = app.register("member").await;
    let former = app.register("former").await;
    let left = app.register("left").await;
    let outsider = app.register("outsider").await;
    let blocked = app.register("blocked").await;
    let chat = app
        .open_group(&admin, SECRET_NAME, &[&member, &former, &left])
        .await;
    let (status, sent) = app.send_text(&admin, &chat, SECRET_TEXT).await;
    assert_eq!(status, 201);
    let message = sent["data"]["id"].as_str().unwrap().to_owned();
    for (who, deletes) in [(&former, "left"), (&former, "deleted"), (&left, "left")] {
        let (status, body) = app
            .delete(&format!("/api/chats/{chat}"), &who.access, json!({}))
            .await;
        assert_eq!(
            (status, body["data"]["status"].as_str()),
            (200, Some(deletes))
        );
    }
    // What comes after they left is never theirs.
    let (status, _) = app.send_text(&admin, &chat, LATER_TEXT).await;
    assert_eq!(status, 201);
    app.block(&admin, &blocked).await;
    let (_, body) = app
        .post(
            &format!("/api/chats/{chat}/invite-link"),
            Some(&admin.access),
            json!({}),
        )
        .await;
    let code = body["data"]["code"].as_str().unwrap().to_owned();
    let persona = |p: Persona| match p {
        Outsider => &outsider,
        Former => &former,
        Left => &left,
        Member => &member,
        Blocked => &blocked,
    };

    // Every route has a row.
    let routes: BTreeSet<String> = app
        .stack
        .shared
        .template
        .rest
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let missing: Vec<&String> = routes.iter().filter(|r| route_scope(r).is_none()).collect();
    assert!(
        missing.is_empty(),
        "routes without a row in the matrix: {missing:?}"
    );
    let missing: Vec<&&str> = banter_core::api::ws::ACTIONS
        .iter()
        .filter(|a| action_scope(a).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "actions without a row in the matrix: {missing:?}"
    );

    let mut tried = 0;
    for route in &routes {
        match route_scope(route).unwrap() {
            Scope::NoChat(_) => {}
            Scope::Chat(expected) => {
                for &(who, status) in expected {
                    // A member "removing" or re-roling the admin; others acting on themselves.
                    let (method, path, body) = rest_request(route, &chat, &message, &admin);
                    let (got, answer) = app
                        .request(method, &path, Some(&persona(who).access), Some(body))
                        .await;
                    assert_eq!(got, status, "{route} as {who:?}: {answer}");
                    assert!(!leaks(&answer), "{route} as {who:?} leaks: {answer}");
                    tried += 1;
                }
            }
            Scope::InviteCode => {
                let (method, path) = route.split_once(' ').unwrap();
                let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                let body = (method == reqwest::Method::POST).then(|| json!({}));
                let (got, answer) = app
                    .request(
                        method.clone(),
                        &path.replace("{code}", &"A".repeat(22)),
                        Some(&outsider.access),
                        body.clone(),
                    )
                    .await;
                assert_eq!(got, 404, "{route} with an unknown code: {answer}");
                let (got, answer) = app
                    .request(
                        method,
                        &path.replace("{code}", &code),
                        Some(&blocked.access),
                        body,
                    )
                    .await;
                assert_eq!(got, 403, "{route} as Blocked: {answer}");
                assert!(!leaks(&answer), "{route} as Blocked leaks: {answer}");
                tried += 2;
            }
        }
    }

    let mut sockets = Vec::new();
    for who in [Outsider, Former, Left, Member, Blocked] {
        sockets.push((who, app.ws(&persona(who).access).await));
    }
    for (n, action) in banter_core::api::ws::ACTIONS.iter().enumerate() {
        let action = *action;
        let expected: Vec<(Persona, &str)> = match action_scope(action).unwrap() {
            Scope::NoChat(_) => continue,
            Scope::Chat(expected) => expected
                .iter()
                .map(|&(who, status)| {
                    (
                        who,
                        if status == 404 {
                            "RESOURCE_NOT_FOUND"
                        } else {
                            "PERMISSION_DENIED"
                        },
                    )
                })
                .collect(),
            Scope::InviteCode => vec![(Blocked, "PERMISSION_DENIED")],
        };
        for (who, code_expected) in expected {
            let data = if action == "chat:join" {
                json!({ "inviteCode": code })
            } else {
                action_data(action, &chat, &message, &admin)
            };
            let ws = &mut sockets.iter_mut().find(|(p, _)| *p == who).unwrap().1;
            let request_id = format!("m{n}");
            ws.send_json(json!({ "action": action, "requestId": request_id, "data": data }))
                .await;
            let answer = ws.answer_to(&request_id).await;
            assert_eq!(
                answer["event"], "error:general",
                "{action} as {who:?}: {answer}"
            );
            assert_eq!(
                answer["data"]["code"], code_expected,
                "{action} as {who:?}: {answer}"
            );
            assert!(!leaks(&answer), "{action} as {who:?} leaks: {answer}");
            tried += 1;
        }
    }

    // Nothing of the group reached those outside it: not their list, not their stream.
    for who in [Outsider, Blocked] {
        let user = persona(who);
        let searches = [
            format!("/api/messages/search?q={SECRET_TEXT}"),
            format!("/api/messages/search?q={SECRET_TEXT}&chatId={chat}"),
        ];
        let paths = ["/api/chats", "/api/sync", "/api/messages/starred"];
        for path in paths
            .iter()
            .copied()
            .chain(searches.iter().map(String::as_str))
        {
            let (status, body) = app.get(path, Some(&user.access)).await;
            assert_eq!(status, 200);
            assert!(
                !leaks(&body) && !body.to_string().contains(&chat),
                "{path} as {who:?}: {body}"
            );
        }
    }
    // Who kept the group reads it as it was when they left, and nothing that came after:
    // not in their list, chat, history, gallery, stream, stars or searches.
    let searches = [
        format!("/api/messages/search?q={SECRET_TEXT}"),
        format!("/api/messages/search?q={LATER_TEXT}"),
        format!("/api/messages/search?q={LATER_TEXT}&chatId={chat}"),
    ];
    let paths = [
        "/api/chats".to_owned(),
        format!("/api/chats/{chat}"),
        format!("/api/chats/{chat}/messages"),
        format!("/api/chats/{chat}/media"),
        "/api/sync".to_owned(),
        "/api/messages/starred".to_owned(),
    ];
    for path in paths.iter().chain(&searches) {
        let (status, body) = app.get(path, Some(&left.access)).await;
        assert_eq!(status, 200, "{path} as Left: {body}");
        assert!(
            !body.to_string().contains(LATER_TEXT),
            "{path} as Left: {body}"
        );
    }
    let (_, history) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&left.access))
        .await;
    assert!(history.to_string().contains(SECRET_TEXT), "{history}");
    let (_, found) = app.get(&searches[0], Some(&left.access)).await;
    assert_eq!(
        found["data"][0]["message"]["id"],
        message.as_str(),
        "{found}"
    );

    // The same search finds the message for its group's admin: the refusals above were not
    // a search that finds nothing for anyone.
    let (_, found) = app
        .get(
            &format!("/api/messages/search?q={SECRET_TEXT}"),
            Some(&admin.access),
        )
        .await;
    assert_eq!(
        found["data"][0]["message"]["id"],
        message.as_str(),
        "{found}"
    );
    let (_, details) = app
        .get(&format!("/api/chats/{chat}"), Some(&admin.access))
        .await;
    assert_eq!(
        details["data"]["name"], SECRET_NAME,
        "nothing above changed the group"
    );
    assert_eq!(details["data"]["participants"].as_array().unwrap().len(), 2);
    let (_, history) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&admin.access))
        .await;
    let secret = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == message.as_str())
        .expect("the admin's message is still there");
    assert_eq!(
        secret["content"], SECRET_TEXT,
        "nobody edited or deleted it"
    );
    assert_eq!(secret["isEdited"], false);
    assert!(tried > 60, "{tried} refusals tried");
    app.stop().await;
}
