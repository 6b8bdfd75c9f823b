//! pack-base: the .lvm from a denoiser file and TAEF2 is reproducible, and what loads
//! from it is exactly the dequantised int8 model.
#![cfg(feature = "pytorch")]

mod common;

use burn::nn::Initializer;
use burn::tensor::{Device, Tensor, TensorData};
use common::data::taef2_dir;
use lora_video_shared::model::base::{BaseModel, denoiser_package, pack_base};
use lora_video_shared::model::denoiser::DenoiserConfig;
use lora_video_shared::model::sampler::initial_noise;
use lora_video_shared::model::taef2;
use lora_video_shared::package::{LatentNorm, Package, SamplerDefaults};

#[test]
fn lvm_is_reproducible_and_loads_the_int8_model() {
    let device = Device::flex();
    let config = DenoiserConfig::tiny();
    let model = config.init_with(&device, Initializer::Normal { mean: 0.0, std: 0.05 });
    let latent = LatentNorm { mean: vec![0.1; 32], std: vec![1.7; 32] };
    let file = denoiser_package("tiny", &config, &model.to_weights(), latent, SamplerDefaults { steps: 8, shift: 3.0 });
    let file = Package::from_bytes(&file.to_bytes().unwrap()).unwrap();
    let (encoder, decoder) = taef2::load_checkpoints(&taef2_dir()).unwrap();

    let a = pack_base(&file, &decoder, &encoder).unwrap().to_bytes().unwrap();
    let b = pack_base(&file, &decoder, &encoder).unwrap().to_bytes().unwrap();
    assert_eq!(a, b, "pack-base must be byte-for-byte reproducible");
    println!("tiny .lvm: {} bytes", a.len());

    let base = BaseModel::from_bytes(&a, &device).unwrap();
    assert_eq!(base.config, config);
    let x = initial_noise([1, 2, 32, 8, 8], 1, &device);
    let t = Tensor::<1>::from_data(TensorData::new(vec![0.5f32], [1]), &device);
    let f16: Vec<f32> = model.forward(x.clone(), t.clone(), None).into_data().try_to_vec().unwrap();
    let int8: Vec<f32> = base.denoiser.forward(x, t, None).into_data().try_to_vec().unwrap();
    let rms = |v: &[f32]| (v.iter().map(|x| x * x).sum::<f32>() / v.len() as f32).sqrt();
    let err: Vec<f32> = f16.iter().zip(&int8).map(|(a, b)| a - b).collect();
    assert!(rms(&err) < 0.05 * rms(&f16), "int8 error {} vs signal {}", rms(&err), rms(&f16));
    assert_ne!(f16, int8, "the package holds int8 weights, not the f16 ones");
}
