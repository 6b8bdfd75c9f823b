//! The encoder's side of the sketch (the visual caption, `shared/src/sketch.rs`): rate
//! levels, the search for the best sketch in a byte budget, and coding a clip's frames.

use std::cell::OnceCell;

use image::RgbImage;
use lora_video_shared::sketch::motion::{self as shared_motion, Field};
use lora_video_shared::sharpen;
use lora_video_shared::sketch::{self, Geometry, Keyframe, Motion, Sketch, SketchParams, Transform};

use crate::error::CliError;
use crate::{motion, sketch_fit};

/// The levels `--sketch N` names, coarse to fine. At 16 frames of 256x256: 8x8, 16x16
/// or 32x32 luma cells per keyframe (tree.avi at 400: level 3 took 541 bytes, level 5
/// 2,053).
pub const LEVELS: [SketchParams; 6] = [
    SketchParams { cell_log2: 5, keyframes: 2, q_luma: 12, q_chroma: 16 },
    SketchParams { cell_log2: 4, keyframes: 2, q_luma: 12, q_chroma: 16 },
    SketchParams { cell_log2: 4, keyframes: 4, q_luma: 8, q_chroma: 12 },
    SketchParams { cell_log2: 3, keyframes: 2, q_luma: 12, q_chroma: 16 },
    SketchParams { cell_log2: 3, keyframes: 4, q_luma: 8, q_chroma: 12 },
    SketchParams { cell_log2: 3, keyframes: 8, q_luma: 6, q_chroma: 10 },
];

/// The decode starts from the sketch's latents noised to t0 = START/255 (0.03): lower
/// keeps closer to the sketch. With model run 3 at 2,400 bytes (16 frames at 256x256,
/// sketch alone: --stage1 1 --stage2 0 --scaling 0) starts 13, 26, 51, 77 and 115 gave
/// tree 21.84, 21.84, 21.81, 21.74, 21.48 dB, vtest 21.66, 21.64, 21.55, 21.38, 20.94,
/// Megamind (26 up) 25.69, 25.62, 25.40, 24.76, and MS-SSIM and SSIMULACRA2 fell in the
/// same order: today's base model adds no detail that matches the source. With model
/// run 5 and the wavelet sketch (`scripts/bench-share.sh`, fast preset), 8 beat 26 on
/// every dev clip and metric: VMAF tree 23.8 against 23.0, vtest 34.1 against 32.3,
/// Megamind 44.5 against 42.2 (docs/BENCHMARKS.md, session-12 note). 8 keeps a little
/// room for the model and the vector.
pub const START: u8 = 8;

/// With a budget, `auto` gives the sketch this share of the room beside the header, and
/// the vector the rest (at least VECTOR_RESERVE). With this base model the vector's bytes
/// buy less than the sketch's: 0.97 beat 0.7 (2026-11-28), and with `rerank`, 1.0 beat
/// 0.97 at 2,400 bytes (16 frames of 256x256, fast preset; `SHARES="0.97 1.0" SHARPENS=0.5
/// bash scripts/bench-share.sh`), SSIMULACRA2 / VMAF: vtest -11.91 / 49.33 -> -10.50 /
/// 50.60, Megamind 2.15 / 57.07 -> 4.44 / 57.27, tree -38.05 / 32.11 -> -37.86 / 31.94.
/// The operating point's ablation says the same at 300 to 4,000 bytes: the sketch alone
/// scores as the whole file.
pub const AUTO_SHARE: f64 = 1.0;
/// Bytes `auto` always leaves the vector: its smallest payload (every symbol zero) fits.
pub const VECTOR_RESERVE: usize = 16;

/// How much the decode sharpens its frames (`lora_video_shared::sharpen`): of 0.5, 0.75
/// and 1, the largest amount at which the dev clips' mean MS-SSIM and mean SSIMULACRA2 still
/// rise. The sketches alone at 2,200 bytes (`--example sketch_rd`), sharpened as a
/// decoder does (`scripts/sharpen.py`), PSNR / MS-SSIM / SSIMULACRA2 / VMAF / VMAF-NEG
/// changes at 0.5: tree -0.03 / +0.0016 / +0.37 / +4.3 / +3.9, vtest -0.09 / +0.0002 /
/// +0.58 / +3.9 / +3.4, Megamind -0.12 / -0.0008 / -0.28 / +4.2 / +3.5; at 0.75 the mean
/// MS-SSIM falls, at 1.0 the mean SSIMULACRA2 too. The quantiser drops the faint detail
/// and keeps the rest at about its contrast; the sharpening gives edges back some of
/// the contrast their lost neighbours took.
pub const SHARPEN: f64 = 0.5;

/// A sketch that sharpens the decode by `amount` (0..=4; stored in sixteenths, see
/// `SHARPEN`), when it is coded under adaptive models (version 7); others are left as
/// they are.
pub fn sharpened(s: Sketch, amount: f64) -> Result<Sketch, CliError> {
    if !(0.0..=f64::from(sharpen::amount(sharpen::MAX))).contains(&amount) {
        return Err(CliError::Usage(format!("--sharpen {amount}: must be 0..=4")));
    }
    let adaptive = s.transform.is_some_and(|t| t.adaptive);
    Ok(Sketch { sharpen: if adaptive { (amount * f64::from(sharpen::UNIT)).round() as u8 } else { 0 }, ..s })
}

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

/// A clip as the sketch fit reads it: RGB8 frames (interleaved), all `width` x `height`.
struct Clip<'a> {
    frames: Vec<&'a [u8]>,
    width: usize,
    height: usize,
    /// `motions`, estimated once: a search without a budget walks the settings twice.
    motions: OnceCell<Vec<(u8, Field, Motion)>>,
}

impl<'a> Clip<'a> {
    fn new(frames: &'a [RgbImage]) -> Self {
        Self { frames: frames.iter().map(|f| f.as_raw().as_slice()).collect(), width: frames[0].width() as usize, height: frames[0].height() as usize, motions: OnceCell::new() }
    }

    /// The geometry of `params` for this clip (a short clip gets at most one keyframe a
    /// frame), or why the format cannot hold it.
    fn geometry(&self, params: SketchParams) -> Result<(SketchParams, Geometry), String> {
        let params = SketchParams { keyframes: params.keyframes.min(self.frames.len().min(255) as u8), ..params };
        let g = Geometry::new(self.width, self.height, self.frames.len(), &params).map_err(|e| e.to_string())?;
        if g.samples() > sketch::MAX_SAMPLES {
            return Err(format!("{} samples, more than the format's {}", g.samples(), sketch::MAX_SAMPLES));
        }
        Ok((params, g))
    }

    /// The search's distortion of decoded keyframes `kf` (upsampled and blended, along
    /// `motion` if any) against the frames: squared error in Y, Cb, Cr, chroma weighted
    /// by CHROMA_WEIGHT.
    fn error(&self, g: &Geometry, kf: &[Keyframe], motion: Option<&Field>) -> f64 {
        sketch_fit::weighted_error(kf, &self.frames, self.width, self.height, g, motion, CHROMA_WEIGHT)
    }

    /// As `error`, in RGB (`sketch_fit::squared_error`), for PSNR.
    fn rgb_error(&self, g: &Geometry, kf: &[Keyframe], motion: Option<&Field>) -> f64 {
        sketch_fit::squared_error(kf, &self.frames, self.width, self.height, g, motion)
    }

    /// The motion field the search tries for each of PREDICTED_KEYFRAMES (at least 2),
    /// coded; estimated on the first call.
    fn motions(&self) -> &[(u8, Field, Motion)] {
        self.motions.get_or_init(|| {
            PREDICTED_KEYFRAMES
                .iter()
                .filter(|&&k| k >= 2 && usize::from(k) <= self.frames.len())
                .map(|&k| {
                    let g = Geometry::of_cell(self.width, self.height, self.frames.len(), 1, usize::from(k));
                    let field = motion::estimate(&self.frames, self.width, self.height, &g, motion::BLOCK_LOG2);
                    let coded = shared_motion::encode(&field);
                    (k, field, coded)
                })
                .collect()
        })
    }

    /// Codes the least-squares targets of `g` at `params`: the sketch and the keyframes a
    /// decoder rebuilds.
    fn code(&self, params: SketchParams, g: &Geometry, targets: &[Keyframe], start: u8, dead_zone: i32) -> Result<(Sketch, Vec<Keyframe>), String> {
        self.checked(sketch::encode_dz(g, params, start, targets, dead_zone))
    }

    /// A coded sketch, if its payload fits the format.
    fn checked(&self, (s, decoded): (Sketch, Vec<Keyframe>)) -> Result<(Sketch, Vec<Keyframe>), String> {
        if s.payload.len() > sketch::MAX_PAYLOAD {
            return Err(format!("the sketch takes {} bytes, more than the format's {}", s.payload.len(), sketch::MAX_PAYLOAD));
        }
        Ok((s, decoded))
    }
}

/// The sketch of `frames` (all the same size) at `params`, the decode starting at t0 = start/255.
pub fn code(frames: &[RgbImage], params: SketchParams, start: u8) -> Result<Sketch, CliError> {
    let clip = Clip::new(frames);
    let usage = |e: String| CliError::Usage(format!("--sketch: {e}"));
    let (params, g) = clip.geometry(params).map_err(usage)?;
    let targets = sketch_fit::targets(&clip.frames, clip.width, clip.height, &g);
    clip.code(params, &g, &targets, start, 0).map(|(s, _)| s).map_err(usage)
}

/// The transform sketch of `frames` at one setting of the search (cell side, keyframes,
/// tilt, wavelet or DCT, chroma ratio, keyframes predicted along motion or not) at the
/// finest luma step whose section fits `bytes`, if any: training pairs from the search's
/// own family at a fraction of its cost (`--example sketch_pairs --random`). With
/// `motion`, `keyframes` must be one the search predicts (2, 4, 8 or 16).
pub fn code_setting(frames: &[RgbImage], (cell_log2, keyframes): (u8, u8), tilt: u8, wavelet: bool, chroma_ratio: f64, motion: bool, start: u8, bytes: usize) -> Option<Sketch> {
    let clip = &Clip::new(frames);
    let (_, g) = clip.geometry(SketchParams { cell_log2, keyframes, q_luma: 1, q_chroma: 1 }).ok()?;
    sketch::transform::check_grid(&g).ok()?;
    let g = &g;
    let spatial = sketch_fit::Spatial::new(&clip.frames, clip.width, clip.height, 1 << cell_log2);
    let levels = if wavelet { wavelet_levels(&g) } else { 0 };
    let params = |q: u8| SketchParams { cell_log2, keyframes: g.keyframes as u8, q_luma: q, q_chroma: chroma_step(q, chroma_ratio, true) };
    let fits = |s: Option<Sketch>| s.filter(|s| s.section_len() <= bytes);
    let at: Box<dyn Fn(u8) -> Option<Sketch> + '_> = if motion {
        if !PREDICTED_KEYFRAMES.contains(&keyframes) || usize::from(keyframes) > frames.len() {
            return None;
        }
        // As the search: the field of the unit cell's geometry, phases kept only by the wavelet.
        let unit = Geometry::of_cell(clip.width, clip.height, frames.len(), 1, usize::from(keyframes));
        let mut field = motion::estimate(&clip.frames, clip.width, clip.height, &unit, motion::BLOCK_LOG2);
        if wavelet && field.phases.is_empty() {
            field.phases = vec![0; frames.len() - usize::from(keyframes)];
        } else if !wavelet {
            field.phases.clear();
        }
        let coded = shared_motion::encode(&field);
        let targets = spatial.at_keyframes(g);
        Box::new(move |q| fits(clip.checked(sketch::encode_predicted(g, params(q), Transform::newest(tilt, levels), start, &targets, &field, &coded, TRANSFORM_DEAD_ZONE)).ok().map(|(s, _)| s)))
    } else {
        let analysed = sketch::transform::analyse(g, levels, &spatial.targets(g));
        Box::new(move |q| fits(clip.checked(sketch::encode_transform(g, params(q), Transform::newest(tilt, levels), start, &analysed, TRANSFORM_DEAD_ZONE)).ok().map(|(s, _)| s)))
    };
    // The bytes fall as the step grows: the first step that fits.
    let steps: Vec<u8> = (1..=255).collect();
    let i = steps.partition_point(|&q| at(q).is_none());
    steps.get(i).and_then(|&q| at(q))
}

/// The most keyframes the search gives a sketch: a decoder runs TAEF2's encoder on each,
/// and 8 keep a 16-frame decode at 256x256 within about 1 TFLOP (`lora-video info`).
pub const MAX_SEARCH_KEYFRAMES: u8 = 8;

/// Cell sides (log2), keyframe counts, chroma/luma step ratios and dead zones (64ths
/// of a step, `sketch::encode_dz`) the search tries; with a budget it tries every luma
/// step, without one these.
const SEARCH_CELLS: [u8; 4] = [5, 4, 3, 2];
const SEARCH_KEYFRAMES: [u8; 6] = [1, 2, 3, 4, 6, MAX_SEARCH_KEYFRAMES];
const SEARCH_CHROMA: [f64; 2] = [1.0, 1.5];
const SEARCH_Q: [u8; 22] = [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 64, 80, 96, 128];
/// Dead zones: on the dev clips' sketches (16 frames at 256x256, `--example sketch_rd`)
/// 12 to 26 gained 0.1 to 0.5 dB at 2,400 bytes over plain rounding (0).
const SEARCH_DEAD_ZONE: [i32; 2] = [12, 24];

/// What the search aims at: the least error in a byte budget, or the least squared
/// error (8-bit RGB samples, summed) plus `lambda` times the bits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    Bytes(usize),
    Lambda(f64),
}

/// The search weighs a squared error in Cb and Cr this much against the same in Y
/// (`sketch_fit::weighted_error`; RGB's squared error weighs them about 1.1 and 0.8).
/// Judged in RGB, the search kept chroma steps as fine as luma's: PSNR in RGB rewards
/// that, every perceptual score penalised it. The dev clips' sketches alone at 2,200
/// bytes (`cargo run --release -p lora-video --example sketch_rd -- CLIP --start N
/// --y4m P 2200`, then `lora-video compare --vmaf`), RGB's pick -> this weight's, PSNR
/// / MS-SSIM / SSIMULACRA2 / VMAF: tree 23.74 / 0.8582 / -41.7 / 25.3 -> 23.74 / 0.8629 /
/// -41.1 / 26.5; vtest 24.41 / 0.9084 / -16.0 / 43.1 -> 24.34 / 0.9109 / -15.3 / 44.2;
/// Megamind 28.59 / 0.9567 / -2.5 / 47.9 -> 28.45 / 0.9594 / -1.6 / 49.7 (chroma steps
/// 1.5 times luma's). At the operating point (`scripts/bench-share.sh`) only vtest's pick
/// changed: VMAF 42.2 -> 43.6, 24.39 -> 24.32 dB.
pub const CHROMA_WEIGHT: f64 = 0.25;

/// The trade-off without a byte budget, in luma-weighted squared 8-bit error per bit (summed over
/// the clip's samples, so the same at any size): the knee of the dev clips' sketch curves
/// (`--example sketch_rd`), where a byte more buys little.
pub const LAMBDA: f64 = 15000.0;

/// The transform settings the search tries (`sketch::transform`): cell sides (log2),
/// keyframe counts, tilts, chroma/luma step ratios and the dead zone.
const TRANSFORM_CELLS: [u8; 5] = [0, 1, 2, 3, 4];
const TRANSFORM_KEYFRAMES: [u8; 4] = [1, 2, 4, MAX_SEARCH_KEYFRAMES];
const TRANSFORM_TILT: [u8; 4] = [0, 8, 16, 32];
pub(crate) const TRANSFORM_DEAD_ZONE: i32 = 16;
/// Steps the lambda search tries (`transform::base_step`: 2^(q/16 - 2), 41% apart, 0.35 to 256).
const TRANSFORM_Q: [u8; 20] = [8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128, 136, 144, 152, 160];

/// Tilts the search tries for keyframes predicted along motion (each try codes the
/// layers in closed loop).
const PREDICTED_TILT: [u8; 2] = [0, 16];
/// Keyframe counts with motion: a decoder encodes every frame with TAEF2 then, so up to
/// one keyframe a frame.
const PREDICTED_KEYFRAMES: [u8; 4] = [2, 4, 8, 16];

/// The spatial bases the search tries: the DCT (0) and the wavelet (`wavelet_levels`).
const TRANSFORM_BASES: [bool; 2] = [false, true];

/// Wavelet levels for a grid: enough that the last low band is about 8 cells on its
/// shorter side (at least 1).
pub fn wavelet_levels(g: &Geometry) -> u8 {
    let side = g.luma.0.min(g.luma.1).max(1);
    (side.ilog2().saturating_sub(3) as u8).clamp(1, sketch::wavelet::MAX_LEVELS)
}

/// The section's bytes for transform coefficients at wavelet `levels` (0: the DCT, under
/// fixed models; else under adaptive models, the coefficients from `layer_len` on in later
/// layers), with `motion` bytes of motion if any, estimated from their ideal bits.
fn transform_bytes(coefs: &[sketch::transform::Coefficient], levels: u8, layer_len: usize, motion: Option<usize>) -> usize {
    let (luma, chroma) = (sketch::transform::fit_model(coefs, false), sketch::transform::fit_model(coefs, true));
    let bits = if levels > 0 { sketch::transform::adaptive_bits(coefs, [luma.0, chroma.0], [luma.1, chroma.1], layer_len) } else { luma.2 + chroma.2 };
    // ANS adds up to about two words to the ideal bits.
    sketch::section_len(Some(levels), motion, 4 * ((bits + 48.0) / 32.0).ceil() as usize)
}

/// One setting of the search: its geometry, the squared error of its unquantised
/// least-squares targets (about the least any step reaches), the section's bytes at a
/// luma step (exact, or estimated from the symbols' ideal bits) and the sketch coded at
/// a step (None if the format cannot hold it).
struct Setting<'a> {
    g: &'a Geometry,
    /// The motion field the sketch carries, if any.
    field: Option<&'a Field>,
    floor: f64,
    bytes: &'a dyn Fn(u8) -> Option<usize>,
    at: &'a dyn Fn(u8) -> Option<(Sketch, Vec<Keyframe>)>,
    /// The sketch at a step and a dead zone below TRANSFORM_DEAD_ZONE, which spends more
    /// bytes for less error: what fills a budget's rest (transform settings).
    fill: Option<&'a dyn Fn(u8, i32) -> Option<(Sketch, Vec<Keyframe>)>>,
    /// The steps a lambda search and a sweep try, fine to coarse.
    steps: &'static [u8],
    /// The largest q.
    max_q: u8,
}

/// The chroma step for a luma step q and a ratio (sample coding: q times the ratio, at
/// most MAX_Q), or a transform's chroma q (the step times the ratio: q + 16 log2 ratio).
fn chroma_step(q: u8, ratio: f64, transform: bool) -> u8 {
    if transform {
        (f64::from(q) + 16.0 * ratio.log2()).round().min(255.0) as u8
    } else {
        (f64::from(q) * ratio).round().min(f64::from(sketch::MAX_Q)) as u8
    }
}

/// Calls `each` with every setting the search tries: the transform's (`transform`;
/// the DCT in space, version 3, or 4 with motion; the wavelet under adaptive models,
/// version 6) or the
/// predicted samples' (version 2).
fn settings(clip: &Clip, start: u8, transform: bool, mut each: impl FnMut(Setting)) {
    if transform {
        let motions = clip.motions();
        for cell_log2 in TRANSFORM_CELLS {
            let spatial = sketch_fit::Spatial::new(&clip.frames, clip.width, clip.height, 1 << cell_log2);
            let counts = (1..=PREDICTED_KEYFRAMES[PREDICTED_KEYFRAMES.len() - 1]).filter(|k| TRANSFORM_KEYFRAMES.contains(k) || PREDICTED_KEYFRAMES.contains(k));
            for keyframes in counts.filter(|&k| usize::from(k) <= clip.frames.len()) {
                let Ok((_, g)) = clip.geometry(SketchParams { cell_log2, keyframes, q_luma: 1, q_chroma: 1 }) else { continue };
                if sketch::transform::check_grid(&g).is_err() {
                    continue;
                }
                let levels_of = |wavelet: bool| if wavelet { wavelet_levels(&g) } else { 0 };
                if TRANSFORM_KEYFRAMES.contains(&keyframes) {
                    let targets = spatial.targets(&g);
                    let floor = clip.error(&g, &targets, None);
                    for levels in TRANSFORM_BASES.map(levels_of) {
                        let analysed = sketch::transform::analyse(&g, levels, &targets);
                        for ratio in SEARCH_CHROMA {
                            for tilt in TRANSFORM_TILT {
                                let params = |q: u8| SketchParams { cell_log2, keyframes, q_luma: q, q_chroma: chroma_step(q, ratio, true) };
                                let bytes = |q: u8| {
                                    let coefs = sketch::transform::quantise(&g, &params(q), &Transform::newest(tilt, levels), &analysed, TRANSFORM_DEAD_ZONE);
                                    Some(transform_bytes(&coefs, levels, coefs.len(), None))
                                };
                                let fill = |q: u8, dz: i32| clip.checked(sketch::encode_transform(&g, params(q), Transform::newest(tilt, levels), start, &analysed, dz)).ok();
                                let at = |q: u8| fill(q, TRANSFORM_DEAD_ZONE);
                                each(Setting { g: &g, field: None, floor, bytes: &bytes, at: &at, fill: Some(&fill), steps: &TRANSFORM_Q, max_q: 255 });
                            }
                        }
                    }
                }
                // Keyframes predicted along motion: the keyframes' own frames as targets.
                let Some((_, phased, phased_motion)) = motions.iter().find(|(k, _, _)| *k == keyframes) else { continue };
                let targets = spatial.at_keyframes(&g);
                // Phases need adaptive models: the DCT's sketch goes without; the wavelet's,
                // with wide contexts (version 9), always carries them, zero or not.
                let with_phases = |phases: Vec<i8>| (Field { phases: phases.clone(), ..phased.clone() }, Motion { phases, ..phased_motion.clone() });
                let unphased = with_phases(Vec::new());
                let between = clip.frames.len() - usize::from(keyframes);
                let wide = with_phases(if phased.phases.is_empty() { vec![0; between] } else { phased.phases.clone() });
                for levels in TRANSFORM_BASES.map(levels_of) {
                    let (field, motion) = if levels > 0 { (&wide.0, &wide.1) } else { (&unphased.0, &unphased.1) };
                    let floor = clip.error(&g, &targets, Some(field));
                    for (ratio, tilt) in SEARCH_CHROMA.into_iter().flat_map(|r| PREDICTED_TILT.map(|t| (r, t))) {
                        let params = |q: u8| SketchParams { cell_log2, keyframes, q_luma: q, q_chroma: chroma_step(q, ratio, true) };
                        let bytes = |q: u8| {
                            let (coefs, _) = sketch::transform::quantise_predicted(&g, &params(q), &Transform::newest(tilt, levels), &targets, field, TRANSFORM_DEAD_ZONE);
                            Some(transform_bytes(&coefs, levels, sketch::transform::layer(&g).samples(), Some(motion.len())))
                        };
                        let fill = |q: u8, dz: i32| clip.checked(sketch::encode_predicted(&g, params(q), Transform::newest(tilt, levels), start, &targets, field, motion, dz)).ok();
                        let at = |q: u8| fill(q, TRANSFORM_DEAD_ZONE);
                        each(Setting { g: &g, field: Some(field), floor, bytes: &bytes, at: &at, fill: Some(&fill), steps: &TRANSFORM_Q, max_q: 255 });
                    }
                }
            }
        }
        return;
    }
    for cell_log2 in SEARCH_CELLS {
        let spatial = sketch_fit::Spatial::new(&clip.frames, clip.width, clip.height, 1 << cell_log2);
        for keyframes in SEARCH_KEYFRAMES.into_iter().filter(|&k| usize::from(k) <= clip.frames.len()) {
            let Ok((_, g)) = clip.geometry(SketchParams { cell_log2, keyframes, q_luma: 1, q_chroma: 1 }) else { continue };
            let targets = spatial.targets(&g);
            let floor = clip.error(&g, &targets, None);
            for ratio in SEARCH_CHROMA {
                for dz in SEARCH_DEAD_ZONE {
                    let at = |q: u8| {
                        let params = SketchParams { cell_log2, keyframes, q_luma: q, q_chroma: chroma_step(q, ratio, false) };
                        clip.code(params, &g, &targets, start, dz).ok()
                    };
                    let bytes = |q: u8| at(q).map(|(s, _)| s.section_len());
                    each(Setting { g: &g, field: None, floor, bytes: &bytes, at: &at, fill: None, steps: &SEARCH_Q, max_q: sketch::MAX_Q });
                }
            }
        }
    }
}

/// The sketch that best meets `target`, judged by its decode (upsampled and blended as a
/// decoder does, before the model) against the clip in luma-weighted squared error
/// (`CHROMA_WEIGHT`), then reranked by SSIMULACRA2 (`rerank(candidates(..))`).
/// `transform`: transform-coded sketches (versions 3 to 9), else predicted samples
/// (version 2). None if nothing fits.
pub fn search(frames: &[RgbImage], start: u8, target: Target, transform: bool) -> Option<Sketch> {
    rerank(candidates(frames, start, target, transform))
}

/// The least squared error + lambda bits of every setting and step, with its error.
fn lambda_pick(clip: &Clip, start: u8, lambda: f64, transform: bool) -> Option<(f64, Sketch)> {
    let mut best: Option<(f64, f64, Sketch)> = None;
    settings(clip, start, transform, |st| {
        // Coarse to fine, the bytes grow; the error stays above about the floor, so once
        // floor + rate passes the best cost, finer steps cannot win.
        for q in st.steps.iter().rev() {
            let Some(b) = (st.bytes)(*q) else { continue };
            if best.as_ref().is_some_and(|(c, _, _)| st.floor + lambda * 8.0 * b as f64 > *c) {
                break;
            }
            if let Some((s, decoded)) = (st.at)(*q) {
                let error = clip.error(st.g, &decoded, st.field);
                let cost = error + lambda * 8.0 * s.section_len() as f64;
                if best.as_ref().is_none_or(|(c, _, b)| cost < *c || (cost == *c && s.section_len() < b.section_len())) {
                    best = Some((cost, error, s));
                }
            }
        }
    });
    best.map(|(_, e, s)| (e, s))
}

/// Every sketch that fits `bytes`, with its error: for each setting the finest luma step
/// that fits, and for each setting that leads so far also its `fill_budget`.
fn budget_fits(clip: &Clip, start: u8, bytes: usize, transform: bool) -> Vec<(f64, Sketch)> {
    let mut fits = Vec::new();
    // The least error of a setting's plain fit (TRANSFORM_DEAD_ZONE) so far.
    let mut lead = f64::INFINITY;
    settings(clip, start, transform, |st| {
        // Bytes fall as the step grows: the first step that fits, by the estimate, then
        // the first that fits exactly.
        let steps: Vec<u8> = (1..=st.max_q).collect();
        let i = steps.partition_point(|&q| (st.bytes)(q).is_none_or(|b| b > bytes));
        let fit = steps[i.min(steps.len())..].iter().take(4).find_map(|&q| (st.at)(q).filter(|(s, _)| s.section_len() <= bytes));
        if let Some((s, decoded)) = fit {
            let (q, error) = (s.params.q_luma, clip.error(st.g, &decoded, st.field));
            fits.push((error, s));
            if let Some(fill) = st.fill.filter(|_| error < lead) {
                lead = error;
                if let Some((s, decoded)) = fill_budget(fill, q, bytes) {
                    fits.push((clip.error(st.g, &decoded, st.field), s));
                }
            }
        }
    });
    fits
}

/// How far above the least squared error a budget's sketch on the same grid may be and
/// still win by SSIMULACRA2 (`rerank`).
pub const PERCEPTUAL_SLACK: f64 = 0.10;

/// Of sketches that fit a budget, with their squared errors: those on the least error's
/// grid (cell, keyframes, with or without motion) whose error is within PERCEPTUAL_SLACK
/// of it, least error first (fewer bytes first on equal error).
fn near(mut fits: Vec<(f64, Sketch)>) -> Vec<(f64, Sketch)> {
    fits.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.section_len().cmp(&b.1.section_len())));
    let grid = |s: &Sketch| (s.params.cell_log2, s.params.keyframes, s.motion.is_some());
    let Some((least, first)) = fits.first().map(|(e, s)| (*e, grid(s))) else { return fits };
    fits.into_iter().take_while(|(e, _)| *e <= least * (1.0 + PERCEPTUAL_SLACK)).filter(|(_, s)| grid(s) == first).collect()
}

/// The sketches the search reranks (`near` the least error), least error first, each
/// with its squared error and SSIMULACRA2 before the model. With a budget: for each
/// setting the finest luma step that fits, and fills (`budget_fits`). With lambda: the
/// least error + lambda bits (`lambda_pick`) and the budget's fits at its bytes, so
/// that the rerank spends no more bytes than squared error's choice.
pub fn candidates(frames: &[RgbImage], start: u8, target: Target, transform: bool) -> Vec<(f64, f64, Sketch)> {
    let clip = Clip::new(frames);
    let fits = match target {
        Target::Bytes(bytes) => budget_fits(&clip, start, bytes, transform),
        Target::Lambda(lambda) => {
            let Some(pick) = lambda_pick(&clip, start, lambda, transform) else { return Vec::new() };
            let mut fits = budget_fits(&clip, start, pick.1.section_len(), transform);
            if !fits.iter().any(|(_, s)| *s == pick.1) {
                fits.push(pick);
            }
            fits
        }
    };
    near(fits).into_iter().map(|(e, s)| (e, ssimulacra2_of(frames, &s), s)).collect()
}

/// Of `candidates` (error, SSIMULACRA2, sketch; least error first), the sketch with the
/// best SSIMULACRA2; ties go to the lower error. Squared error picks the grid; among its
/// steps, tilts, chroma ratios and dead zones it ranks uniform steps (tilt 0) about as
/// well as steps that grow with frequency, which perceptual scores rank far higher
/// (docs/BENCHMARKS.md, session 20).
pub fn rerank(candidates: Vec<(f64, f64, Sketch)>) -> Option<Sketch> {
    let mut best: Option<(f64, Sketch)> = None;
    for (_, v, s) in candidates {
        if best.as_ref().is_none_or(|(b, _)| v > *b) {
            best = Some((v, s));
        }
    }
    best.map(|(_, s)| s)
}

/// SSIMULACRA2 of a sketch's decode before the model against the frames.
fn ssimulacra2_of(frames: &[RgbImage], s: &Sketch) -> f64 {
    let (w, h) = frames[0].dimensions();
    let Ok(rgb) = sketch_fit::decode_frames(s, w as usize, h as usize, frames.len()) else { return f64::NEG_INFINITY };
    let decoded: Vec<RgbImage> = rgb.chunks_exact(frames[0].as_raw().len()).filter_map(|f| RgbImage::from_raw(w, h, f.to_vec())).collect();
    crate::metrics::ssimulacra2(frames, &decoded)
}

/// The sketch at step q with the smallest dead zone below TRANSFORM_DEAD_ZONE that still
/// fits in `bytes` (a binary search: the bytes grow as the dead zone shrinks), if any.
/// At the same bytes a smaller dead zone does about as well as a finer step (the dev
/// clips' sketches, `--example sketch_rd`), and it fills the room a step leaves.
fn fill_budget(fill: &dyn Fn(u8, i32) -> Option<(Sketch, Vec<Keyframe>)>, q: u8, bytes: usize) -> Option<(Sketch, Vec<Keyframe>)> {
    let (mut lo, mut hi, mut found) = (0, TRANSFORM_DEAD_ZONE, None);
    while lo < hi {
        let mid = (lo + hi) / 2;
        match fill(q, mid).filter(|(s, _)| s.section_len() <= bytes) {
            Some(fits) => (hi, found) = (mid, Some(fits)),
            None => lo = mid + 1,
        }
    }
    found
}

/// Every setting and step the search tries, with the PSNR (dB) of its decode before the
/// model (for `--example sketch_rd`).
pub fn sweep(frames: &[RgbImage], start: u8, transform: bool) -> Vec<(Sketch, f64)> {
    let clip = Clip::new(frames);
    let mut out = Vec::new();
    settings(&clip, start, transform, |st| {
        for (s, decoded) in st.steps.iter().filter_map(|&q| (st.at)(q)) {
            out.push((s, psnr_of(clip.rgb_error(st.g, &decoded, st.field), &clip)));
        }
    });
    out
}

fn psnr_of(squared_error: f64, clip: &Clip) -> f64 {
    let mse = squared_error / (3 * clip.width * clip.height * clip.frames.len()) as f64;
    10.0 * (255.0 * 255.0 / mse.max(1e-12)).log10()
}

/// The PSNR (dB) of a sketch's decode before the model against the frames it codes.
pub fn psnr(frames: &[RgbImage], s: &Sketch) -> f64 {
    let clip = Clip::new(frames);
    let g = Geometry::new(clip.width, clip.height, frames.len(), &s.params).expect("a coded sketch's geometry");
    let decoded = sketch::decode(s, clip.width, clip.height, frames.len()).expect("a coded sketch decodes");
    let field = s.motion.as_ref().map(|m| shared_motion::decode(m, clip.width, clip.height, usize::from(s.params.keyframes)).expect("coded motion decodes"));
    psnr_of(clip.rgb_error(&g, &decoded, field.as_ref()), &clip)
}

/// The sketch `choice` asks for, for a model with (`conditional`) or without a sketch
/// input, and `room`: with a byte budget, the bytes it leaves beside the clip's fixed
/// parts (header, scaling section, checksum). `auto`: none for a model without a sketch
/// input; without a budget the `search`ed sketch at LAMBDA; else the one in `share` of
/// the room (AUTO_SHARE by default), leaving the vector VECTOR_RESERVE bytes at least
/// (none if nothing fits).
pub fn choose(frames: &[RgbImage], choice: SketchChoice, start: u8, share: f64, conditional: bool, room: Option<usize>) -> Result<Option<Sketch>, CliError> {
    if start == 0 {
        return Err(CliError::Usage("--sketch-start must be 1..=255".into()));
    }
    if !(0.05..=1.0).contains(&share) {
        return Err(CliError::Usage("--sketch-share must be 0.05..=1".into()));
    }
    match choice {
        SketchChoice::Off => Ok(None),
        SketchChoice::Level(_) if !conditional => Err(CliError::Usage("--sketch: this base model reads no sketch (train one with `train-base --config base`)".into())),
        SketchChoice::Level(l) => code(frames, LEVELS[usize::from(l) - 1], start).map(Some),
        SketchChoice::Auto if !conditional => Ok(None),
        SketchChoice::Auto => match room {
            None => Ok(search(frames, start, Target::Lambda(LAMBDA), true)),
            Some(b) => Ok(search(frames, start, Target::Bytes(((share * b as f64) as usize).min(b.saturating_sub(VECTOR_RESERVE))), true)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(w: u32, h: u32, t: u32) -> Vec<RgbImage> {
        (0..t).map(|f| RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7 + f * 3) as u8, ((x * y) / 5 + y * 3) as u8, ((x + 2 * y + 5 * f) * 2) as u8]))).collect()
    }

    /// The searched sketch's decode error, before the model.
    fn error(clip: &[RgbImage], s: &Sketch) -> f64 {
        let c = Clip::new(clip);
        let g = Geometry::new(c.width, c.height, clip.len(), &s.params).unwrap();
        let field = s.motion.as_ref().map(|m| shared_motion::decode(m, c.width, c.height, usize::from(s.params.keyframes)).unwrap());
        c.error(&g, &sketch::decode(s, c.width, c.height, clip.len()).unwrap(), field.as_ref())
    }

    #[test]
    fn only_a_sketch_under_adaptive_models_sharpens() {
        let clip = frames(32, 32, 4);
        let fixed = code(&clip, LEVELS[0], START).unwrap();
        assert_eq!(sharpened(fixed.clone(), 0.5).unwrap().sharpen, 0);
        let t = Some(sketch::Transform::newest(0, 2));
        let adaptive = Sketch { transform: t, ..fixed };
        assert_eq!((sharpened(adaptive.clone(), 0.5).unwrap().sharpen, sharpened(adaptive.clone(), 0.0).unwrap().sharpen), (8, 0));
        assert_eq!(sharpened(adaptive.clone(), 4.0).unwrap().sharpen, sharpen::MAX);
        for bad in [-0.1, 4.1, f64::NAN] {
            assert!(matches!(sharpened(adaptive.clone(), bad), Err(CliError::Usage(_))));
        }
    }

    #[test]
    fn the_search_fits_the_budget_and_spends_more_for_less_error() {
        let clip = frames(64, 48, 6);
        for transform in [false, true] {
            assert_eq!(search(&clip, START, Target::Bytes(10), transform), None, "no sketch is 10 bytes");
            let small = search(&clip, START, Target::Bytes(120), transform).expect("a small sketch fits");
            let large = search(&clip, START, Target::Bytes(1500), transform).expect("a large sketch fits");
            assert!(small.section_len() <= 120 && large.section_len() <= 1500);
            assert_eq!(small.transform.is_some(), transform);
            assert!(error(&clip, &large) < 0.8 * error(&clip, &small), "{:?} vs {:?}", large.params, small.params);
        }
    }

    #[test]
    fn rerank_keeps_the_least_errors_grid_within_the_slack() {
        let base = code(&frames(32, 32, 4), LEVELS[0], START).unwrap();
        let at = |cell_log2: u8, q_luma: u8| Sketch { params: SketchParams { cell_log2, q_luma, ..base.params }, ..base.clone() };
        // Scored by q, as SSIMULACRA2 would score them.
        let rerank_by = |fits: Vec<(f64, Sketch)>, score: fn(&Sketch) -> f64| rerank(near(fits).into_iter().map(|(e, s)| (e, score(&s), s)).collect());
        let q = |s: &Sketch| f64::from(s.params.q_luma);
        // 90: another grid; 80: beyond the slack; 30 beats 10.
        let fits = vec![(105.0, at(2, 30)), (100.0, at(2, 10)), (104.0, at(1, 90)), (100.0 * (1.0 + PERCEPTUAL_SLACK) + 1.0, at(2, 80))];
        assert_eq!(rerank_by(fits, q).unwrap().params.q_luma, 30);
        // Equal or undefined scores: the least error.
        for score in [|_: &Sketch| 0.0, |_: &Sketch| f64::NAN] {
            assert_eq!(rerank_by(vec![(2.0, at(2, 7)), (1.0, at(2, 8))], score).unwrap().params.q_luma, 8);
        }
        assert!(rerank_by(Vec::new(), q).is_none());
    }

    #[test]
    fn a_moving_clip_gets_motion_that_pays() {
        // A textured disc crossing a still ramp, 5 pixels a frame.
        let clip: Vec<RgbImage> = (0..9)
            .map(|f| {
                RgbImage::from_fn(96, 64, |x, y| {
                    let (dx, dy) = (x as i32 - 20 - 5 * f, y as i32 - 32);
                    if dx * dx + dy * dy < 150 {
                        image::Rgb([220, (60 + 9 * ((dx + dy) & 7)) as u8, 40])
                    } else {
                        image::Rgb([(x * 2) as u8, 90, (y * 3) as u8])
                    }
                })
            })
            .collect();
        let s = search(&clip, START, Target::Bytes(700), true).expect("a sketch fits");
        assert!(s.motion.is_some(), "{:?}", s.params);
        let still = sweep(&clip, START, true).into_iter().filter(|(k, _)| k.motion.is_none() && k.section_len() <= 700).map(|(_, p)| p).fold(0.0, f64::max);
        assert!(psnr(&clip, &s) > still + 1.0, "{} vs {still} dB", psnr(&clip, &s));
    }

    #[test]
    fn without_a_budget_the_search_reranks_what_minimises_error_plus_lambda_bits() {
        let clip = frames(64, 48, 6);
        let cost = |s: &Sketch, lambda: f64| error(&clip, s) + lambda * 8.0 * s.section_len() as f64;
        for transform in [false, true] {
            let all = sweep(&clip, START, transform);
            for lambda in [10.0, 1000.0, 1e5] {
                let (pick_error, pick) = lambda_pick(&Clip::new(&clip), START, lambda, transform).expect("a sketch");
                assert!((pick_error - error(&clip, &pick)).abs() <= 1e-9 * pick_error, "the decoder's error");
                for (s, _) in &all {
                    assert!(cost(&pick, lambda) <= cost(s, lambda), "lambda {lambda}: {:?} beats {:?}", s.params, pick.params);
                }
                // The rerank spends no more bytes, stays within the slack of the least
                // error, and scores at least as well as the pick where that is near it.
                let near = candidates(&clip, START, Target::Lambda(lambda), transform);
                assert!(near[0].0 <= pick_error, "lambda {lambda}: the pick is a candidate");
                let chosen = rerank(near.clone()).expect("a sketch");
                assert!(chosen.section_len() <= pick.section_len(), "lambda {lambda}");
                assert!(error(&clip, &chosen) <= near[0].0 * (1.0 + PERCEPTUAL_SLACK), "lambda {lambda}");
                if let Some((_, v, _)) = near.iter().find(|(_, _, s)| *s == pick) {
                    assert!(ssimulacra2_of(&clip, &chosen) >= *v, "lambda {lambda}");
                }
            }
            let (fine, cheap) = (search(&clip, START, Target::Lambda(10.0), transform).unwrap(), search(&clip, START, Target::Lambda(1e5), transform).unwrap());
            assert!(fine.section_len() > 2 * cheap.section_len());
            assert!(psnr(&clip, &fine) > psnr(&clip, &cheap) + 1.0, "{} vs {} dB", psnr(&clip, &fine), psnr(&clip, &cheap));
        }
    }
}
