//! Entropy coding of the quantised vector under a parametric discrete prior.
//!
//! The prior (family, scale, symbol range) lives in the header. Both sides turn it into
//! the same integer frequency table (`Prior::table`, SPEC.md "Entropy coding"); the
//! coding itself is constriction's ANS coder with 24-bit precision and 32-bit words.

use constriction::stream::model::DefaultContiguousCategoricalEntropyModel;
use constriction::stream::stack::DefaultAnsCoder;
use constriction::stream::Decode;

/// Bits of precision of the frequency table: frequencies sum to 2^PRECISION.
pub const PRECISION: u32 = 24;
/// Smallest and largest prior scale (Laplace b, Gaussian sigma), in quantisation steps.
pub const MIN_SCALE: f32 = 1.0 / 65536.0;
pub const MAX_SCALE: f32 = 65536.0;

/// The prior family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PriorKind {
    Laplace = 0,
    Gaussian = 1,
}

impl PriorKind {
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(Self::Laplace),
            1 => Some(Self::Gaussian),
            _ => None,
        }
    }
}

/// A zero-mean discretised prior over the integers `min..=max`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Prior {
    pub kind: PriorKind,
    pub scale: f32,
    pub min: i16,
    pub max: i16,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EntropyError {
    #[error("prior scale {0} is outside [{MIN_SCALE}, {MAX_SCALE}] or not finite")]
    BadScale(f32),
    #[error("prior range {min}..={max} is empty")]
    EmptyRange { min: i16, max: i16 },
    #[error("symbol {symbol} is outside the prior range {min}..={max}")]
    SymbolOutOfRange { symbol: i32, min: i16, max: i16 },
    #[error("payload length {0} is not a multiple of 4 bytes")]
    MisalignedPayload(usize),
    #[error("payload is corrupt: {0}")]
    CorruptPayload(&'static str),
    #[error("internal entropy-model error: {0}")]
    Model(&'static str),
}

impl Prior {
    /// A prior whose range covers `symbols` and whose scale is the maximum-likelihood
    /// estimate (Laplace: mean |q|, Gaussian: root mean square), clamped to the limits.
    pub fn fit(kind: PriorKind, symbols: &[i32]) -> Self {
        let clamp16 = |v: i32| v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
        let min = clamp16(symbols.iter().copied().min().unwrap_or(0));
        let max = clamp16(symbols.iter().copied().max().unwrap_or(0));
        let n = symbols.len().max(1) as f64;
        let scale = match kind {
            PriorKind::Laplace => symbols.iter().map(|&q| f64::from(q).abs()).sum::<f64>() / n,
            PriorKind::Gaussian => (symbols.iter().map(|&q| f64::from(q).powi(2)).sum::<f64>() / n).sqrt(),
        };
        Self { kind, scale: (scale as f32).clamp(MIN_SCALE, MAX_SCALE), min, max }
    }

    pub fn check(&self) -> Result<(), EntropyError> {
        if !(self.scale.is_finite() && (MIN_SCALE..=MAX_SCALE).contains(&self.scale)) {
            return Err(EntropyError::BadScale(self.scale));
        }
        if self.min > self.max {
            return Err(EntropyError::EmptyRange { min: self.min, max: self.max });
        }
        Ok(())
    }

    /// Number of symbols in the range.
    pub fn support(&self) -> usize {
        (i32::from(self.max) - i32::from(self.min) + 1).max(0) as usize
    }

    /// The continuous CDF of the family at x (in quantisation steps), with `libm`.
    fn cdf(&self, x: f64) -> f64 {
        let s = f64::from(self.scale);
        match self.kind {
            PriorKind::Laplace if x < 0.0 => 0.5 * libm::exp(x / s),
            PriorKind::Laplace => 1.0 - 0.5 * libm::exp(-x / s),
            PriorKind::Gaussian => 0.5 * libm::erfc(-x / (s * core::f64::consts::SQRT_2)),
        }
    }

    /// The integer frequency of every symbol `min..=max`, summing to 2^PRECISION:
    /// `f = floor(mass * (2^PRECISION - n)) + 1`, the remainder added to the first
    /// largest frequency. The end symbols carry the tails.
    pub fn table(&self) -> Result<Vec<u32>, EntropyError> {
        self.check()?;
        let n = self.support();
        let total = 1u64 << PRECISION;
        let free = (total - n as u64) as f64;
        let mut freq: Vec<u32> = (0..n)
            .map(|i| {
                let q = f64::from(self.min) + i as f64;
                let lo = if i == 0 { 0.0 } else { self.cdf(q - 0.5) };
                let hi = if i + 1 == n { 1.0 } else { self.cdf(q + 0.5) };
                libm::floor((hi - lo).max(0.0) * free) as u32 + 1
            })
            .collect();
        let sum: u64 = freq.iter().map(|&f| u64::from(f)).sum();
        let rest = total.checked_sub(sum).ok_or(EntropyError::Model("frequencies exceed the total"))?;
        let top = (0..n).fold(0, |best, i| if freq[i] > freq[best] { i } else { best });
        freq[top] += rest as u32;
        Ok(freq)
    }

    fn model(&self) -> Result<DefaultContiguousCategoricalEntropyModel, EntropyError> {
        DefaultContiguousCategoricalEntropyModel::from_nonzero_fixed_point_probabilities(&self.table()?, false)
            .map_err(|()| EntropyError::Model("table rejected"))
    }

    fn symbol_index(&self, q: i32) -> Result<usize, EntropyError> {
        if q < i32::from(self.min) || q > i32::from(self.max) {
            return Err(EntropyError::SymbolOutOfRange { symbol: q, min: self.min, max: self.max });
        }
        Ok((q - i32::from(self.min)) as usize)
    }

    /// The ideal code length of `symbols` in bits, sum of -log2(f / 2^PRECISION).
    pub fn bits(&self, symbols: &[i32]) -> Result<f64, EntropyError> {
        let table = self.table()?;
        symbols.iter().try_fold(0.0, |acc, &q| {
            let f = table[self.symbol_index(q)?];
            Ok(acc + f64::from(PRECISION) - libm::log2(f64::from(f)))
        })
    }
}

/// Entropy-code `symbols` under `prior`: the ANS words, little-endian.
pub fn encode(prior: &Prior, symbols: &[i32]) -> Result<Vec<u8>, EntropyError> {
    let model = prior.model()?;
    let idx = symbols.iter().map(|&q| prior.symbol_index(q)).collect::<Result<Vec<_>, _>>()?;
    let mut coder = DefaultAnsCoder::new();
    coder
        .encode_iid_symbols_reverse(idx, &model)
        .map_err(|_| EntropyError::Model("a symbol has zero probability"))?;
    let words = coder.into_compressed().map_err(|_| EntropyError::Model("ANS flush failed"))?;
    Ok(words.iter().flat_map(|w| w.to_le_bytes()).collect())
}

/// Decode exactly `n` symbols from `payload`, which must hold nothing more.
pub fn decode(prior: &Prior, payload: &[u8], n: usize) -> Result<Vec<i32>, EntropyError> {
    if payload.len() % 4 != 0 {
        return Err(EntropyError::MisalignedPayload(payload.len()));
    }
    let model = prior.model()?;
    let words: Vec<u32> = payload.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let mut coder =
        DefaultAnsCoder::from_compressed(words).map_err(|_| EntropyError::CorruptPayload("last word is zero"))?;
    let idx = coder
        .decode_iid_symbols(n, &model)
        .collect::<Result<Vec<usize>, _>>()
        .map_err(|_| EntropyError::CorruptPayload("ANS decoding failed"))?;
    if !coder.is_empty() {
        return Err(EntropyError::CorruptPayload("data left after the last symbol"));
    }
    Ok(idx.into_iter().map(|i| i32::from(prior.min) + i as i32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn laplace(scale: f32, min: i16, max: i16) -> Prior {
        Prior { kind: PriorKind::Laplace, scale, min, max }
    }

    #[test]
    fn tables_sum_to_total_and_are_nonzero() {
        for kind in [PriorKind::Laplace, PriorKind::Gaussian] {
            for (scale, min, max) in [(1.0, -5, 5), (0.01, -3, 40), (300.0, -1000, 1000), (MAX_SCALE, i16::MIN, i16::MAX)] {
                let t = Prior { kind, scale, min, max }.table().unwrap();
                assert_eq!(t.iter().map(|&f| u64::from(f)).sum::<u64>(), 1 << PRECISION);
                assert!(t.iter().all(|&f| f >= 1));
            }
        }
    }

    #[test]
    fn laplace_table_is_symmetric_and_peaked() {
        let t = laplace(2.0, -6, 6).table().unwrap();
        assert_eq!(t.len(), 13);
        assert!(t[6] > t[5] && t[5] > t[4]);
        assert!((t[5] as i64 - t[7] as i64).abs() <= 1);
    }

    #[test]
    fn round_trip_and_rate_close_to_ideal() {
        let symbols: Vec<i32> = (0..4096).map(|i: i32| ((i * 7919) % 23) - 11).map(|v| v / 3).collect();
        let prior = Prior::fit(PriorKind::Laplace, &symbols);
        let payload = encode(&prior, &symbols).unwrap();
        assert_eq!(decode(&prior, &payload, symbols.len()).unwrap(), symbols);
        let ideal = prior.bits(&symbols).unwrap();
        let actual = payload.len() as f64 * 8.0;
        assert!(actual >= ideal - 1.0 && actual <= ideal + 64.0, "{actual} vs ideal {ideal}");
    }

    #[test]
    fn corrupt_payloads_are_errors() {
        let prior = laplace(1.0, -4, 4);
        let symbols = [0, 1, -1, 3, 0, 0, -4, 2];
        let payload = encode(&prior, &symbols).unwrap();
        assert_eq!(decode(&prior, &payload[..3], 8), Err(EntropyError::MisalignedPayload(3)));
        let mut zero_tail = payload.clone();
        zero_tail.extend([0, 0, 0, 0]);
        assert!(matches!(decode(&prior, &zero_tail, 8), Err(EntropyError::CorruptPayload(_))));
        let mut extra = payload.clone();
        extra.extend([1, 2, 3, 4]);
        assert!(matches!(decode(&prior, &extra, 8), Err(EntropyError::CorruptPayload(_))));
        assert!(decode(&prior, &payload, 7).is_err());
        assert!(decode(&prior, &[0, 0, 0, 0], 8).is_err());
    }

    #[test]
    fn empty_payload_is_the_canonical_code_of_all_minimum_symbols() {
        // ANS starts from state 0 and symbol index 0 has cumulative frequency 0.
        let prior = laplace(1.0, -4, 4);
        assert_eq!(encode(&prior, &[-4; 8]).unwrap(), Vec::<u8>::new());
        assert_eq!(decode(&prior, &[], 8).unwrap(), vec![-4; 8]);
        let zeros = laplace(1.0, 0, 0);
        assert!(encode(&zeros, &[0; 100]).unwrap().is_empty());
    }

    #[test]
    fn bad_priors_and_symbols_are_errors() {
        assert!(matches!(laplace(f32::NAN, 0, 1).table(), Err(EntropyError::BadScale(s)) if s.is_nan()));
        assert!(matches!(laplace(f32::INFINITY, 0, 1).check(), Err(EntropyError::BadScale(_))));
        assert!(matches!(laplace(0.0, 0, 1).check(), Err(EntropyError::BadScale(_))));
        assert_eq!(laplace(1.0, 2, 1).check(), Err(EntropyError::EmptyRange { min: 2, max: 1 }));
        assert_eq!(
            encode(&laplace(1.0, -1, 1), &[0, 2]),
            Err(EntropyError::SymbolOutOfRange { symbol: 2, min: -1, max: 1 })
        );
    }
}
