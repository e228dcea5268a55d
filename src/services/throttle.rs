//! Slowing down password guessing. Failed logins are counted per account
//! (whoever is guessing) and per client address (whatever they guess at);
//! past either budget, logins are refused until the window closes, even with
//! the right password, so a guesser learns nothing by continuing.
//!
//! Counting is by the submitted email whether or not an account has it, so a
//! refusal reveals nothing about which emails exist.

use std::{net::IpAddr, time::Duration};

use sha2::{Digest, Sha256};

use super::{ServiceError, ServiceResult, cost_limits::block};
use crate::{
    cache::Counters,
    metrics::{Limit, Metrics},
};

#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    pub per_account: u64,
    pub per_address: u64,
    pub window: Duration,
}

#[derive(Clone)]
pub struct LoginThrottle {
    counters: Counters,
    limits: LoginLimits,
    metrics: Metrics,
}

impl LoginThrottle {
    pub fn new(counters: Counters, limits: LoginLimits, metrics: Metrics) -> Self {
        Self {
            counters,
            limits,
            metrics,
        }
    }

    fn keys(email: &str, address: Option<IpAddr>) -> (String, Option<String>) {
        // Hashed so Redis never holds email addresses.
        let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
        let account: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        (
            format!("login:account:{account}"),
            address.map(|address| format!("login:address:{}", block(address))),
        )
    }

    /// RATE_LIMITED when the account or the address used up its budget.
    pub async fn check(&self, email: &str, address: Option<IpAddr>) -> ServiceResult<()> {
        let (account, address) = Self::keys(email, address);
        let mut retry_after = None;
        for (key, limit) in [
            (Some(account), self.limits.per_account),
            (address, self.limits.per_address),
        ] {
            let Some(key) = key else { continue };
            // An unreadable count fails open: an unreachable Redis must not
            // lock everyone out.
            if let Ok(Some(window)) = self.counters.current(&key).await
                && window.count >= limit
            {
                retry_after = retry_after.max(Some(window.resets_in));
            }
        }
        match retry_after {
            Some(retry_after) => {
                self.metrics.rate_limited(Limit::Login);
                Err(ServiceError::RateLimited {
                    reason: "too many failed logins".to_owned(),
                    retry_after,
                })
            }
            None => Ok(()),
        }
    }

    pub async fn record_failure(&self, email: &str, address: Option<IpAddr>) {
        let (account, address) = Self::keys(email, address);
        for key in [Some(account), address].into_iter().flatten() {
            let _ = self.counters.increment(&key, self.limits.window).await;
        }
    }

    /// A successful login clears the account's failures (not the address's:
    /// one right guess must not reset a spray across many accounts).
    pub async fn record_success(&self, email: &str) {
        let (account, _) = Self::keys(email, None);
        let _ = self.counters.reset(&account).await;
    }
}
