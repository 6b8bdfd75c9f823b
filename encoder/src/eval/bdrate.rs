//! Bjøntegaard deltas (VCEG-M33): fit a cubic (least squares) through each curve and
//! compare the integrals over the range both curves cover.
//!
//! BD-rate: x = quality, y = ln(bytes); the mean rate change of `test` against `anchor`
//! at equal quality, in percent (negative: `test` needs fewer bytes). BD-quality:
//! x = ln(bytes), y = quality; the mean quality difference at equal rate.

/// A rate-distortion point: bytes and a quality score (higher is better).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub bytes: f64,
    pub quality: f64,
}

/// Least-squares polynomial of degree `min(3, distinct x - 1)` through (x, y):
/// coefficients, lowest power first. None without two distinct x.
fn fit(xs: &[f64], ys: &[f64]) -> Option<Vec<f64>> {
    let mut distinct: Vec<f64> = xs.to_vec();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup_by(|a, b| (*a - *b).abs() < 1e-12);
    if distinct.len() < 2 || xs.iter().chain(ys).any(|v| !v.is_finite()) {
        return None;
    }
    let n = distinct.len().min(4);
    // Centre and scale x for a well-conditioned system.
    let (lo, hi) = (distinct[0], distinct[distinct.len() - 1]);
    let (mid, half) = ((lo + hi) / 2.0, (hi - lo) / 2.0);
    let u: Vec<f64> = xs.iter().map(|x| (x - mid) / half).collect();
    // Normal equations A c = b, solved by Gaussian elimination with partial pivoting.
    let mut a = vec![vec![0.0; n + 1]; n];
    for (ui, yi) in u.iter().zip(ys) {
        for r in 0..n {
            for c in 0..n {
                a[r][c] += ui.powi((r + c) as i32);
            }
            a[r][n] += yi * ui.powi(r as i32);
        }
    }
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        a.swap(col, pivot);
        if a[col][col].abs() < 1e-12 {
            return None;
        }
        for r in 0..n {
            if r != col {
                let f = a[r][col] / a[col][col];
                for c in col..=n {
                    a[r][c] -= f * a[col][c];
                }
            }
        }
    }
    let scaled: Vec<f64> = (0..n).map(|r| a[r][n] / a[r][r]).collect();
    // Expand sum c_i ((x - mid) / half)^i into powers of x.
    let mut coef = vec![0.0; n];
    for (i, ci) in scaled.iter().enumerate() {
        // ((x - mid)/half)^i = sum_j C(i,j) x^j (-mid)^(i-j) / half^i
        for j in 0..=i {
            coef[j] += ci * binomial(i, j) * (-mid).powi((i - j) as i32) / half.powi(i as i32);
        }
    }
    Some(coef)
}

fn binomial(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// Integral of the polynomial from `a` to `b`.
fn integral(coef: &[f64], a: f64, b: f64) -> f64 {
    let prim = |x: f64| coef.iter().enumerate().map(|(i, c)| c * x.powi(i as i32 + 1) / (i + 1) as f64).sum::<f64>();
    prim(b) - prim(a)
}

/// Mean of y_test - y_anchor over the x range both cover; None if they do not overlap.
fn delta(anchor: &[(f64, f64)], test: &[(f64, f64)]) -> Option<f64> {
    let range = |p: &[(f64, f64)]| p.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (x, _)| (lo.min(*x), hi.max(*x)));
    let ((alo, ahi), (tlo, thi)) = (range(anchor), range(test));
    let (lo, hi) = (alo.max(tlo), ahi.min(thi));
    if !(hi > lo) {
        return None;
    }
    let split = |p: &[(f64, f64)]| p.iter().copied().unzip::<f64, f64, Vec<f64>, Vec<f64>>();
    let ((ax, ay), (tx, ty)) = (split(anchor), split(test));
    let (ca, ct) = (fit(&ax, &ay)?, fit(&tx, &ty)?);
    Some((integral(&ct, lo, hi) - integral(&ca, lo, hi)) / (hi - lo))
}

/// BD-rate of `test` against `anchor`, percent; None where their qualities do not overlap.
pub fn bd_rate(anchor: &[Point], test: &[Point]) -> Option<f64> {
    let pts = |p: &[Point]| p.iter().map(|p| (p.quality, p.bytes.ln())).collect::<Vec<_>>();
    delta(&pts(anchor), &pts(test)).map(|d| (d.exp() - 1.0) * 100.0)
}

/// BD-quality of `test` against `anchor` (test minus anchor at equal rate); None where
/// their rates do not overlap.
pub fn bd_quality(anchor: &[Point], test: &[Point]) -> Option<f64> {
    let pts = |p: &[Point]| p.iter().map(|p| (p.bytes.ln(), p.quality)).collect::<Vec<_>>();
    delta(&pts(anchor), &pts(test))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(scale: f64) -> Vec<Point> {
        // quality = 10 ln(bytes) - 30: a typical log-linear RD curve.
        [300.0, 600.0, 1200.0, 2400.0].iter().map(|&b| Point { bytes: b * scale, quality: 10.0 * b.ln() - 30.0 }).collect()
    }

    #[test]
    fn same_curve_is_zero_and_doubled_rate_is_plus_100_percent() {
        assert!(bd_rate(&curve(1.0), &curve(1.0)).unwrap().abs() < 1e-6);
        let d = bd_rate(&curve(1.0), &curve(2.0)).unwrap();
        assert!((d - 100.0).abs() < 1e-6, "{d}");
        let h = bd_rate(&curve(1.0), &curve(0.5)).unwrap();
        assert!((h + 50.0).abs() < 1e-6, "{h}");
        // Twice the bytes at the same quality is 10 ln 2 lower quality at the same bytes.
        let q = bd_quality(&curve(1.0), &curve(2.0)).unwrap();
        assert!((q + 10.0 * 2f64.ln()).abs() < 1e-6, "{q}");
    }

    #[test]
    fn curves_that_do_not_overlap_have_no_delta() {
        let low: Vec<Point> = curve(1.0).iter().map(|p| Point { quality: p.quality - 100.0, ..*p }).collect();
        assert_eq!(bd_rate(&curve(1.0), &low), None);
        assert!(bd_quality(&curve(1.0), &low).is_some());
        assert_eq!(fit(&[1.0, 1.0], &[2.0, 3.0]), None);
    }
}
