//! Scalar quantisation of theta with one step s per vector: q = round(theta / s), theta^ = q * s.

/// Quantise: the nearest integer to theta / step, halves away from zero, clamped to i16.
pub fn quantize(theta: &[f32], step: f32) -> Vec<i32> {
    theta
        .iter()
        .map(|&t| (t / step).round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i32)
        .collect()
}

/// Dequantise: q * step in f32, the same bits on every target.
pub fn dequantize(q: &[i32], step: f32) -> Vec<f32> {
    q.iter().map(|&v| v as f32 * step).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_within_half_a_step() {
        let theta = [0.0, 0.26, -0.26, 1.0, -3.14159, 0.125];
        let step = 0.25;
        let q = quantize(&theta, step);
        assert_eq!(q, [0, 1, -1, 4, -13, 1]);
        for (t, r) in theta.iter().zip(dequantize(&q, step)) {
            assert!((t - r).abs() <= step / 2.0);
        }
    }

    #[test]
    fn clamps_to_the_symbol_range() {
        assert_eq!(quantize(&[1e9, -1e9], 1.0), [32767, -32768]);
    }
}
