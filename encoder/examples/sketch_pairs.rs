//! Training pairs for a restorer: clips from the corpus (`scripts/fetch-data.sh`; photos
//! under the synthetic camera, windows of real videos) and their sketches as the real
//! encoder makes them (`sketch::search` at a byte budget drawn log-uniformly over
//! `--bpp LO:HI`), decoded as a decoder does before any model (upsampled and blended
//! along the sketch's motion, not sharpened).
//!
//! Writes OUT/NNNNN.bin (the source then the sketch's decode, u8 RGB, frame-major,
//! [frames, size, size, 3] each) and one JSON line per pair in OUT/index.jsonl (budget,
//! bytes, the sketch's parameters). `--split dev` draws from the held-out split. Pairs
//! that exist are skipped, so a run resumes; `--first I` with `--clips N` makes pairs
//! I..I+N, so two processes can share the work.
//! `--random`: instead of the search, one setting of its family drawn at random
//! (`sketch::code_setting`: no motion; cell sides (log2) from `--cells 0,1,2,3`,
//! keyframe counts from `--keyframes 1,2,4,8`; keyframes predicted along motion with
//! probability `--motion 0`), at the finest step that fits; far faster.
//! `--input CLIP [--start N] [--bytes 2400] [--name NAME]` makes one pair of a clip as
//! `encode` reads it instead (frames from --start, covering size x size); with
//! `--random`, from one drawn setting.
//! `cargo run --release -p lora-video --example sketch_pairs -- OUT [--clips 100] [--first 0] [--frames 8] [--size 128] [--bpp 0.002:0.035] [--split train] [--seed 1]`

use std::io::Write;
use std::path::{Path, PathBuf};

use image::RgbImage;
use lora_video::corpus::{self, Rng};
use lora_video::media::{self, Select};
use lora_video::sketch::{self, Target};
use lora_video::sketch_fit;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = PathBuf::from(args.first().ok_or("usage: sketch_pairs OUT [options]")?);
    let value = |flag: &str, default: &str| -> String { args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned().unwrap_or_else(|| default.to_string()) };
    let (clips, first): (usize, usize) = (value("--clips", "100").parse()?, value("--first", "0").parse()?);
    let (frames, size): (usize, usize) = (value("--frames", "8").parse()?, value("--size", "128").parse()?);
    let seed: u64 = value("--seed", "1").parse()?;
    let bpp = value("--bpp", "0.002:0.035");
    let (lo, hi) = bpp.split_once(':').ok_or("--bpp LO:HI")?;
    let (lo, hi): (f64, f64) = (lo.parse()?, hi.parse()?);
    let list = |flag: &str, default: &str| -> Result<Vec<u8>, std::num::ParseIntError> { value(flag, default).split(',').map(str::parse).collect() };
    let (cells, keyframes) = (list("--cells", "0,1,2,3")?, list("--keyframes", "1,2,4,8")?);
    let motion: f64 = value("--motion", "0").parse()?;
    if let Some(i) = args.iter().position(|a| a == "--input") {
        // One pair from a clip, as `encode` reads it: frames from --start, covering size x size.
        let path = Path::new(args.get(i + 1).ok_or("--input needs a path")?);
        let start: usize = value("--start", "0").parse()?;
        let video = media::read(path, Select { start, count: frames }, (24, 1))?;
        let images: Vec<RgbImage> = video.frames.iter().map(|f| media::cover(f, size as u32, size as u32)).collect();
        let budget: usize = value("--bytes", "2400").parse()?;
        let mut rng = Rng::new(seed);
        let random = args.iter().any(|a| a == "--random").then_some((&mut rng, &cells[..], &keyframes[..], motion));
        return pair(&out, &out.join(value("--name", "clip") + ".bin"), &images, budget, random);
    }
    let data = std::env::var_os("LORA_VIDEO_DATA").map_or_else(|| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/lora-video/data"), PathBuf::from);
    let (train, dev) = corpus::corpus(&data);
    let split = if value("--split", "train") == "dev" { dev } else { train };
    eprintln!("{}", split.describe());
    std::fs::create_dir_all(&out)?;
    for i in first..first + clips {
        let bin = out.join(format!("{i:05}.bin"));
        if bin.exists() {
            continue;
        }
        // Each pair's draws depend only on (seed, i), so a resumed or shared run makes the same pairs.
        let mut rng = Rng::new(seed.wrapping_mul(0x9E37_79B9).wrapping_add(i as u64));
        let Some(clip) = split.clip(frames, size, &mut rng) else { continue };
        let images = to_images(&clip, frames, size);
        let budget = (lo * (hi / lo).powf(rng.uniform(0.0, 1.0)) * (frames * size * size) as f64 / 8.0).round() as usize;
        let random = args.iter().any(|a| a == "--random");
        if let Err(e) = pair(&out, &bin, &images, budget, random.then_some((&mut rng, &cells[..], &keyframes[..], motion))) {
            eprintln!("pair {i}: {e}");
        }
    }
    Ok(())
}

/// Searches the sketch of `images` in `budget` bytes, writes the pair to `bin` and its
/// line to OUT/index.jsonl.
fn pair(out: &Path, bin: &Path, images: &[RgbImage], budget: usize, random: Option<(&mut Rng, &[u8], &[u8], f64)>) -> Result<(), Box<dyn std::error::Error>> {
    let (frames, w, h) = (images.len(), images[0].width() as usize, images[0].height() as usize);
    let t0 = std::time::Instant::now();
    let searched = random.is_none();
    let s = match random {
        Some((rng, cells, keyframes, motion)) => {
            // One setting of the search's family, drawn: cells of 1 to 8 pixels, 1 to 8
            // keyframes, any tilt, mostly the wavelet.
            let cell = cells[rng.below(cells.len())];
            let keyframes = keyframes[rng.below(keyframes.len())];
            let tilt = [0u8, 8, 16, 32][rng.below(4)];
            let (wavelet, ratio) = (rng.below(4) > 0, [1.0, 1.5][rng.below(2)]);
            // Keyframes predicted along motion, as the search picks for moving clips.
            let motion = motion > 0.0 && rng.uniform(0.0, 1.0) < motion && keyframes >= 2;
            let tilt = if motion { [0u8, 16][rng.below(2)] } else { tilt };
            sketch::code_setting(images, (cell, keyframes), tilt, wavelet, ratio, motion, sketch::START, budget)
        }
        None => sketch::search(images, sketch::START, Target::Bytes(budget), true),
    }
    .ok_or("no sketch fits the budget")?;
    let decoded = sketch_fit::decode_frames(&s, w, h, frames)?;
    let mut bytes: Vec<u8> = images.iter().flat_map(|f| f.as_raw().iter().copied()).collect();
    bytes.extend_from_slice(&decoded);
    write_atomic(bin, &bytes)?;
    let t = s.transform.as_ref();
    let line = serde_json::json!({
        "file": bin.file_name().and_then(|n| n.to_str()), "frames": frames, "width": w, "height": h, "budget": budget, "bytes": s.section_len(),
        "cell_log2": s.params.cell_log2, "keyframes": s.params.keyframes, "q_luma": s.params.q_luma, "q_chroma": s.params.q_chroma,
        "tilt": t.map(|t| t.tilt), "levels": t.map(|t| t.levels), "motion": s.motion.is_some(),
        "psnr": sketch::psnr(images, &s), "searched": searched, "seconds": t0.elapsed().as_secs_f64(),
    });
    let mut index = std::fs::OpenOptions::new().create(true).append(true).open(out.join("index.jsonl"))?;
    writeln!(index, "{line}")?;
    eprintln!("{line}");
    Ok(())
}

/// Planar [frames, 3, size, size] in [0, 1] -> RGB8 frames.
fn to_images(clip: &[f32], frames: usize, size: usize) -> Vec<RgbImage> {
    let plane = size * size;
    (0..frames)
        .map(|f| {
            let x = &clip[f * 3 * plane..(f + 1) * 3 * plane];
            let rgb = (0..plane).flat_map(|p| (0..3).map(move |c| (x[c * plane + p] * 255.0).round().clamp(0.0, 255.0) as u8)).collect();
            RgbImage::from_raw(size as u32, size as u32, rgb).expect("size matches")
        })
        .collect()
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, path)
}
