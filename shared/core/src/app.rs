//! The application context every handler receives: the database pool, token keys, settings
//! and the port implementations chosen for where the code runs (AWS or one machine).

use std::sync::Arc;

use crate::auth::revocation::SessionCheck;
use crate::auth::tokens::TokenKeys;
use crate::config::Settings;
use crate::db::send_batches::SendBatcher;
use crate::db::Db;
use crate::ports::{
    BlobStore, ConnectionPush, ConnectionRegistry, DeliveryQueue, MobilePush, Notifier,
};

#[derive(Clone)]
pub struct App {
    pub db: Db,
    /// Stores the messages sent at the same moment together (group commit).
    pub sends: SendBatcher,
    /// This process's place in the relay queue (`services::relay`).
    pub relay_turn: crate::services::relay::RelayTurn,
    pub tokens: Arc<TokenKeys>,
    pub settings: Arc<Settings>,
    pub ports: Ports,
    /// Which device sessions are live, as last checked by this instance.
    pub sessions: Arc<SessionCheck>,
}

/// The parts that differ between AWS and one machine (DESIGN.md, "Ports and adapters").
#[derive(Clone)]
pub struct Ports {
    pub connections: Arc<dyn ConnectionRegistry>,
    pub queue: Arc<dyn DeliveryQueue>,
    pub push: Arc<dyn ConnectionPush>,
    pub blobs: Arc<dyn BlobStore>,
    pub notifier: Arc<dyn Notifier>,
    pub mobile_push: Arc<dyn MobilePush>,
}
