//! burn's restorer against the PyTorch trainer's (`train/lora_train/restorer.py`): the
//! committed golden file holds a small configuration's weights, inputs and the outputs
//! PyTorch computed in float64 (`python -m lora_train.restorer_golden`), with and
//! without a clip's modulation (FiLM, or a vector through the index map into LoRA). `train/tests/test_restorer.py` checks the Python side.
#![cfg(feature = "model")]

use burn::tensor::{Device, Tensor, TensorData};
use lora_video_shared::model::lora::LoraMap;
use lora_video_shared::model::restorer::{Restorer, RestorerConfig};
use lora_video_shared::model::weights::Weights;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../train/golden/restorer.safetensors");

/// The golden file's config, tensors and clip LoRA (k, rank, hash_seed).
fn read() -> (RestorerConfig, Weights, serde_json::Value) {
    let (w, meta) = Weights::from_safetensors(&std::fs::read(GOLDEN).expect("golden file")).expect("safetensors");
    (serde_json::from_str(&meta["restorer"]).expect("config json"), w, serde_json::from_str(&meta["lora"]).expect("lora json"))
}

fn tensor<const D: usize>(w: &Weights, name: &str, device: &Device) -> Tensor<D> {
    let (_, shape, values) = w.iter().find(|(n, _, _)| *n == name).unwrap_or_else(|| panic!("golden file lacks {name}"));
    Tensor::from_data(TensorData::new(values.to_vec(), <[usize; D]>::try_from(shape).expect("rank")), device)
}

#[test]
fn burn_forward_matches_pytorch() {
    let device = Device::flex();
    let (config, w, lora) = read();
    let model = Restorer::load(&config, &w, &device).expect("weights");
    let field = |n: &str| lora[n].as_u64().expect("lora field");
    let map = LoraMap::new(&config.lora_slots(field("rank") as usize), field("k") as u32, field("hash_seed"), &device).expect("index map");
    let adapted = model.adapted(&map.factors(tensor(&w, "input.theta", &device), 1.0));
    let x: Tensor<4> = tensor(&w, "input.x", &device);
    let nb: Tensor<5> = tensor(&w, "input.neighbours", &device);
    let cond: Tensor<2> = tensor(&w, "input.cond", &device);
    let film: Tensor<4> = tensor(&w, "input.film", &device);
    let input: Vec<f32> = x.clone().into_data().try_to_vec().unwrap();
    for (name, m, f) in [("output.y", &model, None), ("output.y_film", &model, Some(film)), ("output.y_lora", &adapted, None)] {
        let got: Vec<f32> = m.forward(x.clone(), nb.clone(), cond.clone(), f).into_data().try_to_vec().unwrap();
        let want: Vec<f32> = tensor::<4>(&w, name, &device).into_data().try_to_vec().unwrap();
        assert_eq!(got.len(), want.len());
        let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        let moved = want.iter().zip(&input).map(|(a, b)| (a - b).abs()).sum::<f32>() / want.len() as f32;
        assert!(moved > 0.05, "{name}: the golden output must differ from its input");
        assert!(worst < 1e-4, "{name}: burn and PyTorch differ by {worst}");
    }
}

#[test]
fn a_new_restorer_is_the_identity() {
    let device = Device::flex();
    let model = RestorerConfig { width: 8, depth: 2, ..RestorerConfig::base() }.init(&device);
    let x = Tensor::<4>::random([1, 3, 8, 8], burn::tensor::Distribution::Uniform(0.0, 1.0), &device);
    let nb = Tensor::<5>::zeros([1, 2, 3, 8, 8], &device);
    let y = model.forward(x.clone(), nb, Tensor::zeros([1, 6], &device), None);
    let (a, b): (Vec<f32>, Vec<f32>) = (x.into_data().try_to_vec().unwrap(), y.into_data().try_to_vec().unwrap());
    assert_eq!(a, b);
}
