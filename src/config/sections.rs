//! How one TOML section feeds several owners. `[amqp]` holds the broker's
//! keys and the dispatcher's, `[agent]` the agent's and the host queue's,
//! `[auth]` the API's and Keystone's: users keep one section each, while each
//! room owns a type of its own. A [`Section`] hands each owner exactly the
//! keys its type declares (read from its `Deserialize` impl, so there is no
//! second list to keep in step); a key no owner took is an error naming
//! `section.key`.

use std::collections::HashMap;

use config::{Map, Value, ValueKind};
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};

use crate::support::config_error::ConfigError;

/// The top level of the file: one table per section.
pub(super) struct Root(Map<String, Value>);

impl Root {
    pub(super) fn new(built: config::Config) -> Result<Self, ConfigError> {
        Ok(Self(built.try_deserialize()?))
    }

    /// Takes `[name]` out of the file (empty when the file has none).
    pub(super) fn section(&mut self, name: &'static str) -> Result<Section, ConfigError> {
        let table = match self.0.remove(name) {
            Some(value) => value
                .into_table()
                .map_err(|error| error.extend_with_key(name))?,
            None => Map::new(),
        };
        Ok(Section { name, table })
    }

    /// Fails on a section nobody took.
    pub(super) fn finish(self) -> Result<(), ConfigError> {
        match self.0.keys().min() {
            Some(name) => Err(ConfigError::UnknownKey(name.clone())),
            None => Ok(()),
        }
    }
}

/// One section's keys not yet taken by an owner.
pub(super) struct Section {
    name: &'static str,
    table: Map<String, Value>,
}

impl Section {
    /// Builds `T` from the keys it declares (its defaults for the others).
    pub(super) fn take<T: DeserializeOwned>(&mut self) -> Result<T, ConfigError> {
        let mine: Map<String, Value> = declared_keys::<T>()
            .iter()
            .filter_map(|key| self.table.remove_entry(*key))
            .collect();
        // Wrapped as `{ name: mine }` so an error names `name.key`, as
        // deserialising the whole file did.
        let wrapped = Map::from_iter([(self.name.to_owned(), table(mine))]);
        let mut one: HashMap<String, T> = table(wrapped).try_deserialize()?;
        Ok(one
            .remove(self.name)
            .expect("the wrapper holds exactly this section"))
    }

    /// Fails on a key no owner declared.
    pub(super) fn finish(self) -> Result<(), ConfigError> {
        match self.table.keys().min() {
            Some(key) => Err(ConfigError::UnknownKey(format!("{}.{key}", self.name))),
            None => Ok(()),
        }
    }
}

fn table(map: Map<String, Value>) -> Value {
    Value::new(None, ValueKind::Table(map))
}

/// The keys (field names) of the struct `T`, as its `Deserialize` impl
/// announces them to a deserializer.
pub(super) fn declared_keys<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    // The error is expected: `FieldNames` only listens, it gives no values.
    let _ = T::deserialize(FieldNames(&mut fields));
    fields
}

/// A deserializer that records the field names a struct asks for, then stops.
struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = de::value::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("only the field names were asked for"))
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}
