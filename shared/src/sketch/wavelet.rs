//! The CDF 9/7 wavelet of a version 5 sketch (SPEC.md "Sketch wavelet"): `levels`
//! two-dimensional splits of a plane, in place, in the Mallat layout (each level's low
//! band in the top-left corner of the last). Lifting with whole-sample symmetric
//! extension, f64 arithmetic in a fixed order: the same bits on every target.

/// Most levels a sketch may ask for.
pub const MAX_LEVELS: u8 = 8;

// The lifting steps (alpha, beta, gamma, delta) and the band scales, which make every
// band's synthesis vectors about unit length (so one step serves every band).
const LIFT: [(f64, usize); 4] = [(-1.586_134_342_059_924, 1), (-0.052_980_118_572_961, 0), (0.882_911_075_530_934, 1), (0.443_506_852_043_971, 0)];
const SCALE_LOW: f64 = 1.149_604_398_860_241_1; // sqrt(2) / 1.230174104914001
const SCALE_HIGH: f64 = 0.869_864_451_624_781_3; // 1.230174104914001 / sqrt(2)

/// The region (rows, columns) each performed level splits: level l splits the low
/// band of level l - 1 while both its sides are at least 2.
pub fn regions(h: usize, w: usize, levels: u8) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(usize::from(levels));
    let (mut h, mut w) = (h, w);
    while out.len() < usize::from(levels) && h >= 2 && w >= 2 {
        out.push((h, w));
        (h, w) = (h.div_ceil(2), w.div_ceil(2));
    }
    out
}

fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    (if i < 0 { -i } else if i >= n { 2 * (n - 1) - i } else { i }) as usize
}

/// One level along a line of n >= 2 samples: the low band (even samples) first, then
/// the high band.
fn split(line: &mut [f64], tmp: &mut Vec<f64>) {
    let n = line.len();
    for &(c, parity) in &LIFT {
        for i in (parity..n).step_by(2) {
            let (l, r) = (reflect(i as isize - 1, n), reflect(i as isize + 1, n));
            line[i] += c * (line[l] + line[r]);
        }
    }
    tmp.clear();
    tmp.extend(line.iter().step_by(2).map(|&s| s * SCALE_LOW));
    tmp.extend(line.iter().skip(1).step_by(2).map(|&s| s * SCALE_HIGH));
    line.copy_from_slice(tmp);
}

/// The inverse of `split`.
fn merge(line: &mut [f64], tmp: &mut Vec<f64>) {
    let n = line.len();
    let low = n.div_ceil(2);
    tmp.clear();
    tmp.resize(n, 0.0);
    for (i, &s) in line.iter().enumerate() {
        if i < low {
            tmp[2 * i] = s / SCALE_LOW;
        } else {
            tmp[2 * (i - low) + 1] = s / SCALE_HIGH;
        }
    }
    for &(c, parity) in LIFT.iter().rev() {
        for i in (parity..n).step_by(2) {
            let (l, r) = (reflect(i as isize - 1, n), reflect(i as isize + 1, n));
            tmp[i] -= c * (tmp[l] + tmp[r]);
        }
    }
    line.copy_from_slice(tmp);
}

/// Applies `f` to each row of the region, then to each column (`rows_first`), or the
/// other way round.
fn lines(x: &mut [f64], w: usize, (rh, rw): (usize, usize), rows_first: bool, f: fn(&mut [f64], &mut Vec<f64>)) {
    let (mut tmp, mut col) = (Vec::with_capacity(rh.max(rw)), Vec::with_capacity(rh));
    let rows = |x: &mut [f64], tmp: &mut Vec<f64>| (0..rh).for_each(|y| f(&mut x[y * w..][..rw], tmp));
    let mut cols = |x: &mut [f64], tmp: &mut Vec<f64>| {
        for c in 0..rw {
            col.clear();
            col.extend((0..rh).map(|y| x[y * w + c]));
            f(&mut col, tmp);
            (0..rh).for_each(|y| x[y * w + c] = col[y]);
        }
    };
    if rows_first {
        rows(x, &mut tmp);
        cols(x, &mut tmp);
    } else {
        cols(x, &mut tmp);
        rows(x, &mut tmp);
    }
}

/// The forward wavelet of an h x w plane, in place: each level its rows, then its columns.
pub fn forward(x: &mut [f64], h: usize, w: usize, levels: u8) {
    for r in regions(h, w, levels) {
        lines(x, w, r, true, split);
    }
}

/// The inverse of `forward`: the levels in reverse, each its columns, then its rows.
pub fn inverse(x: &mut [f64], h: usize, w: usize, levels: u8) {
    for r in regions(h, w, levels).into_iter().rev() {
        lines(x, w, r, false, merge);
    }
}

/// The parent of each layout position (row-major, h x w): the same band's position at
/// the next coarser level, or None in the last level's bands and the last low band.
pub fn parents(h: usize, w: usize, levels: u8) -> Vec<Option<usize>> {
    let regions = regions(h, w, levels);
    let mut out = vec![None; h * w];
    for (l, &(rh, rw)) in regions.iter().enumerate() {
        let Some(&(ph, pw)) = regions.get(l + 1) else { break };
        let (lh, lw) = (rh.div_ceil(2), rw.div_ceil(2));
        let (plh, plw) = (ph.div_ceil(2), pw.div_ceil(2));
        for b in 0..rh {
            for c in 0..rw {
                let (hb, hc) = (b >= lh, c >= lw);
                if !(hb || hc) {
                    continue;
                }
                let pb = if hb { (plh + (b - lh) / 2).min(ph - 1) } else { (b / 2).min(plh - 1) };
                let pc = if hc { (plw + (c - lw) / 2).min(pw - 1) } else { (c / 2).min(plw - 1) };
                out[b * w + c] = Some(pb * w + pc);
            }
        }
    }
    out
}

/// The frequency of layout position (b, c) as a fraction num / 2^(levels + 2) of the
/// Nyquist band, summed over both axes: per axis 3/4 2^-l on the high side of level l,
/// 1/4 2^-l on its low side, 0 in the last low band.
pub fn frequency(h: usize, w: usize, levels: u8, b: usize, c: usize) -> u64 {
    for (l, (rh, rw)) in regions(h, w, levels).into_iter().enumerate() {
        let (high_b, high_c) = (b >= rh.div_ceil(2), c >= rw.div_ceil(2));
        if high_b || high_c {
            let unit = 1u64 << (usize::from(levels) - l);
            return [high_b, high_c].iter().map(|&hi| if hi { 3 * unit } else { unit }).sum();
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wavelet_inverts() {
        for (h, w, levels) in [(8, 8, 3), (5, 7, 8), (2, 9, 2), (1, 6, 4), (33, 17, 5)] {
            let x: Vec<f64> = (0..h * w).map(|i| ((i * 37) % 200) as f64 - 100.0).collect();
            let mut y = x.clone();
            forward(&mut y, h, w, levels);
            inverse(&mut y, h, w, levels);
            for (a, b) in y.iter().zip(&x) {
                assert!((a - b).abs() < 1e-9, "{h}x{w}, {levels} levels: {a} vs {b}");
            }
        }
    }

    #[test]
    fn bands_have_unit_synthesis_vectors() {
        // Away from the edges, where the reflection shortens them.
        let (h, w, levels) = (128, 128, 3);
        for (b, c) in [(8, 8), (20, 100), (100, 20), (100, 100), (24, 40), (40, 40)] {
            let mut x = vec![0.0; h * w];
            x[b * w + c] = 1.0;
            inverse(&mut x, h, w, levels);
            let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
            assert!((0.9..1.12).contains(&norm), "({b}, {c}): {norm}");
        }
    }

    #[test]
    fn parents_precede_their_children_one_level_coarser() {
        for (h, w, levels) in [(64, 64, 3), (33, 17, 5), (5, 300, 8), (2, 9, 2), (1, 6, 4)] {
            let parents = parents(h, w, levels);
            // The last level's region (its bands and the last low band) has no parents.
            let (rh, rw) = regions(h, w, levels).last().copied().unwrap_or((h, w));
            for (i, p) in parents.iter().enumerate() {
                let (b, c) = (i / w, i % w);
                assert_eq!(p.is_none(), b < rh && c < rw, "{h}x{w}: ({b}, {c})");
                // Coded before the child (raster order), in the band of the same
                // orientation one level coarser: half the child's frequency.
                if let Some(j) = p {
                    assert!(*j < i, "{h}x{w}: ({b}, {c}) -> {j}");
                    assert_eq!(2 * frequency(h, w, levels, j / w, j % w), frequency(h, w, levels, b, c), "{h}x{w}: ({b}, {c}) -> ({}, {})", j / w, j % w);
                }
            }
        }
    }

    #[test]
    fn frequency_falls_with_level() {
        let (h, w, l) = (64, 64, 3);
        // Level 0 high-high, level 0 high-low, level 2 low-high, the last low band.
        assert_eq!(frequency(h, w, l, 40, 40), 6 * 8);
        assert_eq!(frequency(h, w, l, 40, 3), 4 * 8);
        assert_eq!(frequency(h, w, l, 2, 10), 4 * 2);
        assert_eq!(frequency(h, w, l, 3, 7), 0);
        assert_eq!(regions(5, 300, 8).len(), 3);
    }
}
