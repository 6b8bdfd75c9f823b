//! burn's denoiser against the PyTorch trainer's mirror (`train/lora_train/model.py`):
//! the committed golden file holds a small configuration's weights, inputs and the
//! outputs PyTorch computed in float64 (`python -m lora_train.golden`). The Python side
//! checks its mirror against the same file (`train/tests/test_parity.py`).
#![cfg(feature = "model")]

use burn::tensor::{Device, Tensor, TensorData};
use lora_video_shared::model::base::Architecture;
use lora_video_shared::model::denoiser::Denoiser;
use lora_video_shared::model::weights::Weights;
use lora_video_shared::package::Package;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../train/golden/parity.safetensors");

fn tensor<const D: usize>(w: &Weights, name: &str, device: &Device) -> Tensor<D> {
    let (_, shape, values) = w.iter().find(|(n, _, _)| *n == name).unwrap_or_else(|| panic!("golden file lacks {name}"));
    let shape: [usize; D] = shape.try_into().expect("rank");
    Tensor::from_data(TensorData::new(values.to_vec(), shape), device)
}

#[test]
fn burn_forward_matches_pytorch() {
    let device = Device::flex();
    let package = Package::from_bytes(&std::fs::read(GOLDEN).expect("golden file")).expect("package");
    let arch: Architecture = serde_json::from_value(package.manifest.architecture.clone()).expect("architecture");
    let w = Weights::from_package(&package, "");
    let model = Denoiser::load(&arch.denoiser, &w, &device).expect("weights");
    let x: Tensor<5> = tensor(&w, "input.x", &device);
    let t: Tensor<1> = tensor(&w, "input.t", &device);
    let cond: Tensor<5> = tensor(&w, "input.cond", &device);
    for (name, c) in [("output.v", None), ("output.v_cond", Some(&cond))] {
        let got: Vec<f32> = model.forward_cond(x.clone(), t.clone(), c, None).into_data().try_to_vec().unwrap();
        let want: Vec<f32> = tensor::<5>(&w, name, &device).into_data().try_to_vec().unwrap();
        assert_eq!(got.len(), want.len());
        let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        let scale = want.iter().map(|v| v.abs()).sum::<f32>() / want.len() as f32;
        assert!(scale > 0.1, "{name}: a golden output must not be trivial");
        assert!(worst < 1e-4, "{name}: burn and PyTorch differ by {worst}");
    }
}
