//! Hashed LoRA on the device: theta -> every LoRA factor, through `hashing::IndexMap`.
//!
//! Each adapted projection y = x W + b gains (x A) B, with A: [in, rank] and B: [rank, out]
//! read from theta as `theta[index] * scale`. The gather runs on the backend, so autodiff
//! carries gradients back to theta.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::hashing::{HashError, IndexMap, LoraPart, LoraSlot};

/// The index map of one model, uploaded once.
#[derive(Clone, Debug)]
pub struct LoraMap {
    k: usize,
    index: Tensor<1, Int>,
    scale: Tensor<1>,
    /// (first entry, [rows, cols], part) of every slot, in slot order.
    slots: Vec<(usize, [usize; 2], LoraPart)>,
}

impl LoraMap {
    pub fn new(slots: &[LoraSlot], k: u32, hash_seed: u64, device: &Device) -> Result<Self, HashError> {
        let map = IndexMap::new(slots, k, hash_seed)?;
        let d = map.len();
        let index: Vec<i64> = map.indices().iter().map(|&i| i64::from(i)).collect();
        Ok(Self {
            k: k as usize,
            index: Tensor::from_data(TensorData::new(index, [d]), device),
            scale: Tensor::from_data(TensorData::new(map.scales(), [d]), device),
            slots: (0..slots.len())
                .map(|s| (map.slot_range(s).start, [slots[s].rows as usize, slots[s].cols as usize], slots[s].part))
                .collect(),
        })
    }

    /// The vector length k.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Every slot's matrix for `theta` (length k), in slot order, with the B factors
    /// scaled by `strength`: the update A B scales linearly (0: no update, 1: the clip).
    pub fn factors(&self, theta: Tensor<1>, strength: f32) -> Vec<Tensor<2>> {
        assert_eq!(theta.dims(), [self.k], "theta length must equal k");
        let entries = theta.select(0, self.index.clone()) * self.scale.clone();
        self.slots
            .iter()
            .map(|&(at, [rows, cols], part)| {
                let m = entries.clone().slice(at..at + rows * cols).reshape([rows, cols]);
                if part == LoraPart::B && strength != 1.0 { m.mul_scalar(strength) } else { m }
            })
            .collect()
    }
}

/// Two adapters' factors as one whose update is the sum of theirs, layer by layer:
/// A = [A1 | A2] (ranks side by side) and B = [B1; B2], so x A B = x A1 B1 + x A2 B2.
/// Both lists come from the same model's slots (A then B for each projection).
pub fn merge(first: Vec<Tensor<2>>, second: Vec<Tensor<2>>) -> Vec<Tensor<2>> {
    assert_eq!(first.len(), second.len(), "both adapters must have the model's slots");
    first
        .into_iter()
        .zip(second)
        .enumerate()
        .map(|(i, (a, b))| if i % 2 == 0 { Tensor::cat(vec![a, b], 1) } else { Tensor::cat(vec![a, b], 0) })
        .collect()
}
