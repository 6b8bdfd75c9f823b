//! `lora-video decode`: the reference decoder. `.lvc` -> theta -> LoRA -> sampler ->
//! latents -> TAEF2 -> frames -> y4m, PNG or (through ffmpeg) mp4.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::Device;
use lora_video_shared::format::{Bitstream, MAX_PAYLOAD};
use lora_video_shared::model::base::BaseModel;
use lora_video_shared::model::render::{self, Frames, Render, RenderError};
use serde::Serialize;

use crate::error::CliError;
use crate::info::read_limited;
use crate::io::progress;
use crate::model::load_base;
use crate::output;

#[derive(Clone, Debug)]
pub struct DecodeOptions {
    pub input: PathBuf,
    pub output: PathBuf,
    pub model: PathBuf,
    pub device: crate::device::Backend,
    pub json: bool,
    pub quiet: bool,
}

#[derive(Debug, Serialize)]
struct Summary {
    input: PathBuf,
    output: Vec<PathBuf>,
    width: usize,
    height: usize,
    frames: usize,
    seconds: f64,
}

/// Reads and parses a `.lvc`.
pub fn read_clip(path: &Path) -> Result<Bitstream, CliError> {
    let bytes = read_limited(path, u64::from(MAX_PAYLOAD) + 1_000_000)?;
    Bitstream::read(&bytes).map_err(|e| CliError::bad_input(path, e))
}

/// A render error as a CLI error; a model mismatch names both files' models.
pub fn render_error(clip: &Path, model: &Path, e: RenderError) -> CliError {
    match e {
        RenderError::ModelMismatch { .. } => CliError::WrongModel(format!("{}: {e} ({})", clip.display(), model.display())),
        other => CliError::bad_input(clip, other),
    }
}

/// Decodes `clip` under `render` on `model`, with a progress bar of steps then frames.
pub fn decode_frames(base: &BaseModel, clip: &Bitstream, render: &Render, device: &Device, quiet: bool) -> Result<Frames, RenderError> {
    let theta = clip.theta()?;
    let frames = usize::from(clip.header.frames);
    let bar = progress((render.steps + frames) as u64, "decode", quiet);
    bar.set_message("sampling");
    let z = render::latents(base, &clip.header, &theta, render, device, |_| bar.inc(1))?;
    bar.set_message("frames");
    let out = render::frames(base, z, |_| bar.inc(1));
    bar.finish_and_clear();
    Ok(out)
}

pub fn run(o: &DecodeOptions, out: &mut dyn Write) -> Result<(), CliError> {
    let started = Instant::now();
    let clip = read_clip(&o.input)?;
    let device = crate::device::device(o.device)?;
    let base = load_base(&o.model, &device)?;
    render::check(&base, &clip.header).map_err(|e| render_error(&o.input, &o.model, e))?;
    let frames = decode_frames(&base, &clip, &Render::of(&clip.header), &device, o.quiet || o.json).map_err(|e| render_error(&o.input, &o.model, e))?;
    let fps = (clip.header.fps.num, clip.header.fps.den);
    let written = output::write(&o.output, &frames, fps)?;
    let s = Summary { input: o.input.clone(), output: written, width: frames.width, height: frames.height, frames: frames.count, seconds: started.elapsed().as_secs_f64() };
    let text = if o.json {
        serde_json::to_string_pretty(&s).expect("serialisable")
    } else {
        format!("{}: {} frames {}x{} in {:.1} s -> {}", s.input.display(), s.frames, s.width, s.height, s.seconds, o.output.display())
    };
    writeln!(out, "{text}").map_err(|source| CliError::Io { path: "<stdout>".into(), source })
}
