//! Connection registry: which WebSocket connections each user has open.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::PortError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionRecord {
    pub connection_id: String,
    pub user_id: Uuid,
    pub session_id: Uuid,
    /// Unix seconds.
    pub connected_at: i64,
}

#[async_trait]
pub trait ConnectionRegistry: Send + Sync {
    async fn register(&self, record: &ConnectionRecord) -> Result<(), PortError>;
    /// Remove a connection of `user_id` by its key (no index lookup, so it sees a registration
    /// made a moment ago); returns what was registered, if anything.
    async fn unregister(
        &self,
        user_id: Uuid,
        connection_id: &str,
    ) -> Result<Option<ConnectionRecord>, PortError>;
    async fn connections_of(&self, user_id: Uuid) -> Result<Vec<ConnectionRecord>, PortError>;
}

/// The embedded registry: a map in the local stack's memory.
#[derive(Default)]
pub struct InMemoryConnectionRegistry {
    inner: Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    by_user: HashMap<Uuid, Vec<ConnectionRecord>>,
    owner: HashMap<String, Uuid>,
}

#[async_trait]
impl ConnectionRegistry for InMemoryConnectionRegistry {
    async fn register(&self, record: &ConnectionRecord) -> Result<(), PortError> {
        let mut r = self.inner.lock().expect("registry lock");
        if let Some(previous) = r.owner.insert(record.connection_id.clone(), record.user_id) {
            if let Some(list) = r.by_user.get_mut(&previous) {
                list.retain(|c| c.connection_id != record.connection_id);
            }
        }
        r.by_user
            .entry(record.user_id)
            .or_default()
            .push(record.clone());
        Ok(())
    }

    async fn unregister(
        &self,
        user: Uuid,
        connection_id: &str,
    ) -> Result<Option<ConnectionRecord>, PortError> {
        let mut r = self.inner.lock().expect("registry lock");
        if r.owner.get(connection_id) != Some(&user) {
            return Ok(None);
        }
        r.owner.remove(connection_id);
        let mut removed = None;
        if let Some(list) = r.by_user.get_mut(&user) {
            if let Some(i) = list.iter().position(|c| c.connection_id == connection_id) {
                removed = Some(list.swap_remove(i));
            }
            if list.is_empty() {
                r.by_user.remove(&user);
            }
        }
        Ok(removed)
    }

    async fn connections_of(&self, user_id: Uuid) -> Result<Vec<ConnectionRecord>, PortError> {
        let r = self.inner.lock().expect("registry lock");
        Ok(r.by_user.get(&user_id).cloned().unwrap_or_default())
    }
}
