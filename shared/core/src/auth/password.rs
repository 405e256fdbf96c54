//! Argon2id password hashing at OWASP's recommended parameters (19 MiB, 2 passes, 1 lane).
//! Hashing is CPU-bound, so it runs on the blocking pool, and at most one hash per core runs at
//! once: a burst of logins waits its turn (up to [`HASH_QUEUE_WAIT`], then `503`) instead of
//! running hundreds of 19 MiB hashes side by side, so memory stays bounded and returns to its
//! baseline after the burst.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::Semaphore;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::ApiError;

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// How long a hash waits for its turn before the request is answered `503` (retry later).
pub const HASH_QUEUE_WAIT: Duration = Duration::from_secs(10);

/// One permit per core: the hashes that may run at once.
fn hashing_slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        return_large_blocks_to_the_system();
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Semaphore::new(cores)
    })
}

/// Each hash allocates 19 MiB on a blocking thread. glibc serves blocks that large from mmap
/// and unmaps them when freed, but raises that threshold after the first free, after which it
/// keeps them in per-thread arenas for good (a burst of logins left hundreds of MiB behind).
/// Pinning the threshold keeps large blocks on mmap, so memory returns after a burst.
fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called once, at first use.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

/// Run one Argon2 computation when a slot is free.
async fn with_slot<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let _slot = tokio::time::timeout(HASH_QUEUE_WAIT, hashing_slots().acquire())
        .await
        .map_err(|_| ApiError::Unavailable)?
        .map_err(|_| ApiError::Unavailable)?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(format!("hash task: {e}")))?
}

/// Hash a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    with_slot(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::Internal(format!("argon2: {e}")))
    })
    .await
}

/// Check a password against a stored hash. With no stored hash (unknown account), a dummy hash
/// is verified instead so the answer takes the same time whether or not the account exists.
pub async fn verify_password(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    with_slot(move || {
        let found = stored.is_some();
        let stored = stored.unwrap_or_else(|| dummy_hash().to_owned());
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return Ok(false);
        };
        let ok = hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(found && ok)
    })
    .await
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        hasher()
            .hash_password(b"banter-dummy-password", &salt)
            .expect("hashing a constant succeeds")
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_hashes_run_at_once_than_there_are_slots() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks = (0..12).map(|_| {
            let (running, peak) = (running.clone(), peak.clone());
            tokio::spawn(with_slot(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            }))
        });
        for t in futures_util::future::join_all(tasks).await {
            t.unwrap().unwrap();
        }
        let slots = std::thread::available_parallelism().map_or(2, |n| n.get());
        assert_eq!(peak.load(Ordering::SeqCst), slots.min(12));
    }
}
