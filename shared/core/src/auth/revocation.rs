//! Whether a device session is still live, remembered per instance for a short time, so every
//! authenticated request (REST and WebSocket action) sees a revocation within that time while
//! costing at most one query per session per interval. A revocation made by this instance is
//! seen at once ([`SessionCheck::forget`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

/// Entries kept before expired ones are swept.
const SWEEP_ABOVE: usize = 10_000;

pub struct SessionCheck {
    ttl: Duration,
    live: Mutex<HashMap<Uuid, (bool, Instant)>>,
}

impl SessionCheck {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            live: Mutex::default(),
        }
    }

    /// What was last seen of `session`, if it is recent enough to trust.
    pub fn cached(&self, session: Uuid) -> Option<bool> {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.get(&session)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(is_live, _)| *is_live)
    }

    pub fn remember(&self, session: Uuid, is_live: bool) {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        if live.len() >= SWEEP_ABOVE {
            let ttl = self.ttl;
            live.retain(|_, (_, at)| at.elapsed() < ttl);
        }
        live.insert(session, (is_live, Instant::now()));
    }

    /// This instance revoked `sessions`: they are not live from now on.
    pub fn forget(&self, sessions: &[Uuid]) {
        for session in sessions {
            self.remember(*session, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_expire_and_revocations_are_immediate() {
        let check = SessionCheck::new(Duration::from_millis(30));
        let s = Uuid::new_v4();
        assert_eq!(check.cached(s), None);
        check.remember(s, true);
        assert_eq!(check.cached(s), Some(true));
        check.forget(&[s]);
        assert_eq!(check.cached(s), Some(false));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(check.cached(s), None, "stale answers are asked again");
    }
}
