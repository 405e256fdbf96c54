//! WebSocket frame decoding and action parsing: any text either becomes an action or an error
//! to answer with, never a panic; a readable requestId is at most 128 bytes.
#![no_main]

use banter_core::api::ws::{ClientAction, ClientFrame, ReplyFrame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    match ClientFrame::parse(text) {
        Ok(frame) => {
            if let Some(id) = &frame.request_id {
                assert!(id.len() <= 128, "requestIds are at most 128 bytes");
            }
            match ClientAction::parse(&frame.action, frame.data.clone()) {
                Ok(ClientAction::MessageSend(send)) => {
                    assert!(!send.message.client_message_id.as_str().is_empty());
                }
                Ok(ClientAction::CallStart(call)) => {
                    assert!(call.sdp.0.chars().count() <= banter_core::api::ws::MAX_SDP_CHARS);
                }
                Ok(ClientAction::CallAnswer(call)) => {
                    assert!(call.sdp.0.chars().count() <= banter_core::api::ws::MAX_SDP_CHARS);
                }
                Ok(ClientAction::PollVote(vote)) => {
                    assert!(vote.options.iter().all(|o| (0..=11).contains(&o.0)));
                }
                Ok(ClientAction::ParticipantAdd(_))
                | Ok(ClientAction::ParticipantRemove(_))
                | Ok(ClientAction::ChatLeave(_))
                | Ok(ClientAction::ChatJoin(_))
                | Ok(ClientAction::ChatCreate(_))
                | Ok(ClientAction::ChatUpdate(_))
                | Ok(ClientAction::MessageRead(_))
                | Ok(ClientAction::MessagePlayed(_))
                | Ok(ClientAction::MessageReaction(_))
                | Ok(ClientAction::MessageDelete(_))
                | Ok(ClientAction::Typing(_))
                | Ok(ClientAction::StopTyping(_))
                | Ok(ClientAction::UserTyping(_))
                | Ok(ClientAction::UserOnline(_))
                | Ok(ClientAction::UserOffline(_))
                | Ok(ClientAction::StatusUpdate(_))
                | Ok(ClientAction::Ping(_))
                | Ok(ClientAction::MediaStatus(_))
                | Ok(ClientAction::UploadStart(_))
                | Ok(ClientAction::UploadProgress(_))
                | Ok(ClientAction::UploadComplete(_))
                | Ok(ClientAction::CallCandidate(_))
                | Ok(ClientAction::CallEnd(_)) => {
                    assert!(
                        frame.data.is_object() || frame.data.is_null(),
                        "an action's payload is an object (or left out)"
                    );
                }
                Err(e) => {
                    let reply = ReplyFrame::error(frame.request_id.as_deref(), &e).to_text();
                    assert!(serde_json::from_str::<serde_json::Value>(&reply).is_ok());
                }
            }
        }
        Err(unreadable) => {
            assert!(unreadable.error.status() < 500);
            let _ =
                ReplyFrame::error(unreadable.request_id.as_deref(), &unreadable.error).to_text();
        }
    }
});
