//! The visual caption ("sketch", SPEC.md "Sketch"): a coarse coded thumbnail of the clip
//! that the denoiser conditions on.
//!
//! `keyframes` YCbCr thumbnails: luma on cells of `cell` x `cell` pixels, chroma on cells
//! twice as large. Each sample is predicted from decoded ones (MED in the first keyframe,
//! MED on the difference to the previous keyframe after it), the residual quantised with
//! step q, and coded with constriction's ANS under a Laplace whose scale grows with the
//! neighbouring residuals. Everything up to the decoded planes is integer arithmetic.
//! A decoder upsamples each decoded keyframe to an RGB image (`upsample_rgb`, f32), which
//! the model side encodes with TAEF2 into the latents the denoiser starts from and is
//! conditioned on (`model::render::condition`).

use constriction::stream::model::DefaultContiguousCategoricalEntropyModel;
use constriction::stream::stack::DefaultAnsCoder;
use constriction::stream::{Decode, Encode};

use crate::color;
use crate::entropy::{Prior, PriorKind};

pub mod adaptive;
pub mod motion;
pub mod transform;
pub mod wavelet;
pub use motion::Motion;
pub use transform::Transform;

/// Cells of 4 (2^2) to 256 (2^8) pixels; a transform-coded sketch's from 1 (2^0).
pub const MIN_CELL_LOG2: u8 = 2;
pub const MIN_TRANSFORM_CELL_LOG2: u8 = 0;
pub const MAX_CELL_LOG2: u8 = 8;
pub const MAX_KEYFRAMES: u8 = 64;
/// Largest step of sample coding; the transform's q runs to 255 (`transform::base_step`).
pub const MAX_Q: u8 = 128;
/// Most samples one sketch may hold (all keyframes, all planes).
pub const MAX_SAMPLES: usize = 1 << 20;
/// Largest payload in bytes (a multiple of 4).
pub const MAX_PAYLOAD: usize = 32768;
/// Contexts: min(|left residual| + |up residual|, CONTEXTS - 1).
pub const CONTEXTS: usize = 9;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SketchError {
    #[error("sketch {field} = {value} is out of range ({allowed})")]
    OutOfRange { field: &'static str, value: u64, allowed: &'static str },
    #[error("sketch payload is corrupt: {0}")]
    Corrupt(&'static str),
}

fn range(field: &'static str, value: impl Into<u64>, allowed: &'static str) -> SketchError {
    SketchError::OutOfRange { field, value: value.into(), allowed }
}

/// How a sketch samples and quantises the clip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SketchParams {
    /// Luma cell side 2^cell_log2 pixels (chroma: twice that).
    pub cell_log2: u8,
    pub keyframes: u8,
    pub q_luma: u8,
    pub q_chroma: u8,
}

/// A coded sketch: its parameters, the sampler's start time t0 = start/255 (the decode
/// starts from the sketch's latents noised to t0), the Laplace base scales (luma, chroma;
/// b = scale/32 times 1 + context), how the samples are coded (None: predicted samples,
/// version 2; Some: the transform, version 3), its motion (version 4, with the
/// transform) and the ANS payload. `residual` (header flag `FLAG_RESIDUAL`): the decode
/// is the sketch's own frames plus what the sampler changed (`model::render::Residual`),
/// not the sampler's latents alone. `sharpen` (version 7, with adaptive models; 0: none):
/// the decode's frames are sharpened by sharpen/16 (`sharpen::frame`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Sketch {
    pub params: SketchParams,
    pub start: u8,
    pub scale: [u8; 2],
    pub transform: Option<Transform>,
    pub motion: Option<Motion>,
    pub residual: bool,
    pub sharpen: u8,
    #[serde(skip)]
    pub payload: Vec<u8>,
}

/// Bytes of the section without its payload (version 2; version 3 adds TRANSFORM_FIELDS).
pub const SECTION_HEADER: usize = 9;
/// Bytes of the transform's fields: tilt, decay[2].
pub const TRANSFORM_FIELDS: usize = 3;

impl Sketch {
    /// Bytes of the section in a file (`section_len`).
    pub fn section_len(&self) -> usize {
        // The sharpen byte: versions 7 to 9.
        let sharpen = self.sharpen > 0 || self.phased() || self.transform.is_some_and(|t| t.wide);
        section_len(self.transform.map(|t| t.levels), self.motion.as_ref().map(Motion::len), self.payload.len()) + usize::from(sharpen)
    }

    /// Whether its motion places the frames between keyframes by phases (version 8).
    pub fn phased(&self) -> bool {
        self.motion.as_ref().is_some_and(|m| !m.phases.is_empty())
    }

    /// The sampler's start time t0 in (0, 1].
    pub fn t0(&self) -> f32 {
        f32::from(self.start) / 255.0
    }
}

/// Bytes of a sketch section with `payload` bytes of samples: `levels` None for sample
/// coding, Some(0) for the DCT, Some(levels) for the wavelet (version 5: it adds `levels`,
/// and motion fields even without motion); `motion` the motion's bytes, if any.
pub fn section_len(levels: Option<u8>, motion: Option<usize>, payload: usize) -> usize {
    let wavelet = levels.is_some_and(|l| l > 0);
    let motion = motion.unwrap_or(if wavelet { motion::FIELDS } else { 0 });
    SECTION_HEADER + if levels.is_some() { TRANSFORM_FIELDS } else { 0 } + usize::from(wavelet) + payload + motion
}

/// One plane's samples, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plane {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

/// A keyframe: Y, Cb, Cr.
pub type Keyframe = [Plane; 3];

/// Where the samples of a sketch lie, for a clip of `width` x `height` x `frames`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// The clip's width and height in pixels.
    pub size: (usize, usize),
    pub frames: usize,
    /// Luma cell side in pixels.
    pub cell: usize,
    pub luma: (usize, usize),
    pub chroma: (usize, usize),
    pub keyframes: usize,
}

impl Geometry {
    /// Checks `p` against the limits and the clip.
    pub fn new(width: usize, height: usize, frames: usize, p: &SketchParams) -> Result<Self, SketchError> {
        if !(MIN_TRANSFORM_CELL_LOG2..=MAX_CELL_LOG2).contains(&p.cell_log2) {
            return Err(range("cell_log2", p.cell_log2, "0..=8"));
        }
        if p.keyframes == 0 || p.keyframes > MAX_KEYFRAMES || usize::from(p.keyframes) > frames {
            return Err(range("keyframes", p.keyframes, "1..=64, at most the frame count"));
        }
        for (field, q) in [("q_luma", p.q_luma), ("q_chroma", p.q_chroma)] {
            if q == 0 {
                return Err(range(field, q, "1..=255"));
            }
        }
        Ok(Self::of_cell(width, height, frames, 1 << p.cell_log2, usize::from(p.keyframes)))
    }

    /// The geometry for any cell side (training uses cells of 1 on thumbnails).
    pub fn of_cell(width: usize, height: usize, frames: usize, cell: usize, keyframes: usize) -> Self {
        let luma = (width.div_ceil(cell), height.div_ceil(cell));
        Self { size: (width, height), frames, cell, luma, chroma: (luma.0.div_ceil(2), luma.1.div_ceil(2)), keyframes }
    }

    pub fn samples(&self) -> usize {
        self.keyframes * (self.luma.0 * self.luma.1 + 2 * self.chroma.0 * self.chroma.1)
    }

    /// The frame each keyframe shows: round(k (frames - 1) / (keyframes - 1)); one
    /// keyframe shows the middle frame (frames - 1) / 2.
    pub fn keyframe_times(&self) -> Vec<usize> {
        let (n, t) = (self.keyframes, self.frames);
        if n == 1 {
            return vec![(t - 1) / 2];
        }
        (0..n).map(|k| (2 * k * (t - 1) + (n - 1)) / (2 * (n - 1))).collect()
    }
}

/// The thumbnail of one RGB8 frame (interleaved, `width` x `height`): each cell the
/// rounded mean of the pixels it covers, then YCbCr; chroma from cells twice as large.
pub fn thumbnail(rgb8: &[u8], width: usize, height: usize, g: &Geometry) -> Keyframe {
    let plane = |(gw, gh): (usize, usize), cell: usize, channels: &dyn Fn([i32; 3]) -> u8| {
        let mut data = Vec::with_capacity(gw * gh);
        for cy in 0..gh {
            for cx in 0..gw {
                let (mut sum, mut n) = ([0i64; 3], 0i64);
                for y in cy * cell..((cy + 1) * cell).min(height) {
                    for x in cx * cell..((cx + 1) * cell).min(width) {
                        let p = &rgb8[(y * width + x) * 3..][..3];
                        for c in 0..3 {
                            sum[c] += i64::from(p[c]);
                        }
                        n += 1;
                    }
                }
                let n = n.max(1);
                data.push(channels(sum.map(|s| ((2 * s + n) / (2 * n)) as i32)));
            }
        }
        Plane { width: gw, height: gh, data }
    };
    let c = g.cell;
    [
        plane(g.luma, c, &|[r, gg, b]| color::ycbcr8(r, gg, b)[0]),
        plane(g.chroma, 2 * c, &|[r, gg, b]| color::ycbcr8(r, gg, b)[1]),
        plane(g.chroma, 2 * c, &|[r, gg, b]| color::ycbcr8(r, gg, b)[2]),
    ]
}

/// Median edge detector (LOCO-I) of left a, up b, up-left c.
fn med(a: i32, b: i32, c: i32) -> i32 {
    if c >= a.max(b) {
        a.min(b)
    } else if c <= a.min(b) {
        a.max(b)
    } else {
        a + b - c
    }
}

/// Largest residual symbol magnitude at step q.
pub fn max_symbol(q: u8) -> i32 {
    255 / i32::from(q) + 1
}

/// round(d / q) with a dead zone of `dz` steps (in 64ths, 0..32): |d| / q rounded down
/// after adding 1/2 - dz; dz = 0 rounds halves away from zero.
fn quantise_residual(d: i32, q: i32, dz: i32) -> i32 {
    let r = (64 * d.abs() + (32 - dz) * q) / (64 * q);
    if d >= 0 { r } else { -r }
}

/// One residual the coder sees: symbol, context, plane kind (0 luma, 1 chroma).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Residual {
    pub symbol: i32,
    pub context: usize,
    pub chroma: bool,
}

/// What the sample coder codes, layer after layer (a sketch's keyframes, or motion's
/// intervals): each plane's size (w, h) and kind (false: the first kind's step and
/// models, true: the second's, chroma in a sketch), and the two kinds' steps.
pub(crate) struct Layout {
    pub layers: usize,
    pub planes: Vec<((usize, usize), bool)>,
    pub q: [u8; 2],
}

impl Layout {
    fn keyframes(g: &Geometry, p: &SketchParams) -> Self {
        Self { layers: g.keyframes, planes: vec![(g.luma, false), (g.chroma, true), (g.chroma, true)], q: [p.q_luma, p.q_chroma] }
    }

    fn q(&self, kind: bool) -> u8 {
        self.q[usize::from(kind)]
    }
}

/// The coding loop both sides share: layer by layer, plane by plane, samples in raster
/// order. `residual(pred, context, kind, plane, index)` gives each symbol (the encoder
/// quantises its target; the decoder pops the payload; `plane` counts planes over all
/// layers); the samples are rebuilt from the prediction as `clamp(pred + symbol q)`.
fn code<E>(l: &Layout, mut residual: impl FnMut(i32, usize, bool, usize, usize) -> Result<i32, E>) -> Result<Vec<Vec<Plane>>, E> {
    let mut out: Vec<Vec<Plane>> = Vec::with_capacity(l.layers);
    for k in 0..l.layers {
        let mut planes = Vec::with_capacity(l.planes.len());
        for (c, &((w, h), kind)) in l.planes.iter().enumerate() {
            let q = i32::from(l.q(kind));
            let prev = out.last().map(|layer| &layer[c].data);
            let mut cur = vec![0u8; w * h];
            let mut sym = vec![0i32; w * h];
            for y in 0..h {
                for x in 0..w {
                    let i = y * w + x;
                    let at = |v: &[u8], j: usize| i32::from(v[j]);
                    // Values of the field predicted: the samples, or their change since
                    // the previous layer.
                    let field = |j: usize| at(&cur, j) - prev.map_or(0, |pv| at(pv, j));
                    let base = prev.map_or(0, |pv| at(pv, i));
                    let spatial = match (x, y) {
                        (0, 0) => if prev.is_some() { 0 } else { 128 },
                        (_, 0) => field(i - 1),
                        (0, _) => field(i - w),
                        _ => med(field(i - 1), field(i - w), field(i - w - 1)),
                    };
                    let pred = (base + spatial).clamp(0, 255);
                    let ctx = if x > 0 { sym[i - 1].abs() } else { 0 } + if y > 0 { sym[i - w].abs() } else { 0 };
                    let s = residual(pred, (ctx as usize).min(CONTEXTS - 1), kind, k * l.planes.len() + c, i)?;
                    sym[i] = s;
                    cur[i] = (pred + s * q).clamp(0, 255) as u8;
                }
            }
            planes.push(Plane { width: w, height: h, data: cur });
        }
        out.push(planes);
    }
    Ok(out)
}

fn keyframes(layers: Vec<Vec<Plane>>) -> Vec<Keyframe> {
    layers.into_iter().map(|planes| planes.try_into().expect("three planes")).collect()
}

/// Closed-loop quantisation of `targets` (one keyframe each): the residual symbols in
/// coding order and the keyframes the decoder will rebuild.
pub fn quantise_keyframes(g: &Geometry, p: &SketchParams, targets: &[Keyframe]) -> (Vec<Residual>, Vec<Keyframe>) {
    quantise_keyframes_dz(g, p, targets, 0)
}

/// `quantise_keyframes` with a dead zone of `dz` 64ths of a step (0..32): small residuals
/// go to zero, which costs fewer bits than it adds error.
pub fn quantise_keyframes_dz(g: &Geometry, p: &SketchParams, targets: &[Keyframe], dz: i32) -> (Vec<Residual>, Vec<Keyframe>) {
    let (res, layers) = quantise(&Layout::keyframes(g, p), |plane, i| targets[plane / 3][plane % 3].data[i], dz);
    (res, keyframes(layers))
}

/// Closed-loop quantisation of the samples `target(plane, index)` laid out as `l`
/// (`code`): the residual symbols in coding order and the planes the decoder rebuilds.
pub(crate) fn quantise(l: &Layout, target: impl Fn(usize, usize) -> u8, dz: i32) -> (Vec<Residual>, Vec<Vec<Plane>>) {
    let mut res = Vec::new();
    let decoded = code::<()>(l, |pred, context, chroma, plane, i| {
        let q = l.q(chroma);
        let m = max_symbol(q);
        let symbol = quantise_residual(i32::from(target(plane, i)) - pred, i32::from(q), dz).clamp(-m, m);
        res.push(Residual { symbol, context, chroma });
        Ok(symbol)
    })
    .expect("the encoder's loop cannot fail");
    (res, decoded)
}

/// The Laplace of context `ctx` for a plane kind: b = scale / 32 * (1 + ctx) steps over
/// -max..=max (`entropy::Prior::table`).
fn prior(scale: u8, ctx: usize, q: u8) -> Prior {
    let m = max_symbol(q) as i16;
    Prior { kind: PriorKind::Laplace, scale: f32::from(scale.max(1)) / 32.0 * (1 + ctx) as f32, min: -m, max: m }
}

/// The entropy models of one plane kind, by context.
fn models(scale: u8, q: u8) -> Vec<DefaultContiguousCategoricalEntropyModel> {
    (0..CONTEXTS)
        .map(|ctx| {
            let table = prior(scale, ctx, q).table().expect("valid prior");
            DefaultContiguousCategoricalEntropyModel::from_nonzero_fixed_point_probabilities(&table, false).expect("valid table")
        })
        .collect()
}

/// How often each symbol (offset by the max symbol) occurs in each context, for one
/// plane kind.
fn histogram(res: &[Residual], chroma: bool, q: u8) -> Vec<Vec<u32>> {
    let m = max_symbol(q);
    let mut h = vec![vec![0u32; (2 * m + 1) as usize]; CONTEXTS];
    for r in res.iter().filter(|r| r.chroma == chroma) {
        h[r.context][(r.symbol + m) as usize] += 1;
    }
    h
}

/// Ideal bits of residuals with histogram `h` under base scale `scale`.
fn bits(h: &[Vec<u32>], scale: u8, q: u8) -> f64 {
    let mut sum = 0.0;
    for (c, counts) in h.iter().enumerate() {
        if counts.iter().all(|&n| n == 0) {
            continue;
        }
        let table = prior(scale, c, q).table().expect("valid prior");
        for (&n, &p) in counts.iter().zip(&table) {
            if n > 0 {
                sum += f64::from(n) * (f64::from(crate::entropy::PRECISION) - libm::log2(f64::from(p)));
            }
        }
    }
    sum
}

/// Scales the encoder tries for each plane kind.
const SCALES: [u8; 16] = [1, 2, 3, 4, 6, 8, 11, 16, 22, 32, 45, 64, 90, 128, 181, 255];

/// Codes `targets` (one thumbnail per keyframe, `thumbnail`) with `params`: the sketch
/// and the keyframes a decoder rebuilds from it.
pub fn encode(g: &Geometry, params: SketchParams, start: u8, targets: &[Keyframe]) -> (Sketch, Vec<Keyframe>) {
    encode_dz(g, params, start, targets, 0)
}

/// `encode` with a dead zone (`quantise_keyframes_dz`).
pub fn encode_dz(g: &Geometry, params: SketchParams, start: u8, targets: &[Keyframe], dz: i32) -> (Sketch, Vec<Keyframe>) {
    let (res, decoded) = quantise_keyframes_dz(g, &params, targets, dz);
    let (scale, payload) = entropy_code(&res, [params.q_luma, params.q_chroma]);
    (Sketch { params, start, scale, transform: None, motion: None, residual: false, sharpen: 0, payload }, decoded)
}

/// Entropy-codes residuals of the two kinds' steps `q`: each kind's best base scale and
/// the ANS payload.
pub(crate) fn entropy_code(res: &[Residual], q: [u8; 2]) -> ([u8; 2], Vec<u8>) {
    let best = |chroma: bool| {
        let (h, q) = (histogram(res, chroma, q[usize::from(chroma)]), q[usize::from(chroma)]);
        *SCALES.iter().min_by(|&&a, &&b| bits(&h, a, q).total_cmp(&bits(&h, b, q))).expect("scales")
    };
    let scale = [best(false), best(true)];
    let models = [models(scale[0], q[0]), models(scale[1], q[1])];
    let mut coder = DefaultAnsCoder::new();
    for r in res.iter().rev() {
        let k = usize::from(r.chroma);
        coder.encode_symbol((r.symbol + max_symbol(q[k])) as usize, &models[k][r.context]).expect("symbol in range");
    }
    let words = coder.into_compressed().expect("ANS flush");
    (scale, words.iter().flat_map(|w| w.to_le_bytes()).collect())
}

/// Decodes the planes of layout `l` from an ANS payload under the kinds' base scales.
pub(crate) fn entropy_decode(l: &Layout, scale: [u8; 2], payload: &[u8]) -> Result<Vec<Vec<Plane>>, SketchError> {
    let models = [models(scale[0], l.q[0]), models(scale[1], l.q[1])];
    let words: Vec<u32> = payload.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let mut coder = DefaultAnsCoder::from_compressed(words).map_err(|_| SketchError::Corrupt("last word is zero"))?;
    let out = code(l, |_, ctx, kind, _, _| {
        let i = coder.decode_symbol(&models[usize::from(kind)][ctx]).map_err(|_| SketchError::Corrupt("ANS decoding failed"))?;
        Ok(i as i32 - max_symbol(l.q(kind)))
    })?;
    if !coder.is_empty() {
        return Err(SketchError::Corrupt("data left after the last symbol"));
    }
    Ok(out)
}

/// Codes the transform of the targets (`transform::analyse`) under `t` (its tilt,
/// levels and models; the scales and decays are fitted to the symbols) with dead zone
/// `dz`/64: the sketch and the keyframes a decoder rebuilds.
pub fn encode_transform(g: &Geometry, params: SketchParams, t: Transform, start: u8, analysed: &[Vec<f64>], dz: i32) -> (Sketch, Vec<Keyframe>) {
    let coefs = transform::quantise(g, &params, &t, analysed, dz);
    let decoded = transform::reconstruct(g, &params, t.tilt, t.levels, &coefs);
    let layer_len = coefs.len();
    (coded(params, start, t, &coefs, layer_len, None), decoded)
}

/// Codes `targets` as keyframes predicted along `motion` (its decoded `field`; version
/// 4, `transform::quantise_predicted`) under `t` with dead zone `dz`/64: the sketch and
/// the keyframes a decoder rebuilds.
#[allow(clippy::too_many_arguments)]
pub fn encode_predicted(g: &Geometry, params: SketchParams, t: Transform, start: u8, targets: &[Keyframe], field: &motion::Field, motion: &Motion, dz: i32) -> (Sketch, Vec<Keyframe>) {
    let (coefs, decoded) = transform::quantise_predicted(g, &params, &t, targets, field, dz);
    let layer_len = transform::layer(g).samples();
    (coded(params, start, t, &coefs, layer_len, Some(motion.clone())), decoded)
}

/// A transform-coded sketch of quantised coefficients: the kinds' scales and decays
/// fitted to them (`t.decay` is replaced), the payload (`transform::entropy_code`;
/// coefficients from `layer_len` on belong to later layers).
fn coded(params: SketchParams, start: u8, t: Transform, coefs: &[transform::Coefficient], layer_len: usize, motion: Option<Motion>) -> Sketch {
    let (luma, chroma) = (transform::fit_model(coefs, false), transform::fit_model(coefs, true));
    let (scale, decay) = ([luma.0, chroma.0], [luma.1, chroma.1]);
    let payload = transform::entropy_code(coefs, scale, decay, t.adaptive.then_some(layer_len));
    Sketch { params, start, scale, transform: Some(Transform { decay, ..t }), motion, residual: false, sharpen: 0, payload }
}

/// Decodes a sketch of a `width` x `height` x `frames` clip to its keyframes.
pub fn decode(s: &Sketch, width: usize, height: usize, frames: usize) -> Result<Vec<Keyframe>, SketchError> {
    let g = Geometry::new(width, height, frames, &s.params)?;
    check(s, &g)?;
    let p = &s.params;
    if let Some(t) = &s.transform {
        let field = s.motion.as_ref().map(|m| motion::decode(m, width, height, g.keyframes)).transpose()?;
        return transform::decode(&g, p, t, s.scale, &s.payload, field.as_ref());
    }
    Ok(keyframes(entropy_decode(&Layout::keyframes(&g, p), s.scale, &s.payload)?))
}

/// Checks a sketch's fields against the limits and the clip's geometry.
pub fn check(s: &Sketch, g: &Geometry) -> Result<(), SketchError> {
    if g.samples() > MAX_SAMPLES {
        return Err(range("samples", g.samples() as u64, "at most 2^20"));
    }
    match s.transform {
        None if s.params.cell_log2 < MIN_CELL_LOG2 => return Err(range("cell_log2", s.params.cell_log2, "2..=8 without the transform")),
        None if s.params.q_luma.max(s.params.q_chroma) > MAX_Q => return Err(range("q", s.params.q_luma.max(s.params.q_chroma), "1..=128 without the transform")),
        None => {}
        Some(t) => transform::check(g, &t)?,
    }
    if let Some(m) = &s.motion {
        if s.transform.is_none() {
            return Err(range("motion", 1u8, "only with the transform"));
        }
        motion::check(m, g.size.0, g.size.1, g.keyframes)?;
        let between = g.frames - g.keyframes;
        // Wide contexts (version 9) always carry phases, zero or not.
        let (adaptive, wide) = s.transform.map_or((false, false), |t| (t.adaptive, t.wide));
        if (!m.phases.is_empty() || wide) && (m.phases.len() != between || !adaptive) {
            return Err(range("motion phases", m.phases.len() as u64, "none, or one per frame between keyframes with adaptive models (always with wide contexts)"));
        }
    }
    if s.scale.contains(&0) {
        return Err(range("scale", 0u8, "1..=255"));
    }
    if s.start == 0 {
        return Err(range("start", 0u8, "1..=255"));
    }
    if s.sharpen > crate::sharpen::MAX || (s.sharpen > 0 && !s.transform.is_some_and(|t| t.adaptive)) {
        return Err(range("sharpen", s.sharpen, "0..=64, and 0 without adaptive models"));
    }
    if s.payload.len() > MAX_PAYLOAD || s.payload.len() % 4 != 0 {
        return Err(range("payload_len", s.payload.len() as u64, "a multiple of 4, at most 32768"));
    }
    Ok(())
}

/// Bilinear sample of `plane` (cells of `cell` = (x, y) units) at the centre of unit (x, y):
/// grid coordinate (x + 0.5) / cell - 0.5, clamped to the grid.
fn sample(plane: &Plane, (cx, cy): (f32, f32), x: usize, y: usize) -> f32 {
    let coord = |v: usize, cell: f32, n: usize| ((v as f32 + 0.5) / cell - 0.5).clamp(0.0, (n - 1) as f32);
    let (gx, gy) = (coord(x, cx, plane.width), coord(y, cy, plane.height));
    let (x0, y0) = (gx.floor() as usize, gy.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(plane.width - 1), (y0 + 1).min(plane.height - 1));
    let (fx, fy) = (gx - x0 as f32, gy - y0 as f32);
    let v = |xx: usize, yy: usize| f32::from(plane.data[yy * plane.width + xx]);
    let top = v(x0, y0) * (1.0 - fx) + v(x1, y0) * fx;
    let bottom = v(x0, y1) * (1.0 - fx) + v(x1, y1) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// A decoded keyframe as a `width` x `height` RGB image, planar [3, H, W] in [0, 1]:
/// each plane bilinearly upsampled (`cell` = (x, y) pixels a luma cell, twice that for
/// chroma; the clip's cell, scaled when rendering at another size), then YCbCr -> RGB
/// (JPEG full range, f32), clamped.
pub fn upsample_rgb(kf: &Keyframe, cell: (f32, f32), width: usize, height: usize) -> Vec<f32> {
    let n = width * height;
    let mut out = vec![0f32; 3 * n];
    for y in 0..height {
        for x in 0..width {
            let l = sample(&kf[0], cell, x, y);
            let cb = sample(&kf[1], (2.0 * cell.0, 2.0 * cell.1), x, y) - 128.0;
            let cr = sample(&kf[2], (2.0 * cell.0, 2.0 * cell.1), x, y) - 128.0;
            let rgb = color::rgb_f32(l, cb, cr);
            for (c, v) in rgb.into_iter().enumerate() {
                out[c * n + y * width + x] = (v / 255.0).clamp(0.0, 1.0);
            }
        }
    }
    out
}

/// How render frame f of `frames` blends the keyframes: (a, b, u), frame = (1 - u) kf[a]
/// + u kf[b]. Render frame f sits at clip time t = f (T - 1) / (frames - 1) (T = the
/// clip's frames), between the keyframes around it, held beyond them: u = (t - ta) / (tb
/// - ta). With `phases` (version 8, `motion::phase_u`; empty: none), clip frame i of the
/// interval has u_i = phase_u((i - ta) / (tb - ta), phases[i - k - 1]) (k: the
/// interval; u = 0 and 1 at its keyframes), and t between clip frames interpolates
/// them: u = u_i + (t - i) (u_{i+1} - u_i), i = floor(t).
pub fn frame_weights(g: &Geometry, frames: usize, phases: &[i8]) -> Vec<(usize, usize, f32)> {
    let times = g.keyframe_times();
    (0..frames)
        .map(|f| {
            let t = if frames > 1 { f as f32 * (g.frames - 1) as f32 / (frames - 1) as f32 } else { 0.0 };
            let next = times.iter().position(|&k| k as f32 >= t).unwrap_or(times.len() - 1);
            if next == 0 || times[next] as f32 <= t {
                (next, next, 0.0)
            } else if phases.is_empty() {
                let (ta, tb) = (times[next - 1] as f32, times[next] as f32);
                (next - 1, next, (t - ta) / (tb - ta))
            } else {
                let (ta, tb) = (times[next - 1], times[next]);
                let u_at = |i: usize| match i {
                    _ if i <= ta => 0.0,
                    _ if i >= tb => 1.0,
                    _ => motion::phase_u((i - ta) as f32 / (tb - ta) as f32, motion::phase_at(phases, i, next - 1)),
                };
                let i = (t.floor() as usize).max(ta);
                (next - 1, next, u_at(i) + (t - i as f32) * (u_at(i + 1) - u_at(i)))
            }
        })
        .collect()
}

/// Decoded keyframes as RGB8 thumbnails (chroma repeated to the luma grid): a preview.
pub fn preview(kf: &Keyframe) -> (usize, usize, Vec<u8>) {
    let [y, cb, cr] = kf;
    let rgb8 = (0..y.height)
        .flat_map(|j| (0..y.width).map(move |i| (i, j)))
        .flat_map(|(i, j)| {
            let c = (j / 2) * cb.width + i / 2;
            color::rgb8(i32::from(y.data[j * y.width + i]), i32::from(cb.data[c]), i32::from(cr.data[c]))
        })
        .collect();
    (y.width, y.height, rgb8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(w: usize, h: usize, t: usize) -> Vec<Vec<u8>> {
        (0..t)
            .map(|f| (0..w * h).flat_map(|p| {
                let (x, y) = (p % w, p / w);
                [((x * 255) / w) as u8, ((y * 200) / h + f * 3) as u8, (((x + y) * 97 + f * 11) % 256) as u8]
            }).collect())
            .collect()
    }

    fn targets(frames: &[Vec<u8>], w: usize, h: usize, g: &Geometry) -> Vec<Keyframe> {
        g.keyframe_times().iter().map(|&t| thumbnail(&frames[t], w, h, g)).collect()
    }

    #[test]
    fn round_trip_rebuilds_what_the_encoder_predicted() {
        let (w, h, t) = (72, 40, 5);
        let frames = clip(w, h, t);
        for params in [SketchParams { cell_log2: 3, keyframes: 3, q_luma: 4, q_chroma: 9 }, SketchParams { cell_log2: 4, keyframes: 1, q_luma: 1, q_chroma: 1 }] {
            let g = Geometry::new(w, h, t, &params).unwrap();
            let tg = targets(&frames, w, h, &g);
            let (sketch, decoded) = encode(&g, params, 200, &tg);
            assert_eq!(decode(&sketch, w, h, t).unwrap(), decoded);
            // Closed loop: every sample within q/2 of its target.
            for (kd, kt) in decoded.iter().zip(&tg) {
                for c in 0..3 {
                    let q = i32::from(if c == 0 { params.q_luma } else { params.q_chroma });
                    assert!(kd[c].data.iter().zip(&kt[c].data).all(|(a, b)| (i32::from(*a) - i32::from(*b)).abs() <= q / 2));
                }
            }
        }
    }

    #[test]
    fn a_dead_zone_decodes_as_written_and_costs_fewer_bytes() {
        let (w, h, t) = (72, 40, 5);
        let frames = clip(w, h, t);
        let params = SketchParams { cell_log2: 2, keyframes: 3, q_luma: 6, q_chroma: 8 };
        let g = Geometry::new(w, h, t, &params).unwrap();
        let tg = targets(&frames, w, h, &g);
        let (plain, _) = encode(&g, params, 200, &tg);
        let (dz, decoded) = encode_dz(&g, params, 200, &tg, 24);
        assert_eq!(decode(&dz, w, h, t).unwrap(), decoded);
        assert!(dz.payload.len() < plain.payload.len(), "{} vs {}", dz.payload.len(), plain.payload.len());
        // |r| = floor(|d|/q + 1/2 - 24/64): within (1/2 + 24/64) q of the target.
        for (kd, kt) in decoded.iter().zip(&tg) {
            for c in 0..3 {
                let q = i32::from(if c == 0 { params.q_luma } else { params.q_chroma });
                assert!(kd[c].data.iter().zip(&kt[c].data).all(|(a, b)| 64 * (i32::from(*a) - i32::from(*b)).abs() <= 56 * q));
            }
        }
        assert_eq!((quantise_residual(7, 4, 0), quantise_residual(-6, 4, 0), quantise_residual(6, 4, 24), quantise_residual(-7, 4, 24), quantise_residual(8, 4, 24)), (2, -2, 1, -1, 2));
    }

    #[test]
    fn a_transform_sketch_decodes_as_written_within_its_steps() {
        let (w, h, t) = (72, 40, 5);
        let frames = clip(w, h, t);
        let cases = [(0, 5, 32, 0, 0, 0), (2, 3, 32, 0, 0, 0), (1, 2, 1, 0, 0, 0), (2, 3, 60, 64, 13, 0), (3, 1, 48, 16, 24, 0), (0, 5, 32, 0, 0, 4), (1, 2, 20, 0, 0, 8), (2, 3, 60, 64, 13, 2)];
        for (cell_log2, keyframes, q, tilt, dz, levels) in cases {
            let params = SketchParams { cell_log2, keyframes, q_luma: q, q_chroma: q };
            let g = Geometry::new(w, h, t, &params).unwrap();
            let tg = targets(&frames, w, h, &g);
            let fixed = Transform { adaptive: false, wide: false, ..Transform::newest(tilt, levels) };
            let (s, decoded) = encode_transform(&g, params, fixed, 200, &transform::analyse(&g, levels, &tg), dz);
            assert_eq!(decode(&s, w, h, t).unwrap(), decoded, "{params:?}, {levels} levels");
            if levels > 0 {
                // Adaptive models, with narrow or wide contexts, code the same symbols: the
                // same keyframes.
                let mut payloads = vec![s.payload.clone()];
                for wide in [false, true] {
                    let (a, again) = encode_transform(&g, params, Transform { wide, ..Transform::newest(tilt, levels) }, 200, &transform::analyse(&g, levels, &tg), dz);
                    assert_eq!((&again, &decode(&a, w, h, t).unwrap()), (&decoded, &decoded), "{params:?}, {levels} levels, adaptive, wide {wide}");
                    assert!(!payloads.contains(&a.payload));
                    payloads.push(a.payload);
                }
            }
            if tilt == 0 && dz == 0 {
                // Orthonormal: the samples' mean squared error is the coefficients' (at most
                // step^2/4), plus the rounding to integers; the wavelet's synthesis vectors
                // are within 10% of unit length.
                let step = transform::base_step(q);
                let (mut se, mut n) = (0.0, 0.0);
                for (kd, kt) in decoded.iter().zip(&tg) {
                    for c in 0..3 {
                        for (a, b) in kd[c].data.iter().zip(&kt[c].data) {
                            se += (f64::from(*a) - f64::from(*b)).powi(2);
                            n += 1.0;
                        }
                    }
                }
                let gain = if levels == 0 { 1.0 } else { 1.25 };
                assert!(se / n <= gain * step * step / 4.0 + 0.5, "{params:?}, {levels} levels: {}", se / n);
            }
        }
        // Step 1/4: the DC coefficients escape, and still decode.
        let params = SketchParams { cell_log2: 1, keyframes: 2, q_luma: 1, q_chroma: 1 };
        let g = Geometry::new(w, h, t, &params).unwrap();
        let coefs = transform::quantise(&g, &params, &Transform::newest(0, 0), &transform::analyse(&g, 0, &targets(&frames, w, h, &g)), 0);
        assert!(coefs.iter().any(|c| c.symbol.abs() > 1000));
    }

    #[test]
    fn colour_transform_round_trips_closely() {
        for (r, g, b) in [(0, 0, 0), (255, 255, 255), (255, 0, 0), (0, 255, 0), (0, 0, 255), (12, 200, 77)] {
            let [y, cb, cr] = color::ycbcr8(r, g, b);
            let back = color::rgb8(i32::from(y), i32::from(cb), i32::from(cr));
            for (a, b) in back.iter().zip([r, g, b]) {
                assert!((i32::from(*a) - b).abs() <= 3, "{r},{g},{b} -> {back:?}");
            }
        }
    }

    #[test]
    fn keyframe_times_span_the_clip() {
        let g = |n, t| Geometry::of_cell(16, 16, t, 8, n).keyframe_times();
        assert_eq!(g(1, 16), vec![7]);
        assert_eq!(g(2, 16), vec![0, 15]);
        assert_eq!(g(4, 16), vec![0, 5, 10, 15]);
        assert_eq!(g(16, 16), (0..16).collect::<Vec<_>>());
    }

    #[test]
    fn frames_blend_the_keyframes_around_them() {
        let g = Geometry::of_cell(16, 16, 16, 8, 2);
        let w = frame_weights(&g, 16, &[]);
        assert_eq!((w[0], w[15]), ((0, 0, 0.0), (1, 1, 0.0)));
        assert_eq!(w[5], (0, 1, 5.0 / 15.0));
        // A render of 31 frames: frame 15 is clip time 7.5.
        assert_eq!(frame_weights(&g, 31, &[])[15], (0, 1, 0.5));
        let one = Geometry::of_cell(16, 16, 16, 8, 1);
        assert!(frame_weights(&one, 16, &[]).iter().all(|&(a, b, _)| a == 0 && b == 0));
    }

    #[test]
    fn phases_move_the_frames_between_keyframes() {
        // Keyframes at 0, 2, 4: frames 1 and 3 between them, phases +32 and -64 (128ths).
        let g = Geometry::of_cell(16, 16, 5, 8, 3);
        assert_eq!(g.keyframe_times(), vec![0, 2, 4]);
        let w = frame_weights(&g, 5, &[32, -64]);
        assert_eq!(w, vec![(0, 0, 0.0), (0, 1, 0.75), (1, 1, 0.0), (1, 2, 0.0), (2, 2, 0.0)]);
        // Zero phases place frames as none do; a render between clip frames interpolates.
        assert_eq!(frame_weights(&g, 5, &[0, 0]), frame_weights(&g, 5, &[]));
        let w9 = frame_weights(&g, 9, &[32, -64]);
        assert_eq!((w9[1], w9[3], w9[7]), ((0, 1, 0.375), (0, 1, 0.875), (1, 2, 0.5)));
        assert_eq!(motion::phase_u(0.9, 127), 1.0);
    }

    #[test]
    fn upsampling_interpolates_between_cell_centres() {
        let kf = [Plane { width: 2, height: 1, data: vec![0, 200] }, Plane { width: 1, height: 1, data: vec![128] }, Plane { width: 1, height: 1, data: vec![128] }];
        let rgb = upsample_rgb(&kf, (8.0, 8.0), 16, 8);
        // Grey: R = G = B; held to the first centre (x = 3.5), linear to the second (x = 11.5).
        assert_eq!(rgb[0], 0.0);
        assert_eq!(rgb[15], 200.0 / 255.0);
        assert!((rgb[7] - 87.5 / 255.0).abs() < 1e-6, "{}", rgb[7]);
        assert_eq!(rgb[7], rgb[128 + 7]);
    }

    #[test]
    fn hostile_sketches_are_errors() {
        let p = SketchParams { cell_log2: 3, keyframes: 2, q_luma: 8, q_chroma: 8 };
        let ok = Sketch { params: p, start: 200, scale: [16, 16], transform: None, motion: None, residual: false, sharpen: 0, payload: vec![] };
        assert!(decode(&ok, 64, 64, 4).is_ok());
        for bad in [
            Sketch { params: SketchParams { cell_log2: 1, ..p }, ..ok.clone() },
            Sketch { params: SketchParams { keyframes: 5, ..p }, ..ok.clone() },
            Sketch { params: SketchParams { q_luma: 0, ..p }, ..ok.clone() },
            Sketch { params: SketchParams { q_chroma: 129, ..p }, ..ok.clone() },
            Sketch { scale: [0, 1], ..ok.clone() },
            Sketch { start: 0, ..ok.clone() },
            Sketch { payload: vec![1, 2, 3], ..ok.clone() },
            Sketch { payload: vec![0, 0, 0, 0], ..ok.clone() },
            Sketch { params: SketchParams { cell_log2: 0, ..p }, ..ok.clone() },
            Sketch { params: SketchParams { cell_log2: 0, ..p }, transform: Some(Transform { tilt: 0, decay: [0, 0], levels: 0, adaptive: false, wide: false }), payload: vec![0x5a; 4000], ..ok.clone() },
        ] {
            assert!(decode(&bad, 64, 64, 4).is_err(), "{bad:?}");
        }
        // 4096 x 4096 with 8-pixel cells and 64 keyframes: too many samples.
        let big = Sketch { params: SketchParams { keyframes: 64, ..p }, ..ok.clone() };
        assert!(matches!(decode(&big, 4096, 4096, 64), Err(SketchError::OutOfRange { field: "samples", .. })));
        // A transform grid wider than 512 cells.
        let too_wide = Sketch { params: SketchParams { cell_log2: 0, keyframes: 1, ..p }, transform: Some(Transform::newest(0, 0)), ..ok };
        assert!(decode(&too_wide, 1024, 8, 1).is_err());
    }
}
