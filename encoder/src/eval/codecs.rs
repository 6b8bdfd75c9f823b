//! The reference codecs, through Debian's ffmpeg: x264, x265 and SVT-AV1 at a CRF,
//! counted by payload (the elementary stream without SEI, or the IVF frames without
//! their headers), decoded back to RGB.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use image::RgbImage;

use crate::error::CliError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, serde::Serialize)]
pub enum Codec {
    X264,
    X265,
    Svtav1,
}

impl Codec {
    pub fn name(self) -> &'static str {
        match self {
            Codec::X264 => "x264",
            Codec::X265 => "x265",
            Codec::Svtav1 => "svt-av1",
        }
    }

    /// The name of the codec coding at 1/`scale` size (scaled back up to score): `x264`,
    /// `x264/2`, `x264/4`.
    pub fn variant(self, scale: u32) -> String {
        if scale == 1 { self.name().into() } else { format!("{}/{scale}", self.name()) }
    }

    /// The CRF range, best quality first.
    pub fn crf_range(self) -> (u32, u32) {
        match self {
            Codec::X264 | Codec::X265 => (0, 51),
            Codec::Svtav1 => (1, 63),
        }
    }

    /// What the benchmark tells ffmpeg besides the CRF: each encoder's slowest usual preset.
    pub fn settings(self) -> &'static str {
        match self {
            Codec::X264 => "libx264 -preset veryslow, yuv420p, SEI stripped",
            Codec::X265 => "libx265 -preset slower, yuv420p, SEI stripped",
            Codec::Svtav1 => "libsvtav1 -preset 4, yuv420p, IVF headers not counted",
        }
    }

    fn args(self, crf: u32) -> Vec<String> {
        let crf = crf.to_string();
        let v: Vec<&str> = match self {
            Codec::X264 => vec!["-c:v", "libx264", "-preset", "veryslow", "-crf", &crf, "-bsf:v", "filter_units=remove_types=6", "-f", "h264"],
            Codec::X265 => vec!["-c:v", "libx265", "-preset", "slower", "-crf", &crf, "-x265-params", "log-level=error:info=0", "-bsf:v", "filter_units=remove_types=39|40", "-f", "hevc"],
            Codec::Svtav1 => vec!["-c:v", "libsvtav1", "-preset", "4", "-crf", &crf, "-f", "ivf"],
        };
        v.into_iter().map(String::from).collect()
    }
}

/// One encode: the CRF, its payload bytes and the decoded frames.
#[derive(Clone, Debug)]
pub struct Encoded {
    pub crf: u32,
    pub payload: usize,
    pub frames: Vec<RgbImage>,
}

fn ffmpeg(args: &[String]) -> Result<Vec<u8>, CliError> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-y"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| CliError::Tool(format!("cannot run ffmpeg: {e}")))?;
    if !out.status.success() {
        return Err(CliError::Tool(format!("ffmpeg {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(out.stdout)
}

/// Bytes of the frames of an IVF file (32-byte file header, 12-byte frame headers).
fn ivf_payload(bytes: &[u8]) -> Option<usize> {
    let header = usize::from(u16::from_le_bytes(bytes.get(6..8)?.try_into().ok()?));
    let (mut at, mut sum) = (header, 0usize);
    while at < bytes.len() {
        let size = u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize;
        sum += size;
        at += 12 + size;
    }
    (at == bytes.len()).then_some(sum)
}

/// Encodes `source` (a y4m) with `codec` at `crf` into `dir`, at 1/`scale` of its size
/// (area downscaling) when `scale` > 1, and decodes it back to `size` (bicubic).
pub fn encode(codec: Codec, source: &Path, crf: u32, dir: &Path, size: (u32, u32), scale: u32) -> Result<Encoded, CliError> {
    let ext = match codec {
        Codec::X264 => "h264",
        Codec::X265 => "hevc",
        Codec::Svtav1 => "ivf",
    };
    let file: PathBuf = dir.join(format!("{}-s{scale}-crf{crf}.{ext}", codec.name()));
    let mut args = vec!["-i".to_string(), source.display().to_string(), "-pix_fmt".into(), "yuv420p".into()];
    if scale > 1 {
        args.extend(["-vf".into(), format!("scale=iw/{scale}:ih/{scale}:flags=area")]);
    }
    args.extend(codec.args(crf));
    args.push(file.display().to_string());
    ffmpeg(&args)?;
    let bytes = std::fs::read(&file).map_err(crate::io::io_err(&file))?;
    let payload = match codec {
        Codec::Svtav1 => ivf_payload(&bytes).ok_or_else(|| CliError::Tool(format!("{}: not an IVF file", file.display())))?,
        _ => bytes.len(),
    };
    let mut back = vec!["-i".into(), file.display().to_string(), "-fps_mode".into(), "passthrough".into()];
    if scale > 1 {
        back.extend(["-vf".into(), format!("scale={}:{}:flags=bicubic", size.0, size.1)]);
    }
    back.extend(["-f".into(), "rawvideo".into(), "-pix_fmt".into(), "rgb24".into(), "-".into()]);
    let raw = ffmpeg(&back)?;
    let n = (size.0 * size.1 * 3) as usize;
    let frames = raw.chunks_exact(n).map(|c| RgbImage::from_raw(size.0, size.1, c.to_vec()).expect("frame size")).collect();
    Ok(Encoded { crf, payload, frames })
}

/// The encodes of one codec on one source, by CRF, searched for byte targets.
pub struct Search<'a> {
    pub codec: Codec,
    source: &'a Path,
    dir: &'a Path,
    size: (u32, u32),
    scale: u32,
    tried: BTreeMap<u32, Encoded>,
}

impl<'a> Search<'a> {
    pub fn new(codec: Codec, source: &'a Path, dir: &'a Path, size: (u32, u32), scale: u32) -> Self {
        Self { codec, source, dir, size, scale, tried: BTreeMap::new() }
    }

    fn at(&mut self, crf: u32) -> Result<&Encoded, CliError> {
        if !self.tried.contains_key(&crf) {
            let e = encode(self.codec, self.source, crf, self.dir, self.size, self.scale)?;
            self.tried.insert(crf, e);
        }
        Ok(&self.tried[&crf])
    }

    /// The best-quality (lowest) CRF whose payload is at most `target` bytes, by bisection
    /// (payload falls as CRF rises); `fits` false when even the highest CRF is larger.
    pub fn at_most(&mut self, target: usize) -> Result<(Encoded, bool), CliError> {
        let (lo, hi) = self.codec.crf_range();
        if self.at(hi)?.payload > target {
            return Ok((self.at(hi)?.clone(), false));
        }
        if self.at(lo)?.payload <= target {
            return Ok((self.at(lo)?.clone(), true));
        }
        // payload(lo) > target >= payload(hi)
        let (mut lo, mut hi) = (lo, hi);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if self.at(mid)?.payload <= target {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Ok((self.at(hi)?.clone(), true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ivf_payload_skips_headers_and_rejects_truncation() {
        let mut f = vec![0u8; 32];
        f[6] = 32;
        for size in [5u32, 0, 7] {
            f.extend(size.to_le_bytes());
            f.extend([0u8; 8]);
            f.extend(vec![1u8; size as usize]);
        }
        assert_eq!(ivf_payload(&f), Some(12));
        assert_eq!(ivf_payload(&f[..f.len() - 1]), None);
    }
}
