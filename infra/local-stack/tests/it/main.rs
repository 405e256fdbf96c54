//! Integration tests of the local stack: every test gets its own stack on a free port and its
//! own database (`support::spawn_app`), and talks to it over HTTP and WebSocket like a client.

mod adapters;
mod apigateway;
mod authorization;
mod backups;
mod blackbox;
mod calls;
mod chat_settings;
mod command_line;
mod contacts;
mod database;
mod encryption;
mod events;
mod faults;
mod function_manifests;
mod hostile;
mod identity;
mod invite_links;
mod limits;
mod media;
mod message_features;
mod notifications;
mod participants;
mod polls;
mod reports;
mod rest;
mod schema;
mod search;
mod send_batches;
mod services;
mod sqs;
mod support;
mod sync;
mod websocket;
