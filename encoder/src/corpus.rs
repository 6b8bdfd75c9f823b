//! The training corpus: real photos from packages (`scripts/fetch-data.sh`) become short
//! clips by a synthetic camera (pan, zoom, small rotation) and are encoded to TAEF2
//! latents once, into a cache. Every eighth photo, in sorted order, is held out (dev).

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;
use lora_video_shared::model::taef2;

/// SplitMix64: the corpus's own deterministic randomness (not part of any format).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

/// Every PNG/JPEG under `dir` (following links), sorted.
pub fn list_stills(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().and_then(|x| x.to_str()).is_some_and(|x| matches!(x.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg")) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// (train, dev): every eighth still is held out.
pub fn split(stills: Vec<PathBuf>) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (dev, train): (Vec<_>, Vec<_>) = stills.into_iter().enumerate().partition(|(i, _)| i % 8 == 7);
    (train.into_iter().map(|x| x.1).collect(), dev.into_iter().map(|x| x.1).collect())
}

/// A still, RGB, resized so its short side is `short` (or left smaller).
pub fn load_still(path: &Path, short: u32) -> Option<RgbImage> {
    let img = image::open(path).ok()?.to_rgb8();
    let s = img.width().min(img.height());
    if s < 64 {
        return None;
    }
    if s <= short {
        return Some(img);
    }
    let (w, h) = (img.width() * short / s, img.height() * short / s);
    Some(image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle))
}

fn bilinear(img: &RgbImage, x: f64, y: f64, c: usize) -> f32 {
    let (w, h) = (img.width() as f64 - 1.0, img.height() as f64 - 1.0);
    let (x, y) = (x.clamp(0.0, w), y.clamp(0.0, h));
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let at = |xx: f64, yy: f64| f64::from(img.get_pixel(xx.min(w) as u32, yy.min(h) as u32)[c]);
    let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1.0, y0) * fx;
    let bottom = at(x0, y0 + 1.0) * (1.0 - fx) + at(x0 + 1.0, y0 + 1.0) * fx;
    ((top * (1.0 - fy) + bottom * fy) / 255.0) as f32
}

/// A clip of `frames` x 3 x `size` x `size` in [0, 1] (planar, frame-major): a window of
/// the still that pans, zooms and turns a little over the clip.
pub fn camera_clip(img: &RgbImage, frames: usize, size: usize, rng: &mut Rng) -> Vec<f32> {
    let short = f64::from(img.width().min(img.height()));
    let window = short * rng.uniform(0.4, 0.9);
    let zoom = rng.uniform(0.85, 1.18);
    let turn = rng.uniform(-4.0, 4.0).to_radians();
    let half = window * zoom.max(1.0) / 2.0;
    let (w, h) = (f64::from(img.width()), f64::from(img.height()));
    let cx0 = rng.uniform(half, (w - half).max(half + 1.0));
    let cy0 = rng.uniform(half, (h - half).max(half + 1.0));
    let (px, py) = (rng.uniform(-0.25, 0.25) * window, rng.uniform(-0.25, 0.25) * window);
    let mut out = vec![0f32; frames * 3 * size * size];
    for f in 0..frames {
        let u = if frames > 1 { f as f64 / (frames - 1) as f64 } else { 0.0 };
        let (cx, cy) = (cx0 + u * px, cy0 + u * py);
        let scale = window * (1.0 + u * (zoom - 1.0)) / size as f64;
        let (sin, cos) = (u * turn).sin_cos();
        for i in 0..size {
            for j in 0..size {
                let (dx, dy) = ((j as f64 + 0.5 - size as f64 / 2.0) * scale, (i as f64 + 0.5 - size as f64 / 2.0) * scale);
                let (x, y) = (cx + cos * dx - sin * dy, cy + sin * dx + cos * dy);
                for c in 0..3 {
                    out[((f * 3 + c) * size + i) * size + j] = bilinear(img, x, y, c);
                }
            }
        }
    }
    out
}

/// TAEF2 latents [frames, 32, size/8, size/8] of one clip.
pub fn encode_clip(encoder: &taef2::Encoder, clip: Vec<f32>, frames: usize, size: usize, device: &Device) -> Vec<f32> {
    let x = Tensor::<4>::from_data(TensorData::new(clip, [frames, 3, size, size]), device);
    encoder.forward(x).into_data().try_to_vec().expect("f32 latents")
}
