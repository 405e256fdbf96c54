//! The API's boundary types, in one place: what clients send (`requests`, the WebSocket's
//! `ws::ClientAction`), what they get back (`models`, `ws::ServerEvent`), the one way input is
//! read (`extract`), and the OpenAPI and AsyncAPI documents generated from all of these (`docs`).

pub mod docs;
pub mod extract;
pub mod limits;
pub mod models;
pub mod requests;
pub mod ws;
