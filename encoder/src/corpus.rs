//! The training corpus, from packages (`scripts/fetch-data.sh`): photos become short
//! clips by a synthetic camera (pan, zoom, small rotation); real videos are cut into
//! windows (a fixed crop of consecutive frames). Every eighth photo in sorted order and
//! the last eighth of every video's frames are held out (dev).

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

/// Photos and video frame ranges of one split.
#[derive(Clone, Debug, Default)]
pub struct Split {
    pub stills: Vec<PathBuf>,
    /// The frame files of each video's part of this split, in order.
    pub videos: Vec<Vec<PathBuf>>,
}

/// (train, dev) from `data/photos` and the frame folders in `data/clips`.
pub fn corpus(data: &Path) -> (Split, Split) {
    let (mut train, mut dev) = (Split::default(), Split::default());
    for (i, p) in list_stills(&data.join("photos")).into_iter().enumerate() {
        if i % 8 == 7 { dev.stills.push(p) } else { train.stills.push(p) }
    }
    let mut videos: Vec<PathBuf> = std::fs::read_dir(data.join("clips")).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    videos.sort();
    for v in videos {
        let frames = list_stills(&v);
        let cut = frames.len() * 7 / 8;
        train.videos.push(frames[..cut].to_vec());
        dev.videos.push(frames[cut..].to_vec());
    }
    (train, dev)
}

impl Split {
    pub fn describe(&self) -> String {
        format!("{} photos and {} video frames from {} videos", self.stills.len(), self.videos.iter().map(Vec::len).sum::<usize>(), self.videos.len())
    }

    /// One clip [frames, 3, size, size]: a real-video window one time in four where
    /// there are videos long enough, else a photo under a synthetic camera.
    pub fn clip(&self, frames: usize, size: usize, rng: &mut Rng) -> Option<Vec<f32>> {
        let long: Vec<&Vec<PathBuf>> = self.videos.iter().filter(|v| v.len() >= 2 * frames).collect();
        if !long.is_empty() && (self.stills.is_empty() || rng.below(4) == 0) {
            let v = long[rng.below(long.len())];
            let stride = 1 + rng.below(2);
            let start = rng.below(v.len() - (frames - 1) * stride);
            let imgs = (0..frames).map(|f| load_still(&v[start + f * stride], u32::MAX)).collect::<Option<Vec<_>>>()?;
            return Some(window_clip(&imgs, size, rng));
        }
        let img = load_still(&self.stills[rng.below(self.stills.len())], (size as u32 * 5) / 2)?;
        Some(camera_clip(&img, frames, size, rng))
    }
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

/// Renders `img` seen through a square window of side `window` centred at (cx, cy),
/// turned by `angle`, into `out` (3 x size x size, planar).
fn render(img: &RgbImage, (cx, cy): (f64, f64), window: f64, angle: f64, size: usize, out: &mut [f32]) {
    let scale = window / size as f64;
    let (sin, cos) = angle.sin_cos();
    for i in 0..size {
        for j in 0..size {
            let (dx, dy) = ((j as f64 + 0.5 - size as f64 / 2.0) * scale, (i as f64 + 0.5 - size as f64 / 2.0) * scale);
            let (x, y) = (cx + cos * dx - sin * dy, cy + sin * dx + cos * dy);
            for c in 0..3 {
                out[(c * size + i) * size + j] = bilinear(img, x, y, c);
            }
        }
    }
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
    for (f, frame) in out.chunks_exact_mut(3 * size * size).enumerate() {
        let u = if frames > 1 { f as f64 / (frames - 1) as f64 } else { 0.0 };
        render(img, (cx0 + u * px, cy0 + u * py), window * (1.0 + u * (zoom - 1.0)), u * turn, size, frame);
    }
    out
}

/// A clip from consecutive real frames: one fixed square crop, resized to `size`.
pub fn window_clip(frames: &[RgbImage], size: usize, rng: &mut Rng) -> Vec<f32> {
    let (w, h) = (f64::from(frames[0].width()), f64::from(frames[0].height()));
    let window = w.min(h) * rng.uniform(0.5, 1.0);
    let (cx, cy) = (rng.uniform(window / 2.0, w - window / 2.0 + 1e-9), rng.uniform(window / 2.0, h - window / 2.0 + 1e-9));
    let mut out = vec![0f32; frames.len() * 3 * size * size];
    for (img, frame) in frames.iter().zip(out.chunks_exact_mut(3 * size * size)) {
        render(img, (cx, cy), window, 0.0, size, frame);
    }
    out
}

/// TAEF2 latents [frames, 32, size/8, size/8] of one clip.
pub fn encode_clip(encoder: &taef2::Encoder, clip: Vec<f32>, frames: usize, size: usize, device: &Device) -> Vec<f32> {
    let x = Tensor::<4>::from_data(TensorData::new(clip, [frames, 3, size, size]), device);
    encoder.forward(x).into_data().try_to_vec().expect("f32 latents")
}
