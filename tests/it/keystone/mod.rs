//! keystone mode against the real Keystone that scripts/test.sh starts
//! (`HERALD_TEST_KEYSTONE_URL`): each test creates its own project, users
//! and catalog entries with random names through Keystone's API and deletes
//! them afterwards; outage and expiry tests run a Keystone process of their
//! own on the same database.

mod callers;
pub mod fixture;
mod load;
mod outage;
mod tokens;
