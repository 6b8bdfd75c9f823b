//! Quality of a decode against its source: PSNR over RGB and SSIM (Wang et al. 2004:
//! 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03) on BT.601 luma, averaged
//! over frames. `lora-video compare` prints them.

use std::io::Write;
use std::path::Path;

use image::RgbImage;

use crate::error::CliError;
use crate::media::{self, Select};

/// PSNR in dB over every RGB sample of every frame (infinite for identical clips).
pub fn psnr(a: &[RgbImage], b: &[RgbImage]) -> f64 {
    let (mut sum, mut n) = (0f64, 0usize);
    for (x, y) in a.iter().zip(b) {
        for (p, q) in x.as_raw().iter().zip(y.as_raw()) {
            sum += (f64::from(*p) - f64::from(*q)).powi(2);
        }
        n += x.as_raw().len();
    }
    10.0 * (255.0f64 * 255.0 / (sum / n as f64)).log10()
}

fn luma(img: &RgbImage) -> Vec<f64> {
    img.pixels().map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2])).collect()
}

/// Separable Gaussian blur (11 taps, sigma 1.5), edges clamped.
fn blur(v: &[f64], w: usize, h: usize) -> Vec<f64> {
    let taps: Vec<f64> = (-5..=5).map(|i: i32| (-(f64::from(i * i)) / (2.0 * 1.5 * 1.5)).exp()).collect();
    let norm: f64 = taps.iter().sum();
    let pass = |src: &[f64], horizontal: bool| -> Vec<f64> {
        let mut out = vec![0.0; src.len()];
        for y in 0..h {
            for x in 0..w {
                let mut s = 0.0;
                for (k, t) in taps.iter().enumerate() {
                    let o = k as isize - 5;
                    let (xx, yy) = if horizontal { ((x as isize + o).clamp(0, w as isize - 1) as usize, y) } else { (x, (y as isize + o).clamp(0, h as isize - 1) as usize) };
                    s += t * src[yy * w + xx];
                }
                out[y * w + x] = s / norm;
            }
        }
        out
    };
    pass(&pass(v, true), false)
}

/// Mean SSIM of two frames' luma.
fn ssim_frame(a: &RgbImage, b: &RgbImage) -> f64 {
    let (w, h) = (a.width() as usize, a.height() as usize);
    let (x, y) = (luma(a), luma(b));
    let mul = |p: &[f64], q: &[f64]| p.iter().zip(q).map(|(u, v)| u * v).collect::<Vec<_>>();
    let (mx, my) = (blur(&x, w, h), blur(&y, w, h));
    let (sxx, syy, sxy) = (blur(&mul(&x, &x), w, h), blur(&mul(&y, &y), w, h), blur(&mul(&x, &y), w, h));
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let mut total = 0.0;
    for i in 0..w * h {
        let (vx, vy, cxy) = (sxx[i] - mx[i] * mx[i], syy[i] - my[i] * my[i], sxy[i] - mx[i] * my[i]);
        total += ((2.0 * mx[i] * my[i] + c1) * (2.0 * cxy + c2)) / ((mx[i] * mx[i] + my[i] * my[i] + c1) * (vx + vy + c2));
    }
    total / (w * h) as f64
}

/// Mean SSIM over frames.
pub fn ssim(a: &[RgbImage], b: &[RgbImage]) -> f64 {
    a.iter().zip(b).map(|(x, y)| ssim_frame(x, y)).sum::<f64>() / a.len().min(b.len()).max(1) as f64
}

/// `lora-video compare A B`: PSNR and SSIM of B against A (same size; the shorter length).
pub fn run(reference: &Path, test: &Path, json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    let all = Select { start: 0, count: media::MAX_INPUT_FRAMES };
    let (a, b) = (media::read(reference, all, (24, 1))?, media::read(test, all, (24, 1))?);
    if a.frames[0].dimensions() != b.frames[0].dimensions() {
        return Err(CliError::bad_input(test, format!("{:?} frames, but the reference's are {:?}", b.frames[0].dimensions(), a.frames[0].dimensions())));
    }
    let n = a.frames.len().min(b.frames.len());
    let (p, s) = (psnr(&a.frames[..n], &b.frames[..n]), ssim(&a.frames[..n], &b.frames[..n]));
    let text = if json {
        serde_json::json!({ "frames": n, "psnr": p, "ssim": s }).to_string()
    } else {
        format!("{n} frames: PSNR {p:.2} dB (RGB), SSIM {s:.4} (luma)")
    };
    writeln!(out, "{text}").map_err(|source| CliError::Io { path: "<stdout>".into(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise_image(seed: u32) -> RgbImage {
        RgbImage::from_fn(32, 24, |x, y| {
            let v = (x * 7 + y * 13 + seed * 31).wrapping_mul(2_654_435_761) >> 24;
            image::Rgb([v as u8, (v / 2) as u8, 255 - v as u8])
        })
    }

    #[test]
    fn identical_is_perfect_and_different_is_not() {
        let (a, b) = (noise_image(1), noise_image(2));
        assert!((ssim(&[a.clone()], &[a.clone()]) - 1.0).abs() < 1e-9);
        assert!(psnr(&[a.clone()], &[a.clone()]).is_infinite());
        assert!(ssim(&[a.clone()], &[b.clone()]) < 0.5);
        // One grey level everywhere: MSE 1, PSNR 48.13 dB.
        let c = RgbImage::from_fn(8, 8, |_, _| image::Rgb([100, 100, 100]));
        let d = RgbImage::from_fn(8, 8, |_, _| image::Rgb([101, 101, 101]));
        assert!((psnr(&[c], &[d]) - 48.1308).abs() < 1e-3);
    }
}
