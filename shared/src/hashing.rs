//! The balanced, seeded index map from LoRA entries to the entries of the vector theta.
//!
//! The D entries of all LoRA slots, in slot order and row-major within a slot, are
//! numbered p = 0..D. Entry p reads `theta[index(p)] * scale(p)`. The map is the sequence
//! `p mod k` shuffled by Fisher-Yates with the `IndexMap` noise stream, so every theta
//! entry is used floor(D/k) or ceil(D/k) times, and `scale(p) = 1 / sqrt(uses(index(p)))`.

use crate::noise::{self, Stream};

/// The largest number of LoRA entries a model may have (the map holds 4 bytes per entry).
pub const MAX_ENTRIES: u64 = 1 << 26;

/// Which factor of a LoRA update `B A` a slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LoraPart {
    A,
    B,
}

/// One LoRA factor matrix: the layer it adapts, which factor, and its shape.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoraSlot {
    pub layer: String,
    pub part: LoraPart,
    pub rows: u32,
    pub cols: u32,
}

impl LoraSlot {
    pub fn len(&self) -> u64 {
        u64::from(self.rows) * u64::from(self.cols)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HashError {
    #[error("the vector length k must be at least 1")]
    EmptyVector,
    #[error("the LoRA slots hold no entries")]
    NoEntries,
    #[error("the LoRA slots hold {0} entries, more than the limit of {MAX_ENTRIES}")]
    TooManyEntries(u64),
    #[error("vector length k = {k} exceeds the {d} LoRA entries it feeds: some entries would never be used")]
    VectorLongerThanEntries { k: u32, d: u64 },
}

/// The index and scale of every LoRA entry, for one (slots, k, seed).
#[derive(Clone, Debug, PartialEq)]
pub struct IndexMap {
    k: u32,
    index: Vec<u32>,
    /// Start of each slot in `index`, plus the total D at the end.
    offsets: Vec<usize>,
    /// Scale of an entry whose theta index is below `D mod k` (used ceil(D/k) times) and of the others.
    scale_ceil: f32,
    scale_floor: f32,
}

impl IndexMap {
    pub fn new(slots: &[LoraSlot], k: u32, seed: u64) -> Result<Self, HashError> {
        let d: u64 = slots.iter().map(LoraSlot::len).sum();
        if k == 0 {
            return Err(HashError::EmptyVector);
        }
        if d == 0 {
            return Err(HashError::NoEntries);
        }
        if d > MAX_ENTRIES {
            return Err(HashError::TooManyEntries(d));
        }
        if u64::from(k) > d {
            return Err(HashError::VectorLongerThanEntries { k, d });
        }
        let mut offsets = Vec::with_capacity(slots.len() + 1);
        let mut at = 0usize;
        for s in slots {
            offsets.push(at);
            at += s.len() as usize;
        }
        offsets.push(at);

        let d = d as usize;
        let mut index: Vec<u32> = (0..d).map(|p| (p % k as usize) as u32).collect();
        for i in (1..d).rev() {
            let r = noise::u64_at(seed, Stream::IndexMap, (d - 1 - i) as u64);
            let j = ((u128::from(r) * (i as u128 + 1)) >> 64) as usize;
            index.swap(i, j);
        }
        let floor = (d / k as usize) as f64;
        Ok(Self {
            k,
            index,
            offsets,
            scale_ceil: (1.0 / libm::sqrt(floor + 1.0)) as f32,
            scale_floor: (1.0 / libm::sqrt(floor)) as f32,
        })
    }

    /// The vector length k.
    pub fn k(&self) -> u32 {
        self.k
    }

    /// The number D of LoRA entries.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// How many LoRA entries read theta entry `i`.
    pub fn uses(&self, i: u32) -> u32 {
        let d = self.index.len();
        let k = self.k as usize;
        (d / k + usize::from((i as usize) < d % k)) as u32
    }

    /// The theta index of every entry, in entry order.
    pub fn indices(&self) -> &[u32] {
        &self.index
    }

    /// The theta index of LoRA entry `p`.
    pub fn index(&self, p: usize) -> u32 {
        self.index[p]
    }

    /// The scale of LoRA entry `p`: 1 / sqrt(uses(index(p))).
    pub fn scale(&self, p: usize) -> f32 {
        self.scale_of(self.index[p])
    }

    fn scale_of(&self, i: u32) -> f32 {
        if (i as usize) < self.index.len() % self.k as usize { self.scale_ceil } else { self.scale_floor }
    }

    /// The scale of every entry, in entry order.
    pub fn scales(&self) -> Vec<f32> {
        self.index.iter().map(|&i| self.scale_of(i)).collect()
    }

    /// The entry range of slot `s` (row-major within the slot).
    pub fn slot_range(&self, s: usize) -> core::ops::Range<usize> {
        self.offsets[s]..self.offsets[s + 1]
    }

    /// Every LoRA entry for a given theta: `theta[index(p)] * scale(p)`.
    pub fn expand(&self, theta: &[f32]) -> Vec<f32> {
        assert_eq!(theta.len(), self.k as usize, "theta length must equal k");
        self.index.iter().map(|&i| theta[i as usize] * self.scale_of(i)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots() -> Vec<LoraSlot> {
        vec![
            LoraSlot { layer: "l0.q".into(), part: LoraPart::A, rows: 1, cols: 48 },
            LoraSlot { layer: "l0.q".into(), part: LoraPart::B, rows: 48, cols: 1 },
            LoraSlot { layer: "l1.v".into(), part: LoraPart::A, rows: 2, cols: 33 },
        ]
    }

    #[test]
    fn balanced_and_scaled() {
        let m = IndexMap::new(&slots(), 50, 9).unwrap();
        assert_eq!(m.len(), 48 + 48 + 66);
        let mut counts = vec![0u32; 50];
        for &i in m.indices() {
            counts[i as usize] += 1;
        }
        for (i, &c) in counts.iter().enumerate() {
            assert_eq!(c, m.uses(i as u32));
            assert!(c == 162 / 50 || c == 162 / 50 + 1);
        }
        for p in 0..m.len() {
            let u = m.uses(m.index(p)) as f32;
            assert!((m.scale(p) - 1.0 / u.sqrt()).abs() < 1e-7);
        }
        assert_eq!(m.slot_range(1), 48..96);
        assert_eq!(m.slot_range(2), 96..162);
    }

    #[test]
    fn seed_changes_map_and_is_deterministic() {
        let a = IndexMap::new(&slots(), 50, 1).unwrap();
        assert_eq!(a, IndexMap::new(&slots(), 50, 1).unwrap());
        assert_ne!(a.indices(), IndexMap::new(&slots(), 50, 2).unwrap().indices());
    }

    #[test]
    fn zero_theta_gives_zero_lora() {
        let m = IndexMap::new(&slots(), 7, 0).unwrap();
        assert!(m.expand(&[0.0; 7]).iter().all(|&x| x == 0.0));
    }

    #[test]
    fn rejects_bad_sizes() {
        assert_eq!(IndexMap::new(&slots(), 0, 0), Err(HashError::EmptyVector));
        assert_eq!(IndexMap::new(&[], 4, 0), Err(HashError::NoEntries));
        assert_eq!(IndexMap::new(&slots(), 163, 0), Err(HashError::VectorLongerThanEntries { k: 163, d: 162 }));
        let huge = [LoraSlot { layer: "x".into(), part: LoraPart::A, rows: 1 << 14, cols: 1 << 13 }];
        assert_eq!(IndexMap::new(&huge, 4, 0), Err(HashError::TooManyEntries(1 << 27)));
    }
}
