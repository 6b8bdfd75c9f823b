//! BT.601 YCbCr, full range (JPEG): the one home of its constants (SPEC.md, "Sketch").
//! Cb and Cr are centred on 0 in the float forms; the 8-bit forms add 128.

/// The rows Y, Cb, Cr of the matrix from R, G, B.
pub const YCBCR: [[f64; 3]; 3] = [[0.299, 0.587, 0.114], [-0.168_736, -0.331_264, 0.5], [0.5, -0.418_688, -0.081_312]];

/// The inverse: R = Y + CR_R Cr, G = Y - CB_G Cb - CR_G Cr, B = Y + CB_B Cb.
pub const CR_R: f64 = 1.402;
pub const CB_G: f64 = 0.344_136;
pub const CR_G: f64 = 0.714_136;
pub const CB_B: f64 = 1.772;

/// Row `c` of `YCBCR` applied to (r, g, b).
pub fn row(c: usize, r: f64, g: f64, b: f64) -> f64 {
    let m = YCBCR[c];
    m[0] * r + m[1] * g + m[2] * b
}

/// Y of (r, g, b).
pub fn luma(r: f64, g: f64, b: f64) -> f64 {
    row(0, r, g, b)
}

/// `row` in f32 (each constant rounded to f32 as its literal would be).
pub fn row_f32(c: usize, r: f32, g: f32, b: f32) -> f32 {
    let m = YCBCR[c].map(|v| v as f32);
    m[0] * r + m[1] * g + m[2] * b
}

/// Y of (r, g, b) in f32.
pub fn luma_f32(r: f32, g: f32, b: f32) -> f32 {
    row_f32(0, r, g, b)
}

/// (Y, Cb, Cr) of (r, g, b) in f32.
pub fn ycbcr_f32(r: f32, g: f32, b: f32) -> [f32; 3] {
    [0, 1, 2].map(|c| row_f32(c, r, g, b))
}

/// (R, G, B) of (y, cb, cr) in f32, unclamped.
pub fn rgb_f32(y: f32, cb: f32, cr: f32) -> [f32; 3] {
    [y + CR_R as f32 * cr, y - CB_G as f32 * cb - CR_G as f32 * cr, y + CB_B as f32 * cb]
}

/// RGB -> YCbCr in 8-bit fixed point (the sketch's thumbnails).
pub fn ycbcr8(r: i32, g: i32, b: i32) -> [u8; 3] {
    let y = (77 * r + 150 * g + 29 * b + 128) >> 8;
    let cb = ((-43 * r - 85 * g + 128 * b + 128) >> 8) + 128;
    let cr = ((128 * r - 107 * g - 21 * b + 128) >> 8) + 128;
    [y, cb, cr].map(|v| v.clamp(0, 255) as u8)
}

/// YCbCr -> RGB in 8-bit fixed point (the inverse of `ycbcr8`).
pub fn rgb8(y: i32, cb: i32, cr: i32) -> [u8; 3] {
    let (cb, cr) = (cb - 128, cr - 128);
    [y + ((359 * cr + 128) >> 8), y - ((88 * cb + 183 * cr + 128) >> 8), y + ((454 * cb + 128) >> 8)].map(|v| v.clamp(0, 255) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_float_forms_invert_each_other() {
        for rgb in [[0.0f32, 0.0, 0.0], [255.0, 255.0, 255.0], [200.0, 30.0, 90.0], [12.0, 180.0, 250.0]] {
            let [y, cb, cr] = ycbcr_f32(rgb[0], rgb[1], rgb[2]);
            let back = rgb_f32(y, cb, cr);
            for c in 0..3 {
                assert!((back[c] - rgb[c]).abs() < 0.01, "{rgb:?} -> {back:?}");
            }
        }
        assert!((luma(255.0, 255.0, 255.0) - 255.0).abs() < 1e-9);
    }
}
