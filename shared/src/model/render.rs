//! Decoding a clip: theta -> hashed LoRA -> sampler -> latents -> TAEF2 -> frames.
//!
//! Every decoder (the CLI's reference decoder, the wasm decoder, the encoder's own check)
//! goes through `latents` and `frames`, so they cannot drift apart.

use burn::tensor::{Device, Tensor, TensorData};

use super::base::BaseModel;
use super::lora::LoraMap;
use super::denoiser::SKETCH_CHANNELS;
use super::sampler::{self, SketchInput};
use crate::format::{FormatError, Header, Scaling};
use crate::hashing::HashError;
use crate::sketch::{self, Sketch};

/// A sketch and the size of the clip it describes (its own clip's, or another's).
#[derive(Clone, Debug, PartialEq)]
pub struct SketchOf {
    pub sketch: Sketch,
    pub width: usize,
    pub height: usize,
    pub frames: usize,
}

impl SketchOf {
    /// The sketch a clip carries, if any.
    pub fn of(header: &Header) -> Option<Self> {
        header.sketch.clone().map(|sketch| Self { sketch, width: usize::from(header.width), height: usize::from(header.height), frames: usize::from(header.frames) })
    }

    /// The decoded keyframes and their geometry.
    pub fn decode(&self) -> Result<(Vec<sketch::Keyframe>, sketch::Geometry), FormatError> {
        let g = sketch::Geometry::new(self.width, self.height, self.frames, &self.sketch.params)?;
        Ok((sketch::decode(&self.sketch, self.width, self.height, self.frames)?, g))
    }

    /// The decoded motion field, if the sketch has one.
    pub fn motion(&self) -> Result<Option<sketch::motion::Field>, FormatError> {
        let Some(m) = &self.sketch.motion else { return Ok(None) };
        Ok(Some(sketch::motion::decode(m, self.width, self.height, usize::from(self.sketch.params.keyframes))?))
    }
}

/// What a render may change without changing the stored clip. `Render::of(header)` is
/// the decode the encoder fitted; any other value re-renders the stored function.
#[derive(Clone, Debug, PartialEq)]
pub struct Render {
    /// Seed of the sampler's starting noise.
    pub seed: u64,
    /// Adapter strength: 0 is the base model's own sample, 1 the fitted clip, above 1
    /// exaggerates it (the LoRA update scales linearly).
    pub strength: f32,
    pub steps: usize,
    pub shift: f32,
    pub frames: usize,
    pub width: usize,
    pub height: usize,
    /// The clip's inference-time scaling choices, replayed by the sampler.
    pub scaling: Option<Scaling>,
    /// The sketch the denoiser is conditioned on (None: no sketch).
    pub sketch: Option<SketchOf>,
    /// How much the frames are sharpened (`sharpen::frame`; 0..=4, 0: not at all).
    pub sharpen: f32,
}

impl Render {
    pub fn of(header: &Header) -> Self {
        Self {
            seed: u64::from(header.sampler.seed),
            strength: 1.0,
            steps: usize::from(header.sampler.steps),
            shift: header.sampler.shift,
            frames: usize::from(header.frames),
            width: usize::from(header.width),
            height: usize::from(header.height),
            scaling: header.scaling.clone(),
            sketch: SketchOf::of(header),
            sharpen: sharpen_of(header.sketch.as_ref()),
        }
    }
}

/// How much a sketch sharpens the frames (`Sketch::sharpen`; 0 without a sketch).
fn sharpen_of(sketch: Option<&Sketch>) -> f32 {
    sketch.map_or(0.0, |s| crate::sharpen::amount(s.sharpen))
}

/// What a re-render asks to change; None keeps the clip's own setting. `mix` weights a
/// merged second clip (default 1). The CLI's `render` and the browser's `render` share it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Controls {
    pub seed: Option<u64>,
    pub strength: Option<f32>,
    pub steps: Option<usize>,
    pub frames: Option<usize>,
    /// (width, height)
    pub size: Option<(usize, usize)>,
    pub mix: Option<f32>,
    /// Some(None): no sketch; Some(Some(s)): another clip's sketch.
    pub sketch: Option<Option<SketchOf>>,
    /// How much to sharpen the frames (default: the rendered sketch's own amount).
    pub sharpen: Option<f32>,
}

impl Controls {
    /// The render of a clip with this header these controls ask for.
    pub fn render(&self, header: &Header) -> Render {
        let r = Render::of(header);
        let (width, height) = self.size.unwrap_or((r.width, r.height));
        let sketch = self.sketch.clone().unwrap_or(r.sketch);
        Render {
            seed: self.seed.unwrap_or(r.seed),
            strength: self.strength.unwrap_or(r.strength),
            steps: self.steps.unwrap_or(r.steps),
            frames: self.frames.unwrap_or(r.frames),
            width,
            height,
            sharpen: self.sharpen.unwrap_or_else(|| sharpen_of(sketch.as_ref().map(|s| &s.sketch))),
            sketch,
            ..r
        }
    }

    /// A second clip (`header`, `theta`) to merge, weighted by `mix` (default 1: the sum).
    pub fn merge<'a>(&self, header: &'a Header, theta: &'a [f32]) -> Merge<'a> {
        Merge { header, theta, mix: self.mix.unwrap_or(1.0) }
    }
}

/// A second stored clip whose LoRA update is added to the first's, weighted by `mix`.
#[derive(Clone, Copy, Debug)]
pub struct Merge<'a> {
    pub header: &'a Header,
    pub theta: &'a [f32],
    pub mix: f32,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the clip needs base model {}, but the model given is {}", crate::to_hex(.clip), crate::to_hex(.model))]
    ModelMismatch { clip: [u8; 32], model: [u8; 32] },
    #[error("the clip's {what} ({value}) does not suit this base model: {why}")]
    Unsupported { what: &'static str, value: String, why: String },
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error("reading frames back from the device failed: {0}")]
    Readback(String),
}

/// Checks that `header` can be decoded by `model`: the same SHA-256 and a size the
/// denoiser's patches divide. (The format admits only LoRA targets this model has.)
pub fn check(model: &BaseModel, header: &Header) -> Result<(), RenderError> {
    if header.model_sha256 != model.sha256 {
        return Err(RenderError::ModelMismatch { clip: header.model_sha256, model: model.sha256 });
    }
    check_size(model, usize::from(header.width), usize::from(header.height))?;
    Ok(())
}

/// Width and height must be multiples of 8 (TAEF2) times the denoiser's patch.
pub fn check_size(model: &BaseModel, width: usize, height: usize) -> Result<(), RenderError> {
    let unit = super::taef2::SCALE * model.config.patch;
    if width % unit != 0 || height % unit != 0 || width == 0 || height == 0 {
        return Err(RenderError::Unsupported { what: "size", value: format!("{width}x{height}"), why: format!("width and height must be positive multiples of {unit}") });
    }
    Ok(())
}

/// The latent shape [1, T, C, h, w] of a clip.
pub fn latent_shape(model: &BaseModel, header: &Header) -> [usize; 5] {
    render_shape(model, &Render::of(header))
}

/// The latent shape [1, T, C, h, w] of a render.
pub fn render_shape(model: &BaseModel, render: &Render) -> [usize; 5] {
    let s = super::taef2::SCALE;
    [1, render.frames, model.config.latent_channels, render.height / s, render.width / s]
}

/// Checks a render's settings against the format's limits and the model's patch size.
pub fn check_render(model: &BaseModel, render: &Render) -> Result<(), RenderError> {
    let bad = |what, value: String, why: String| Err(RenderError::Unsupported { what, value, why });
    if render.frames == 0 || render.frames > usize::from(crate::format::MAX_FRAMES) {
        return bad("frame count", render.frames.to_string(), format!("must be 1..={}", crate::format::MAX_FRAMES));
    }
    if render.steps == 0 || render.steps > usize::from(crate::format::MAX_STEPS) {
        return bad("sampler steps", render.steps.to_string(), format!("must be 1..={}", crate::format::MAX_STEPS));
    }
    if !(render.strength.is_finite() && render.strength.abs() <= 16.0) {
        return bad("strength", render.strength.to_string(), "must be a number in -16..=16".into());
    }
    let most = crate::sharpen::amount(crate::sharpen::MAX);
    if !(0.0..=most).contains(&render.sharpen) {
        return bad("sharpen", render.sharpen.to_string(), format!("must be a number in 0..={most}"));
    }
    if !(render.shift.is_finite() && render.shift > 0.0 && render.shift <= crate::format::MAX_SHIFT) {
        return bad("shift", render.shift.to_string(), format!("must be in (0, {}]", crate::format::MAX_SHIFT));
    }
    let side = usize::from(crate::format::MAX_SIDE);
    if render.width > side || render.height > side || (render.width * render.height * render.frames) as u64 > crate::format::MAX_PIXELS {
        return bad("size", format!("{}x{}x{}", render.width, render.height, render.frames), format!("at most {side} a side and {} pixels in all", crate::format::MAX_PIXELS));
    }
    check_size(model, render.width, render.height)
}

/// The index map of a clip on `model`.
pub fn lora_map(model: &BaseModel, header: &Header, device: &Device) -> Result<LoraMap, RenderError> {
    let slots = model.config.lora_slots(usize::from(header.lora.rank));
    Ok(LoraMap::new(&slots, header.lora.k, u64::from(header.lora.hash_seed), device)?)
}

/// A render's final model-space latents `z` [1, T, C, h, w] and, when its sketch is
/// residual (`Sketch::residual`), what `frames` adds to their decode, and how much it
/// sharpens the frames (`Sketch::sharpen`; 0: not at all).
pub struct Latents {
    pub z: Tensor<5>,
    pub residual: Option<Residual>,
    pub sharpen: f32,
}

impl Latents {
    /// Latents decoded as they are.
    pub fn plain(z: Tensor<5>) -> Self {
        Self { z, residual: None, sharpen: 0.0 }
    }

    /// Latents `z` sampled under `sketch` (`condition_frames`), sharpened by `sharpen`.
    pub fn of(z: Tensor<5>, sketch: Option<(SketchInput, Option<Vec<Vec<f32>>>)>, sharpen: f32) -> Self {
        let residual = sketch.and_then(|(s, images)| images.map(|images| Residual { images, start: s.start }));
        Self { z, residual, sharpen }
    }
}

/// A residual sketch's own frames: frame i decodes as `S_i + D(z_i) - D(s_i)`, the
/// sketch's pixels `S_i` (planar RGB in [0, 1], the images `condition` encodes) plus what
/// the sampler changed in TAEF2's decode `D` of its start latents `s` (the sketch latents).
/// A sampler that changes nothing gives the sketch's pixels, not their round trip.
pub struct Residual {
    pub images: Vec<Vec<f32>>,
    pub start: Tensor<5>,
}

/// Model-space latents of the clip `theta` under `render` (`Latents`);
/// `on_step(i)` after each sampler step.
pub fn latents(model: &BaseModel, header: &Header, theta: &[f32], render: &Render, device: &Device, on_step: impl FnMut(usize)) -> Result<Latents, RenderError> {
    latents_merged(model, header, theta, render, None, device, on_step)
}

/// `latents` with, optionally, a second clip's LoRA update added layer by layer
/// (weighted by `strength * mix`). Both clips must be for `model`.
pub fn latents_merged(model: &BaseModel, header: &Header, theta: &[f32], render: &Render, merge: Option<Merge>, device: &Device, on_step: impl FnMut(usize)) -> Result<Latents, RenderError> {
    check(model, header)?;
    check_render(model, render)?;
    let factors_of = |h: &Header, theta: &[f32], strength: f32| -> Result<_, RenderError> {
        let map = lora_map(model, h, device)?;
        let theta = Tensor::<1>::from_data(TensorData::new(theta.to_vec(), [theta.len()]), device);
        Ok(map.factors(theta, strength))
    };
    let mut factors = factors_of(header, theta, render.strength)?;
    if let Some(m) = merge {
        check(model, m.header)?;
        if !(m.mix.is_finite() && m.mix.abs() <= 16.0) {
            return Err(RenderError::Unsupported { what: "mix", value: m.mix.to_string(), why: "must be a number in -16..=16".into() });
        }
        factors = super::lora::merge(factors, factors_of(m.header, m.theta, render.strength * m.mix)?);
    }
    let shape = render_shape(model, render);
    // Scaling choices belong to the stored step count; another count replays none.
    let scaling = render.scaling.as_ref().filter(|_| render.steps == usize::from(header.sampler.steps));
    let sketch = condition_frames(model, render, device)?;
    let z = sampler::sample_scaled(&model.denoiser, Some(&factors), sketch.as_ref().map(|(s, _)| s), shape, render.steps, render.shift, render.seed, scaling, device, on_step);
    Ok(Latents::of(z, sketch, render.sharpen))
}

/// What a render's sketch gives the sampler (`sampler::SketchInput`): each decoded
/// keyframe upsampled to the render's size (`sketch::upsample_rgb`), encoded by the
/// package's TAEF2 encoder into model space, blended in time to the render's frames
/// (`sketch::frame_weights`); with motion, each frame between keyframes is composed in
/// pixels along the field (`motion::Field::between`) and encoded itself. The condition
/// is those latents and a channel of ones. None without a sketch or for a model that
/// reads none.
pub fn condition(model: &BaseModel, render: &Render, device: &Device) -> Result<Option<SketchInput>, RenderError> {
    Ok(condition_frames(model, render, device)?.map(|(input, _)| input))
}

/// `condition` and, for a residual sketch, the image of each render frame the latents
/// encode (planar RGB in [0, 1]; `Residual`).
pub fn condition_frames(model: &BaseModel, render: &Render, device: &Device) -> Result<Option<(SketchInput, Option<Vec<Vec<f32>>>)>, RenderError> {
    let Some(s) = render.sketch.as_ref().filter(|_| model.config.cond_channels == SKETCH_CHANNELS) else { return Ok(None) };
    let encoder = model.encoder.as_ref().ok_or(RenderError::Unsupported { what: "sketch", value: "present".into(), why: "the base model has no TAEF2 encoder".into() })?;
    let (keyframes, g) = s.decode()?;
    let motion = s.motion()?;
    let (w, h) = (render.width, render.height);
    let scale = (w as f32 / s.width as f32, h as f32 / s.height as f32);
    let cell = (g.cell as f32 * scale.0, g.cell as f32 * scale.1);
    let images: Vec<Vec<f32>> = keyframes.iter().map(|kf| sketch::upsample_rgb(kf, cell, w, h)).collect();
    let encode = |images: Vec<f32>, n: usize| model.encode_with(encoder, Tensor::from_data(TensorData::new(images, [n, 3, h, w]), device));
    let z = encode(images.concat(), images.len());
    let [_, c, lh, lw] = z.dims();
    let frame = |i: usize| z.clone().slice([i..i + 1, 0..c, 0..lh, 0..lw]);
    let mut pixels = s.sketch.residual.then(Vec::new);
    let mut frames = Vec::with_capacity(render.frames);
    for (a, b, u) in sketch::frame_weights(&g, render.frames, motion.as_ref().map_or(&[], |m| &m.phases)) {
        let (latent, image) = match &motion {
            _ if u == 0.0 => (frame(a), None),
            Some(field) => {
                let image = field.between(a, &images[a], &images[b], u, scale, w, h);
                (encode(image.clone(), 1), Some(image))
            }
            None => (frame(a).mul_scalar(1.0 - u) + frame(b).mul_scalar(u), None),
        };
        frames.push(latent);
        if let Some(p) = pixels.as_mut() {
            // Without motion the latents blend, and so do the pixels.
            p.push(image.unwrap_or_else(|| images[a].iter().zip(&images[b]).map(|(x, y)| (1.0 - u) * x + u * y).collect()));
        }
    }
    let start = Tensor::cat(frames, 0).unsqueeze_dim::<5>(0);
    let cond = Tensor::cat(vec![start.clone(), Tensor::ones([1, render.frames, 1, lh, lw], device)], 2);
    Ok(Some((SketchInput { cond, start, t0: s.sketch.t0() }, pixels)))
}

/// Decoded frames: `count` frames of `width` x `height`, RGB8 interleaved, frame after frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Frames {
    pub width: usize,
    pub height: usize,
    pub count: usize,
    pub rgb: Vec<u8>,
}

impl Frames {
    pub fn frame(&self, i: usize) -> &[u8] {
        let n = self.width * self.height * 3;
        &self.rgb[i * n..(i + 1) * n]
    }
}

/// A render's latents -> RGB8 frames, one frame at a time through the TAEF2 decoder
/// (bounded memory; a residual sketch adds its pixels, `Residual`; then sharpened,
/// `Latents::sharpen`); `on_frame(i)` after each. Native only: reads back synchronously.
pub fn frames(model: &BaseModel, z: Latents, mut on_frame: impl FnMut(usize)) -> Frames {
    let mut out = empty_frames(&z.z);
    for i in 0..out.count {
        let planar = decode_frame(model, &z, i).into_data();
        out.rgb.extend(finish(planar.convert::<f32>().try_to_vec::<f32>().expect("f32 frames"), &z, &out));
        on_frame(i);
    }
    out
}

/// `frames` with asynchronous readback, as WebGPU in a browser requires.
pub async fn frames_async(model: &BaseModel, z: Latents, mut on_frame: impl FnMut(usize)) -> Result<Frames, RenderError> {
    let mut out = empty_frames(&z.z);
    for i in 0..out.count {
        let planar = decode_frame(model, &z, i).into_data_async().await.map_err(|e| RenderError::Readback(format!("{e:?}")))?;
        out.rgb.extend(finish(planar.convert::<f32>().try_to_vec::<f32>().expect("f32 frames"), &z, &out));
        on_frame(i);
    }
    Ok(out)
}

fn empty_frames(z: &Tensor<5>) -> Frames {
    let [_, t, _, h, w] = z.dims();
    let s = super::taef2::SCALE;
    Frames { width: w * s, height: h * s, count: t, rgb: Vec::with_capacity(t * h * s * w * s * 3) }
}

/// Frame `i` of a render, decoded: [1, 1, 3, 8h, 8w]; with a residual sketch, `S_i +
/// D(z_i) - D(s_i)` (`Residual`).
fn decode_frame(model: &BaseModel, z: &Latents, i: usize) -> Tensor<5> {
    let decode = |z: &Tensor<5>| {
        let [_, _, c, h, w] = z.dims();
        model.decode(z.clone().slice([0..1, i..i + 1, 0..c, 0..h, 0..w]))
    };
    let x = decode(&z.z);
    let Some(r) = &z.residual else { return x };
    let shape = x.dims();
    let image = Tensor::<1>::from_data(TensorData::new(r.images[i].clone(), [r.images[i].len()]), &x.device()).reshape(shape);
    x + image - decode(&r.start)
}

/// A decoded planar frame, sharpened (`Latents::sharpen`), as interleaved RGB8.
fn finish(mut planar: Vec<f32>, z: &Latents, out: &Frames) -> Vec<u8> {
    crate::sharpen::frame(&mut planar, out.width, out.height, z.sharpen);
    interleave(&planar, out.width * out.height)
}

/// Planar [3, n] in [0, 1] -> interleaved RGB8, rounding to nearest.
pub fn interleave(planar: &[f32], n: usize) -> Vec<u8> {
    (0..n).flat_map(|p| (0..3).map(move |c| (planar[c * n + p].clamp(0.0, 1.0) * 255.0).round() as u8)).collect()
}
