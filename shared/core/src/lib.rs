//! Banter's domain: validated input types, the API's error codes, authentication, Postgres
//! access, the ports that differ between AWS and one machine (with their embedded adapters),
//! and the services that the Lambda handlers and the local stack call.
//!
//! Nothing here knows about Lambda events or HTTP servers; `banter-lambda` translates events
//! into calls on [`services`], and `banter-aws` implements the [`ports`] on AWS.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod content;
pub mod db;
pub mod domain;
pub mod error;
pub mod media;
pub mod media_cdn;
pub mod ports;
pub mod qr;
pub mod services;
pub mod vcards;

pub use app::{App, Ports};
pub use error::ApiError;
