//! The one integration-test binary: each module tests one thing across a
//! process boundary (see STYLE.md, "Tests").

mod clients;
