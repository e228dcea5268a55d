//! Slowing down password guessing and account probing. Every login attempt
//! is counted per account (whoever is guessing) and per client address
//! (whatever they guess at), and every registration per address, before
//! any password is hashed or checked: the count and the check against the
//! budget are one atomic step (one Lua script on Redis), so concurrent
//! guesses, batches, WebSocket operations and other instances cannot all
//! slip in under the same last free attempt. A login that succeeds is
//! refunded. Past a budget, attempts are refused until the window closes,
//! even with the right password, so a guesser learns nothing by
//! continuing.
//!
//! Counting is by the submitted email whether or not an account has it, so
//! a refusal reveals nothing about which emails exist; registration is
//! throttled so that its CONFLICT answers cannot be used to list them.

use std::{net::IpAddr, time::Duration};

use sha2::{Digest, Sha256};

use super::{ServiceError, ServiceResult, cost_limits::block};
use crate::{
    cache::Counters,
    metrics::{Limit, Metrics},
};

#[derive(Debug, Clone, Copy)]
pub struct AccountLimits {
    /// Failed logins per account (email) in a window.
    pub per_account: u64,
    /// Failed logins per client address in a window.
    pub per_address: u64,
    /// Registrations per client address in a window.
    pub registrations_per_address: u64,
    pub window: Duration,
}

#[derive(Clone)]
pub struct AccountThrottle {
    counters: Counters,
    limits: AccountLimits,
    metrics: Metrics,
}

impl AccountThrottle {
    pub fn new(counters: Counters, limits: AccountLimits, metrics: Metrics) -> Self {
        Self {
            counters,
            limits,
            metrics,
        }
    }

    fn account_key(email: &str) -> String {
        // Hashed so Redis never holds email addresses.
        let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
        let account: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!("login:account:{account}")
    }

    fn address_key(kind: &str, address: IpAddr) -> String {
        format!("{kind}:address:{}", block(address))
    }

    /// Counts a login attempt, or refuses it with RATE_LIMITED when the
    /// account or the address has used up its budget. Call before the
    /// password is checked, and [`login_succeeded`](Self::login_succeeded)
    /// after a right one.
    pub async fn begin_login(&self, email: &str, address: Option<IpAddr>) -> ServiceResult<()> {
        let budgets: Vec<(String, u64)> = [
            Some((Self::account_key(email), self.limits.per_account)),
            address.map(|address| (Self::address_key("login", address), self.limits.per_address)),
        ]
        .into_iter()
        .flatten()
        .collect();
        self.admit(&budgets, "too many failed logins").await
    }

    /// A successful login clears the account's failures and gives the
    /// address its attempt back (without clearing the address's failures:
    /// one right guess must not reset a spray across many accounts).
    pub async fn login_succeeded(&self, email: &str, address: Option<IpAddr>) {
        let _ = self.counters.reset(&Self::account_key(email)).await;
        if let Some(address) = address {
            let _ = self
                .counters
                .refund(&Self::address_key("login", address), 1)
                .await;
        }
    }

    /// Counts a registration attempt from `address`, or refuses it with
    /// RATE_LIMITED past the address's budget. Call before the password is
    /// hashed.
    pub async fn begin_registration(&self, address: Option<IpAddr>) -> ServiceResult<()> {
        let Some(address) = address else {
            return Ok(());
        };
        let budget = (
            Self::address_key("register", address),
            self.limits.registrations_per_address,
        );
        self.admit(&[budget], "too many registrations from this address")
            .await
    }

    /// Adds one attempt to every budget if it fits all of them. An
    /// unreachable Redis fails open: it must not lock everyone out.
    async fn admit(&self, budgets: &[(String, u64)], reason: &str) -> ServiceResult<()> {
        let Ok(charge) = self.counters.charge(budgets, 1, self.limits.window).await else {
            return Ok(());
        };
        if charge.accepted {
            return Ok(());
        }
        let retry_after = budgets
            .iter()
            .zip(&charge.windows)
            .filter(|((_, limit), window)| window.count >= *limit)
            .map(|(_, window)| window.resets_in)
            .max()
            .unwrap_or(self.limits.window);
        self.metrics.rate_limited(Limit::Login);
        Err(ServiceError::RateLimited {
            reason: reason.to_owned(),
            retry_after,
        })
    }
}
