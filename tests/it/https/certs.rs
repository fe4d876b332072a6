//! Where `herald serve` reads its certificate pair, written as the HTTPS
//! tests replace it (the certificates come from [`crate::support::certs`]).

use std::path::{Path, PathBuf};

pub use crate::support::certs::{Leaf, TestCa};

/// Where serve reads its pair from.
#[derive(Clone)]
pub struct PairFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl PairFiles {
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            cert: dir.join("server-cert.pem"),
            key: dir.join("server-key.pem"),
        }
    }

    /// Replaces both files, each by a rename so no read sees half a file.
    pub fn write(&self, cert_pem: &str, key_pem: &str) {
        for (path, text) in [(&self.cert, cert_pem), (&self.key, key_pem)] {
            let fresh = path.with_extension("new");
            std::fs::write(&fresh, text).unwrap();
            std::fs::rename(&fresh, path).unwrap();
        }
    }

    pub fn write_leaf(&self, leaf: &Leaf) {
        self.write(&leaf.cert_pem, &leaf.key_pem);
    }
}
