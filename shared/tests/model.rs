//! The denoiser, its hashed LoRA and the sampler, on the tiny test configuration.
#![cfg(feature = "model")]

use burn::nn::Initializer;
use burn::tensor::{Device, Tensor, TensorData};
use lora_video_shared::model::denoiser::{Denoiser, DenoiserConfig};
use lora_video_shared::model::lora::LoraMap;
use lora_video_shared::model::sampler::{initial_noise, sample, schedule};
use lora_video_shared::noise::{self, Stream};

const K: u32 = 256;

fn model(device: &Device) -> (DenoiserConfig, Denoiser) {
    let config = DenoiserConfig::tiny();
    let model = config.init_with(device, Initializer::Normal { mean: 0.0, std: 0.05 });
    (config, model)
}

fn theta(seed: u64, scale: f32, device: &Device) -> Tensor<1> {
    let v: Vec<f32> = noise::gaussian_vec(seed, Stream::Initial, K as usize).iter().map(|z| z * scale).collect();
    Tensor::from_data(TensorData::new(v, [K as usize]), device)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec().unwrap()
}

fn input(shape: [usize; 5], device: &Device) -> (Tensor<5>, Tensor<1>) {
    let t = Tensor::from_data(TensorData::new(vec![0.7f32; shape[0]], [shape[0]]), device);
    (initial_noise(shape, 3, device), t)
}

#[test]
fn theta_zero_is_exactly_the_base_model() {
    let device = Device::flex();
    let (config, model) = model(&device);
    let map = LoraMap::new(&config.lora_slots(1), K, 9, &device).unwrap();
    let (x, t) = input([1, 3, 32, 8, 8], &device);
    let base = values(model.forward(x.clone(), t.clone(), None));
    let zero = values(model.forward(x.clone(), t.clone(), Some(&map.factors(theta(1, 0.0, &device), 1.0))));
    assert_eq!(base, zero, "theta = 0 must give the base model bit for bit");
    let adapted = values(model.forward(x, t, Some(&map.factors(theta(1, 0.5, &device), 1.0))));
    let diff = base.iter().zip(&adapted).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(diff > 1e-3, "a non-zero theta must change the output (max diff {diff})");
}

#[test]
fn strength_zero_is_the_base_model_and_slots_follow_the_config() {
    let device = Device::flex();
    let (config, model) = model(&device);
    assert_eq!(config.lora_slots(1).len(), config.depth * 2 * 4 * 2);
    let entries = |r| config.lora_slots(r).iter().map(|s| s.len()).sum::<u64>();
    assert_eq!((entries(1), entries(3)), (2 * 16 * 48, 3 * 2 * 16 * 48));
    let map = LoraMap::new(&config.lora_slots(1), K, 9, &device).unwrap();
    let (x, t) = input([1, 2, 32, 8, 8], &device);
    let base = values(model.forward(x.clone(), t.clone(), None));
    let off = values(model.forward(x, t, Some(&map.factors(theta(2, 0.5, &device), 0.0))));
    assert_eq!(base, off);
}

#[test]
fn any_size_and_length() {
    let device = Device::flex();
    let (_, model) = model(&device);
    for shape in [[1, 1, 32, 4, 4], [2, 3, 32, 8, 12], [1, 5, 32, 16, 8]] {
        let (x, t) = input(shape, &device);
        let v = model.forward(x, t, None);
        assert_eq!(v.dims(), shape);
        assert!(values(v).iter().all(|x| x.is_finite()));
    }
}

#[test]
fn gradients_reach_theta() {
    let device = Device::flex().autodiff();
    let (config, model) = model(&device);
    let map = LoraMap::new(&config.lora_slots(1), K, 9, &device).unwrap();
    let th = theta(4, 0.1, &device).require_grad();
    let (x, t) = input([1, 2, 32, 8, 8], &device);
    let target = initial_noise([1, 2, 32, 8, 8], 77, &device);
    let v = model.forward(x, t, Some(&map.factors(th.clone(), 1.0)));
    let loss = (v - target).powi_scalar(2).mean();
    let grads = loss.backward();
    let g = values(th.grad(&grads).expect("theta has a gradient"));
    assert_eq!(g.len(), K as usize);
    assert!(g.iter().all(|x| x.is_finite()));
    assert!(g.iter().filter(|x| x.abs() > 0.0).count() > K as usize / 2, "most theta entries get a gradient");
}

#[test]
fn schedule_runs_from_one_to_zero_and_shift_holds_high_noise() {
    let plain = schedule(8, 1.0);
    assert_eq!(plain.len(), 9);
    assert_eq!((plain[0], plain[8]), (1.0, 0.0));
    assert!((plain[4] - 0.5).abs() < 1e-6);
    let shifted = schedule(8, 3.0);
    assert_eq!((shifted[0], shifted[8]), (1.0, 0.0));
    assert!(shifted.windows(2).all(|w| w[0] > w[1]));
    assert!(shifted[4] > 0.7, "shift 3 keeps t high longer: {}", shifted[4]);
}

#[test]
fn sampler_is_deterministic_and_uses_the_shared_noise() {
    let device = Device::flex();
    let (_, model) = model(&device);
    let shape = [1, 2, 32, 8, 8];
    let n: usize = shape.iter().product();
    assert_eq!(values(initial_noise(shape, 5, &device)), noise::gaussian_vec(5, Stream::Initial, n));
    let mut steps = 0;
    let a = values(sample(&model, None, None, shape, 4, 3.0, 5, &device, |_| steps += 1));
    assert_eq!(steps, 4);
    let b = values(sample(&model, None, None, shape, 4, 3.0, 5, &device, |_| {}));
    assert_eq!(a, b, "same seed, same bits");
    let c = values(sample(&model, None, None, shape, 4, 3.0, 6, &device, |_| {}));
    assert_ne!(a, c, "another seed, another sample");
}

#[test]
fn weights_round_trip_and_load_checks_shapes() {
    let device = Device::flex();
    let (config, model) = model(&device);
    let w = model.to_weights();
    assert_eq!(w.len(), (5 + config.depth * 11) * 2);
    let loaded = Denoiser::load(&config, &w, &device).unwrap();
    let (x, t) = input([1, 2, 32, 8, 8], &device);
    assert_eq!(values(model.forward(x.clone(), t.clone(), None)), values(loaded.forward(x, t, None)));
    let wider = DenoiserConfig { dim: 60, ..config };
    assert!(Denoiser::load(&wider, &w, &device).is_err());
}

#[test]
fn a_sketch_model_without_a_sketch_is_its_plain_model_and_reads_the_sketch() {
    let device = Device::flex();
    let (config, plain) = model(&device);
    // The plain model's weights with zero rows for the sketch channels (a warm start).
    let cond = DenoiserConfig { cond_channels: lora_video_shared::model::denoiser::SKETCH_CHANNELS, ..config.clone() };
    let mut w = plain.to_weights();
    let rows = (cond.latent_channels + cond.cond_channels) * cond.patch * cond.patch;
    let (shape, v) = w.iter().find(|(n, _, _)| *n == "patch_in.weight").map(|(_, s, v)| (s.to_vec(), v.to_vec())).unwrap();
    let mut padded = v;
    padded.resize(rows * shape[1], 0.0);
    w.insert("patch_in.weight", vec![rows, shape[1]], padded.clone());
    let sketched = Denoiser::load(&cond, &w, &device).unwrap();
    let (x, t) = input([1, 2, 32, 8, 8], &device);
    let base = values(plain.forward(x.clone(), t.clone(), None));
    assert_eq!(values(sketched.forward(x.clone(), t.clone(), None)), base, "no sketch: the plain model, bit for bit");
    let k = cond.cond_channels;
    let c = Tensor::<5>::from_data(TensorData::new(noise::gaussian_vec(4, Stream::Initial, 2 * k * 64), [1, 2, k, 8, 8]), &device);
    // Zero rows ignore the sketch; trained (non-zero) rows read it.
    assert_eq!(values(sketched.forward_cond(x.clone(), t.clone(), Some(&c), None)), base);
    let n = padded.len();
    padded[n - 1] = 0.5;
    padded[n - shape[1] * 3] = -0.5;
    w.insert("patch_in.weight", vec![rows, shape[1]], padded);
    let trained = Denoiser::load(&cond, &w, &device).unwrap();
    let with = values(trained.forward_cond(x.clone(), t.clone(), Some(&c), None));
    assert_eq!(values(trained.forward(x, t, None)), base, "no sketch is all zeros: still the plain model");
    assert!(with.iter().zip(&base).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max) > 1e-4);
}
