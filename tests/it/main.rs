//! herald's integration tests: one binary, one module per subsystem, each
//! against the real external system.

mod directory_store;
