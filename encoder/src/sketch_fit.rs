//! The sketch samples the encoder codes: per plane, the cell values whose decode
//! (bilinear upsampling, `sketch::upsample_rgb`, then the blend between keyframes,
//! `sketch::frame_weights`) fits the clip in least squares, rather than each keyframe's
//! cell means. The decode is separable, U_t (x) U_y (x) U_x, so the fit is too: each
//! factor's normal equations are tridiagonal (a pixel or frame touches two neighbouring
//! cells or keyframes).

use lora_video_shared::color;
use lora_video_shared::sketch::motion::Field;
use lora_video_shared::sketch::{self, Geometry, Keyframe, Plane};

/// One axis of the decode: output v = (1 - f) cell[a] + f cell[b].
struct Axis {
    cells: usize,
    taps: Vec<(usize, usize, f64)>,
}

impl Axis {
    /// `n` pixels from `cells` cells of `cell` pixels, sampled as `sketch::upsample_rgb` does.
    fn spatial(n: usize, cells: usize, cell: f64) -> Self {
        let taps = (0..n)
            .map(|v| {
                let c = ((v as f64 + 0.5) / cell - 0.5).clamp(0.0, (cells - 1) as f64);
                let a = c.floor() as usize;
                (a, (a + 1).min(cells - 1), c - a as f64)
            })
            .collect();
        Self { cells, taps }
    }

    /// The clip's frames from its keyframes.
    fn temporal(g: &Geometry) -> Self {
        Self { cells: g.keyframes, taps: sketch::frame_weights(g, g.frames, &[]).into_iter().map(|(a, b, u)| (a, b, f64::from(u))).collect() }
    }

    /// The least-squares cells of one line of outputs x: solve (A^T A) c = A^T x.
    fn fit(&self, x: impl Iterator<Item = f64>) -> Vec<f64> {
        let n = self.cells;
        let (mut diag, mut off, mut rhs) = (vec![1e-9; n], vec![0.0; n], vec![0.0; n]);
        for (&(a, b, f), v) in self.taps.iter().zip(x) {
            if a == b {
                diag[a] += 1.0;
                rhs[a] += v;
            } else {
                diag[a] += (1.0 - f) * (1.0 - f);
                diag[b] += f * f;
                off[a] += (1.0 - f) * f; // b = a + 1
                rhs[a] += (1.0 - f) * v;
                rhs[b] += f * v;
            }
        }
        tridiagonal(&diag, &off, rhs)
    }
}

/// Solves the symmetric tridiagonal system (diagonal `d`, super-diagonal `e`) by the
/// Thomas algorithm (stable here: the matrix is positive definite).
fn tridiagonal(d: &[f64], e: &[f64], mut x: Vec<f64>) -> Vec<f64> {
    let n = d.len();
    let mut c = vec![0.0; n];
    let mut m = d[0];
    c[0] = e[0] / m;
    x[0] /= m;
    for i in 1..n {
        m = d[i] - e[i - 1] * c[i - 1];
        c[i] = e[i] / m;
        x[i] = (x[i] - e[i - 1] * x[i - 1]) / m;
    }
    for i in (0..n.saturating_sub(1)).rev() {
        x[i] -= c[i] * x[i + 1];
    }
    x
}

/// One frame's plane `c` (0 Y, 1 Cb, 2 Cr) in the float YCbCr the decoder inverts.
fn plane(frame: &[u8], n: usize, c: usize) -> Vec<f64> {
    let offset = if c == 0 { 0.0 } else { 128.0 };
    frame.chunks_exact(3).take(n).map(|p| color::row(c, f64::from(p[0]), f64::from(p[1]), f64::from(p[2])) + offset).collect()
}

/// A clip's frames fitted in space for one cell side: per plane (Y, Cb, Cr), each
/// frame's least-squares cells, [T][gh][gw]. The fit in time (`targets`) comes after.
pub struct Spatial {
    cell: usize,
    frames: usize,
    planes: [Vec<f64>; 3],
}

impl Spatial {
    /// Fits the RGB8 frames (interleaved, `width` x `height`) on luma cells of `cell` pixels.
    pub fn new(frames: &[&[u8]], width: usize, height: usize, cell: usize) -> Self {
        let g = Geometry::of_cell(width, height, frames.len(), cell, 1);
        let planes = [0, 1, 2].map(|c| {
            let ((gw, gh), side) = if c == 0 { (g.luma, cell) } else { (g.chroma, 2 * cell) };
            let (ax, ay) = (Axis::spatial(width, gw, side as f64), Axis::spatial(height, gh, side as f64));
            let mut cells = vec![0.0; frames.len() * gh * gw];
            for (t, f) in frames.iter().enumerate() {
                // Rows, then columns.
                let rows: Vec<Vec<f64>> = plane(f, width * height, c).chunks_exact(width).map(|row| ax.fit(row.iter().copied())).collect();
                for x in 0..gw {
                    for (y, v) in ay.fit(rows.iter().map(|r| r[x])).into_iter().enumerate() {
                        cells[(t * gh + y) * gw + x] = v;
                    }
                }
            }
            cells
        });
        Self { cell, frames: frames.len(), planes }
    }

    /// The keyframe targets for `g` (this fit's cell side and frame count): each cell
    /// fitted in time, rounded and clamped.
    pub fn targets(&self, g: &Geometry) -> Vec<Keyframe> {
        let time = Axis::temporal(g);
        self.keyframes(g, |cells: &[f64]| time.fit(cells.iter().copied()))
    }

    /// The keyframe targets for `g` with motion: the frames at the keyframe times, fitted
    /// in space only (a motion field moves them, so no blend of them is fitted).
    pub fn at_keyframes(&self, g: &Geometry) -> Vec<Keyframe> {
        let times = g.keyframe_times();
        self.keyframes(g, |cells: &[f64]| times.iter().map(|&t| cells[t]).collect())
    }

    /// Keyframes whose cells are `fit(the cell over every frame)`, rounded and clamped.
    fn keyframes(&self, g: &Geometry, fit: impl Fn(&[f64]) -> Vec<f64>) -> Vec<Keyframe> {
        assert_eq!((g.cell, g.frames), (self.cell, self.frames), "a geometry of this fit");
        let mut out: Vec<Vec<Plane>> = vec![Vec::with_capacity(3); g.keyframes];
        for (c, cells) in self.planes.iter().enumerate() {
            let (gw, gh) = if c == 0 { g.luma } else { g.chroma };
            let mut keys = vec![vec![0u8; gh * gw]; g.keyframes];
            for i in 0..gh * gw {
                let line: Vec<f64> = (0..g.frames).map(|t| cells[t * gh * gw + i]).collect();
                for (k, v) in fit(&line).into_iter().enumerate() {
                    keys[k][i] = v.round().clamp(0.0, 255.0) as u8;
                }
            }
            for (k, data) in keys.into_iter().enumerate() {
                out[k].push(Plane { width: gw, height: gh, data });
            }
        }
        out.into_iter().map(|p| p.try_into().expect("three planes")).collect()
    }
}

/// The keyframe targets for `g` from the clip's RGB8 frames (interleaved, `width` x
/// `height`, `g.frames` of them): per plane, the least-squares fit, rounded and clamped.
pub fn targets(frames: &[&[u8]], width: usize, height: usize, g: &Geometry) -> Vec<Keyframe> {
    Spatial::new(frames, width, height, g.cell).targets(g)
}

/// Calls `each(frame, image)` for every frame of the clip with the decoded keyframes
/// `kf` upsampled and blended as a decoder does (along `motion`, if any): `image` is
/// planar RGB in 0..=1, `width` x `height`. Frames blend neighbouring keyframes in
/// order, so two upsampled keyframes are held at a time.
pub fn for_each_frame(kf: &[Keyframe], g: &Geometry, motion: Option<&Field>, width: usize, height: usize, mut each: impl FnMut(usize, &[f32])) {
    let cell = (g.cell as f32, g.cell as f32);
    let mut held: Vec<(usize, Vec<f32>)> = Vec::with_capacity(2);
    let mut blended = Vec::new();
    for (f, (a, b, u)) in sketch::frame_weights(g, g.frames, motion.map_or(&[], |m| &m.phases)).into_iter().enumerate() {
        held.retain(|(k, _)| *k == a || *k == b);
        for k in [a, b] {
            if !held.iter().any(|(h, _)| *h == k) {
                held.push((k, sketch::upsample_rgb(&kf[k], cell, width, height)));
            }
        }
        let image = |k: usize| &held.iter().find(|(h, _)| *h == k).expect("held").1;
        let (ia, ib) = (image(a), image(b));
        match motion.filter(|_| u != 0.0) {
            Some(m) => blended = m.between(a, ia, ib, u, (1.0, 1.0), width, height),
            None => {
                blended.clear();
                blended.extend(ia.iter().zip(ib).map(|(&x, &y)| (1.0 - u) * x + u * y));
            }
        }
        each(f, &blended);
    }
}

/// A sketch's decode before the model (its keyframes upsampled and blended, along its
/// motion if any) for a `width` x `height` x `count` clip: RGB8, interleaved.
pub fn decode_frames(s: &sketch::Sketch, width: usize, height: usize, count: usize) -> Result<Vec<u8>, sketch::SketchError> {
    let g = Geometry::new(width, height, count, &s.params)?;
    let kf = sketch::decode(s, width, height, count)?;
    let field = s.motion.as_ref().map(|m| sketch::motion::decode(m, width, height, g.keyframes)).transpose()?;
    let mut rgb = Vec::with_capacity(width * height * count * 3);
    for_each_frame(&kf, &g, field.as_ref(), width, height, |_, image| rgb.extend(lora_video_shared::model::render::interleave(image, width * height)));
    Ok(rgb)
}

/// The squared error, summed over every RGB8 sample, of the decoded keyframes `kf`
/// upsampled and blended as a decoder does (`for_each_frame`) against the clip's frames.
pub fn squared_error(kf: &[Keyframe], frames: &[&[u8]], width: usize, height: usize, g: &Geometry, motion: Option<&Field>) -> f64 {
    let n = width * height;
    let mut sum = 0.0;
    for_each_frame(kf, g, motion, width, height, |f, image| {
        for (i, p) in frames[f].chunks_exact(3).take(n).enumerate() {
            for (c, &v) in p.iter().enumerate() {
                let d = image[c * n + i] * 255.0 - f32::from(v);
                sum += f64::from(d * d);
            }
        }
    });
    sum
}

/// The search's distortion: the squared error of the decode (as `squared_error`) in
/// BT.601 Y, Cb, Cr (8-bit scale), `3 (eY^2 + chroma (eCb^2 + eCr^2))` summed over the
/// pixels (a grey error counts as in RGB).
pub fn weighted_error(kf: &[Keyframe], frames: &[&[u8]], width: usize, height: usize, g: &Geometry, motion: Option<&Field>, chroma: f64) -> f64 {
    let n = width * height;
    let (mut luma, mut colour) = (0.0f64, 0.0f64);
    for_each_frame(kf, g, motion, width, height, |f, image| {
        for (i, p) in frames[f].chunks_exact(3).take(n).enumerate() {
            let [r, gr, b] = [0, 1, 2].map(|c| image[c * n + i] * 255.0 - f32::from(p[c]));
            let [y, cb, cr] = color::ycbcr_f32(r, gr, b);
            luma += f64::from(y * y);
            colour += f64::from(cb * cb + cr * cr);
        }
    });
    3.0 * (luma + chroma * colour)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(w: usize, h: usize, t: usize) -> Vec<Vec<u8>> {
        (0..t)
            .map(|f| (0..w * h).flat_map(|p| {
                let (x, y) = (p % w, p / w);
                let wave = ((x as f64 * 0.7 + f as f64).sin() * 60.0 + 128.0) as u8;
                [wave, ((y * 200) / h + f * 5) as u8, (((x * y) / 7 + f * 13) % 256) as u8]
            }).collect())
            .collect()
    }

    #[test]
    fn tridiagonal_solves() {
        // [[4,1,0],[1,4,1],[0,1,4]] x = [1,2,3]
        let x = tridiagonal(&[4.0, 4.0, 4.0], &[1.0, 1.0, 0.0], vec![1.0, 2.0, 3.0]);
        let back = [4.0 * x[0] + x[1], x[0] + 4.0 * x[1] + x[2], x[1] + 4.0 * x[2]];
        for (b, want) in back.iter().zip([1.0, 2.0, 3.0]) {
            assert!((b - want).abs() < 1e-12, "{back:?}");
        }
    }

    #[test]
    fn the_fit_decodes_closer_than_cell_means() {
        let (w, h, t) = (60, 44, 9);
        let frames = clip(w, h, t);
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        for (cell, keys) in [(8, 3), (4, 2), (16, 9)] {
            let g = Geometry::of_cell(w, h, t, cell, keys);
            let means: Vec<Keyframe> = g.keyframe_times().iter().map(|&k| sketch::thumbnail(&frames[k], w, h, &g)).collect();
            let fit = targets(&refs, w, h, &g);
            let (e_mean, e_fit) = (squared_error(&means, &refs, w, h, &g, None), squared_error(&fit, &refs, w, h, &g, None));
            assert!(e_fit < 0.95 * e_mean, "cell {cell}, {keys} keyframes: fit {e_fit}, means {e_mean}");
        }
    }

    #[test]
    fn a_flat_clip_fits_exactly() {
        let (w, h, t) = (20, 12, 4);
        let frames = vec![[90u8, 140, 200].repeat(w * h); t];
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let g = Geometry::of_cell(w, h, t, 8, 2);
        let fit = targets(&refs, w, h, &g);
        assert_eq!(fit, g.keyframe_times().iter().map(|&k| sketch::thumbnail(&frames[k], w, h, &g)).collect::<Vec<_>>());
    }

    #[test]
    fn the_weighted_error_counts_grey_as_rgb_and_weighs_colour() {
        let (w, h, t) = (16, 8, 2);
        let frames = vec![[100u8, 100, 100].repeat(w * h); t];
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let g = Geometry::of_cell(w, h, t, 8, 1);
        let decoded = |rgb: [u8; 3]| vec![sketch::thumbnail(&rgb.repeat(w * h), w, h, &g)];
        let grey = decoded([110, 110, 110]);
        let rgb = squared_error(&grey, &refs, w, h, &g, None);
        assert!(rgb > 0.0);
        for chroma in [0.0, 0.25, 1.0] {
            let e = weighted_error(&grey, &refs, w, h, &g, None, chroma);
            assert!((e - rgb).abs() < 1e-3 * rgb, "grey at chroma weight {chroma}: {e} against {rgb}");
        }
        let red = decoded([130, 100, 100]);
        let (luma, all, rgb) = (weighted_error(&red, &refs, w, h, &g, None, 0.0), weighted_error(&red, &refs, w, h, &g, None, 1.0), squared_error(&red, &refs, w, h, &g, None));
        assert!(luma < 0.5 * rgb && (all - rgb).abs() < 0.15 * rgb, "red: luma {luma}, all {all}, rgb {rgb}");
        let quarter = weighted_error(&red, &refs, w, h, &g, None, 0.25);
        assert!((quarter - (luma + 0.25 * (all - luma))).abs() < 1e-3 * all);
    }
}
