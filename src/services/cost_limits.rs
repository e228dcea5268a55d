//! Rate limiting by query cost: every client address, and every user when
//! one is logged in, has a budget of cost per window, so one huge query
//! spends as much as many small ones. A request is charged to each budget
//! that applies, or, if it does not fit one of them, to none: it is refused
//! without spending anything, and retrying when the window resets works.
//!
//! IPv6 clients are counted per /64, the block one subscriber usually holds,
//! so rotating through its addresses does not multiply the budget.

use std::{
    net::{IpAddr, Ipv6Addr},
    time::Duration,
};

use crate::cache::Counters;

/// Budgets per window; `None` means no limit of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CostLimits {
    pub per_address: Option<u64>,
    pub per_user: Option<u64>,
    pub window: Duration,
}

/// The tightest budget that applied to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub limit: u64,
    pub remaining: u64,
    pub resets_in: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    /// Go ahead; `None` when no budget applies (or none can be read: an
    /// unreachable Redis must not lock every client out).
    Accepted(Option<Budget>),
    /// Over budget: nothing was spent.
    Refused(Budget),
}

#[derive(Clone)]
pub struct CostLimiter {
    counters: Counters,
    limits: CostLimits,
}

impl CostLimiter {
    pub fn new(counters: Counters, limits: CostLimits) -> Self {
        Self { counters, limits }
    }

    /// Charges `cost` to the budgets of `address` and of `user`.
    pub async fn charge(&self, cost: u64, address: Option<IpAddr>, user: Option<i64>) -> Charge {
        let budgets: Vec<(String, u64)> = [
            address
                .zip(self.limits.per_address)
                .map(|(address, limit)| (format!("cost:address:{}", block(address)), limit)),
            user.zip(self.limits.per_user)
                .map(|(user, limit)| (format!("cost:user:{user}"), limit)),
        ]
        .into_iter()
        .flatten()
        .collect();
        if budgets.is_empty() {
            return Charge::Accepted(None);
        }
        let Ok(charge) = self
            .counters
            .charge(&budgets, cost, self.limits.window)
            .await
        else {
            return Charge::Accepted(None);
        };
        let remaining = |((_, limit), window): (&(String, u64), &crate::cache::Window)| Budget {
            limit: *limit,
            remaining: limit.saturating_sub(window.count),
            resets_in: window.resets_in,
        };
        let states = budgets.iter().zip(&charge.windows).map(remaining);
        if charge.accepted {
            Charge::Accepted(states.min_by_key(|budget| budget.remaining))
        } else {
            // The budget that refused it; with several, the one that frees
            // up last decides when a retry can succeed.
            let refusing = states
                .filter(|budget| budget.remaining < cost)
                .max_by_key(|budget| budget.resets_in);
            match refusing {
                Some(budget) => Charge::Refused(budget),
                None => Charge::Accepted(None),
            }
        }
    }
}

/// What an address is counted as: itself, or its /64 for IPv6.
pub(crate) fn block(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_address: u64, per_user: u64) -> CostLimiter {
        CostLimiter::new(
            Counters::memory(),
            CostLimits {
                per_address: Some(per_address),
                per_user: Some(per_user),
                window: Duration::from_secs(60),
            },
        )
    }

    #[tokio::test]
    async fn the_tightest_budget_is_reported_and_decides() {
        let limiter = limiter(1_000, 100);
        let address = Some("192.0.2.1".parse().unwrap());
        let Charge::Accepted(Some(budget)) = limiter.charge(60, address, Some(7)).await else {
            panic!("within budget")
        };
        assert_eq!((budget.limit, budget.remaining), (100, 40));
        let Charge::Refused(refused) = limiter.charge(60, address, Some(7)).await else {
            panic!("over the user's budget")
        };
        assert_eq!((refused.limit, refused.remaining), (100, 40));
        assert!(refused.resets_in > Duration::from_secs(59));
        // Anonymous requests from the same address only have its budget,
        // which the refused request did not spend.
        let Charge::Accepted(Some(budget)) = limiter.charge(60, address, None).await else {
            panic!("within the address budget")
        };
        assert_eq!((budget.limit, budget.remaining), (1_000, 880));
    }

    #[tokio::test]
    async fn ipv6_clients_share_their_64() {
        let limiter = limiter(100, 100);
        let one = "2001:db8:1:2::1".parse().ok();
        let other = "2001:db8:1:2:ffff::9".parse().ok();
        assert!(matches!(
            limiter.charge(100, one, None).await,
            Charge::Accepted(_)
        ));
        assert!(matches!(
            limiter.charge(1, other, None).await,
            Charge::Refused(_)
        ));
        let elsewhere = "2001:db8:1:3::1".parse().ok();
        assert!(matches!(
            limiter.charge(1, elsewhere, None).await,
            Charge::Accepted(_)
        ));
    }
}
