//! Writing decoded frames: y4m (4:4:4, BT.601 limited range), a PNG (one frame) or a
//! numbered PNG sequence (`frames_%04d.png`), and anything ffmpeg writes (`out.mp4`).
//! Every file appears atomically under its final name.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use image::RgbImage;
use lora_video_shared::model::render::Frames;

use crate::error::CliError;
use crate::io::{io_err, temp_path, write_atomic};
use crate::media;

/// RGB images (all the same size) as `Frames`.
pub fn frames_of(images: &[image::RgbImage]) -> Frames {
    Frames {
        width: images[0].width() as usize,
        height: images[0].height() as usize,
        count: images.len(),
        rgb: images.iter().flat_map(|i| i.as_raw().iter().copied()).collect(),
    }
}

/// Frame `i` as an image.
pub fn image(frames: &Frames, i: usize) -> RgbImage {
    RgbImage::from_raw(frames.width as u32, frames.height as u32, frames.frame(i).to_vec()).expect("frame size")
}

/// The frames as a y4m stream.
pub fn y4m_bytes(frames: &Frames, fps: (u16, u16)) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = y4m::encode(frames.width, frames.height, y4m::Ratio::new(usize::from(fps.0), usize::from(fps.1)))
        .with_colorspace(y4m::Colorspace::C444)
        .write_header(&mut out)
        .expect("writing to memory");
    for i in 0..frames.count {
        let [y, u, v] = media::rgb_to_yuv444(&image(frames, i));
        enc.write_frame(&y4m::Frame::new([&y, &u, &v], None)).expect("writing to memory");
    }
    out
}

fn png_bytes(img: &RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("encoding a PNG in memory");
    out.into_inner()
}

/// Writes `frames` to `path`, choosing the container from the name. Returns the files written.
pub fn write(path: &Path, frames: &Frames, fps: (u16, u16)) -> Result<Vec<PathBuf>, CliError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if let Some(pattern) = media::sequence_pattern(path) {
        let mut written = Vec::new();
        for i in 0..frames.count {
            let p = media::sequence_path(&pattern, i);
            write_atomic(&p, &png_bytes(&image(frames, i)))?;
            written.push(p);
        }
        return Ok(written);
    }
    match ext.as_str() {
        "y4m" => write_atomic(path, &y4m_bytes(frames, fps))?,
        "png" if frames.count == 1 => write_atomic(path, &png_bytes(&image(frames, 0)))?,
        "png" => return Err(CliError::Usage(format!("{}: the clip has {} frames; name a sequence such as frames_%04d.png", path.display(), frames.count))),
        _ => write_ffmpeg(path, frames, fps)?,
    }
    Ok(vec![path.to_path_buf()])
}

/// Any other container through ffmpeg (H.264 in yuv420p for .mp4/.mov/.mkv, so that
/// browsers and players accept it), written to a temporary name and renamed.
fn write_ffmpeg(path: &Path, frames: &Frames, fps: (u16, u16)) -> Result<(), CliError> {
    if !media::have_ffmpeg() {
        return Err(CliError::Tool(format!("{}: writing this format needs an `ffmpeg` binary on PATH; without it, write .y4m or a PNG sequence such as frames_%04d.png", path.display())));
    }
    let tmp = temp_path(path);
    let tmp = tmp.with_extension(path.extension().unwrap_or_default());
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-nostdin", "-y", "-f", "yuv4mpegpipe", "-i", "-"]);
    if frames.count > 1 || !matches!(path.extension().and_then(|e| e.to_str()), Some("gif" | "webp")) {
        cmd.args(["-pix_fmt", "yuv420p"]);
    }
    let mut child = cmd.arg(&tmp).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().map_err(|e| CliError::Tool(format!("could not run ffmpeg: {e}")))?;
    let fed = child.stdin.take().expect("piped").write_all(&y4m_bytes(frames, fps));
    let out = child.wait_with_output().map_err(|e| CliError::Tool(format!("ffmpeg: {e}")))?;
    if fed.is_err() || !out.status.success() {
        let _ = std::fs::remove_file(&tmp);
        return Err(CliError::Tool(format!("ffmpeg could not write {}: {}", path.display(), String::from_utf8_lossy(&out.stderr).trim())));
    }
    std::fs::rename(&tmp, path).map_err(io_err(path))
}
