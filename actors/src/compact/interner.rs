//! The interner: each distinct string stored once in a text arena and named by a `u32` index
//! ([`Name`]). A buffered event and a tally key hold names, not strings. A chunk of events
//! (`compact::chunk`) is built with an [`Interner`] and keeps its names [`Interner::freeze`]d:
//! the same arena without the lookup table, which only building needs. The arena only grows,
//! and is freed with the chunk or the flush's batch that owns it.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use hashbrown::HashTable;

/// Reads names back as strings: an [`Interner`] while it is built, its [`Names`] once frozen.
pub trait Resolve {
    /// The string of `name`; empty for a name this table did not give.
    fn get(&self, name: Name) -> &str;
}

/// An interned string: its index in one [`Interner`] (meaningless with any other).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(u32);

impl Name {
    /// The index in its interner.
    pub fn index(self) -> u32 {
        self.0
    }
}

/// Distinct strings in one arena: `text` holds them back to back, `ends[i]` is where string
/// `i` ends (it starts where `i - 1` ended), and `table` finds a string's index by its hash.
/// About `len + 9` bytes per distinct string (4 in `ends`, 4 in the table plus its control
/// byte), plus the table's spare capacity.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    text: String,
    ends: Vec<u32>,
    table: HashTable<u32>,
    hasher: RandomState,
}

impl Interner {
    /// An empty interner.
    pub fn new() -> Self {
        Self::default()
    }

    /// The name of `s`, storing it if it is new.
    ///
    /// # Panics
    /// Never in practice: past `u32::MAX` bytes of text or names (4 GiB of distinct strings,
    /// far above any configured buffer) the index would not fit.
    pub fn intern(&mut self, s: &str) -> Name {
        let hash = self.hasher.hash_one(s);
        let (text, ends) = (&self.text, &self.ends);
        let found = self.table.find(hash, |&i| slice(text, ends, i) == s);
        if let Some(&i) = found {
            return Name(i);
        }
        let i = u32::try_from(self.ends.len()).unwrap_or(u32::MAX);
        self.text.push_str(s);
        self.ends.push(u32::try_from(self.text.len()).unwrap_or(u32::MAX));
        let (text, ends, hasher) = (&self.text, &self.ends, &self.hasher);
        self.table.insert_unique(hash, i, |&j| hasher.hash_one(slice(text, ends, j)));
        Name(i)
    }

    /// The string of `name`; empty for a name this interner did not give.
    pub fn get(&self, name: Name) -> &str {
        slice(&self.text, &self.ends, name.0)
    }

    /// The names without the lookup table, their arena and index cut to size: what a chunk
    /// keeps once no name is added any more.
    pub fn freeze(self) -> Names {
        Names { text: self.text.into_boxed_str(), ends: self.ends.into_boxed_slice() }
    }

    /// Number of distinct strings held.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether no string is held.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Bytes of the strings held and their index (what [`Interner::freeze`] keeps).
    pub fn content_bytes(&self) -> usize {
        self.text.len() + self.ends.len() * 4
    }

    /// Heap bytes held (capacities: text arena, ends, table buckets with their control bytes).
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * 4 + self.table.capacity() * 5
    }
}

impl Resolve for Interner {
    fn get(&self, name: Name) -> &str {
        Interner::get(self, name)
    }
}

/// The frozen names of one [`Interner`]: its text and index, no lookup table. About `len + 4`
/// bytes per distinct string.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Names {
    text: Box<str>,
    ends: Box<[u32]>,
}

impl Names {
    /// The string of `name`; empty for a name these names do not hold.
    pub fn get(&self, name: Name) -> &str {
        slice(&self.text, &self.ends, name.0)
    }

    /// Number of distinct strings held.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether no string is held.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The strings, in the order of their names (the `i`-th is the string of name `i`).
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.ends.len() as u32).map(|i| slice(&self.text, &self.ends, i))
    }

    /// Heap bytes held (text and index).
    pub fn heap_bytes(&self) -> usize {
        self.text.len() + self.ends.len() * 4
    }
}

impl Resolve for Names {
    fn get(&self, name: Name) -> &str {
        Names::get(self, name)
    }
}

/// String `i` of an arena; empty for an index past its end.
fn slice<'a>(text: &'a str, ends: &[u32], i: u32) -> &'a str {
    let i = i as usize;
    let Some(&end) = ends.get(i) else { return "" };
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    text.get(start..end as usize).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_name_per_distinct_string_and_back() {
        let mut t = Interner::new();
        let a = t.intern("alice");
        let b = t.intern("bob");
        let e = t.intern("");
        let u = t.intern("Ünïcode名");
        assert_eq!(t.intern("alice"), a);
        assert_ne!(a, b);
        assert_eq!(t.len(), 4);
        assert_eq!((t.get(a), t.get(b), t.get(e), t.get(u)), ("alice", "bob", "", "Ünïcode名"));
        assert_eq!(t.intern(""), e);
        assert_eq!(Interner::new().get(a), "", "a foreign name resolves to nothing, never panics");
    }

    #[test]
    fn many_strings_survive_table_growth() {
        let mut t = Interner::new();
        let names: Vec<Name> = (0..50_000).map(|i| t.intern(&format!("viewer{i}"))).collect();
        for (i, n) in names.iter().enumerate() {
            assert_eq!(t.get(*n), format!("viewer{i}"));
            assert_eq!(t.intern(&format!("viewer{i}")), *n);
        }
        assert_eq!(t.len(), 50_000);
        // Compact: the text plus a few bytes of index per string.
        assert!(t.heap_bytes() < 50_000 * 40, "{} bytes", t.heap_bytes());
        let text: usize = names.iter().map(|n| t.get(*n).len()).sum();
        let frozen = t.clone().freeze();
        assert_eq!(frozen.heap_bytes(), text + 50_000 * 4, "frozen: the text and its index, cut to size");
        assert_eq!(frozen.len(), 50_000);
        for (i, s) in frozen.iter().enumerate() {
            assert_eq!(s, t.get(names[i]));
            assert_eq!(frozen.get(names[i]), s);
        }
        assert_eq!(frozen.get(Name(50_000)), "", "past the end: nothing, never a panic");
    }
}
