//! Optional file paths in the config files, where `""` means unset (as the
//! documented defaults write them): `#[serde(with = "crate::tls::path_setting")]`
//! on an `Option<PathBuf>`.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(path: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match path {
        Some(path) => s.serialize_str(&path.to_string_lossy()),
        None => s.serialize_str(""),
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    let text = String::deserialize(d)?;
    Ok((!text.trim().is_empty()).then(|| PathBuf::from(text)))
}
