//! `lora-video decode`: the reference decoder. `.lvc` -> theta -> LoRA -> sampler ->
//! latents -> TAEF2 -> frames -> y4m, PNG or (through ffmpeg) mp4.
//! `lora-video render`: the same with `Controls` that change only the decode (seed,
//! strength, a merged second clip, steps, frames, size, the sketch, sharpening).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::Device;
use lora_video_shared::format::{Bitstream, MAX_PAYLOAD};
use lora_video_shared::model::base::BaseModel;
use lora_video_shared::model::render::{self, Controls, Frames, Merge, Render, RenderError};
use serde::Serialize;

use crate::error::CliError;
use crate::io::read_limited;
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
    /// Re-render settings (`lora-video render`); the default decodes as encoded.
    pub controls: Controls,
    /// A second clip whose LoRA update is added, weighted by `controls.mix` (default 1).
    pub merge: Option<PathBuf>,
    /// A clip whose sketch replaces this clip's (`render --sketch-from`).
    pub sketch_from: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Summary {
    input: PathBuf,
    render: RenderSummary,
    output: Vec<PathBuf>,
    width: usize,
    height: usize,
    frames: usize,
    seconds: f64,
}

#[derive(Debug, Serialize)]
struct RenderSummary {
    seed: u64,
    strength: f32,
    steps: usize,
    merge: Option<PathBuf>,
    mix: Option<f32>,
    /// "own", "off", or the clip whose sketch was used.
    sketch: String,
    sharpen: f32,
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

/// Decodes `clip` under `render` (with a merged clip) on `model`, with a progress bar
/// of steps then frames.
pub fn decode_frames(base: &BaseModel, clip: &Bitstream, render: &Render, merge: Option<Merge>, device: &Device, quiet: bool) -> Result<Frames, RenderError> {
    let theta = clip.theta()?;
    let bar = progress((render.steps + render.frames) as u64, "decode", quiet);
    bar.set_message("sampling");
    let z = render::latents_merged(base, &clip.header, &theta, render, merge, device, |_| bar.inc(1))?;
    bar.set_message("frames");
    let out = render::frames(base, z, |_| bar.inc(1));
    bar.finish_and_clear();
    Ok(out)
}

pub fn run(o: &DecodeOptions, out: &mut dyn Write) -> Result<(), CliError> {
    let started = Instant::now();
    let c = &o.controls;
    if c.mix.is_some() && o.merge.is_none() {
        return Err(CliError::Usage("--mix needs --merge OTHER.lvc".into()));
    }
    let clip = read_clip(&o.input)?;
    let other = o.merge.as_deref().map(read_clip).transpose()?;
    let device = crate::device::device(o.device)?;
    let base = load_base(&o.model, &device)?;
    render::check(&base, &clip.header).map_err(|e| render_error(&o.input, &o.model, e))?;
    let other_theta = match (&other, &o.merge) {
        (Some(b), Some(path)) => {
            render::check(&base, &b.header).map_err(|e| render_error(path, &o.model, e))?;
            Some(b.theta().map_err(|e| CliError::bad_input(path, e))?)
        }
        _ => None,
    };
    let merge = other.as_ref().zip(other_theta.as_deref()).map(|(b, theta)| c.merge(&b.header, theta));
    let mut c = c.clone();
    if let Some(path) = &o.sketch_from {
        let b = read_clip(path)?;
        let s = render::SketchOf::of(&b.header).ok_or_else(|| CliError::bad_input(path, "this clip has no sketch"))?;
        c.sketch = Some(Some(s));
    }
    let sketch = match (&c.sketch, &o.sketch_from) {
        (Some(None), _) => "off".to_string(),
        (Some(Some(_)), Some(p)) => p.display().to_string(),
        _ if clip.header.sketch.is_none() => "none".to_string(),
        _ => "own".to_string(),
    };
    let render = c.render(&clip.header);
    let frames = decode_frames(&base, &clip, &render, merge, &device, o.quiet || o.json).map_err(|e| match e {
        RenderError::Unsupported { .. } => CliError::Usage(e.to_string()),
        e => render_error(&o.input, &o.model, e),
    })?;
    let fps = (clip.header.fps.num, clip.header.fps.den);
    let written = output::write(&o.output, &frames, fps)?;
    let s = Summary {
        input: o.input.clone(),
        render: RenderSummary { seed: render.seed, strength: render.strength, steps: render.steps, merge: o.merge.clone(), mix: merge.map(|m| m.mix), sketch, sharpen: render.sharpen },
        output: written,
        width: frames.width,
        height: frames.height,
        frames: frames.count,
        seconds: started.elapsed().as_secs_f64(),
    };
    let text = if o.json {
        serde_json::to_string_pretty(&s).expect("serialisable")
    } else {
        format!("{}: {} frames {}x{} in {:.1} s -> {}", s.input.display(), s.frames, s.width, s.height, s.seconds, o.output.display())
    };
    writeln!(out, "{text}").map_err(|source| CliError::Io { path: "<stdout>".into(), source })
}
