//! The REST API through the local stack: envelopes, validation, tokens, chats and history.

use serde_json::json;

use crate::support::spawn_app;

#[tokio::test]
async fn registration_validates_input_and_refuses_duplicates() {
    let app = spawn_app().await;
    let (status, body) = app
        .post(
            "/api/auth/register",
            None,
            json!({ "email": "ann@example.com", "password": "correct horse", "username": "ann" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["user"]["username"], "ann");
    assert_eq!(body["data"]["tokens"]["expiresIn"], 900);

    let cases = [
        (
            json!({ "email": "ANN@example.com", "password": "correct horse" }),
            409,
            "RESOURCE_ALREADY_EXISTS",
        ),
        (
            json!({ "email": "other@example.com", "password": "correct horse", "username": "ann" }),
            409,
            "RESOURCE_ALREADY_EXISTS",
        ),
        (
            json!({ "email": "not-an-email", "password": "correct horse" }),
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({ "email": "x@example.com", "password": "short" }),
            400,
            "VALIDATION_ERROR",
        ),
        // Among the most common passwords, whatever its case.
        (
            json!({ "email": "x@example.com", "password": "Password1" }),
            400,
            "VALIDATION_ERROR",
        ),
        (
            json!({ "email": "x@example.com" }),
            400,
            "MISSING_REQUIRED_FIELD",
        ),
        (
            json!({ "email": 42, "password": "correct horse" }),
            400,
            "VALIDATION_ERROR",
        ),
        (json!(["not", "an", "object"]), 400, "INVALID_INPUT"),
    ];
    for (input, want_status, want_code) in cases {
        let (status, body) = app.post("/api/auth/register", None, input.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (want_status, Some(want_code)),
            "{input} -> {body}"
        );
        assert_eq!(body["success"], false);
        assert!(body["error"]["requestId"].is_string() && body["error"]["timestamp"].is_string());
    }
    let raw = app
        .http
        .post(format!("{}/api/auth/register", app.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    let big = app
        .http
        .post(format!("{}/api/auth/register", app.base))
        .body(format!("{{\"email\": \"{}\"}}", "a".repeat(300 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(big.status().as_u16(), 413);
    // A username derived from the email when none is given, made unique.
    let (_, first) = app
        .post(
            "/api/auth/register",
            None,
            json!({ "email": "zed@one.example", "password": "correct horse" }),
        )
        .await;
    let (_, second) = app
        .post(
            "/api/auth/register",
            None,
            json!({ "email": "zed@two.example", "password": "correct horse" }),
        )
        .await;
    assert_eq!(first["data"]["user"]["username"], "zed");
    assert!(second["data"]["user"]["username"]
        .as_str()
        .unwrap()
        .starts_with("zed"));
    assert_ne!(second["data"]["user"]["username"], "zed");
    app.stop().await;
}

#[tokio::test]
async fn login_refresh_rotation_and_reuse_detection() {
    let app = spawn_app().await;
    let user = app.register("dora").await;
    let (status, body) = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": user.email, "password": "wrong password" }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("INVALID_CREDENTIALS"))
    );
    let (status, body) = app
        .post(
            "/api/auth/login",
            None,
            json!({ "email": "nobody@example.com", "password": "whatever123" }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("INVALID_CREDENTIALS"))
    );

    let (status, body) = app
        .post(
            "/api/auth/refresh",
            None,
            json!({ "refreshToken": user.refresh }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let rotated = body["data"]["tokens"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(rotated, user.refresh);
    let access = body["data"]["tokens"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.get("/api/chats", Some(&access)).await.0, 200);

    // Presenting the spent token again revokes the session: the rotated one dies with it.
    let (status, body) = app
        .post(
            "/api/auth/refresh",
            None,
            json!({ "refreshToken": user.refresh }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("INVALID_TOKEN"))
    );
    let (status, _) = app
        .post(
            "/api/auth/refresh",
            None,
            json!({ "refreshToken": rotated }),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = app
        .post(
            "/api/auth/refresh",
            None,
            json!({ "refreshToken": "made-up" }),
        )
        .await;
    assert_eq!(status, 401);
    app.stop().await;
}

#[tokio::test]
async fn chats_need_a_token_and_are_visible_to_members_only() {
    let app = spawn_app().await;
    let (status, body) = app.get("/api/chats", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("UNAUTHORIZED"))
    );
    let (status, body) = app.get("/api/chats", Some("nonsense")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("INVALID_TOKEN"))
    );

    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let eve = app.register("eve").await;
    let (status, created) = app
        .post(
            "/api/chats",
            Some(&alice.access),
            json!({ "type": "individual", "participantIds": [bob.id] }),
        )
        .await;
    assert_eq!(status, 201);
    let chat = created["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created["data"]["name"]
            .as_str()
            .map(|n| n.starts_with("bob")),
        Some(true)
    );
    let (status, again) = app
        .post(
            "/api/chats",
            Some(&bob.access),
            json!({ "type": "individual", "participantIds": [alice.id] }),
        )
        .await;
    assert_eq!(
        (status, again["data"]["id"].as_str()),
        (200, Some(chat.as_str())),
        "one 1:1 chat per pair"
    );

    for (input, code) in [
        (
            json!({ "type": "individual", "participantIds": [] }),
            "VALIDATION_ERROR",
        ),
        (
            json!({ "type": "individual", "participantIds": ["not-a-uuid"] }),
            "VALIDATION_ERROR",
        ),
        (
            json!({ "type": "individual", "participantIds": [uuid::Uuid::new_v4()] }),
            "RESOURCE_NOT_FOUND",
        ),
        (
            json!({ "type": "channel", "participantIds": [bob.id] }),
            "VALIDATION_ERROR",
        ),
        (
            json!({ "type": "group", "participantIds": [bob.id] }),
            "MISSING_REQUIRED_FIELD",
        ),
        (
            json!({ "type": "group", "name": "club\nalice left", "participantIds": [bob.id] }),
            "VALIDATION_ERROR",
        ),
    ] {
        let (_, body) = app
            .post("/api/chats", Some(&alice.access), input.clone())
            .await;
        assert_eq!(body["error"]["code"], code, "{input}");
    }

    let (status, body) = app
        .get(&format!("/api/chats/{chat}"), Some(&eve.access))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("RESOURCE_NOT_FOUND"))
    );
    let (status, _) = app
        .get(&format!("/api/chats/{chat}/messages"), Some(&eve.access))
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&eve.access),
            json!({ "clientMessageId": "e", "content": "hi" }),
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = app.get("/api/chats/not-a-uuid", Some(&alice.access)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );

    // (In Bob's list: he opened it too.)
    let (status, list) = app.get("/api/chats", Some(&bob.access)).await;
    assert_eq!(status, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["meta"]["pagination"]["total"], 1);
    app.stop().await;
}

/// The PRD's `SendMessageRequest` is `{content, type?, replyToId?}`: a client written against
/// it sends no `clientMessageId`, and its messages are stored and delivered all the same.
#[tokio::test]
async fn a_send_as_the_prd_shapes_it_needs_no_client_message_id() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    let mut bob_ws = app.ws(&bob.access).await;
    let path = format!("/api/chats/{chat}/messages");
    let (status, first) = app
        .post(
            &path,
            Some(&alice.access),
            json!({ "content": "hello", "type": "text" }),
        )
        .await;
    assert_eq!(status, 201, "{first}");
    let (status, reply) = app
        .post(
            &path,
            Some(&alice.access),
            json!({ "content": "hello", "replyToId": first["data"]["id"] }),
        )
        .await;
    assert_eq!(status, 201, "{reply}");
    assert_ne!(reply["data"]["id"], first["data"]["id"], "a second message");
    assert_eq!(reply["data"]["replyTo"]["id"], first["data"]["id"]);
    let ids = [&first, &reply].map(|m| m["data"]["clientMessageId"].as_str().unwrap().to_owned());
    assert_ne!(ids[0], ids[1], "each made for its own send: {ids:?}");
    let got = bob_ws.next_event("message:received").await;
    assert_eq!(got["data"]["message"]["id"], first["data"]["id"]);
    app.stop().await;
}

#[tokio::test]
async fn history_pages_by_cursor_in_seq_order() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.open_chat(&alice, &bob).await;
    for i in 1..=5 {
        let (status, body) = app
            .post(
                &format!("/api/chats/{chat}/messages"),
                Some(&alice.access),
                json!({ "clientMessageId": format!("m{i}"), "content": format!("message {i}") }),
            )
            .await;
        assert_eq!(
            (status, body["data"]["seq"].as_i64()),
            (201, Some(i)),
            "{body}"
        );
    }
    let (_, latest) = app
        .get(
            &format!("/api/chats/{chat}/messages?limit=2"),
            Some(&bob.access),
        )
        .await;
    let contents: Vec<&str> = latest["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(contents, ["message 4", "message 5"]);
    assert_eq!(latest["meta"]["pagination"]["hasMore"], true);
    let before = latest["meta"]["pagination"]["before"].as_str().unwrap();
    let (_, older) = app
        .get(
            &format!("/api/chats/{chat}/messages?limit=2&before={before}"),
            Some(&bob.access),
        )
        .await;
    let seqs: Vec<i64> = older["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [2, 3]);
    let after = older["meta"]["pagination"]["after"].as_str().unwrap();
    let (_, newer) = app
        .get(
            &format!("/api/chats/{chat}/messages?after={after}"),
            Some(&bob.access),
        )
        .await;
    let seqs: Vec<i64> = newer["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [4, 5]);
    assert_eq!(newer["meta"]["pagination"]["hasMore"], false);
    let (status, _) = app
        .get(
            &format!("/api/chats/{chat}/messages?limit=500"),
            Some(&bob.access),
        )
        .await;
    assert_eq!(status, 400);
    let (status, body) = app
        .post(
            &format!("/api/chats/{chat}/messages"),
            Some(&alice.access),
            json!({ "clientMessageId": "r", "content": "re", "replyToId": uuid::Uuid::new_v4() }),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("VALIDATION_ERROR")),
        "reply to a message of another chat"
    );
    app.stop().await;
}

#[tokio::test]
async fn health_openapi_and_unknown_routes() {
    let app = spawn_app().await;
    let (status, body) = app.get("/api/health", None).await;
    assert_eq!(
        (status, body["data"]["database"].as_str()),
        (200, Some("up"))
    );
    let (status, doc) = app.get("/api/openapi.json", None).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let (status, doc) = app.get("/api/asyncapi.json", None).await;
    assert_eq!((status, doc["asyncapi"].as_str()), (200, Some("3.0.0")));
    let (status, body) = app.get("/api/nowhere", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("RESOURCE_NOT_FOUND"))
    );
    app.stop().await;
}

/// A web client on another origin: its preflight is answered (as API Gateway answers it from
/// the template's `Cors`), and every answer, success or refusal, function's or gateway's, lets
/// it read the body and the headers it acts on.
#[tokio::test]
async fn browsers_on_other_origins_may_call_the_api() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let origin = [("origin", "https://web.example")];
    let header = |headers: &reqwest::header::HeaderMap, name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let preflight = [
        ("origin", "https://web.example"),
        ("access-control-request-method", "POST"),
        (
            "access-control-request-headers",
            "authorization,content-type",
        ),
    ];
    let (status, headers, _) = raw_request(
        &app,
        reqwest::Method::OPTIONS,
        "/api/chats/00000000-0000-7000-8000-000000000000/messages",
        "",
        &preflight,
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let allowed = header(&headers, "access-control-allow-headers").unwrap_or_default();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    let methods = header(&headers, "access-control-allow-methods").unwrap_or_default();
    assert!(
        methods.contains("POST") && methods.contains("DELETE"),
        "{methods}"
    );
    // No such route: nothing to preflight.
    let (status, _, _) = raw_request(
        &app,
        reqwest::Method::OPTIONS,
        "/api/nowhere",
        "",
        &preflight,
        Vec::new(),
    )
    .await;
    assert_eq!(status, 404);

    for (method, path, token, expected) in [
        (
            reqwest::Method::GET,
            "/api/chats",
            alice.access.as_str(),
            200,
        ),
        (reqwest::Method::GET, "/api/chats", "not-a-token", 401),
        (reqwest::Method::GET, "/api/openapi.json", "", 200),
        // Refused by the gateway itself.
        (
            reqwest::Method::PATCH,
            "/api/chats",
            alice.access.as_str(),
            405,
        ),
    ] {
        let (status, headers, _) =
            raw_request(&app, method.clone(), path, token, &origin, Vec::new()).await;
        assert_eq!(status, expected, "{method} {path}");
        assert_eq!(
            header(&headers, "access-control-allow-origin").as_deref(),
            Some("*"),
            "{method} {path}"
        );
    }
    let (_, headers, _) = raw_request(
        &app,
        reqwest::Method::GET,
        "/api/chats",
        &alice.access,
        &origin,
        Vec::new(),
    )
    .await;
    let exposed = header(&headers, "access-control-expose-headers").unwrap_or_default();
    assert!(exposed.contains("retry-after"), "{exposed}");
    app.stop().await;
}

/// Every answer tells a browser to keep no copy, guess no type and render nothing: the
/// functions' answers (data, errors, files, documents) carry all of `SECURITY_HEADERS`, and the
/// gateway's own refusals those its `GatewayResponses` can state.
#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    use banter_lambda::rest::SECURITY_HEADERS;
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let login =
        serde_json::to_vec(&json!({ "email": alice.email, "password": "correct horse battery" }))
            .unwrap();
    let json_body = [("content-type", "application/json")];
    let (status, headers, _) = raw_request(
        &app,
        reqwest::Method::POST,
        "/api/auth/login",
        "",
        &json_body,
        login,
    )
    .await;
    assert_eq!(status, 200, "tokens in the body: never cached");
    let carries = |headers: &reqwest::header::HeaderMap, name: &str, value: &str| {
        headers.get(name).and_then(|v| v.to_str().ok()) == Some(value)
    };
    for (name, value) in SECURITY_HEADERS {
        assert!(carries(&headers, name, value), "{name}: {headers:?}");
    }
    for (path, token, expected) in [
        ("/api/chats", "not-a-token", 401),
        ("/api/users/me/qr?format=svg", alice.access.as_str(), 200),
        ("/api/openapi.json", "", 200),
    ] {
        let (status, headers, _) =
            raw_request(&app, reqwest::Method::GET, path, token, &[], Vec::new()).await;
        assert_eq!(status, expected, "{path}");
        for (name, value) in SECURITY_HEADERS {
            assert!(carries(&headers, name, value), "{path} {name}: {headers:?}");
        }
    }
    // Refused by the gateway itself.
    let (status, headers, _) = raw_request(
        &app,
        reqwest::Method::PATCH,
        "/api/chats",
        &alice.access,
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 405);
    for (name, value) in SECURITY_HEADERS
        .iter()
        .filter(|(_, value)| !value.contains('\''))
    {
        assert!(carries(&headers, name, value), "{name}: {headers:?}");
    }
    app.stop().await;
}

#[test]
fn the_openapi_document_lists_exactly_the_template_routes() {
    let doc: serde_json::Value = serde_json::from_str(fn_health::OPENAPI).unwrap();
    let documented: std::collections::BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let template = banter_local::template::StackTemplate::load(
        &banter_local::repo_root().unwrap().join("template.yaml"),
    )
    .unwrap();
    let routed: std::collections::BTreeSet<(String, String)> = template
        .rest
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    assert_eq!(documented, routed);
}

#[tokio::test]
async fn every_template_route_reaches_a_handler_arm() {
    let app = spawn_app().await;
    let shared = &app.stack.shared;
    // A valid token, so functions that authenticate first still reach their routing.
    let user = app.register("router").await;
    for route in &shared.template.rest {
        let params: serde_json::Map<String, serde_json::Value> = route
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| (name.to_owned(), json!(uuid::Uuid::new_v4())))
            .collect();
        let event = json!({
            "resource": route.path, "path": route.path, "httpMethod": route.method,
            "headers": { "authorization": format!("Bearer {}", user.access) }, "multiValueHeaders": {}, "pathParameters": params,
            "requestContext": { "requestId": "route-check", "httpMethod": route.method, "identity": { "sourceIp": "127.0.0.1" } },
            "body": null, "isBase64Encoded": false,
        });
        let answer = shared.invoke(&route.function, event).await.unwrap();
        let body = answer["body"].as_str().unwrap_or("{}");
        assert!(
            !body.contains("route not found"),
            "{} {} has no arm in {}",
            route.method,
            route.path,
            route.function
        );
    }
    app.stop().await;
}

#[test]
fn the_rest_stage_throttles_and_caches_health() {
    let text =
        std::fs::read_to_string(banter_local::repo_root().unwrap().join("template.yaml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let settings = doc["Resources"]["RestApi"]["Properties"]["MethodSettings"]
        .as_sequence()
        .expect("the REST stage has method settings");
    let all = settings
        .iter()
        .find(|s| s["ResourcePath"].as_str() == Some("/*"))
        .expect("settings for every route");
    assert!(all["ThrottlingRateLimit"].as_u64().is_some_and(|r| r > 0));
    assert!(all["ThrottlingBurstLimit"].as_u64().is_some_and(|b| b > 0));
    let health = settings
        .iter()
        .find(|s| s["ResourcePath"].as_str() == Some("/~1api~1health"))
        .expect("settings for /api/health");
    assert_eq!(health["CachingEnabled"].as_bool(), Some(true));
}

/// One request with raw headers and body, answered as status, headers and undecoded bytes.
async fn raw_request(
    app: &crate::support::TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = app
        .http
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(token)
        .body(body);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.send().await.expect("request");
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    (status, headers, res.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn responses_are_compressed_and_compressed_requests_decoded_as_api_gateway_does() {
    use flate2::read::{GzDecoder, ZlibDecoder};
    use flate2::write::GzEncoder;
    use std::io::{Read, Write};

    let gzip = |bytes: &[u8]| {
        let mut w = GzEncoder::new(Vec::new(), flate2::Compression::default());
        w.write_all(bytes).unwrap();
        w.finish().unwrap()
    };
    let app = spawn_app().await;
    let (ann, bob) = (app.register("ann").await, app.register("bob").await);
    let chat = app.open_chat(&ann, &bob).await;
    for i in 0..10 {
        app.sent(
            &ann,
            &chat,
            &format!("message number {i}, long enough to matter"),
        )
        .await;
    }
    let history = format!("/api/chats/{chat}/messages");
    let get = |accept: &'static str| {
        let (app, history, token) = (&app, &history, &ann.access);
        async move {
            let headers: &[(&str, &str)] = if accept.is_empty() {
                &[]
            } else {
                &[("accept-encoding", accept)]
            };
            raw_request(
                app,
                reqwest::Method::GET,
                history,
                token,
                headers,
                Vec::new(),
            )
            .await
        }
    };
    let (status, headers, plain) = get("").await;
    assert_eq!(status, 200);
    assert!(headers.get("content-encoding").is_none());
    assert!(plain.len() >= 1024, "{} bytes", plain.len());
    let plain: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(plain["data"].as_array().unwrap().len(), 10);
    let same_data = |bytes: &[u8]| {
        let body: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        assert_eq!(body["data"], plain["data"]);
    };

    let (_, headers, body) = get("br;q=0.5, gzip").await;
    assert_eq!(headers["content-encoding"], "gzip");
    let mut decoded = Vec::new();
    GzDecoder::new(&body[..]).read_to_end(&mut decoded).unwrap();
    assert!(
        body.len() * 3 < decoded.len(),
        "{} -> {}",
        decoded.len(),
        body.len()
    );
    same_data(&decoded);

    let (_, headers, body) = get("deflate").await;
    assert_eq!(headers["content-encoding"], "deflate");
    let mut decoded = Vec::new();
    ZlibDecoder::new(&body[..])
        .read_to_end(&mut decoded)
        .unwrap();
    same_data(&decoded);

    // The most preferred coding is one API Gateway does not apply: none is.
    let (_, headers, body) = get("br, gzip;q=0.5").await;
    assert!(headers.get("content-encoding").is_none());
    same_data(&body);
    // A small answer is sent as it is.
    let (status, headers, _) = raw_request(
        &app,
        reqwest::Method::GET,
        "/api/health",
        &ann.access,
        &[("accept-encoding", "gzip")],
        Vec::new(),
    )
    .await;
    assert_eq!((status, headers.get("content-encoding")), (200, None));

    // A gzip-encoded request body is decoded before the function reads it.
    let send = |body: Vec<u8>, encoding: &'static str| {
        let (app, history, token) = (&app, &history, &ann.access);
        async move {
            let (status, _, answer) = raw_request(
                app,
                reqwest::Method::POST,
                history,
                token,
                &[
                    ("content-type", "application/json"),
                    ("content-encoding", encoding),
                ],
                body,
            )
            .await;
            let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
            (status, answer)
        }
    };
    let message = json!({ "type": "text", "content": "sent gzipped", "clientMessageId": "gz-1" });
    let (status, answer) = send(gzip(message.to_string().as_bytes()), "gzip").await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["data"]["content"], "sent gzipped");
    // A bomb (11 MB of spaces in 11 KB), a corrupt body and a coding API Gateway does not
    // decode are refused, and nothing is stored.
    let mut bomb = b"{\"type\":\"text\",\"content\":\"x\",\"clientMessageId\":\"gz-2\"}".to_vec();
    bomb.resize(11 * 1024 * 1024, b' ');
    let cases = [
        (gzip(&bomb), "gzip", 413, "FILE_TOO_LARGE"),
        (b"not gzip".to_vec(), "gzip", 400, "INVALID_INPUT"),
        (message.to_string().into_bytes(), "br", 400, "INVALID_INPUT"),
    ];
    for (body, encoding, want_status, want_code) in cases {
        let (status, answer) = send(body, encoding).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (want_status, Some(want_code)),
            "{encoding}: {answer}"
        );
    }
    let (_, page) = app.get(&history, Some(&ann.access)).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 11);
    app.stop().await;
}
