//! The encoder's side of the sketch (the visual caption, `shared/src/sketch.rs`): rate
//! levels, the choice of a level, and coding a clip's frames.

use image::RgbImage;
use lora_video_shared::sketch::{self, Geometry, Sketch, SketchParams};

use crate::error::CliError;

/// The levels `--sketch N` names, coarse to fine. At 16 frames of 256x256: 8x8, 16x16
/// or 32x32 luma cells per keyframe (tree.avi at 400: level 3 took 417 bytes, level 5
/// 1,481).
pub const LEVELS: [SketchParams; 6] = [
    SketchParams { cell_log2: 5, keyframes: 2, q_luma: 12, q_chroma: 16 },
    SketchParams { cell_log2: 4, keyframes: 2, q_luma: 12, q_chroma: 16 },
    SketchParams { cell_log2: 4, keyframes: 4, q_luma: 8, q_chroma: 12 },
    SketchParams { cell_log2: 3, keyframes: 2, q_luma: 12, q_chroma: 16 },
    SketchParams { cell_log2: 3, keyframes: 4, q_luma: 8, q_chroma: 12 },
    SketchParams { cell_log2: 3, keyframes: 8, q_luma: 6, q_chroma: 10 },
];

/// The decode starts from the sketch's latents noised to t0 = START/255 (0.3): lower
/// keeps closer to the sketch (measured on vtest with the tiny model: t0 0.1 to 0.3 gave
/// the highest PSNR, 0.75 lost 2.5 dB).
pub const START: u8 = 77;

/// The level used without a byte budget.
pub const DEFAULT_LEVEL: u8 = 5;
/// With a budget, `auto` takes the finest level whose sketch fits in this share of it.
/// The sketch buys more than the vector at these rates (tree.avi at 400, 2,400 bytes:
/// level 5, a 1,481-byte sketch, 20.6 dB PSNR and MS-SSIM 0.734; level 3, 417 bytes,
/// 20.1 dB and 0.627), so it gets most of the budget. A heuristic until rate control
/// measures the split.
pub const AUTO_SHARE: f64 = 0.7;

/// `--sketch`: a level, `off`, or `auto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SketchChoice {
    Auto,
    Off,
    Level(u8),
}

impl std::str::FromStr for SketchChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "off" => Ok(Self::Off),
            n => match n.parse::<u8>() {
                Ok(l) if (1..=LEVELS.len() as u8).contains(&l) => Ok(Self::Level(l)),
                _ => Err(format!("expected auto, off or a level 1..={}", LEVELS.len())),
            },
        }
    }
}

/// The sketch of `frames` (all the same size) at `params`, the decode starting at t0 = start/255.
pub fn code(frames: &[RgbImage], params: SketchParams, start: u8) -> Result<Sketch, CliError> {
    let (w, h) = (frames[0].width() as usize, frames[0].height() as usize);
    // A short clip gets at most one keyframe a frame.
    let params = SketchParams { keyframes: params.keyframes.min(frames.len().min(255) as u8), ..params };
    let g = Geometry::new(w, h, frames.len(), &params).map_err(|e| CliError::Usage(format!("--sketch: {e}")))?;
    let targets: Vec<_> = g.keyframe_times().iter().map(|&t| sketch::thumbnail(frames[t].as_raw(), w, h, &g)).collect();
    let (s, _) = sketch::encode(&g, params, start, &targets);
    if s.payload.len() > sketch::MAX_PAYLOAD {
        return Err(CliError::Usage(format!("--sketch: the sketch takes {} bytes, more than the format's {}", s.payload.len(), sketch::MAX_PAYLOAD)));
    }
    Ok(s)
}

/// The sketch `choice` asks for, for a model with (`conditional`) or without a sketch
/// input, and `room`: with a byte budget, the bytes it leaves beside the clip's fixed
/// parts (header, scaling section, checksum). `auto`: none for a model without a sketch
/// input; the default level without a budget; else the finest level whose section fits
/// in AUTO_SHARE of the room (none if even the coarsest does not).
pub fn choose(frames: &[RgbImage], choice: SketchChoice, start: u8, conditional: bool, room: Option<usize>) -> Result<Option<Sketch>, CliError> {
    if start == 0 {
        return Err(CliError::Usage("--sketch-start must be 1..=255".into()));
    }
    match choice {
        SketchChoice::Off => Ok(None),
        SketchChoice::Level(_) if !conditional => Err(CliError::Usage("--sketch: this base model reads no sketch (train one with `train-base --config base`)".into())),
        SketchChoice::Level(l) => code(frames, LEVELS[usize::from(l) - 1], start).map(Some),
        SketchChoice::Auto if !conditional => Ok(None),
        SketchChoice::Auto => match room {
            None => code(frames, LEVELS[usize::from(DEFAULT_LEVEL) - 1], start).map(Some),
            Some(b) => {
                let mut best = None;
                for p in LEVELS {
                    let s = code(frames, p, start)?;
                    if (s.section_len() as f64) <= AUTO_SHARE * b as f64 {
                        best = Some(s);
                    }
                }
                Ok(best)
            }
        },
    }
}
