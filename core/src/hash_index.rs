//! A hashed index for the hot lookups (session by id, lane by key).
//!
//! A `BTreeMap<String, _>` of 10k sessions costs about 14 string comparisons per lookup, several
//! times per event; a hash lookup costs one hash and one comparison. The index is an
//! `IndexMap`: its entries sit in the order of the operations made on it, never in hash order
//! (which differs between platforms, the hasher being word-size dependent), so nothing about it
//! depends on hashing but speed. Walks still go through [`HashIndex::sorted`], in key order,
//! and it serialises like a `BTreeMap` (same bytes, so snapshots do not depend on the map type).

use std::borrow::Borrow;
use std::fmt;
use std::hash::Hash;

use indexmap::IndexMap;
use rustc_hash::FxBuildHasher;
use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// A hash map whose walks and serialisation are in key order.
#[derive(Clone)]
pub struct HashIndex<K, V> {
    map: IndexMap<K, V, FxBuildHasher>,
}

impl<K, V> Default for HashIndex<K, V> {
    fn default() -> Self {
        Self { map: IndexMap::default() }
    }
}

impl<K: Hash + Eq + Ord, V> HashIndex<K, V> {
    /// The value of `key`.
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(key)
    }

    /// The value of `key`, mutable.
    #[inline]
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get_mut(key)
    }

    /// Whether `key` is there.
    #[inline]
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.contains_key(key)
    }

    /// Inserts, returning the value it replaced.
    #[inline]
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.map.insert(key, value)
    }

    /// Removes `key`, returning its value.
    #[inline]
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        // Order is not kept (walks sort), so the O(1) removal will do.
        self.map.swap_remove(key)
    }

    /// Number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether it is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every value, in the order of the operations made on the index (deterministic, but not
    /// kept across a snapshot): for folds whose result does not depend on order, like counts.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values()
    }

    /// Every entry, in key order (O(n log n): for views, cleanups and snapshots, not hot paths).
    pub fn sorted(&self) -> Vec<(&K, &V)> {
        let mut entries: Vec<(&K, &V)> = self.map.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        entries
    }
}

impl<K: Hash + Eq, V: PartialEq> PartialEq for HashIndex<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

impl<K: Hash + Eq, V: Eq> Eq for HashIndex<K, V> {}

impl<K: Hash + Eq + Ord + fmt::Debug, V: fmt::Debug> fmt::Debug for HashIndex<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.sorted()).finish()
    }
}

impl<K: Hash + Eq + Ord + Serialize, V: Serialize> Serialize for HashIndex<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let entries = self.sorted();
        let mut map = s.serialize_map(Some(entries.len()))?;
        for (k, v) in entries {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, K, V> Deserialize<'de> for HashIndex<K, V>
where
    K: Hash + Eq + Ord + Deserialize<'de>,
    V: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self { map: IndexMap::deserialize(d)? })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn serialises_like_a_btree_map() {
        let mut h = HashIndex::default();
        let mut b = BTreeMap::new();
        for i in [5u32, 1, 9, 3, 7, 100, 42] {
            h.insert(format!("id-{i}"), i);
            b.insert(format!("id-{i}"), i);
        }
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, serde_json::to_string(&b).unwrap());
        let back: HashIndex<String, u32> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
        assert_eq!(format!("{h:?}"), format!("{b:?}"));
        let keys: Vec<&String> = h.sorted().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, b.keys().collect::<Vec<_>>());
    }
}
