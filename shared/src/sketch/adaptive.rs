//! Adaptive symbol models (version 6, SPEC.md "Sketch adaptive models"): the wavelet
//! coder's symbols -ESCAPE..=ESCAPE keep counts per model, which start from the fitted
//! Laplace's table and grow by one with each symbol coded, so the coder learns the clip's
//! statistics as it goes. Integer arithmetic only: the same bits on every target.

use core::num::NonZeroU32;

use constriction::stream::model::{DecoderModel, EncoderModel, EntropyModel};

use crate::entropy::PRECISION;

/// Symbols of one model: -ESCAPE..=ESCAPE.
pub const SYMBOLS: usize = 2 * super::transform::ESCAPE as usize + 1;
/// Counts are in sixteenths of a symbol.
pub const ONE: u32 = 16;
/// The Laplace's table (summing to 2^PRECISION) starts as 2^PRIOR_LOG2 symbols' worth.
pub const PRIOR_LOG2: u32 = 7;
/// When a model's total passes HALVE (1,024 symbols), its counts halve, rounding up.
pub const HALVE: u32 = 1024 * ONE;

/// The counts of one model.
#[derive(Clone, Debug)]
pub struct Counts {
    counts: [u32; SYMBOLS],
    total: u32,
}

impl Counts {
    /// Counts from a table of SYMBOLS frequencies summing to 2^PRECISION: each shifted
    /// right by PRECISION - PRIOR_LOG2 - log2(ONE).
    pub fn new(table: &[u32]) -> Self {
        let shift = PRECISION - PRIOR_LOG2 - ONE.ilog2();
        let mut counts = [0; SYMBOLS];
        for (c, &t) in counts.iter_mut().zip(table) {
            *c = t >> shift;
        }
        Self { counts, total: counts.iter().sum() }
    }

    /// The frequency of symbol index s before the remainder: floor(count (2^PRECISION -
    /// SYMBOLS) / total) + 1.
    fn base(&self, s: usize) -> u32 {
        let free = (1u64 << PRECISION) - SYMBOLS as u64;
        (u64::from(self.counts[s]) * free / u64::from(self.total)) as u32 + 1
    }

    /// The coding frequencies: `base` of each symbol, and what is left of 2^PRECISION
    /// added to the first largest.
    pub fn freqs(&self) -> Freqs {
        let mut f = [0u32; SYMBOLS];
        for (s, fs) in f.iter_mut().enumerate() {
            *fs = self.base(s);
        }
        let sum: u32 = f.iter().sum();
        let top = (0..SYMBOLS).fold(0, |best, i| if f[i] > f[best] { i } else { best });
        f[top] += (1u32 << PRECISION) - sum;
        Freqs(f)
    }

    /// About the bits symbol index s costs now (`base`, without the remainder): what the
    /// encoder's search estimates with.
    pub fn bits(&self, s: usize) -> f64 {
        f64::from(PRECISION) - libm::log2(f64::from(self.base(s)))
    }

    /// Counts symbol index s: its count and the total grow by ONE; past HALVE every count
    /// becomes (count + 1) / 2.
    pub fn update(&mut self, s: usize) {
        self.counts[s] += ONE;
        self.total += ONE;
        if self.total > HALVE {
            self.counts.iter_mut().for_each(|c| *c = (*c + 1) >> 1);
            self.total = self.counts.iter().sum();
        }
    }
}

/// Fixed-point frequencies of the SYMBOLS symbols, summing to 2^PRECISION, each at least 1:
/// an entropy model for constriction's ANS coder.
#[derive(Clone, Copy, Debug)]
pub struct Freqs(pub [u32; SYMBOLS]);

impl EntropyModel<{ PRECISION as usize }> for Freqs {
    type Symbol = usize;
    type Probability = u32;
}

impl EncoderModel<{ PRECISION as usize }> for Freqs {
    fn left_cumulative_and_probability(&self, symbol: impl core::borrow::Borrow<usize>) -> Option<(u32, NonZeroU32)> {
        let s = *symbol.borrow();
        let f = *self.0.get(s)?;
        Some((self.0[..s].iter().sum(), NonZeroU32::new(f)?))
    }
}

impl DecoderModel<{ PRECISION as usize }> for Freqs {
    fn quantile_function(&self, quantile: u32) -> (usize, u32, NonZeroU32) {
        let mut left = 0u32;
        for (s, &f) in self.0.iter().enumerate() {
            if quantile < left + f || s + 1 == SYMBOLS {
                return (s, left, NonZeroU32::new(f).expect("frequencies are at least 1"));
            }
            left += f;
        }
        unreachable!("SYMBOLS > 0")
    }
}

impl Freqs {
    /// Symbol index s's interval: what an encoder pushes.
    pub fn interval(&self, s: usize) -> Interval {
        let (left, probability) = self.left_cumulative_and_probability(s).expect("a symbol index below SYMBOLS");
        Interval { symbol: s, left, probability }
    }
}

/// One symbol's interval under its model. ANS codes in reverse, so an encoder finds the
/// intervals in coding order first, then pushes them back to front.
#[derive(Clone, Copy, Debug)]
pub struct Interval {
    pub symbol: usize,
    left: u32,
    probability: NonZeroU32,
}

impl EntropyModel<{ PRECISION as usize }> for Interval {
    type Symbol = usize;
    type Probability = u32;
}

impl EncoderModel<{ PRECISION as usize }> for Interval {
    fn left_cumulative_and_probability(&self, symbol: impl core::borrow::Borrow<usize>) -> Option<(u32, NonZeroU32)> {
        (*symbol.borrow() == self.symbol).then_some((self.left, self.probability))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::{Prior, PriorKind};

    fn laplace() -> Vec<u32> {
        Prior { kind: PriorKind::Laplace, scale: 0.7, min: -16, max: 16 }.table().unwrap()
    }

    #[test]
    fn frequencies_sum_to_one_and_follow_the_counts() {
        let mut c = Counts::new(&laplace());
        for _ in 0..10_000 {
            let f = c.freqs();
            assert_eq!(f.0.iter().map(|&x| u64::from(x)).sum::<u64>(), 1 << PRECISION);
            assert!(f.0.iter().all(|&x| x >= 1));
            c.update(20);
        }
        // Symbol index 20 (+4) now dominates: it costs under a bit, the mode (0) more.
        assert!(c.bits(20) < 1.0 && c.bits(16) > 3.0, "{} {}", c.bits(20), c.bits(16));
        assert!(c.total <= HALVE);
    }

    #[test]
    fn the_quantile_function_inverts_the_cumulatives() {
        let f = Counts::new(&laplace()).freqs();
        for s in 0..SYMBOLS {
            let (left, p) = f.left_cumulative_and_probability(s).unwrap();
            assert_eq!(f.quantile_function(left), (s, left, p));
            assert_eq!(f.quantile_function(left + p.get() - 1).0, s);
        }
    }
}
