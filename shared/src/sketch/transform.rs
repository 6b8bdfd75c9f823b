//! Transform coding of a sketch (version 3, SPEC.md "Sketch transform"): each plane's
//! keyframes form a volume of K x h x w samples; its orthonormal 3-D DCT-II (of the
//! samples minus 128; from version 5, `levels` of the CDF 9/7 wavelet in space instead,
//! `wavelet.rs`) is quantised with steps that grow with frequency, and the symbols
//! are coded with constriction's ANS under Laplace models whose scale grows with the
//! neighbouring symbols and falls with frequency. Large symbols escape to an
//! Exp-Golomb code. The inverse transform is f64 arithmetic in a fixed order, with
//! `libm`'s cosine: the same bits on every target.

use constriction::stream::model::{DefaultContiguousCategoricalEntropyModel, DefaultUniformModel};
use constriction::stream::stack::DefaultAnsCoder;
use constriction::stream::{Decode, Encode};

use super::adaptive::{self, Counts};
use super::motion::{Bilinear, Field};
use super::wavelet;
use super::{Geometry, Keyframe, Plane, SketchError, SketchParams};
use crate::entropy::{Prior, PriorKind, MIN_SCALE, PRECISION};

/// Symbols -ESCAPE..=ESCAPE; |r| >= ESCAPE is coded as ESCAPE (with the sign) followed by
/// an Exp-Golomb code of |r| - ESCAPE.
pub const ESCAPE: i32 = 16;
/// Longest Exp-Golomb prefix: |r| - ESCAPE + 1 < 2^(MAX_PREFIX + 1).
pub const MAX_PREFIX: usize = 23;
/// Frequency bands: band = floor(BANDS/3 * (a/K + b/h + c/w)).
pub const BANDS: usize = 24;
/// Neighbour contexts: min(|left| + |up|, CONTEXTS - 1).
pub const CONTEXTS: usize = 9;
/// Largest grid side of a transform sketch.
pub const MAX_SIDE: usize = 512;

/// The transform's parameters beside `SketchParams`: `tilt` (the steps grow by tilt/4
/// per unit of frequency a/K + b/h + c/w), `decay` (per plane kind, luma and chroma:
/// the Laplace scale halves every 64/decay bands), `levels` (0: the spatial DCT,
/// versions 3 and 4; 1..=8: the CDF 9/7 wavelet with that many levels, version 5),
/// `adaptive` (version 6: the wavelet's symbols under adaptive models) and `wide`
/// (version 9: their contexts see more neighbours, `walk`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Transform {
    pub tilt: u8,
    pub decay: [u8; 2],
    pub levels: u8,
    /// Adaptive symbol models (version 6, `adaptive.rs`; wavelet only).
    pub adaptive: bool,
    /// The wide context (version 9; adaptive models only).
    pub wide: bool,
}

impl Transform {
    /// The newest coding at `tilt` and `levels`: the wavelet (levels > 0) under adaptive
    /// models with wide contexts (version 9), or the DCT under fixed models. The decays
    /// are fitted when the sketch is coded.
    pub fn newest(tilt: u8, levels: u8) -> Self {
        Self { tilt, decay: [0, 0], levels, adaptive: levels > 0, wide: levels > 0 }
    }
}

/// The shape of one plane's volume: keyframes, rows, columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Volume {
    k: usize,
    h: usize,
    w: usize,
    /// Wavelet levels in space (0: the DCT).
    levels: u8,
}

impl Volume {
    fn len(&self) -> usize {
        self.k * self.h * self.w
    }

    /// a/K + b/h + c/w as a fraction num / den; with the wavelet, a/K plus the
    /// position's `wavelet::frequency`.
    fn frequency(&self, a: usize, b: usize, c: usize) -> (u64, u64) {
        let (k, h, w) = (self.k as u64, self.h as u64, self.w as u64);
        if self.levels > 0 {
            let den = 1u64 << (self.levels + 2);
            return (a as u64 * den + k * wavelet::frequency(self.h, self.w, self.levels, b, c), k * den);
        }
        (a as u64 * h * w + b as u64 * k * w + c as u64 * k * h, k * h * w)
    }

    fn band(&self, a: usize, b: usize, c: usize) -> usize {
        let (num, den) = self.frequency(a, b, c);
        ((BANDS as u64 / 3 * num) / den) as usize
    }

    /// The quantiser step of coefficient (a, b, c) for q: `base_step(q)` (1 + tilt/4 (a/K
    /// + b/h + c/w)).
    fn step(&self, q: u8, tilt: u8, a: usize, b: usize, c: usize) -> f64 {
        let (num, den) = self.frequency(a, b, c);
        base_step(q) * (1.0 + f64::from(tilt) * num as f64 / (4.0 * den as f64))
    }

    /// `step` of the coefficient at index i of the volume (a, b, c order).
    fn step_at(&self, q: u8, tilt: u8, i: usize) -> f64 {
        self.step(q, tilt, i / (self.h * self.w), (i / self.w) % self.h, i % self.w)
    }
}

/// The step of the lowest frequency for q: 2^(q/16 - 2) (q 1..=255: 0.26 to about
/// 15,000, 4.4% apart).
pub fn base_step(q: u8) -> f64 {
    libm::exp2(f64::from(q) / 16.0 - 2.0)
}

/// The plane volumes of a geometry: Y, Cb, Cr.
fn volumes(g: &Geometry, levels: u8) -> [Volume; 3] {
    let (k, (lw, lh), (cw, ch)) = (g.keyframes, g.luma, g.chroma);
    [Volume { k, h: lh, w: lw, levels }, Volume { k, h: ch, w: cw, levels }, Volume { k, h: ch, w: cw, levels }]
}

/// Checks the transform's limits on a geometry: its grid side (`check_grid`) and its levels.
pub fn check(g: &Geometry, t: &Transform) -> Result<(), SketchError> {
    check_grid(g)?;
    if t.levels > wavelet::MAX_LEVELS {
        return Err(super::range("levels", t.levels, "0..=8"));
    }
    if t.adaptive && t.levels == 0 {
        return Err(super::range("levels", t.levels, "1..=8 with adaptive models"));
    }
    if t.wide && !t.adaptive {
        return Err(super::range("wide contexts", 1u8, "only with adaptive models"));
    }
    Ok(())
}

/// Checks that a geometry's grid sides are at most MAX_SIDE.
pub fn check_grid(g: &Geometry) -> Result<(), SketchError> {
    let side = g.luma.0.max(g.luma.1);
    if side > MAX_SIDE {
        return Err(super::range("grid side", side as u64, "at most 512 cells"));
    }
    Ok(())
}

/// The orthonormal DCT-II basis of length n, row k: s_k cos(pi (2i + 1) k / 2n), s_0 =
/// sqrt(1/n), else sqrt(2/n).
fn basis(n: usize) -> Vec<f64> {
    let mut m = vec![0.0; n * n];
    for k in 0..n {
        let s = libm::sqrt(if k == 0 { 1.0 } else { 2.0 } / n as f64);
        for i in 0..n {
            m[k * n + i] = s * libm::cos(core::f64::consts::PI * ((2 * i + 1) * k) as f64 / (2 * n) as f64);
        }
    }
    m
}

/// The forward transform of samples `x` (K x h x w, already minus 128): in space (the
/// DCT, or the wavelet on each keyframe), then along t.
fn forward(v: &Volume, x: &[f64]) -> Vec<f64> {
    let rows = if v.levels == 0 {
        forward_dct(v, x)
    } else {
        let mut y = x.to_vec();
        y.chunks_exact_mut(v.h * v.w).for_each(|p| wavelet::forward(p, v.h, v.w, v.levels));
        y
    };
    let bt = basis(v.k);
    let plane = v.h * v.w;
    let mut out = vec![0.0; v.len()]; // [a][b][c]
    for a in 0..v.k {
        for j in 0..plane {
            out[a * plane + j] = (0..v.k).map(|k| bt[a * v.k + k] * rows[k * plane + j]).sum();
        }
    }
    out
}

/// The spatial DCT of each keyframe of `x`: along x, then y.
fn forward_dct(v: &Volume, x: &[f64]) -> Vec<f64> {
    let (by, bx) = (basis(v.h), basis(v.w));
    let mut cols = vec![0.0; v.len()]; // [k][y][c]
    for r in 0..v.k * v.h {
        for c in 0..v.w {
            cols[r * v.w + c] = (0..v.w).map(|i| bx[c * v.w + i] * x[r * v.w + i]).sum();
        }
    }
    let mut rows = vec![0.0; v.len()]; // [k][b][c]
    for k in 0..v.k {
        for b in 0..v.h {
            for c in 0..v.w {
                rows[(k * v.h + b) * v.w + c] = (0..v.h).map(|y| by[b * v.h + y] * cols[(k * v.h + y) * v.w + c]).sum();
            }
        }
    }
    rows
}

/// The inverse transform of dequantised coefficients (a, b, c order) to samples, with 128
/// added, rounded and clamped to 0..=255. Sums run in increasing index order; zero terms
/// are skipped (which leaves every sum as it is). The DCT runs along x, y, then t; the
/// wavelet's inverse along t, then the wavelet on each keyframe.
fn inverse(v: &Volume, coef: &[f64]) -> Vec<u8> {
    if v.levels > 0 {
        return inverse_wavelet(v, coef);
    }
    let (bt, by, bx) = (basis(v.k), basis(v.h), basis(v.w));
    let plane = v.h * v.w;
    // 1. Along x: row (a, b) -> rx[a][b][x].
    let mut rx = vec![0.0; v.len()];
    let mut live = vec![false; v.k * v.h];
    for r in 0..v.k * v.h {
        let row = &coef[r * v.w..][..v.w];
        if row.iter().all(|&c| c == 0.0) {
            continue;
        }
        live[r] = true;
        for x in 0..v.w {
            let mut s = 0.0;
            for (c, &cv) in row.iter().enumerate() {
                if cv != 0.0 {
                    s += cv * bx[c * v.w + x];
                }
            }
            rx[r * v.w + x] = s;
        }
    }
    // 2. Along y: slice a -> ry[a][y][x], summing the live rows b in order.
    let mut ry = vec![0.0; v.len()];
    let mut live_slice = vec![false; v.k];
    for a in 0..v.k {
        for b in (0..v.h).filter(|&b| live[a * v.h + b]) {
            live_slice[a] = true;
            for y in 0..v.h {
                let f = by[b * v.h + y];
                let (src, dst) = (&rx[(a * v.h + b) * v.w..][..v.w], a * plane + y * v.w);
                for x in 0..v.w {
                    ry[dst + x] += f * src[x];
                }
            }
        }
    }
    // 3. Along t: keyframe k = sum over live slices a of bt[a][k] ry[a].
    let mut out = vec![0u8; v.len()];
    let mut acc = vec![0.0; plane];
    for k in 0..v.k {
        acc.iter_mut().for_each(|s| *s = 0.0);
        for a in (0..v.k).filter(|&a| live_slice[a]) {
            let f = bt[a * v.k + k];
            for (s, &r) in acc.iter_mut().zip(&ry[a * plane..][..plane]) {
                *s += f * r;
            }
        }
        for (o, &s) in out[k * plane..][..plane].iter_mut().zip(&acc) {
            *o = libm::round(s + 128.0).clamp(0.0, 255.0) as u8;
        }
    }
    out
}

fn inverse_wavelet(v: &Volume, coef: &[f64]) -> Vec<u8> {
    let bt = basis(v.k);
    let plane = v.h * v.w;
    let live: Vec<usize> = (0..v.k).filter(|&a| coef[a * plane..][..plane].iter().any(|&c| c != 0.0)).collect();
    let mut out = vec![0u8; v.len()];
    let mut acc = vec![0.0; plane];
    for k in 0..v.k {
        acc.iter_mut().for_each(|s| *s = 0.0);
        for &a in &live {
            let f = bt[a * v.k + k];
            for (s, &c) in acc.iter_mut().zip(&coef[a * plane..][..plane]) {
                *s += f * c;
            }
        }
        wavelet::inverse(&mut acc, v.h, v.w, v.levels);
        for (o, &s) in out[k * plane..][..plane].iter_mut().zip(&acc) {
            *o = libm::round(s + 128.0).clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// One coded coefficient: its symbol r, band, neighbour context and plane kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coefficient {
    pub symbol: i32,
    pub band: usize,
    pub context: usize,
    pub chroma: bool,
}

impl Coefficient {
    /// The index of its coded symbol `t = clamp(r, -ESCAPE, ESCAPE)` in a model of
    /// -ESCAPE..=ESCAPE.
    pub fn index(&self) -> usize {
        (self.symbol.clamp(-ESCAPE, ESCAPE) + ESCAPE) as usize
    }
}

/// Largest |r|: ESCAPE + 2^(MAX_PREFIX + 1) - 2.
const MAX_SYMBOL: i64 = ESCAPE as i64 + (1 << (MAX_PREFIX + 1)) - 2;

/// Walks every coefficient in coding order (planes Y, Cb, Cr; a; b; c), `symbol(plane,
/// index, band, context, chroma)` giving each: the symbols, one vector per plane. The
/// context counts |r| of the left and upper neighbours; `wide` (version 9) adds half
/// the sum of the upper-left and upper-right neighbours, the wavelet parent
/// (`wavelet::parents`) and the same position of the keyframe before, rounded up.
fn walk<E>(g: &Geometry, levels: u8, wide: bool, mut symbol: impl FnMut(usize, usize, usize, usize, bool) -> Result<i32, E>) -> Result<Vec<Vec<i32>>, E> {
    let mut out = Vec::with_capacity(3);
    for (pi, v) in volumes(g, levels).iter().enumerate() {
        let mut sym = vec![0i32; v.len()];
        let parents = if wide { wavelet::parents(v.h, v.w, v.levels) } else { Vec::new() };
        let plane = v.h * v.w;
        for a in 0..v.k {
            for b in 0..v.h {
                for c in 0..v.w {
                    let i = (a * v.h + b) * v.w + c;
                    let at = |j: usize| sym[j].unsigned_abs();
                    let mut n = if c > 0 { at(i - 1) } else { 0 } + if b > 0 { at(i - v.w) } else { 0 };
                    if wide {
                        let diagonal = if b > 0 && c > 0 { at(i - v.w - 1) } else { 0 } + if b > 0 && c + 1 < v.w { at(i - v.w + 1) } else { 0 };
                        let parent = parents[b * v.w + c].map_or(0, |j| at(a * plane + j));
                        let before = if a > 0 { at(i - plane) } else { 0 };
                        n += (diagonal + parent + before).div_ceil(2);
                    }
                    sym[i] = symbol(pi, i, v.band(a, b, c), (n as usize).min(CONTEXTS - 1), pi > 0)?;
                }
            }
        }
        out.push(sym);
    }
    Ok(out)
}

/// The keyframes of the symbols (one vector per plane): dequantised (r times the step)
/// and inverse-transformed.
fn rebuild(g: &Geometry, p: &SketchParams, tilt: u8, levels: u8, symbols: &[Vec<i32>]) -> Vec<Keyframe> {
    let vols = volumes(g, levels);
    let planes: Vec<Vec<u8>> = vols
        .iter()
        .zip(symbols)
        .enumerate()
        .map(|(pi, (v, sym))| {
            let q = if pi == 0 { p.q_luma } else { p.q_chroma };
            let mut coef = vec![0.0; v.len()];
            for (i, &r) in sym.iter().enumerate().filter(|(_, r)| **r != 0) {
                coef[i] = f64::from(r) * v.step_at(q, tilt, i);
            }
            inverse(v, &coef)
        })
        .collect();
    let plane_of = |pi: usize, k: usize| {
        let v = vols[pi];
        Plane { width: v.w, height: v.h, data: planes[pi][k * v.h * v.w..][..v.h * v.w].to_vec() }
    };
    (0..g.keyframes).map(|k| [plane_of(0, k), plane_of(1, k), plane_of(2, k)]).collect()
}

/// The transform of `targets` (one keyframe each), one vector per plane: what `quantise` reads.
pub fn analyse(g: &Geometry, levels: u8, targets: &[Keyframe]) -> Vec<Vec<f64>> {
    volumes(g, levels)
        .iter()
        .enumerate()
        .map(|(pi, v)| {
            let x: Vec<f64> = targets.iter().flat_map(|kf| kf[pi].data.iter().map(|&s| f64::from(s) - 128.0)).collect();
            forward(v, &x)
        })
        .collect()
}

/// Keyframes predicted along motion (version 4): layer k, a one-keyframe volume, codes
/// the residual of keyframe k against its prediction (`predict`: 128 for keyframe 0, as
/// the transform codes samples minus 128, else keyframe k - 1 moved along the field). The layers' symbols follow each other
/// in the payload, each in the order of `walk`.
pub fn layer(g: &Geometry) -> Geometry {
    Geometry { keyframes: 1, ..*g }
}

/// The prediction of keyframe k: 128 everywhere for k = 0, else keyframe k - 1 (`prev`)
/// moved along interval k - 1 of `field` to keyframe k's time (u = 1: each grid sample
/// taken at p - v(p), bilinearly, clamped to the grid). Luma cells are g.cell pixels,
/// chroma cells twice that.
pub fn predict(g: &Geometry, prev: Option<&Keyframe>, field: &Field, k: usize) -> [Vec<f32>; 3] {
    let Some(kf) = prev else { return [g.luma, g.chroma, g.chroma].map(|(w, h)| vec![128.0; w * h]) };
    [0, 1, 2].map(|pi| {
        let p = &kf[pi];
        let side = (g.cell << usize::from(pi > 0)) as f32;
        let plane: Vec<f32> = p.data.iter().map(|&v| f32::from(v)).collect();
        let mut out = Vec::with_capacity(p.width * p.height);
        for y in 0..p.height {
            for x in 0..p.width {
                let (vx, vy) = field.velocity(k - 1, (1.0 / side, 1.0 / side), x, y);
                out.push(Bilinear::at(x as f32 - vx, y as f32 - vy, p.width, p.height).sample(&plane, p.width));
            }
        }
        out
    })
}

/// A keyframe from its prediction and its layer's decode (residual + 128, as `inverse`
/// gives it): clamp(round(prediction + residual)); with the prediction 128 (keyframe
/// 0), the layer's decode itself.
fn add(pred: &[Vec<f32>; 3], residual: &Keyframe) -> Keyframe {
    [0, 1, 2].map(|pi| {
        let r = &residual[pi];
        let data = pred[pi].iter().zip(&r.data).map(|(&p, &s)| libm::roundf(p + f32::from(s) - 128.0).clamp(0.0, 255.0) as u8).collect();
        Plane { width: r.width, height: r.height, data }
    })
}

/// Codes `targets` as predicted layers (`layer`) in closed loop: the coefficients in
/// coding order and the keyframes a decoder rebuilds.
pub fn quantise_predicted(g: &Geometry, p: &SketchParams, t: &Transform, targets: &[Keyframe], field: &Field, dz: i32) -> (Vec<Coefficient>, Vec<Keyframe>) {
    let one = layer(g);
    let vols = volumes(&one, t.levels);
    let (mut coefs, mut decoded): (Vec<Coefficient>, Vec<Keyframe>) = (Vec::with_capacity(g.samples()), Vec::with_capacity(g.keyframes));
    for (k, target) in targets.iter().enumerate() {
        let pred = predict(g, decoded.last(), field, k);
        let analysed: Vec<Vec<f64>> = (0..3)
            .map(|pi| {
                let x: Vec<f64> = target[pi].data.iter().zip(&pred[pi]).map(|(&x, &q)| f64::from(x) - f64::from(q)).collect();
                forward(&vols[pi], &x)
            })
            .collect();
        let layer_coefs = quantise(&one, p, t, &analysed, dz);
        decoded.push(add(&pred, &reconstruct(&one, p, t.tilt, t.levels, &layer_coefs).pop().expect("one keyframe")));
        coefs.extend(layer_coefs);
    }
    (coefs, decoded)
}

/// Quantises the coefficients `analyse` gave: the symbols in coding order, |r| =
/// floor(|C| / step + 1/2 - dz/64).
pub fn quantise(g: &Geometry, p: &SketchParams, t: &Transform, coefs: &[Vec<f64>], dz: i32) -> Vec<Coefficient> {
    let vols = volumes(g, t.levels);
    let mut out = Vec::with_capacity(g.samples());
    walk::<()>(g, t.levels, t.wide, |pi, i, band, context, chroma| {
        let v = vols[pi];
        let step = v.step_at(if chroma { p.q_chroma } else { p.q_luma }, t.tilt, i);
        let m = (coefs[pi][i].abs() / step + 0.5 - f64::from(dz) / 64.0).floor().clamp(0.0, MAX_SYMBOL as f64) as i32;
        let symbol = if coefs[pi][i] < 0.0 { -m } else { m };
        out.push(Coefficient { symbol, band, context, chroma });
        Ok(symbol)
    })
    .expect("the encoder's loop cannot fail");
    out
}

/// The keyframes a decoder rebuilds from quantised coefficients (coding order).
pub fn reconstruct(g: &Geometry, p: &SketchParams, tilt: u8, levels: u8, coefs: &[Coefficient]) -> Vec<Keyframe> {
    let mut it = coefs.iter();
    let symbols = walk::<()>(g, levels, false, |_, _, _, _, _| Ok(it.next().expect("one coefficient per sample").symbol)).expect("cannot fail");
    rebuild(g, p, tilt, levels, &symbols)
}

/// The Laplace of a plane kind's base scale, decay, band and context: b = scale/32 (1 +
/// context) 2^(-decay band / 64) symbols (at least MIN_SCALE), over -ESCAPE..=ESCAPE.
fn prior(scale: u8, decay: u8, band: usize, ctx: usize) -> Prior {
    let b = f64::from(scale.max(1)) / 32.0 * (1 + ctx) as f64 * libm::exp2(-f64::from(decay) * band as f64 / 64.0);
    Prior { kind: PriorKind::Laplace, scale: (b as f32).max(MIN_SCALE), min: -ESCAPE as i16, max: ESCAPE as i16 }
}

/// Frequency tables of one plane kind, [band][context].
fn tables(scale: u8, decay: u8) -> Vec<Vec<u32>> {
    (0..BANDS * CONTEXTS).map(|i| prior(scale, decay, i / CONTEXTS, i % CONTEXTS).table().expect("valid prior")).collect()
}

fn models(scale: u8, decay: u8) -> Vec<DefaultContiguousCategoricalEntropyModel> {
    tables(scale, decay)
        .iter()
        .map(|t| DefaultContiguousCategoricalEntropyModel::from_nonzero_fixed_point_probabilities(t, false).expect("valid table"))
        .collect()
}

/// The adaptive models' starting counts (version 6), indexed [inter][chroma][band][context]
/// (`state`): each kind's Laplace table (`tables`), the same for both layer kinds.
fn states(scale: [u8; 2], decay: [u8; 2]) -> Vec<Counts> {
    let [luma, chroma] = [0, 1].map(|k| tables(scale[k], decay[k]));
    let kinds = [&luma, &chroma, &luma, &chroma];
    kinds.iter().flat_map(|t| t.iter().map(|table| Counts::new(table))).collect()
}

/// The index in `states` of a symbol's model: `inter` for the layers after the first of
/// keyframes predicted along motion.
fn state(band: usize, context: usize, chroma: bool, inter: bool) -> usize {
    ((usize::from(inter) * 2 + usize::from(chroma)) * BANDS + band) * CONTEXTS + context
}

/// About the bits of the coefficients (coding order; those from `layer_len` on belong to
/// later layers) under adaptive models starting from the kinds' (scale, decay), with the
/// escapes' Exp-Golomb bits: the search's estimate (`Counts::bits`).
pub fn adaptive_bits(coefs: &[Coefficient], scale: [u8; 2], decay: [u8; 2], layer_len: usize) -> f64 {
    let mut st = states(scale, decay);
    let mut bits = 0.0;
    for (i, c) in coefs.iter().enumerate() {
        let m = &mut st[state(c.band, c.context, c.chroma, i >= layer_len)];
        let s = c.index();
        bits += m.bits(s);
        m.update(s);
        if let Some((p, _)) = escape(c.symbol) {
            bits += libm::log2((MAX_PREFIX + 1) as f64) + p as f64;
        }
    }
    bits
}

/// The escaped part of |r| >= ESCAPE: x = |r| - ESCAPE + 1 as (prefix, low bits) with x
/// = 2^prefix + low.
fn escape(r: i32) -> Option<(usize, u32)> {
    let m = r.unsigned_abs() as i64;
    (m >= i64::from(ESCAPE)).then(|| {
        let x = (m - i64::from(ESCAPE) + 1) as u32;
        let prefix = (31 - x.leading_zeros()) as usize;
        (prefix, x - (1 << prefix))
    })
}

/// Code lengths in bits of every symbol under every model the encoder tries, indexed
/// [decay][scale][band][context][symbol + ESCAPE]; computed once.
fn code_lengths() -> &'static [f32] {
    static LENGTHS: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    LENGTHS.get_or_init(|| {
        let mut out = Vec::with_capacity(DECAYS.len() * SCALES.len() * BANDS * CONTEXTS * (2 * ESCAPE as usize + 1));
        for &d in &DECAYS {
            for &s in &SCALES {
                for i in 0..BANDS * CONTEXTS {
                    let table = prior(s, d, i / CONTEXTS, i % CONTEXTS).table().expect("valid prior");
                    out.extend(table.iter().map(|&f| (f64::from(PRECISION) - libm::log2(f64::from(f))) as f32));
                }
            }
        }
        out
    })
}

/// Bits of the coefficients of one kind under model (DECAYS[d], SCALES[s]), from a
/// histogram [band][context][symbol + ESCAPE] (the escapes' Exp-Golomb bits apart).
fn bits(h: &[Vec<u32>], d: usize, s: usize) -> f64 {
    let n = 2 * ESCAPE as usize + 1;
    let lengths = &code_lengths()[(d * SCALES.len() + s) * BANDS * CONTEXTS * n..][..BANDS * CONTEXTS * n];
    h.iter()
        .zip(lengths.chunks_exact(n))
        .filter(|(counts, _)| counts.iter().any(|&c| c > 0))
        .map(|(counts, len)| counts.iter().zip(len).map(|(&c, &l)| f64::from(c) * f64::from(l)).sum::<f64>())
        .sum()
}

fn histogram(coefs: &[Coefficient], chroma: bool) -> Vec<Vec<u32>> {
    let mut h = vec![vec![0u32; (2 * ESCAPE + 1) as usize]; BANDS * CONTEXTS];
    for c in coefs.iter().filter(|c| c.chroma == chroma) {
        h[c.band * CONTEXTS + c.context][c.index()] += 1;
    }
    h
}

/// Base scales and decays the encoder tries.
const SCALES: [u8; 16] = [1, 2, 3, 4, 6, 8, 11, 16, 22, 32, 45, 64, 90, 128, 181, 255];
const DECAYS: [u8; 10] = [0, 4, 8, 12, 16, 24, 32, 48, 64, 96];

/// The (scale, decay) of least bits for one kind's coefficients, and those bits (with
/// the escapes' Exp-Golomb bits).
pub fn fit_model(coefs: &[Coefficient], chroma: bool) -> (u8, u8, f64) {
    let h = histogram(coefs, chroma);
    let mut best = (f64::INFINITY, 1, 0);
    for (di, &d) in DECAYS.iter().enumerate() {
        for (si, &s) in SCALES.iter().enumerate() {
            let b = bits(&h, di, si);
            if b < best.0 {
                best = (b, s, d);
            }
        }
    }
    let escapes: f64 = coefs.iter().filter(|c| c.chroma == chroma).filter_map(|c| escape(c.symbol)).map(|(p, _)| libm::log2((MAX_PREFIX + 1) as f64) + p as f64).sum();
    (best.1, best.2, best.0 + escapes)
}

/// Codes the coefficients (in coding order) under the kinds' (scale, decay): the payload.
/// `adaptive`: under adaptive models (version 6), the coefficients from `Some(layer_len)`
/// on belonging to later layers (`state`).
pub fn entropy_code(coefs: &[Coefficient], scale: [u8; 2], decay: [u8; 2], adaptive: Option<usize>) -> Vec<u8> {
    // ANS pops in the reverse of the pushes: the adaptive models' frequencies are found in
    // coding order first.
    let intervals: Vec<adaptive::Interval> = match adaptive {
        Some(layer_len) => {
            let mut st = states(scale, decay);
            coefs
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let m = &mut st[state(c.band, c.context, c.chroma, i >= layer_len)];
                    let interval = m.freqs().interval(c.index());
                    m.update(c.index());
                    interval
                })
                .collect()
        }
        None => Vec::new(),
    };
    let m = [models(scale[0], decay[0]), models(scale[1], decay[1])];
    let prefix = DefaultUniformModel::new(MAX_PREFIX + 1);
    let mut coder = DefaultAnsCoder::new();
    for (i, c) in coefs.iter().enumerate().rev() {
        if let Some((p, low)) = escape(c.symbol) {
            if p > 0 {
                coder.encode_symbol(low as usize, DefaultUniformModel::new(1 << p)).expect("low bits");
            }
            coder.encode_symbol(p, prefix).expect("prefix");
        }
        match intervals.get(i) {
            Some(interval) => coder.encode_symbol(c.index(), interval).expect("symbol in range"),
            None => coder.encode_symbol(c.index(), &m[usize::from(c.chroma)][c.band * CONTEXTS + c.context]).expect("symbol in range"),
        }
    }
    coder.into_compressed().expect("ANS flush").iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// Decodes a payload to keyframes; with a motion field, to predicted layers (`layer`).
pub fn decode(g: &Geometry, p: &SketchParams, t: &Transform, scale: [u8; 2], payload: &[u8], field: Option<&Field>) -> Result<Vec<Keyframe>, SketchError> {
    check(g, t)?;
    let m = [models(scale[0], t.decay[0]), models(scale[1], t.decay[1])];
    let prefix = DefaultUniformModel::new(MAX_PREFIX + 1);
    let words: Vec<u32> = payload.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let mut coder = DefaultAnsCoder::from_compressed(words).map_err(|_| SketchError::Corrupt("last word is zero"))?;
    let corrupt = |_| SketchError::Corrupt("ANS decoding failed");
    let mut st = t.adaptive.then(|| states(scale, t.decay));
    let mut symbols = |g: &Geometry, inter: bool| {
        walk(g, t.levels, t.wide, |_, _, band, ctx, chroma| {
            let s = match st.as_mut() {
                Some(st) => {
                    let m = &mut st[state(band, ctx, chroma, inter)];
                    let s = coder.decode_symbol(m.freqs()).map_err(corrupt)?;
                    m.update(s);
                    s
                }
                None => coder.decode_symbol(&m[usize::from(chroma)][band * CONTEXTS + ctx]).map_err(corrupt)?,
            } as i32
                - ESCAPE;
            if s.abs() < ESCAPE {
                return Ok(s);
            }
            let pre = coder.decode_symbol(prefix).map_err(corrupt)?;
            let low = if pre > 0 { coder.decode_symbol(DefaultUniformModel::new(1 << pre)).map_err(corrupt)? } else { 0 };
            let mag = i64::from(ESCAPE) + (1i64 << pre) + low as i64 - 1;
            Ok(if s < 0 { -mag as i32 } else { mag as i32 })
        })
    };
    let out = match field {
        None => rebuild(g, p, t.tilt, t.levels, &symbols(g, false)?),
        Some(field) => {
            let one = layer(g);
            let mut out: Vec<Keyframe> = Vec::with_capacity(g.keyframes);
            for k in 0..g.keyframes {
                let rebuilt = rebuild(&one, p, t.tilt, t.levels, &symbols(&one, k > 0)?).pop().expect("one keyframe");
                out.push(add(&predict(g, out.last(), field, k), &rebuilt));
            }
            out
        }
    };
    if !coder.is_empty() {
        return Err(SketchError::Corrupt("data left after the last symbol"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transform_inverts() {
        for levels in [0, 2] {
        let v = Volume { k: 3, h: 5, w: 7, levels };
        let x: Vec<f64> = (0..v.len()).map(|i| ((i * 37) % 200) as f64 - 100.0).collect();
        let back = inverse(&v, &forward(&v, &x));
        for (a, b) in back.iter().zip(&x) {
            assert_eq!(f64::from(*a), b + 128.0);
        }
        }
    }

    #[test]
    fn escapes_split_and_rebuild() {
        for r in [16, 17, 18, 100, -16, -40000, MAX_SYMBOL as i32] {
            let (p, low) = escape(r).unwrap();
            assert!(p <= MAX_PREFIX && u64::from(low) < 1 << p);
            assert_eq!(i64::from(ESCAPE) + (1i64 << p) + i64::from(low) - 1, i64::from(r.abs()));
        }
        assert_eq!(escape(15), None);
    }

    #[test]
    fn steps_grow_with_frequency() {
        let v = Volume { k: 4, h: 8, w: 8, levels: 0 };
        assert_eq!(v.step(48, 0, 3, 7, 7), 2.0);
        assert_eq!(v.step(48, 16, 0, 0, 0), 2.0);
        assert_eq!(v.step(48, 16, 2, 4, 4), 2.0 * (1.0 + 4.0 * 1.5));
        assert_eq!((base_step(32), base_step(128)), (1.0, 64.0));
        assert_eq!((v.band(0, 0, 0), v.band(2, 4, 4), v.band(3, 7, 7)), (0, 12, 20));
    }
}
