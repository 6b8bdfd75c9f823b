//! The encoder's side of the sketch's motion (`shared/src/sketch/motion.rs`): a velocity
//! field per keyframe interval, estimated on the clip's luma.

use lora_video_shared::color;
use lora_video_shared::sketch::motion::{phase_at, phase_u, Bilinear, Field, MAX_VECTOR, MIN_VECTOR};
use lora_video_shared::sketch::Geometry;

/// Block side (log2) of the fields the search tries: 4 x 4 blocks at 256 x 256 (on
/// Megamind at 2,224 bytes, 32-pixel blocks took 356 bytes and gave 27.23 dB, 64: 120
/// bytes, 27.39 dB; 128: 40 bytes, 27.16 dB; `--example sketch_rd`).
pub const BLOCK_LOG2: u8 = 6;

/// Squared luma error a bit of a vector must save (the sketch search's trade-off,
/// `sketch::LAMBDA`, counts three times the squared luma error, `sketch_fit::weighted_error`).
const LAMBDA: f64 = 15000.0 / 3.0;

/// The luma of RGB8 frames (interleaved), as f32 planes.
fn luma(frames: &[&[u8]]) -> Vec<Vec<f32>> {
    frames.iter().map(|f| f.chunks_exact(3).map(|p| color::luma_f32(f32::from(p[0]), f32::from(p[1]), f32::from(p[2]))).collect()).collect()
}

/// Bilinear sample of a plane at (x, y), clamped to its edges (as `Field::between`).
fn sample(plane: &[f32], width: usize, height: usize, x: f32, y: f32) -> f32 {
    Bilinear::at(x, y, width, height).sample(plane, width)
}

/// Luma plane `a` at (x, y) - u v and plane `b` at (x, y) + (1 - u) v, blended (1 - u) to
/// u: a frame at fraction u of the interval between them, moved along v (`Field::between`).
fn blend(a: &[f32], b: &[f32], width: usize, height: usize, (x, y): (f32, f32), u: f32, (vx, vy): (f32, f32)) -> f32 {
    (1.0 - u) * sample(a, width, height, x - u * vx, y - u * vy) + u * sample(b, width, height, x + (1.0 - u) * vx, y + (1.0 - u) * vy)
}

/// About the bits of a vector component's residual `d` (an Exp-Golomb length).
fn bits(d: i32) -> f64 {
    1.0 + 2.0 * f64::from(d.unsigned_abs() + 1).log2().floor()
}

/// Phases the search tries (128ths of an interval): up to 3/8 either way.
const PHASES: std::ops::RangeInclusive<i8> = -48..=48;
const PHASE_STEP: usize = 4;

/// The velocity field of each interval of `g` for the clip's RGB8 frames (interleaved,
/// `width` x `height`), with the phase of each frame between keyframes (none if all
/// are 0): the field (`field`) for frames at their places in time, their phases
/// (`phases`) along it, then the field again for those phases and the phases again.
pub fn estimate(frames: &[&[u8]], width: usize, height: usize, g: &Geometry, block_log2: u8) -> Field {
    let y = luma(frames);
    let first = field(&y, width, height, g, block_log2, &[]);
    let found = phases(&y, width, height, g, &first);
    if found.iter().all(|&p| p == 0) {
        return first;
    }
    let mut second = field(&y, width, height, g, block_log2, &found);
    second.phases = phases(&y, width, height, g, &second);
    if second.phases.iter().all(|&p| p == 0) {
        second.phases.clear();
    }
    second
}

/// Per frame between keyframes, the phase whose blend of the interval's keyframes (the
/// source frames at the keyframe times) along `field` is closest to it in squared luma
/// error (the smaller phase on a tie).
fn phases(y: &[Vec<f32>], width: usize, height: usize, g: &Geometry, field: &Field) -> Vec<i8> {
    let times = g.keyframe_times();
    let mut out = Vec::new();
    for k in 0..field.intervals {
        let (a, b) = (times[k], times[k + 1]);
        let velocity: Vec<(f32, f32)> = (0..width * height).map(|i| field.velocity(k, (1.0, 1.0), i % width, i / width)).collect();
        for f in a + 1..b {
            let linear = (f - a) as f32 / (b - a) as f32;
            let error = |phase: i8| {
                let u = phase_u(linear, phase);
                let mut sum = 0.0f64;
                for (i, &v) in velocity.iter().enumerate() {
                    let d = blend(&y[a], &y[b], width, height, ((i % width) as f32, (i / width) as f32), u, v) - y[f][i];
                    sum += f64::from(d * d);
                }
                sum
            };
            let best = PHASES.step_by(PHASE_STEP).map(|p| (error(p), p.unsigned_abs(), p)).min_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
            out.push(best.map_or(0, |b| b.2));
        }
    }
    out
}

/// The velocity field of each interval of `g` for frames between keyframes at `phases`
/// (none: at their places in time): per block, the vector whose blend of the interval's
/// keyframes (the source frames at the keyframe times) along it is closest to the
/// frames between them, and whose move of the first keyframe is closest to the second,
/// in squared luma error plus LAMBDA times its bits, searched coarse to fine.
fn field(y: &[Vec<f32>], width: usize, height: usize, g: &Geometry, block_log2: u8, phases: &[i8]) -> Field {
    let times = g.keyframe_times();
    let mut field = Field::still(width, height, g.keyframes, block_log2);
    let (bw, bh) = field.blocks;
    let block = field.block;
    for k in 0..field.intervals {
        let (a, b) = (times[k], times[k + 1]);
        let between: Vec<(usize, f32)> = (a + 1..b).map(|f| (f, phase_u((f - a) as f32 / (b - a) as f32, phase_at(phases, f, k)))).collect();
        for by in 0..bh {
            for bx in 0..bw {
                let (xs, ys) = (bx * block..((bx + 1) * block).min(width), by * block..((by + 1) * block).min(height));
                let error = |v: [i32; 2]| {
                    let (vx, vy) = (v[0] as f32 * 0.5, v[1] as f32 * 0.5);
                    let mut sum = 0.0f64;
                    // Keyframe b predicted from a moved along v (`transform::predict`).
                    for py in ys.clone() {
                        for px in xs.clone() {
                            let d = sample(&y[a], width, height, px as f32 - vx, py as f32 - vy) - y[b][py * width + px];
                            sum += f64::from(d * d);
                        }
                    }
                    for &(f, u) in &between {
                        for py in ys.clone() {
                            for px in xs.clone() {
                                let d = blend(&y[a], &y[b], width, height, (px as f32, py as f32), u, (vx, vy)) - y[f][py * width + px];
                                sum += f64::from(d * d);
                            }
                        }
                    }
                    sum
                };
                // Predicted: the previous interval's vector, else the left or upper block's.
                let at = |k: usize, x: usize, y: usize| field.v[(k * bh + y) * bw + x];
                let pred = if k > 0 { at(k - 1, bx, by) } else if bx > 0 { at(k, bx - 1, by) } else if by > 0 { at(k, bx, by - 1) } else { [0, 0] };
                let cost = |v: [i32; 2]| error(v) + LAMBDA * (bits(v[0] - pred[0]) + bits(v[1] - pred[1]));
                let mut best = ([0, 0], cost([0, 0]));
                let consider = |v: [i32; 2], best: &mut ([i32; 2], f64)| {
                    let v = v.map(|c| c.clamp(MIN_VECTOR, MAX_VECTOR));
                    if v != best.0 {
                        let c = cost(v);
                        if c < best.1 {
                            *best = (v, c);
                        }
                    }
                };
                consider(pred, &mut best);
                for dy in (-48..=48).step_by(8) {
                    for dx in (-48..=48).step_by(8) {
                        consider([dx, dy], &mut best);
                    }
                }
                for step in [4, 2, 1] {
                    let centre = best.0;
                    for dy in [-step, 0, step] {
                        for dx in [-step, 0, step] {
                            consider([centre[0] + dx, centre[1] + dy], &mut best);
                        }
                    }
                }
                field.v[(k * bh + by) * bw + bx] = best.0;
            }
        }
    }
    field
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moving_square_is_found() {
        // A bright square moving 3 pixels right and 1 down a frame, over a ramp.
        let (w, h, t) = (64, 48, 5);
        let frames: Vec<Vec<u8>> = (0..t)
            .map(|f| {
                (0..w * h)
                    .flat_map(|p| {
                        let (x, y) = ((p % w) as i32, (p / w) as i32);
                        let inside = (20 + 3 * f as i32..32 + 3 * f as i32).contains(&x) && (14 + f as i32..26 + f as i32).contains(&y);
                        let v = if inside { 230 } else { (x * 2) as u8 as i32 };
                        [v as u8; 3]
                    })
                    .collect()
            })
            .collect();
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let g = Geometry::of_cell(w, h, t, 4, 2);
        let field = estimate(&refs, w, h, &g, 4);
        // Keyframes 0 and 4: the square moved 12 right and 4 down (24, 8 half pixels).
        let (bw, _) = field.blocks;
        assert_eq!(field.v[bw + 1], [24, 8], "{:?}", field.v);
        // The frames between are closer to the moved blend than to the fade.
        let still = Field::still(w, h, 2, 4);
        let image = |f: usize| (0..3).flat_map(|_| frames[f].chunks_exact(3).map(|p| f32::from(p[0]) / 255.0)).collect::<Vec<f32>>();
        let err = |fl: &Field| {
            let mid = fl.between(0, &image(0), &image(4), 0.5, (1.0, 1.0), w, h);
            mid.iter().zip(image(2)).map(|(a, b)| (a - b) * (a - b)).sum::<f32>()
        };
        assert!(err(&field) < 0.2 * err(&still), "{} vs {}", err(&field), err(&still));
    }

    #[test]
    fn a_speeding_square_gets_phases() {
        // A square 16 pixels right over 4 frames, speeding up: at x = 20, 22, 24, 28, 36.
        let (w, h) = (64, 48);
        let at = [20, 22, 24, 28, 36];
        let frames: Vec<Vec<u8>> = at
            .iter()
            .map(|&x0| (0..w * h).flat_map(|p| [if (x0..x0 + 12).contains(&(p % w)) && (14..26).contains(&(p / w)) { 230 } else { 20 }; 3]).collect())
            .collect();
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let g = Geometry::of_cell(w, h, 5, 4, 2);
        let field = estimate(&refs, w, h, &g, 4);
        // Fractions 1/8, 1/4, 1/2 of the move, against 1/4, 1/2, 3/4 in time.
        assert_eq!(field.phases, vec![-16, -32, -32], "{:?}", field.v);
        // A square that keeps its speed gets none.
        let steady = vec![refs[0]; 5];
        assert!(estimate(&steady, w, h, &g, 4).phases.is_empty());
    }
}
