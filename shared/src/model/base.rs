//! The base model as a package: the committed denoiser file, the `.lvm` that
//! `pack-base` makes from it and TAEF2, and loading that `.lvm` for encoding or decoding.
//!
//! Denoiser file: a package with the denoiser's weights in f16 (names as
//! `Denoiser::to_weights`). `.lvm`: its matrices in int8 with one scale per output
//! channel and its biases in f32 under `denoiser.`, the TAEF2 decoder in f16 (its
//! checkpoint precision) under `taef2.decoder.`, and the same manifest.

use burn::tensor::{Device, Tensor as BurnTensor, TensorData};

use super::denoiser::{Denoiser, DenoiserConfig};
use super::taef2;
use super::weights::{WeightError, Weights};
use crate::package::{LatentNorm, Manifest, Package, PackageError, SamplerDefaults, Tensor, sha256};

pub const DENOISER_PREFIX: &str = "denoiser.";
pub const TAEF2_DECODER_PREFIX: &str = "taef2.decoder.";
/// A sketch model's package also holds TAEF2's encoder: the decoder encodes the sketch.
pub const TAEF2_ENCODER_PREFIX: &str = "taef2.encoder.";

/// The manifest's `architecture`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Architecture {
    pub denoiser: DenoiserConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Package(#[from] PackageError),
    #[error(transparent)]
    Weights(#[from] WeightError),
    #[error("the manifest's architecture is not a lora-video denoiser: {0}")]
    Architecture(serde_json::Error),
    #[error("latent normalisation must have {want} finite means and positive stds")]
    LatentNorm { want: usize },
    #[error("a sketch model needs TAEF2's encoder in its package")]
    MissingEncoder,
}

fn architecture(m: &Manifest) -> Result<Architecture, ModelError> {
    serde_json::from_value(m.architecture.clone()).map_err(ModelError::Architecture)
}

/// The committed form of a trained denoiser: f16 weights and a manifest.
pub fn denoiser_package(name: &str, config: &DenoiserConfig, w: &Weights, latent: LatentNorm, sampler: SamplerDefaults) -> Package {
    let arch = serde_json::to_value(Architecture { denoiser: config.clone() }).expect("serialisable");
    let mut p = Package::new(Manifest::new(name, arch, latent, sampler));
    p.manifest.lora_rank = config.lora_rank as u8;
    for (n, shape, values) in w.iter() {
        p.insert(n, Tensor::f16(shape, values));
    }
    p
}

/// The `.lvm`: the denoiser's matrices in int8 per output channel, biases f32, the
/// TAEF2 decoder in f16, and for a sketch model (cond_channels > 0) the TAEF2 encoder in
/// f16. The same inputs give the same bytes.
pub fn pack_base(denoiser: &Package, taef2_decoder: &Weights, taef2_encoder: &Weights) -> Result<Package, ModelError> {
    let arch = architecture(&denoiser.manifest)?;
    let mut p = Package::new(denoiser.manifest.clone());
    for (name, t) in &denoiser.tensors {
        let values = t.to_f32();
        let packed = if t.shape.len() == 2 { Tensor::int8_per_channel(&t.shape, &values, 1) } else { Tensor::f32(&t.shape, values) };
        p.insert(&format!("{DENOISER_PREFIX}{name}"), packed);
    }
    for (name, shape, values) in taef2_decoder.iter() {
        p.insert(&format!("{TAEF2_DECODER_PREFIX}{name}"), Tensor::f16(shape, values));
    }
    if arch.denoiser.cond_channels > 0 {
        for (name, shape, values) in taef2_encoder.iter() {
            p.insert(&format!("{TAEF2_ENCODER_PREFIX}{name}"), Tensor::f16(shape, values));
        }
    }
    Ok(p)
}

/// A loaded `.lvm`: what the encoder fits against and what every decoder runs.
#[derive(Debug)]
pub struct BaseModel {
    /// SHA-256 of the package file, the identity clips name.
    pub sha256: [u8; 32],
    pub manifest: Manifest,
    pub config: DenoiserConfig,
    pub denoiser: Denoiser,
    pub decoder: taef2::Decoder,
    /// TAEF2's encoder, in a sketch model's package.
    pub encoder: Option<taef2::Encoder>,
}

impl BaseModel {
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Self, ModelError> {
        let package = Package::from_bytes(bytes)?;
        let config = architecture(&package.manifest)?.denoiser;
        let latent = &package.manifest.latent;
        let c = config.latent_channels;
        if latent.mean.len() != c || latent.std.len() != c || latent.std.iter().any(|s| !(*s > 0.0)) {
            return Err(ModelError::LatentNorm { want: c });
        }
        let encoder = match config.cond_channels {
            0 => None,
            _ => {
                let w = Weights::from_package(&package, TAEF2_ENCODER_PREFIX);
                if w.is_empty() {
                    return Err(ModelError::MissingEncoder);
                }
                Some(taef2::Encoder::load(&w, device)?)
            }
        };
        Ok(Self {
            sha256: sha256(bytes),
            config: config.clone(),
            denoiser: Denoiser::load(&config, &Weights::from_package(&package, DENOISER_PREFIX), device)?,
            decoder: taef2::Decoder::load(&Weights::from_package(&package, TAEF2_DECODER_PREFIX), device)?,
            encoder,
            manifest: package.manifest,
        })
    }
}

impl BaseModel {
    /// Frames [N, 3, H, W] in [0, 1] -> model-space latents [N, C, H/8, W/8]: TAEF2's
    /// encoder, then the latent normalisation. The encoder CLI passes its own copy of
    /// the encoder; a decoder uses the package's.
    pub fn encode_with(&self, encoder: &taef2::Encoder, frames: BurnTensor<4>) -> BurnTensor<4> {
        let device = frames.device();
        let c = self.config.latent_channels;
        let per_channel = |v: &[f32]| BurnTensor::<1>::from_data(TensorData::new(v.to_vec(), [c]), &device).reshape([1, c, 1, 1]);
        let latent = &self.manifest.latent;
        (encoder.forward(frames) - per_channel(&latent.mean)) / per_channel(&latent.std)
    }

    /// Model-space latents [B, T, C, h, w] -> frames [B, T, 3, 8h, 8w] in [0, 1]: undo the
    /// latent normalisation, then TAEF2-decode every frame.
    pub fn decode(&self, z: BurnTensor<5>) -> BurnTensor<5> {
        let [b, t, c, h, w] = z.dims();
        let device = z.device();
        let per_channel = |v: &[f32]| BurnTensor::<1>::from_data(TensorData::new(v.to_vec(), [c]), &device).reshape([1, 1, c, 1, 1]);
        let z = z * per_channel(&self.manifest.latent.std) + per_channel(&self.manifest.latent.mean);
        let s = taef2::SCALE;
        self.decoder.forward(z.reshape([b * t, c, h, w])).reshape([b, t, 3, h * s, w * s])
    }
}
