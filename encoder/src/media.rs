//! Reading clips: y4m, a PNG/JPEG image, a numbered image sequence (`frame_%04d.png`),
//! and anything ffmpeg reads when an `ffmpeg` binary is on PATH. Frames become 8-bit RGB.
//!
//! y4m carries no colour matrix; like ffmpeg, we read and write it as BT.601, limited
//! range.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use image::RgbImage;
use lora_video_shared::color;

use crate::error::CliError;

/// Largest input frame side and the most frames an input may give.
pub const MAX_INPUT_SIDE: usize = 16_384;
pub const MAX_INPUT_FRAMES: usize = 1024;

/// A clip in memory.
#[derive(Clone, Debug)]
pub struct Video {
    pub fps: (u16, u16),
    pub frames: Vec<RgbImage>,
}

impl Video {
    pub fn width(&self) -> u32 {
        self.frames[0].width()
    }
    pub fn height(&self) -> u32 {
        self.frames[0].height()
    }
}

/// Which frames to take: skip `start`, then at most `count`.
#[derive(Clone, Copy, Debug)]
pub struct Select {
    pub start: usize,
    pub count: usize,
}

/// A printf-style frame number in a path (`%d` or `%0Nd`): (prefix, width, suffix).
pub fn sequence_pattern(path: &Path) -> Option<(String, usize, String)> {
    let s = path.to_str()?;
    let at = s.find('%')?;
    let rest = &s[at + 1..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let tail = rest[digits.len()..].strip_prefix('d')?;
    Some((s[..at].to_string(), digits.parse().unwrap_or(0), tail.to_string()))
}

/// The path of frame `i` of a sequence pattern.
pub fn sequence_path(pattern: &(String, usize, String), i: usize) -> PathBuf {
    PathBuf::from(format!("{}{:0width$}{}", pattern.0, i, pattern.2, width = pattern.1))
}

fn extension(path: &Path) -> String {
    path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase()
}

/// Reads `path` at `fps` for stills (a y4m or ffmpeg input brings its own rate).
pub fn read(path: &Path, select: Select, still_fps: (u16, u16)) -> Result<Video, CliError> {
    if select.count == 0 {
        return Err(CliError::Usage("--frames must be at least 1".into()));
    }
    let video = if let Some(pattern) = sequence_pattern(path) {
        read_sequence(path, &pattern, select, still_fps)?
    } else {
        match extension(path).as_str() {
            "y4m" => {
                let f = std::fs::File::open(path).map_err(crate::io::io_err(path))?;
                read_y4m(BufReader::new(f), path, select)?
            }
            "png" | "jpg" | "jpeg" => {
                if select.start > 0 {
                    return Err(CliError::Usage(format!("{}: a single image has one frame; --start must be 0", path.display())));
                }
                Video { fps: still_fps, frames: vec![open_image(path)?] }
            }
            _ => read_ffmpeg(path, select)?,
        }
    };
    if video.frames.is_empty() {
        return Err(CliError::bad_input(path, format!("no frames at or after frame {}", select.start)));
    }
    Ok(video)
}

fn open_image(path: &Path) -> Result<RgbImage, CliError> {
    if !path.exists() {
        return Err(CliError::Io { path: path.into(), source: std::io::ErrorKind::NotFound.into() });
    }
    let reader = image::ImageReader::open(path).map_err(crate::io::io_err(path))?.with_guessed_format().map_err(crate::io::io_err(path))?;
    let (w, h) = reader.into_dimensions().map_err(|e| CliError::bad_input(path, e))?;
    if w as usize > MAX_INPUT_SIDE || h as usize > MAX_INPUT_SIDE {
        return Err(CliError::bad_input(path, format!("{w}x{h} is larger than {MAX_INPUT_SIDE} on a side")));
    }
    Ok(image::open(path).map_err(|e| CliError::bad_input(path, e))?.to_rgb8())
}

fn read_sequence(path: &Path, pattern: &(String, usize, String), select: Select, fps: (u16, u16)) -> Result<Video, CliError> {
    // Numbering starts at the first of 0..=4 that exists, like ffmpeg's image2.
    let first = (0..=4).find(|&i| sequence_path(pattern, i).exists()).ok_or_else(|| {
        CliError::Io { path: path.into(), source: std::io::Error::new(std::io::ErrorKind::NotFound, "no frame numbered 0 to 4 matches this pattern") }
    })?;
    let mut frames = Vec::new();
    for i in (first + select.start..).take(select.count.min(MAX_INPUT_FRAMES)) {
        let p = sequence_path(pattern, i);
        if !p.exists() {
            break;
        }
        let img = open_image(&p)?;
        if let Some(f0) = frames.first().map(|f: &RgbImage| f.dimensions()) {
            if img.dimensions() != f0 {
                return Err(CliError::bad_input(&p, format!("frame is {:?}, the first frame is {:?}", img.dimensions(), f0)));
            }
        }
        frames.push(img);
    }
    Ok(Video { fps, frames })
}

/// Frame rate as u16 num/den: exact when it fits, else the closest fraction that does
/// (continued fractions; ffmpeg writes 15 fps as 1000000/66667). Above 1000 fps is an error.
fn fps_of(num: usize, den: usize, path: &Path) -> Result<(u16, u16), CliError> {
    if num == 0 || den == 0 || num > 1000 * den {
        return Err(CliError::bad_input(path, format!("frame rate {num}/{den} is not supported (above 0, at most 1000 fps)")));
    }
    let (mut p0, mut q0, mut p1, mut q1) = (0u64, 1u64, 1u64, 0u64);
    let (mut n, mut d) = (num as u64, den as u64);
    while d != 0 {
        let a = n / d;
        let (p2, q2) = (a * p1 + p0, a * q1 + q0);
        if p2 > 65_535 || q2 > 65_535 {
            break;
        }
        (p0, q0, p1, q1) = (p1, q1, p2, q2);
        (n, d) = (d, n % d);
    }
    Ok((p1.max(1) as u16, q1.max(1) as u16))
}

/// Reads a y4m stream. The header's size is checked before the reader allocates a frame.
pub fn read_y4m(mut r: impl BufRead, path: &Path, select: Select) -> Result<Video, CliError> {
    let bad = |m: String| CliError::bad_input(path, m);
    let mut line = Vec::new();
    (&mut r).take(1024).read_until(b'\n', &mut line).map_err(crate::io::io_err(path))?;
    if !line.starts_with(b"YUV4MPEG2 ") || !line.ends_with(b"\n") {
        return Err(bad("not a y4m stream (no YUV4MPEG2 header line)".into()));
    }
    for field in line.trim_ascii_end().split(|&b| b == b' ').skip(1) {
        if let (Some(b'W' | b'H'), Ok(v)) = (field.first(), std::str::from_utf8(&field[1..]).map(str::parse::<usize>)) {
            let v = v.map_err(|_| bad("bad W or H in the y4m header".into()))?;
            if v == 0 || v > MAX_INPUT_SIDE {
                return Err(bad(format!("y4m frame side {v} is outside 1..={MAX_INPUT_SIDE}")));
            }
        }
    }
    let limits = y4m::Limits { bytes: 3 * MAX_INPUT_SIDE * MAX_INPUT_SIDE };
    let mut dec = y4m::Decoder::new_with_limits(std::io::Cursor::new(line).chain(r), limits).map_err(|e| bad(format!("y4m: {e:?}")))?;
    let (w, h) = (dec.get_width(), dec.get_height());
    let cs = dec.get_colorspace();
    if dec.get_bit_depth() != 8 {
        return Err(bad(format!("y4m colour space {cs:?}: only 8-bit input is supported")));
    }
    let fps = fps_of(dec.get_framerate().num, dec.get_framerate().den, path)?;
    let (cx, cy) = match cs {
        y4m::Colorspace::C444 => (1, 1),
        y4m::Colorspace::C422 => (2, 1),
        y4m::Colorspace::Cmono => (0, 0),
        _ => (2, 2),
    };
    let mut frames = Vec::new();
    let mut index = 0;
    while frames.len() < select.count.min(MAX_INPUT_FRAMES) {
        let frame = match dec.read_frame() {
            Ok(f) => f,
            Err(y4m::Error::EOF) => break,
            Err(e) => return Err(bad(format!("y4m frame {index}: {e:?}"))),
        };
        if index >= select.start {
            frames.push(yuv_to_rgb(frame.get_y_plane(), frame.get_u_plane(), frame.get_v_plane(), w, h, cx, cy));
        }
        index += 1;
    }
    Ok(Video { fps, frames })
}

/// BT.601 limited-range YUV (chroma subsampled by cx, cy; 0 = no chroma) to RGB8.
fn yuv_to_rgb(y: &[u8], u: &[u8], v: &[u8], w: usize, h: usize, cx: usize, cy: usize) -> RgbImage {
    let cw = if cx == 0 { 0 } else { w.div_ceil(cx) };
    RgbImage::from_fn(w as u32, h as u32, |x, yy| {
        let (x, yy) = (x as usize, yy as usize);
        let luma = (f32::from(y[yy * w + x]) - 16.0) * (255.0 / 219.0);
        let (cb, cr) = if cx == 0 {
            (0.0, 0.0)
        } else {
            let i = (yy / cy) * cw + x / cx;
            ((f32::from(u[i]) - 128.0) * (255.0 / 224.0), (f32::from(v[i]) - 128.0) * (255.0 / 224.0))
        };
        let px = |f: f32| f.round().clamp(0.0, 255.0) as u8;
        image::Rgb(color::rgb_f32(luma, cb, cr).map(px))
    })
}

/// RGB8 to BT.601 limited-range Y, Cb, Cr planes at full resolution.
pub fn rgb_to_yuv444(img: &RgbImage) -> [Vec<u8>; 3] {
    let n = (img.width() * img.height()) as usize;
    let (mut y, mut u, mut v) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for p in img.pixels() {
        let [r, g, b] = p.0.map(f32::from);
        let l = color::luma_f32(r, g, b);
        let q = |f: f32| f.round().clamp(0.0, 255.0) as u8;
        y.push(q(16.0 + l * (219.0 / 255.0)));
        u.push(q(128.0 + (b - l) / color::CB_B as f32 * (224.0 / 255.0)));
        v.push(q(128.0 + (r - l) / color::CR_R as f32 * (224.0 / 255.0)));
    }
    [y, u, v]
}

/// Is an `ffmpeg` binary on PATH?
pub fn have_ffmpeg() -> bool {
    Command::new("ffmpeg").arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Any other input, through `ffmpeg ... -f yuv4mpegpipe` (4:4:4, 8 bit).
fn read_ffmpeg(path: &Path, select: Select) -> Result<Video, CliError> {
    if !path.exists() {
        return Err(CliError::Io { path: path.into(), source: std::io::ErrorKind::NotFound.into() });
    }
    if !have_ffmpeg() {
        return Err(CliError::Tool(format!(
            "{}: reading this format needs an `ffmpeg` binary on PATH; without it, give a .y4m file, a PNG/JPEG image, or a numbered PNG/JPEG sequence such as frames/%04d.png",
            path.display()
        )));
    }
    let take = (select.start + select.count.min(MAX_INPUT_FRAMES)).to_string();
    let mut child = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-frames:v", &take, "-an", "-pix_fmt", "yuv444p", "-f", "yuv4mpegpipe", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| CliError::Tool(format!("could not run ffmpeg: {e}")))?;
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let result = read_y4m(&mut stdout, path, select);
    // Drain what we did not need, so ffmpeg ends cleanly rather than on a broken pipe.
    let _ = std::io::copy(&mut stdout, &mut std::io::sink());
    let out = child.wait_with_output().map_err(|e| CliError::Tool(format!("ffmpeg: {e}")))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        return Err(CliError::bad_input(path, format!("ffmpeg could not read it: {}", msg.trim())));
    }
    result
}

/// Scales `img` to cover `w` x `h` and crops the centre: the model's operating point.
pub fn cover(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    let scale = (f64::from(w) / f64::from(img.width())).max(f64::from(h) / f64::from(img.height()));
    let (sw, sh) = (((f64::from(img.width()) * scale).round() as u32).max(w), ((f64::from(img.height()) * scale).round() as u32).max(h));
    let scaled = if (sw, sh) == img.dimensions() { img.clone() } else { image::imageops::resize(img, sw, sh, image::imageops::FilterType::CatmullRom) };
    image::imageops::crop_imm(&scaled, (sw - w) / 2, (sh - h) / 2, w, h).to_image()
}

/// Frames as planar [T, 3, H, W] in [0, 1].
pub fn planar(frames: &[RgbImage]) -> Vec<f32> {
    let mut out = Vec::with_capacity(frames.iter().map(|f| 3 * f.width() as usize * f.height() as usize).sum());
    for f in frames {
        for c in 0..3 {
            out.extend(f.pixels().map(|p| f32::from(p[c]) / 255.0));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let p = sequence_pattern(Path::new("out/frame_%04d.png")).unwrap();
        assert_eq!(sequence_path(&p, 7), PathBuf::from("out/frame_0007.png"));
        let p = sequence_pattern(Path::new("f%d.jpg")).unwrap();
        assert_eq!(sequence_path(&p, 12), PathBuf::from("f12.jpg"));
        assert!(sequence_pattern(Path::new("clip.mp4")).is_none());
        assert!(sequence_pattern(Path::new("100%.png")).is_none());
    }

    #[test]
    fn yuv_round_trip_is_close() {
        let img = RgbImage::from_fn(4, 2, |x, y| image::Rgb([(x * 60) as u8, (y * 200) as u8, 90]));
        let [y, u, v] = rgb_to_yuv444(&img);
        let back = yuv_to_rgb(&y, &u, &v, 4, 2, 1, 1);
        for (a, b) in img.pixels().zip(back.pixels()) {
            for c in 0..3 {
                assert!((i32::from(a[c]) - i32::from(b[c])).abs() <= 2, "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn y4m_header_sizes_are_checked_before_allocation() {
        let huge = b"YUV4MPEG2 W100000000 H100000000 F25:1 C444\nFRAME\n".to_vec();
        let err = read_y4m(std::io::Cursor::new(huge), Path::new("x.y4m"), Select { start: 0, count: 1 }).unwrap_err();
        assert!(err.to_string().contains("outside"), "{err}");
        let junk = b"GIF89a".to_vec();
        assert!(read_y4m(std::io::Cursor::new(junk), Path::new("x.y4m"), Select { start: 0, count: 1 }).is_err());
    }

    #[test]
    fn frame_rates_fit_u16() {
        let p = Path::new("x");
        assert_eq!(fps_of(1_000_000, 66_667, p).unwrap(), (15, 1));
        let (n, d) = fps_of(1_234_567, 100_000, p).unwrap();
        assert!((f64::from(n) / f64::from(d) - 12.345_67).abs() < 1e-6, "{n}/{d}");
        assert_eq!(fps_of(30_000, 1_001, p).unwrap(), (30_000, 1_001));
        assert_eq!(fps_of(50, 2, p).unwrap(), (25, 1));
        assert!(fps_of(2001, 2, p).is_err() && fps_of(0, 1, p).is_err());
    }

    #[test]
    fn cover_crops_the_centre() {
        let img = RgbImage::from_fn(200, 100, |x, _| image::Rgb([if x < 50 || x >= 150 { 0 } else { 255 }; 3]));
        let out = cover(&img, 64, 64);
        assert_eq!(out.dimensions(), (64, 64));
        assert!(out.pixels().all(|p| p[0] > 200), "the centre square is white");
    }
}
