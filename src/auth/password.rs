//! argon2id with the OWASP parameters (19 MiB, 2 iterations, 1 lane): the
//! argon2 crate's defaults. Hashing takes tens of milliseconds of CPU, so it
//! runs on the blocking pool, never on an async worker, and at most one
//! hash per core runs at once: each holds 19 MiB while it runs, so 80
//! concurrent logins took the process from 207 MB to 1.67 GB when nothing
//! bounded them. Others wait their turn, in order.

use std::sync::{LazyLock, OnceLock};

use tokio::sync::Semaphore;

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};

use crate::domain::Password;

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Permits to hash: one per core.
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| {
    Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
});

/// Runs `work` on the blocking pool once a hashing permit is free.
async fn bounded<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, HashError> + Send + 'static,
) -> Result<T, HashError> {
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|err| HashError(err.to_string()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| HashError(err.to_string()))?
}

pub async fn hash(password: &Password) -> Result<String, HashError> {
    let password = password.expose().to_owned();
    bounded(move || hash_blocking(&password)).await
}

fn hash_blocking(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| HashError(err.to_string()))
}

/// Checks `password` against a stored hash. With no stored hash (unknown
/// account) it verifies against a fixed dummy hash, so the answer takes as
/// long as for a real account and timing does not reveal which emails exist.
pub async fn verify(password: &str, stored: Option<String>) -> Result<bool, HashError> {
    let password = password.to_owned();
    bounded(move || {
        let known = stored.is_some();
        let stored = match stored {
            Some(stored) => stored,
            None => dummy_hash()?.to_owned(),
        };
        let parsed = PasswordHash::new(&stored).map_err(|err| HashError(err.to_string()))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await
}

fn dummy_hash() -> Result<&'static str, HashError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash);
    }
    let hash = hash_blocking("folio-dummy-password")?;
    Ok(DUMMY.get_or_init(|| hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_use_argon2id() {
        let password = Password::parse("correct horse battery").unwrap();
        let stored = hash(&password).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            verify("correct horse battery", Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(!verify("wrong horse battery", Some(stored)).await.unwrap());
        assert!(!verify("folio-dummy-password", None).await.unwrap());
    }
}
