//! The byte budget that request bodies in flight share, so that memory is bounded by
//! the budget and not by the number of connections (`server.body_budget_bytes`).
//!
//! A body reserves what it has buffered, as it arrives (not what its `Content-Length`
//! announces, so a client that announces 8 MiB and sends nothing holds nothing). A
//! body that would pass the budget is refused at once: 503 `Overloaded` with
//! `Retry-After: 1`; actix-http then closes the connection with a lingering close, so
//! the client reads the 503 before the unread rest of its body is discarded.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::ApiError;

/// The process-wide budget (one per server, shared by every worker).
#[derive(Debug)]
pub struct BodyBudget {
    limit: usize,
    used: AtomicUsize,
}

/// Bytes of one body held against the budget; given back when dropped.
#[derive(Debug)]
#[must_use]
pub struct BodyReservation {
    budget: Option<Arc<BodyBudget>>,
    bytes: usize,
}

impl BodyBudget {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(BodyBudget {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// Bytes reserved now, by every body in flight.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    /// An empty reservation against `budget`.
    pub fn reservation(budget: &Arc<BodyBudget>) -> BodyReservation {
        BodyReservation {
            budget: Some(Arc::clone(budget)),
            bytes: 0,
        }
    }
}

impl BodyReservation {
    /// A reservation that counts against nothing (no budget configured: unit tests).
    pub fn unbounded() -> Self {
        BodyReservation {
            budget: None,
            bytes: 0,
        }
    }

    /// Reserves `more` bytes, or refuses with the 503 when the budget would be passed.
    pub fn grow(&mut self, more: usize) -> Result<(), ApiError> {
        let Some(budget) = &self.budget else {
            return Ok(());
        };
        budget
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(more)
                    .filter(|total| *total <= budget.limit)
            })
            .map_err(|_| super::overloaded())?;
        self.bytes += more;
        Ok(())
    }
}

impl Drop for BodyReservation {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_the_budget_and_give_it_back() {
        let budget = BodyBudget::new(100);
        let mut first = BodyBudget::reservation(&budget);
        let mut second = BodyBudget::reservation(&budget);
        first.grow(60).expect("60 of 100");
        second.grow(40).expect("100 of 100");
        assert!(second.grow(1).is_err(), "101 of 100 is refused");
        assert_eq!(budget.used(), 100, "a refused growth reserves nothing");
        drop(first);
        assert_eq!(budget.used(), 40);
        second.grow(60).expect("room again");
        drop(second);
        assert_eq!(budget.used(), 0);
    }
}
