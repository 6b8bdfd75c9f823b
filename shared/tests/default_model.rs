//! The committed default denoiser: it packs (reproducibly) into a .lvm that loads, and
//! the packed model has learned a prior: on real photos it predicts the flow-matching
//! velocity far better than a model that predicts zero.

#![cfg(feature = "pytorch")]

mod common;

use std::path::PathBuf;

use burn::tensor::{Device, Tensor, TensorData};
use common::data::{photo, square_planar, taef2_dir};
use lora_video_shared::model::base::{BaseModel, pack_base};
use lora_video_shared::model::taef2;
use lora_video_shared::noise::{self, Stream};
use lora_video_shared::package::Package;

#[test]
fn default_model_packs_loads_and_has_learned_a_prior() {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/default/denoiser.safetensors");
    let denoiser = Package::from_bytes(&std::fs::read(&file).unwrap()).unwrap();
    let t = taef2_dir();
    let (enc, dec) = taef2::load_checkpoints(&t).unwrap();
    let bytes = pack_base(&denoiser, &dec, &enc).unwrap().to_bytes().unwrap();
    assert_eq!(pack_base(&denoiser, &dec, &enc).unwrap().to_bytes().unwrap(), bytes, "pack-base is reproducible");
    assert!(bytes.len() < 16 << 20, "the .lvm is {} bytes", bytes.len());
    let device = Device::flex();
    let base = BaseModel::from_bytes(&bytes, &device).unwrap();

    // Real photos -> TAEF2 latents -> the model's normalisation: a 4-frame still clip each.
    let encoder = taef2::Encoder::load(&enc, &device).unwrap();
    let norm = &base.manifest.latent;
    let (frames, side) = (4, 128);
    let (mut model_loss, mut zero_loss) = (0.0f64, 0.0f64);
    for (i, name) in ["chelsea.png", "coffee.png", "rocket.jpg"].iter().enumerate() {
        let x = Tensor::<4>::from_data(TensorData::new(square_planar(&photo(name), side), [1, 3, side as usize, side as usize]), &device);
        let z: Vec<f32> = encoder.forward(x).into_data().try_to_vec().unwrap();
        let hw = z.len() / 32;
        let z: Vec<f32> = z.iter().enumerate().map(|(j, v)| (v - norm.mean[j / hw]) / norm.std[j / hw]).collect();
        let z0: Vec<f32> = (0..frames).flat_map(|_| z.iter().copied()).collect();
        let shape = [1, frames, 32, 16, 16];
        for (j, tv) in [0.25f32, 0.5, 0.75].into_iter().enumerate() {
            let e = noise::gaussian_vec(i as u64, Stream::Candidate { step: j as u16, index: 0 }, z0.len());
            let target: Vec<f32> = e.iter().zip(&z0).map(|(e, z)| e - z).collect();
            let xt: Vec<f32> = e.iter().zip(&z0).map(|(e, z)| (1.0 - tv) * z + tv * e).collect();
            let v = base.denoiser.forward(
                Tensor::from_data(TensorData::new(xt, shape), &device),
                Tensor::from_data(TensorData::new(vec![tv], [1]), &device),
                None,
            );
            let v: Vec<f32> = v.into_data().try_to_vec().unwrap();
            let mse = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum::<f64>() / a.len() as f64;
            model_loss += mse(&v, &target);
            zero_loss += mse(&vec![0.0; target.len()], &target);
        }
    }
    println!("flow-matching loss on real photos: default model {:.4}, zero velocity {:.4}", model_loss / 9.0, zero_loss / 9.0);
    assert!(model_loss < 0.75 * zero_loss, "the default model has not learned a prior: {model_loss} vs {zero_loss}");
}
