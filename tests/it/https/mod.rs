//! HTTPS serving (`[http.tls]`): a CA and certificates made by each test
//! (rcgen), a rustls client that trusts only that CA, `herald serve` in the
//! test process and as a child process that is sent SIGHUP.

mod certs;
pub mod child;
mod client;
mod in_process;
mod reload;
mod start;
