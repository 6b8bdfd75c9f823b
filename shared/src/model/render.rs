//! Decoding a clip: theta -> hashed LoRA -> sampler -> latents -> TAEF2 -> frames.
//!
//! Every decoder (the CLI's reference decoder, the wasm decoder, the encoder's own check)
//! goes through `latents` and `frames`, so they cannot drift apart.

use burn::tensor::{Device, Tensor, TensorData};

use super::base::BaseModel;
use super::lora::LoraMap;
use super::sampler;
use crate::format::{FormatError, Header};
use crate::hashing::HashError;

/// What a render may change without changing the stored clip. `Render::of(header)` is
/// the decode the encoder fitted.
#[derive(Clone, Debug, PartialEq)]
pub struct Render {
    pub seed: u64,
    /// Adapter strength: 0 is the base model's own sample, 1 the fitted clip.
    pub strength: f32,
    pub steps: usize,
    pub shift: f32,
}

impl Render {
    pub fn of(header: &Header) -> Self {
        Self { seed: u64::from(header.sampler.seed), strength: 1.0, steps: usize::from(header.sampler.steps), shift: header.sampler.shift }
    }
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
    let s = super::taef2::SCALE;
    [1, usize::from(header.frames), model.config.latent_channels, usize::from(header.height) / s, usize::from(header.width) / s]
}

/// The index map of a clip on `model`.
pub fn lora_map(model: &BaseModel, header: &Header, device: &Device) -> Result<LoraMap, RenderError> {
    let slots = model.config.lora_slots(usize::from(header.lora.rank));
    Ok(LoraMap::new(&slots, header.lora.k, u64::from(header.lora.hash_seed), device)?)
}

/// Model-space latents [1, T, C, h, w] of the clip `theta` under `render`;
/// `on_step(i)` after each sampler step.
pub fn latents(model: &BaseModel, header: &Header, theta: &[f32], render: &Render, device: &Device, on_step: impl FnMut(usize)) -> Result<Tensor<5>, RenderError> {
    check(model, header)?;
    let map = lora_map(model, header, device)?;
    let theta = Tensor::<1>::from_data(TensorData::new(theta.to_vec(), [theta.len()]), device);
    let factors = map.factors(theta, render.strength);
    let shape = latent_shape(model, header);
    Ok(sampler::sample(&model.denoiser, Some(&factors), shape, render.steps, render.shift, render.seed, device, on_step))
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

/// Model-space latents [1, T, C, h, w] -> RGB8 frames, one frame at a time through the
/// TAEF2 decoder (bounded memory); `on_frame(i)` after each. Native only: reads back
/// synchronously.
pub fn frames(model: &BaseModel, z: Tensor<5>, mut on_frame: impl FnMut(usize)) -> Frames {
    let mut out = empty_frames(&z);
    for i in 0..out.count {
        let planar = decode_frame(model, &z, i).into_data();
        out.rgb.extend(interleave(&planar.convert::<f32>().try_to_vec::<f32>().expect("f32 frames"), out.width * out.height));
        on_frame(i);
    }
    out
}

/// `frames` with asynchronous readback, as WebGPU in a browser requires.
pub async fn frames_async(model: &BaseModel, z: Tensor<5>, mut on_frame: impl FnMut(usize)) -> Result<Frames, RenderError> {
    let mut out = empty_frames(&z);
    for i in 0..out.count {
        let planar = decode_frame(model, &z, i).into_data_async().await.map_err(|e| RenderError::Readback(format!("{e:?}")))?;
        out.rgb.extend(interleave(&planar.convert::<f32>().try_to_vec::<f32>().expect("f32 frames"), out.width * out.height));
        on_frame(i);
    }
    Ok(out)
}

fn empty_frames(z: &Tensor<5>) -> Frames {
    let [_, t, _, h, w] = z.dims();
    let s = super::taef2::SCALE;
    Frames { width: w * s, height: h * s, count: t, rgb: Vec::with_capacity(t * h * s * w * s * 3) }
}

/// Frame `i` of model-space latents [1, T, C, h, w], decoded: [1, 1, 3, 8h, 8w].
fn decode_frame(model: &BaseModel, z: &Tensor<5>, i: usize) -> Tensor<5> {
    let [_, _, c, h, w] = z.dims();
    model.decode(z.clone().slice([0..1, i..i + 1, 0..c, 0..h, 0..w]))
}

/// Planar [3, n] in [0, 1] -> interleaved RGB8, rounding to nearest.
pub fn interleave(planar: &[f32], n: usize) -> Vec<u8> {
    (0..n).flat_map(|p| (0..3).map(move |c| (planar[c * n + p].clamp(0.0, 1.0) * 255.0).round() as u8)).collect()
}
