//! Sharpening of the decode (version 7, SPEC.md "Sharpening"): a sketch at low rates
//! loses fine contrast, so each decoded frame gets back `amount` times its luma minus
//! that luma blurred, added to all three channels (its colour stays). f32 arithmetic in
//! a fixed order: the same frames on every target.

/// `Sketch::sharpen` counts the amount in sixteenths.
pub const UNIT: f32 = 16.0;
/// Largest `Sketch::sharpen`: an amount of 4.
pub const MAX: u8 = 64;
/// The blur: binomial taps along x, then y, the edges repeated.
const TAPS: [f32; 5] = [1.0 / 16.0, 4.0 / 16.0, 6.0 / 16.0, 4.0 / 16.0, 1.0 / 16.0];

/// The amount of a stored `Sketch::sharpen`.
pub fn amount(sharpen: u8) -> f32 {
    f32::from(sharpen) / UNIT
}

/// Sharpens a planar RGB frame [3, height, width] in place: each channel gains
/// `amount (Y - B(Y))`, Y = 0.299 R + 0.587 G + 0.114 B, B the blur.
pub fn frame(planar: &mut [f32], width: usize, height: usize, amount: f32) {
    let n = width * height;
    if amount == 0.0 || n == 0 {
        return;
    }
    let luma: Vec<f32> = (0..n).map(|i| crate::color::luma_f32(planar[i], planar[n + i], planar[2 * n + i])).collect();
    let blurred = blur(&luma, width, height);
    for c in 0..3 {
        for (i, p) in planar[c * n..][..n].iter_mut().enumerate() {
            *p += amount * (luma[i] - blurred[i]);
        }
    }
}

/// The blur of a width x height plane.
fn blur(x: &[f32], width: usize, height: usize) -> Vec<f32> {
    let at = |i: usize, d: usize, n: usize| (i + d).saturating_sub(2).min(n - 1);
    let mut rows = vec![0.0; x.len()];
    for y in 0..height {
        for c in 0..width {
            rows[y * width + c] = TAPS.iter().enumerate().fold(0.0, |s, (d, &k)| s + k * x[y * width + at(c, d, width)]);
        }
    }
    let mut out = vec![0.0; x.len()];
    for y in 0..height {
        for c in 0..width {
            out[y * width + c] = TAPS.iter().enumerate().fold(0.0, |s, (d, &k)| s + k * rows[at(y, d, height) * width + c]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_frame_and_amount_zero_stay_as_they_are() {
        let mut flat = vec![0.5f32; 3 * 6 * 5];
        frame(&mut flat, 6, 5, 1.5);
        assert!(flat.iter().all(|&v| v == 0.5));
        let mut edge: Vec<f32> = (0..3 * 8 * 4).map(|i| if i % 8 < 4 { 0.2 } else { 0.8 }).collect();
        let before = edge.clone();
        frame(&mut edge, 8, 4, 0.0);
        assert_eq!(edge, before);
    }

    #[test]
    fn an_edge_gains_contrast_and_keeps_its_colour() {
        // Grey 0.2 | 0.8 down the middle, with a red tint: the samples beside the edge move
        // apart, equally in every channel, by amount times the luma's difference to its blur.
        let (w, h) = (8, 3);
        let mut x: Vec<f32> = (0..3 * w * h).map(|i| if i % w < 4 { 0.2 } else { 0.8 } + if i < w * h { 0.1 } else { 0.0 }).collect();
        let before = x.clone();
        frame(&mut x, w, h, 1.0);
        let n = w * h;
        let d: Vec<f32> = (0..w).map(|c| x[n + w + c] - before[n + w + c]).collect();
        // Blur of the luma steps 0.2 -> 0.8 (plus 0.0299): at column 3, 11/16 of 0.2 and
        // 5/16 of 0.8 -> 0.3875; the sample gains 0.2 - 0.3875.
        assert!((d[3] + 0.1875).abs() < 1e-6 && (d[4] - 0.1875).abs() < 1e-6, "{d:?}");
        assert!(d[0].abs() < 1e-6 && d[7].abs() < 1e-6, "{d:?}");
        for c in 0..w {
            assert!((x[w + c] - before[w + c] - d[c]).abs() < 1e-6 && (x[2 * n + w + c] - before[2 * n + w + c] - d[c]).abs() < 1e-6);
        }
    }
}
