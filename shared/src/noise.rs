//! Counter-based, seekable PRNG (Philox4x32-10) and the Gaussian noise built on it.
//!
//! Every number is a pure function of `(seed, stream, index)`, so any element can be
//! drawn without drawing the ones before it. Integer arithmetic and `libm` only: x86-64
//! and wasm32 give the same bits (pinned by golden vectors in `tests/golden.rs`).

/// Philox4x32 round multipliers and Weyl key increments (Salmon et al., SC'11).
const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// One Philox4x32-10 block: 10 rounds over a 128-bit counter with a 64-bit key.
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let (mut c, mut k) = (counter, key);
    for round in 0..10 {
        if round > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        let p0 = u64::from(M0) * u64::from(c[0]);
        let p1 = u64::from(M1) * u64::from(c[2]);
        c = [
            (p1 >> 32) as u32 ^ c[1] ^ k[0],
            p1 as u32,
            (p0 >> 32) as u32 ^ c[3] ^ k[1],
            p0 as u32,
        ];
    }
    c
}

/// Which independent sequence a draw belongs to. Streams never overlap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// The sampler's initial noise x_1.
    Initial,
    /// The shuffle that builds the LoRA index map (`hashing`).
    IndexMap,
    /// Candidate `index` of sampler step `step` (inference-time scaling).
    Candidate { step: u16, index: u32 },
}

impl Stream {
    /// The 64-bit stream id that goes into the Philox counter (see SPEC.md, "Noise").
    pub fn id(self) -> u64 {
        match self {
            Stream::Initial => 0,
            Stream::IndexMap => 1 << 56,
            Stream::Candidate { step, index } => (2 << 56) | (u64::from(step) << 32) | u64::from(index),
        }
    }
}

/// Block `block` of `stream` under `seed`: counter = (block lo, block hi, stream lo, stream hi),
/// key = (seed lo, seed hi).
pub fn block(seed: u64, stream: Stream, block: u64) -> [u32; 4] {
    let s = stream.id();
    philox4x32_10(
        [block as u32, (block >> 32) as u32, s as u32, (s >> 32) as u32],
        [seed as u32, (seed >> 32) as u32],
    )
}

/// The `i`-th uniform 64-bit integer of a stream: block i/2, words (0,1) or (2,3), low word first.
pub fn u64_at(seed: u64, stream: Stream, i: u64) -> u64 {
    let b = block(seed, stream, i / 2);
    let h = (i % 2) as usize * 2;
    u64::from(b[h]) | (u64::from(b[h + 1]) << 32)
}

const TWO_POW_M53: f64 = 1.0 / (1u64 << 53) as f64;

/// The standard normal pair of one block, by Box-Muller in f64 with `libm`.
fn box_muller(b: [u32; 4]) -> (f64, f64) {
    let x = u64::from(b[0]) | (u64::from(b[1]) << 32);
    let y = u64::from(b[2]) | (u64::from(b[3]) << 32);
    let u1 = ((x >> 11) + 1) as f64 * TWO_POW_M53; // (0, 1]: log is finite
    let u2 = (y >> 11) as f64 * TWO_POW_M53; // [0, 1)
    let r = libm::sqrt(-2.0 * libm::log(u1));
    let a = 2.0 * core::f64::consts::PI * u2;
    (r * libm::cos(a), r * libm::sin(a))
}

/// Element `i` of the standard Gaussian sequence of `stream`: block i/2, the cosine
/// half for even i and the sine half for odd i, rounded to f32.
pub fn gaussian(seed: u64, stream: Stream, i: u64) -> f32 {
    let (z0, z1) = box_muller(block(seed, stream, i / 2));
    (if i % 2 == 0 { z0 } else { z1 }) as f32
}

/// Elements `start .. start + out.len()` of a Gaussian stream, one Philox block per pair.
pub fn fill_gaussian(seed: u64, stream: Stream, start: u64, out: &mut [f32]) {
    let mut i = start;
    let mut k = 0;
    while k < out.len() {
        let (z0, z1) = box_muller(block(seed, stream, i / 2));
        if i % 2 == 0 {
            out[k] = z0 as f32;
            if k + 1 < out.len() {
                out[k + 1] = z1 as f32;
            }
            k += 2;
            i += 2;
        } else {
            out[k] = z1 as f32;
            k += 1;
            i += 1;
        }
    }
}

/// `n` Gaussian elements of a stream from index 0.
pub fn gaussian_vec(seed: u64, stream: Stream, n: usize) -> Vec<f32> {
    let mut v = vec![0.0; n];
    fill_gaussian(seed, stream, 0, &mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random123_known_answers() {
        assert_eq!(philox4x32_10([0; 4], [0; 2]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
        assert_eq!(
            philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]
        );
        assert_eq!(
            philox4x32_10([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]),
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
        );
    }

    #[test]
    fn seeking_matches_sequential() {
        let all = gaussian_vec(7, Stream::Initial, 101);
        for (i, &z) in all.iter().enumerate() {
            assert_eq!(z.to_bits(), gaussian(7, Stream::Initial, i as u64).to_bits());
        }
        for start in [1u64, 2, 33, 50] {
            let mut part = vec![0.0; 17];
            fill_gaussian(7, Stream::Initial, start, &mut part);
            let s = start as usize;
            assert_eq!(part, all[s..s + 17]);
        }
    }

    #[test]
    fn candidate_drawn_alone_equals_candidate_drawn_among_others() {
        let n = 64;
        let alone = gaussian_vec(3, Stream::Candidate { step: 5, index: 9 }, n);
        let all: Vec<Vec<f32>> =
            (0..16).map(|j| gaussian_vec(3, Stream::Candidate { step: 5, index: j }, n)).collect();
        assert_eq!(alone, all[9]);
        assert_ne!(all[8], all[9]);
    }

    #[test]
    fn streams_and_seeds_differ() {
        let a = gaussian_vec(1, Stream::Initial, 8);
        assert_ne!(a, gaussian_vec(2, Stream::Initial, 8));
        assert_ne!(a, gaussian_vec(1, Stream::IndexMap, 8));
        assert_ne!(
            gaussian_vec(1, Stream::Candidate { step: 1, index: 0 }, 8),
            gaussian_vec(1, Stream::Candidate { step: 0, index: 1 }, 8)
        );
    }

    #[test]
    fn gaussian_moments() {
        let v = gaussian_vec(42, Stream::Initial, 200_000);
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
        let var = v.iter().map(|&x| (f64::from(x) - mean).powi(2)).sum::<f64>() / n;
        let tail = v.iter().filter(|x| x.abs() > 1.96).count() as f64 / n;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "var {var}");
        assert!((tail - 0.05).abs() < 0.003, "P(|z|>1.96) = {tail}");
        assert!(v.iter().all(|x| x.is_finite()));
    }
}
