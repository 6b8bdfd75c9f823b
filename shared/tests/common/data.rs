//! Real photos from `scripts/fetch-data.sh --test` and the TAEF2 checkpoints, for tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The fetched scikit-image sample photos; a clear failure if `fetch-data.sh` was not run.
pub fn photo(name: &str) -> image::RgbImage {
    let dir = std::env::var_os("LORA_VIDEO_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/lora-video/data"));
    let path = dir.join("photos/scikit-image").join(name);
    image::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `bash scripts/fetch-data.sh --test` first", path.display()))
        .to_rgb8()
}

/// The TAEF2 checkpoints: $LORA_VIDEO_TAEF2 or ../shared/assets/taef2 beside the checkout.
pub fn taef2_dir() -> PathBuf {
    std::env::var_os("LORA_VIDEO_TAEF2")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/assets/taef2"))
}

/// The centre square of `img`, resized to `side` x `side`, as planar RGB in [0, 1].
pub fn square_planar(img: &image::RgbImage, side: u32) -> Vec<f32> {
    let s = img.width().min(img.height());
    let crop = image::imageops::crop_imm(img, (img.width() - s) / 2, (img.height() - s) / 2, s, s).to_image();
    let small = image::imageops::resize(&crop, side, side, image::imageops::FilterType::Triangle);
    let n = (side * side) as usize;
    let mut out = vec![0.0; 3 * n];
    for (i, p) in small.pixels().enumerate() {
        for c in 0..3 {
            out[c * n + i] = f32::from(p[c]) / 255.0;
        }
    }
    out
}

/// PSNR in dB of two signals in [0, 1].
pub fn psnr(a: &[f32], b: &[f32]) -> f64 {
    let mse = a.iter().zip(b).map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2)).sum::<f64>() / a.len() as f64;
    10.0 * (1.0 / mse).log10()
}
