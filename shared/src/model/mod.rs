//! The model side, written once against burn's device-agnostic API: the frozen
//! autoencoder, the denoiser with its hashed LoRA, and the sampler.

pub mod base;
pub mod denoiser;
pub mod lora;
pub mod render;
pub mod restorer;
pub mod sampler;
pub mod taef2;
pub mod weights;
