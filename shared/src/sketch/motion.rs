//! Motion (SPEC.md "Sketch motion"): one velocity field per interval between keyframes,
//! so that a frame between two keyframes shows both moved along it instead of the two
//! faded into each other. Vectors lie on blocks of `2^block_log2` pixels of the clip, in
//! half pixels, and are coded without loss by the sketch's sample coder (step 1, each
//! component stored as `v + 128`, predicted from the previous interval's field).
//! From version 8 each frame between keyframes has a phase: where it sits in its
//! interval, as an offset from its place in time (`phase_u`), so that motion that speeds
//! up or slows down between two keyframes is drawn where it is.

use super::{entropy_code, entropy_decode, quantise, range, Layout, Plane, SketchError, MAX_PAYLOAD, MAX_SAMPLES};

/// Blocks of 8 (2^3) to 256 (2^8) pixels.
pub const MIN_BLOCK_LOG2: u8 = 3;
pub const MAX_BLOCK_LOG2: u8 = 8;
/// Components run -128..=127 half pixels.
pub const MIN_VECTOR: i32 = -128;
pub const MAX_VECTOR: i32 = 127;

/// A coded motion field: the block side, the Laplace base scale of its residuals (as a
/// sketch's, `b = scale/32 (1 + context)`), the ANS payload and the phases (version 8;
/// empty before: every frame at its place in time).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Motion {
    pub block_log2: u8,
    pub scale: u8,
    #[serde(skip)]
    pub payload: Vec<u8>,
    pub phases: Vec<i8>,
}

/// Bytes of the motion fields in a sketch section, beside the payload: block_log2, scale,
/// payload_len (u16).
pub const FIELDS: usize = 4;

impl Motion {
    pub fn len(&self) -> usize {
        FIELDS + self.payload.len() + self.phases.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

/// A velocity field per keyframe interval: `v[(k * bh + y) * bw + x]` is block (x, y) of
/// interval k (keyframes k and k + 1), (x, y) in half pixels of the clip. A frame at
/// fraction u of the interval shows keyframe k at p - u v(p) and keyframe k + 1 at
/// p + (1 - u) v(p), v(p) interpolated bilinearly between block centres. `phases`: one
/// per clip frame between keyframes, in time order (`phase_u`), or none.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub block: usize,
    pub blocks: (usize, usize),
    pub intervals: usize,
    pub v: Vec<[i32; 2]>,
    pub phases: Vec<i8>,
}

/// Phases count 128ths of an interval.
pub const PHASE_UNIT: f32 = 128.0;

/// The fraction of its interval a frame at fraction `linear` of it in time shows, with
/// phase `phase`: `clamp(linear + phase / 128, 0, 1)` (f32).
pub fn phase_u(linear: f32, phase: i8) -> f32 {
    (linear + f32::from(phase) / PHASE_UNIT).clamp(0.0, 1.0)
}

/// The phase of clip frame `frame` inside interval `k`: `phases[frame - k - 1]` (the
/// frames between keyframes in time order), 0 without phases.
pub fn phase_at(phases: &[i8], frame: usize, k: usize) -> i8 {
    phases.get(frame - k - 1).copied().unwrap_or(0)
}

impl Field {
    /// A still field for a `width` x `height` clip with `keyframes` keyframes.
    pub fn still(width: usize, height: usize, keyframes: usize, block_log2: u8) -> Self {
        let block = 1usize << block_log2;
        let blocks = (width.div_ceil(block), height.div_ceil(block));
        let intervals = keyframes.saturating_sub(1);
        Self { block, blocks, intervals, v: vec![[0, 0]; intervals * blocks.0 * blocks.1], phases: Vec::new() }
    }

    fn block_log2(&self) -> u8 {
        self.block.trailing_zeros() as u8
    }

    fn layout(&self) -> Layout {
        Layout { layers: self.intervals, planes: vec![(self.blocks, false), (self.blocks, false)], q: [1, 1] }
    }

    /// The velocity of interval k at pixel (x, y) of an image `scale` times the clip's
    /// size (x, y), in that image's pixels.
    pub fn velocity(&self, k: usize, scale: (f32, f32), x: usize, y: usize) -> (f32, f32) {
        let (bw, bh) = self.blocks;
        let coord = |v: usize, side: f32, n: usize| ((v as f32 + 0.5) / side - 0.5).clamp(0.0, (n - 1) as f32);
        let (gx, gy) = (coord(x, self.block as f32 * scale.0, bw), coord(y, self.block as f32 * scale.1, bh));
        let (x0, y0) = (gx.floor() as usize, gy.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(bw - 1), (y0 + 1).min(bh - 1));
        let (fx, fy) = (gx - x0 as f32, gy - y0 as f32);
        let at = |xx: usize, yy: usize, c: usize| self.v[(k * bh + yy) * bw + xx][c] as f32;
        let lerp = |c: usize| {
            let top = at(x0, y0, c) * (1.0 - fx) + at(x1, y0, c) * fx;
            let bottom = at(x0, y1, c) * (1.0 - fx) + at(x1, y1, c) * fx;
            top * (1.0 - fy) + bottom * fy
        };
        (lerp(0) * 0.5 * scale.0, lerp(1) * 0.5 * scale.1)
    }

    /// The frame at fraction `u` of interval k from its keyframes' images `a` and `b`
    /// (planar [3, height, width], an image `scale` times the clip's size): `(1 - u)
    /// a(p - u v) + u b(p + (1 - u) v)`, each sampled bilinearly, clamped to the edges.
    pub fn between(&self, k: usize, a: &[f32], b: &[f32], u: f32, scale: (f32, f32), width: usize, height: usize) -> Vec<f32> {
        let n = width * height;
        let mut out = vec![0f32; 3 * n];
        for y in 0..height {
            for x in 0..width {
                let (vx, vy) = self.velocity(k, scale, x, y);
                let (px, py) = (x as f32, y as f32);
                let sa = Bilinear::at(px - u * vx, py - u * vy, width, height);
                let sb = Bilinear::at(px + (1.0 - u) * vx, py + (1.0 - u) * vy, width, height);
                for c in 0..3 {
                    out[c * n + y * width + x] = (1.0 - u) * sa.sample(&a[c * n..][..n], width) + u * sb.sample(&b[c * n..][..n], width);
                }
            }
        }
        out
    }
}

/// Where a bilinear sample of an image falls: four pixels and the weights.
pub struct Bilinear {
    x: (usize, usize),
    y: (usize, usize),
    f: (f32, f32),
}

impl Bilinear {
    /// The sample at (x, y) of a `width` x `height` plane, clamped to its edges.
    pub fn at(x: f32, y: f32, width: usize, height: usize) -> Self {
        let (x, y) = (x.clamp(0.0, (width - 1) as f32), y.clamp(0.0, (height - 1) as f32));
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        Self { x: (x0, (x0 + 1).min(width - 1)), y: (y0, (y0 + 1).min(height - 1)), f: (x - x0 as f32, y - y0 as f32) }
    }

    pub fn sample(&self, plane: &[f32], width: usize) -> f32 {
        let v = |x: usize, y: usize| plane[y * width + x];
        let top = v(self.x.0, self.y.0) * (1.0 - self.f.0) + v(self.x.1, self.y.0) * self.f.0;
        let bottom = v(self.x.0, self.y.1) * (1.0 - self.f.0) + v(self.x.1, self.y.1) * self.f.0;
        top * (1.0 - self.f.1) + bottom * self.f.1
    }
}

/// Codes a field without loss (components clamped to MIN_VECTOR..=MAX_VECTOR).
pub fn encode(field: &Field) -> Motion {
    let plane = field.blocks.0 * field.blocks.1;
    let value = |p: usize, i: usize| {
        let (k, c) = (p / 2, p % 2);
        (field.v[k * plane + i][c].clamp(MIN_VECTOR, MAX_VECTOR) + 128) as u8
    };
    let (res, _) = quantise(&field.layout(), value, 0);
    let (scale, payload) = entropy_code(&res, [1, 1]);
    Motion { block_log2: field.block_log2(), scale: scale[0], payload, phases: field.phases.clone() }
}

/// Checks a motion section against the limits and its clip: `width` x `height`, with
/// `keyframes` keyframes (at least 2).
pub fn check(m: &Motion, width: usize, height: usize, keyframes: usize) -> Result<Field, SketchError> {
    if !(MIN_BLOCK_LOG2..=MAX_BLOCK_LOG2).contains(&m.block_log2) {
        return Err(range("motion block_log2", m.block_log2, "3..=8"));
    }
    if keyframes < 2 {
        return Err(range("keyframes", keyframes as u64, "at least 2 with motion"));
    }
    if m.scale == 0 {
        return Err(range("motion scale", 0u8, "1..=255"));
    }
    if m.payload.len() > MAX_PAYLOAD || m.payload.len() % 4 != 0 {
        return Err(range("motion payload_len", m.payload.len() as u64, "a multiple of 4, at most 32768"));
    }
    // Counted before the field is allocated.
    let block = 1usize << m.block_log2;
    let components = 2 * (keyframes - 1) * width.div_ceil(block) * height.div_ceil(block);
    if components > MAX_SAMPLES {
        return Err(range("motion components", components as u64, "at most 2^20"));
    }
    Ok(Field::still(width, height, keyframes, m.block_log2))
}

/// Decodes a motion section of a `width` x `height` clip with `keyframes` keyframes.
pub fn decode(m: &Motion, width: usize, height: usize, keyframes: usize) -> Result<Field, SketchError> {
    let mut field = check(m, width, height, keyframes)?;
    let layers = entropy_decode(&field.layout(), [m.scale, m.scale], &m.payload)?;
    let plane = field.blocks.0 * field.blocks.1;
    for (k, planes) in layers.iter().enumerate() {
        let [x, y]: &[Plane; 2] = planes.as_slice().try_into().expect("two planes");
        for i in 0..plane {
            field.v[k * plane + i] = [i32::from(x.data[i]) - 128, i32::from(y.data[i]) - 128];
        }
    }
    field.phases = m.phases.clone();
    Ok(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field() -> Field {
        let mut f = Field::still(70, 40, 3, 4);
        for (i, v) in f.v.iter_mut().enumerate() {
            *v = [(i as i32 * 7) % 40 - 20, if i % 5 == 0 { 200 } else { -(i as i32 % 3) }];
        }
        f
    }

    #[test]
    fn a_field_round_trips_clamped() {
        let f = field();
        assert_eq!((f.blocks, f.intervals), ((5, 3), 2));
        let m = encode(&f);
        let back = decode(&m, 70, 40, 3).unwrap();
        let clamped: Vec<[i32; 2]> = f.v.iter().map(|v| v.map(|c| c.clamp(MIN_VECTOR, MAX_VECTOR))).collect();
        assert_eq!(back.v, clamped);
        let still = encode(&Field::still(70, 40, 3, 4));
        assert!(still.payload.len() < m.payload.len() / 4, "{} vs {}", still.payload.len(), m.payload.len());
    }

    #[test]
    fn a_uniform_field_moves_the_keyframes() {
        // Keyframe a: a bright column at x = 10; b: the same at x = 18. Velocity 8
        // pixels (16 half pixels): halfway, both sample the column at x = 14.
        let (w, h) = (32, 8);
        let image = |col: usize| (0..3 * w * h).map(|i| if i % w == col { 1.0 } else { 0.0 }).collect::<Vec<f32>>();
        let mut f = Field::still(w, h, 2, 3);
        f.v.iter_mut().for_each(|v| *v = [16, 0]);
        let mid = f.between(0, &image(10), &image(18), 0.5, (1.0, 1.0), w, h);
        assert_eq!(mid, image(14));
        // At twice the size, the field scales with the image.
        let (w2, h2) = (64, 16);
        let image2 = |col: usize| (0..3 * w2 * h2).map(|i| if i % w2 == col { 1.0 } else { 0.0 }).collect::<Vec<f32>>();
        assert_eq!(f.between(0, &image2(20), &image2(36), 0.5, (2.0, 2.0), w2, h2), image2(28));
        // A still field fades.
        let fade = Field::still(w, h, 2, 3).between(0, &image(10), &image(18), 0.25, (1.0, 1.0), w, h);
        assert_eq!((fade[10], fade[18], fade[14]), (0.75, 0.25, 0.0));
    }

    #[test]
    fn hostile_sections_are_errors() {
        let ok = encode(&field());
        assert!(decode(&ok, 70, 40, 3).is_ok());
        for (m, kf) in [
            (Motion { block_log2: 2, ..ok.clone() }, 3),
            (Motion { block_log2: 9, ..ok.clone() }, 3),
            (Motion { scale: 0, ..ok.clone() }, 3),
            (Motion { payload: vec![1, 2, 3], ..ok.clone() }, 3),
            (Motion { payload: vec![0, 0, 0, 0], ..ok.clone() }, 3),
            (ok.clone(), 1),
        ] {
            assert!(decode(&m, 70, 40, kf).is_err(), "{m:?} with {kf} keyframes");
        }
        // A field too large for the limits is refused before it is allocated.
        assert!(matches!(decode(&Motion { block_log2: 3, ..ok.clone() }, 4096, 4096, 64), Err(SketchError::OutOfRange { field: "motion components", .. })));
        // Another clip's layout reads the payload as garbage: any field, or an error.
        for (w, h, kf) in [(70, 40, 4), (200, 100, 3), (8, 8, 2)] {
            let _ = decode(&ok, w, h, kf);
        }
    }
}
