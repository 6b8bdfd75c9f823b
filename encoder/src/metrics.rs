//! Quality of a decode against its source, averaged over frames: PSNR over RGB, SSIM
//! (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 = 0.01, K2 = 0.03) on BT.601
//! luma, MS-SSIM on luma (the `av-metrics` crate) and SSIMULACRA2 (the `ssimulacra2`
//! crate, sRGB), and VMAF through an ffmpeg with libvmaf where one is given.
//! `lora-video compare` prints them.

use std::io::Write;
use std::path::Path;

use image::RgbImage;
use lora_video_shared::color;

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
    img.pixels().map(|p| color::luma(f64::from(p[0]), f64::from(p[1]), f64::from(p[2]))).collect()
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

/// MS-SSIM (0..1) of one frame's BT.601 luma, through av-metrics.
fn msssim_frame(a: &RgbImage, b: &RgbImage) -> f64 {
    use av_metrics::video::{ChromaSampling, Frame, ssim::calculate_frame_msssim};
    let (w, h) = (a.width() as usize, a.height() as usize);
    let frame = |img: &RgbImage| {
        let mut f = Frame::<u8>::new_with_padding(w, h, ChromaSampling::Cs444, 0);
        for (plane, data) in f.planes.iter_mut().zip(media::rgb_to_yuv444(img)) {
            plane.copy_from_raw_u8(&data, w, 1);
        }
        f
    };
    match calculate_frame_msssim(&frame(a), &frame(b), 8, ChromaSampling::Cs444) {
        // av-metrics reports -10 log10(1 - MS-SSIM): infinite for identical frames, and
        // NaN where a scale's contrast-structure term is negative (a fractional power of
        // a negative number). Clamping those terms at 0, as TensorFlow's and
        // pytorch-msssim's MS-SSIM do, makes that MS-SSIM 0.
        Ok(m) if m.y.is_nan() => 0.0,
        Ok(m) if m.y.is_infinite() => 1.0,
        Ok(m) => 1.0 - 10f64.powf(-m.y / 10.0),
        Err(_) => f64::NAN,
    }
}

/// Mean MS-SSIM (luma) over frames.
pub fn msssim(a: &[RgbImage], b: &[RgbImage]) -> f64 {
    a.iter().zip(b).map(|(x, y)| msssim_frame(x, y)).sum::<f64>() / a.len().min(b.len()).max(1) as f64
}

/// MS-SSIM in dB, -10 log10(1 - MS-SSIM): the scale BD-rate fits use.
pub fn msssim_db(v: f64) -> f64 {
    -10.0 * (1.0 - v).max(1e-10).log10()
}

/// Mean SSIMULACRA2 over frames (100 is identical; 90 visually lossless; can go below 0).
pub fn ssimulacra2(a: &[RgbImage], b: &[RgbImage]) -> f64 {
    use ssimulacra2::{ColorPrimaries, Rgb, TransferCharacteristic, compute_frame_ssimulacra2};
    let rgb = |img: &RgbImage| {
        let data = img.pixels().map(|p| [f32::from(p[0]) / 255.0, f32::from(p[1]) / 255.0, f32::from(p[2]) / 255.0]).collect();
        Rgb::new(data, img.width() as usize, img.height() as usize, TransferCharacteristic::SRGB, ColorPrimaries::BT709)
    };
    let scores: Vec<f64> = a
        .iter()
        .zip(b)
        .map(|(x, y)| match (rgb(x), rgb(y)) {
            (Ok(x), Ok(y)) => compute_frame_ssimulacra2(x, y).unwrap_or(f64::NAN),
            _ => f64::NAN,
        })
        .collect();
    scores.iter().sum::<f64>() / scores.len().max(1) as f64
}

/// VMAF of `test` against `reference`, the means over frames of libvmaf's default model
/// (vmaf_v0.6.1) and of its no-enhancement-gain model (vmaf_v0.6.1neg, which discounts
/// the gain from sharpening or contrast), in one run of `ffmpeg`'s libvmaf filter.
/// Debian's ffmpeg has no libvmaf; the static ffmpeg in PyPI's imageio-ffmpeg has. Both
/// clips go to ffmpeg as 4:4:4 y4m.
pub fn vmaf(ffmpeg: &Path, reference: &[RgbImage], test: &[RgbImage]) -> Result<Vmaf, CliError> {
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = reference.len().min(test.len());
    let dir = std::env::temp_dir().join(format!("lora-video-vmaf-{}-{}", std::process::id(), RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed)));
    std::fs::create_dir_all(&dir).map_err(crate::io::io_err(&dir))?;
    let result = (|| {
        let (r, t, log) = (dir.join("reference.y4m"), dir.join("test.y4m"), dir.join("vmaf.json"));
        for (path, frames) in [(&r, &reference[..n]), (&t, &test[..n])] {
            crate::io::write_atomic(path, &crate::output::y4m_bytes(&crate::output::frames_of(frames), (24, 1)))?;
        }
        let filter = format!("[0:v][1:v]libvmaf=n_threads=2:model=version=vmaf_v0.6.1\\\\:name=vmaf|version=vmaf_v0.6.1neg\\\\:name=vmaf_neg:log_fmt=json:log_path={}", log.display());
        let status = std::process::Command::new(ffmpeg)
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(&t)
            .arg("-i")
            .arg(&r)
            .args(["-lavfi", &filter, "-f", "null", "-"])
            .status()
            .map_err(|e| CliError::Tool(format!("{}: {e}", ffmpeg.display())))?;
        if !status.success() {
            return Err(CliError::Tool(format!("{} failed ({status}); VMAF needs an ffmpeg built with libvmaf", ffmpeg.display())));
        }
        let text = std::fs::read_to_string(&log).map_err(crate::io::io_err(&log))?;
        let mean = |key| pooled_mean(&text, key).ok_or_else(|| CliError::Tool(format!("{}: no pooled mean of {key} in libvmaf's log", log.display())));
        Ok(Vmaf { vmaf: mean("vmaf")?, neg: mean("vmaf_neg")? })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// VMAF's two models' scores (`vmaf`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Vmaf {
    pub vmaf: f64,
    pub neg: f64,
}

/// The pooled mean of a model (`key`, as the filter names it) in a libvmaf JSON log.
pub fn pooled_mean(json: &str, key: &str) -> Option<f64> {
    serde_json::from_str::<serde_json::Value>(json).ok()?.get("pooled_metrics")?.get(key)?.get("mean")?.as_f64()
}

/// Every score of a clip against its reference; VMAF where an ffmpeg with libvmaf was given.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Scores {
    pub psnr: f64,
    pub ssim: f64,
    pub msssim: f64,
    pub ssimulacra2: f64,
    pub vmaf: Option<f64>,
    /// VMAF's no-enhancement-gain model (vmaf_v0.6.1neg).
    pub vmaf_neg: Option<f64>,
}

/// Scores of `b` against `a` (the same size; the shorter length); VMAF through `vmaf_ffmpeg`.
pub fn score_with(a: &[RgbImage], b: &[RgbImage], vmaf_ffmpeg: Option<&Path>) -> Result<Scores, CliError> {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let v = vmaf_ffmpeg.map(|f| vmaf(f, a, b)).transpose()?;
    Ok(Scores { psnr: psnr(a, b), ssim: ssim(a, b), msssim: msssim(a, b), ssimulacra2: ssimulacra2(a, b), vmaf: v.map(|v| v.vmaf), vmaf_neg: v.map(|v| v.neg) })
}

/// Scores of `b` against `a` (the same size; the shorter length), without VMAF.
pub fn score(a: &[RgbImage], b: &[RgbImage]) -> Scores {
    score_with(a, b, None).expect("no external tool to fail")
}

/// `lora-video compare A B`: the scores of B against A (same size; the shorter length).
pub fn run(reference: &Path, test: &Path, json: bool, vmaf_ffmpeg: Option<&Path>, out: &mut dyn Write) -> Result<(), CliError> {
    let all = Select { start: 0, count: media::MAX_INPUT_FRAMES };
    let (a, b) = (media::read(reference, all, (24, 1))?, media::read(test, all, (24, 1))?);
    if a.frames[0].dimensions() != b.frames[0].dimensions() {
        return Err(CliError::bad_input(test, format!("{:?} frames, but the reference's are {:?}", b.frames[0].dimensions(), a.frames[0].dimensions())));
    }
    let n = a.frames.len().min(b.frames.len());
    let sc = score_with(&a.frames[..n], &b.frames[..n], vmaf_ffmpeg)?;
    let text = if json {
        serde_json::json!({ "frames": n, "psnr": sc.psnr, "ssim": sc.ssim, "msssim": sc.msssim, "ssimulacra2": sc.ssimulacra2, "vmaf": sc.vmaf, "vmaf_neg": sc.vmaf_neg }).to_string()
    } else {
        let vmaf = sc.vmaf.zip(sc.vmaf_neg).map_or(String::new(), |(v, neg)| format!(", VMAF {v:.2}, VMAF-NEG {neg:.2}"));
        format!("{n} frames: PSNR {:.2} dB (RGB), SSIM {:.4} (luma), MS-SSIM {:.4} (luma), SSIMULACRA2 {:.2}{vmaf}", sc.psnr, sc.ssim, sc.msssim, sc.ssimulacra2)
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

    /// A smooth gradient picture, large enough for MS-SSIM's five scales.
    fn picture(shift: u32) -> RgbImage {
        RgbImage::from_fn(128, 96, |x, y| image::Rgb([((x + shift) * 2) as u8, (y * 2) as u8, ((x ^ y) & 0xff) as u8]))
    }

    #[test]
    fn msssim_and_ssimulacra2_rank_distortions() {
        let a = picture(0);
        let mut light = a.clone();
        let mut heavy = a.clone();
        for (i, (p, q)) in light.pixels_mut().zip(heavy.pixels_mut()).enumerate() {
            let n = ((i as u32).wrapping_mul(2_654_435_761) >> 28) as i32 - 8;
            for c in 0..3 {
                p[c] = (i32::from(p[c]) + n / 4).clamp(0, 255) as u8;
                q[c] = (i32::from(q[c]) + n * 6).clamp(0, 255) as u8;
            }
        }
        let (same, l, h) = (score(&[a.clone()], &[a.clone()]), score(&[a.clone()], &[light]), score(&[a], &[heavy]));
        assert!((same.msssim - 1.0).abs() < 1e-9 && (same.ssimulacra2 - 100.0).abs() < 1e-6, "{same:?}");
        assert!(1.0 > l.msssim && l.msssim > h.msssim, "{l:?} {h:?}");
        assert!(100.0 > l.ssimulacra2 && l.ssimulacra2 > h.ssimulacra2, "{l:?} {h:?}");
        // A negative of the picture: anti-correlated structure scores 0, never 1.
        let mut negative = picture(0);
        negative.pixels_mut().for_each(|p| p.0 = p.0.map(|v| 255 - v));
        let n = score(&[picture(0)], &[negative]);
        assert!(n.msssim < 0.05 && n.psnr < 10.0, "{n:?}");
    }

    #[test]
    fn vmaf_reads_libvmafs_pooled_mean() {
        let log = r#"{"version": "3.0.0", "frames": [], "pooled_metrics": {"vmaf": {"min": 37.4, "max": 40.9, "mean": 39.324427, "harmonic_mean": 39.28}, "vmaf_neg": {"mean": 38.5}}}"#;
        assert_eq!(pooled_mean(log, "vmaf"), Some(39.324427));
        assert_eq!(pooled_mean(log, "vmaf_neg"), Some(38.5));
        assert_eq!(pooled_mean(r#"{"pooled_metrics": {}}"#, "vmaf"), None);
        assert_eq!(pooled_mean("not json", "vmaf"), None);
    }

    /// Runs where LORA_VIDEO_VMAF_FFMPEG names an ffmpeg with libvmaf (bench-eval.sh's).
    #[test]
    fn vmaf_ranks_distortions_when_an_ffmpeg_has_libvmaf() {
        let Some(ffmpeg) = std::env::var_os("LORA_VIDEO_VMAF_FFMPEG") else { return };
        let a: Vec<RgbImage> = (0..3).map(picture).collect();
        let blurred: Vec<RgbImage> = a.iter().map(|f| image::imageops::blur(f, 3.0)).collect();
        let (same, blur) = (vmaf(Path::new(&ffmpeg), &a, &a).unwrap(), vmaf(Path::new(&ffmpeg), &a, &blurred).unwrap());
        assert!(same.vmaf > 90.0 && blur.vmaf < same.vmaf - 10.0, "same {same:?}, blurred {blur:?}");
        assert!(same.neg > 90.0 && blur.neg < same.neg - 10.0, "same {same:?}, blurred {blur:?}");
    }
}
