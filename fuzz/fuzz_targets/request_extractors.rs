//! Every request extractor: a body (any bytes) is read into every request type, and a query
//! string into every query type; each either succeeds or answers a 4xx, never a panic.
#![no_main]

use banter_core::api::extract::{json_body, query};
use banter_core::api::requests::*;
use banter_core::ApiError;
use libfuzzer_sys::fuzz_target;

fn client_error<T>(result: Result<T, ApiError>) {
    if let Err(e) = result {
        assert!((400..500).contains(&e.status()), "{e:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    client_error(json_body::<RegisterRequest>(data));
    client_error(json_body::<LoginRequest>(data));
    client_error(json_body::<RefreshRequest>(data));
    client_error(json_body::<Option<LogoutRequest>>(data));
    client_error(json_body::<VerifyEmailRequest>(data));
    client_error(json_body::<ForgotPasswordRequest>(data));
    client_error(json_body::<ResetPasswordRequest>(data));
    client_error(json_body::<PhoneStartRequest>(data));
    client_error(json_body::<PhoneVerifyRequest>(data));
    client_error(json_body::<TwoFactorEnableRequest>(data));
    client_error(json_body::<TwoFactorDisableRequest>(data));
    client_error(json_body::<UpdateProfileRequest>(data));
    client_error(json_body::<BlockRequest>(data));
    client_error(json_body::<DeleteAccountRequest>(data));
    client_error(json_body::<CreateChatRequest>(data));
    client_error(json_body::<SendMessageRequest>(data));
    client_error(json_body::<PublishKeysRequest>(data));
    client_error(json_body::<AddPreKeysRequest>(data));

    let text = String::from_utf8_lossy(data);
    let pairs: Vec<(String, String)> = text
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let borrowed = || pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    client_error(query::<ChatListQuery>(borrowed()));
    client_error(query::<HistoryQuery>(borrowed()));
    client_error(query::<UserSearchQuery>(borrowed()));
});
