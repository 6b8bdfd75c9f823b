//! The deterministic sampler: Euler steps of the flow ODE dx/dt = v(x, t) from t = 1
//! (noise) to t = 0 (data), with x_t = (1 - t) z0 + t e and v = e - z0. The initial
//! noise comes from the shared PRNG, so every decoder starts from the same numbers.

use burn::tensor::{Device, Tensor, TensorData};

use super::denoiser::Denoiser;
use crate::noise::{self, Stream};

/// Times t_0 = 1 > t_1 > ... > t_steps = 0: s = 1 - i/steps, t = shift s / (1 + (shift - 1) s).
/// A shift above 1 spends more steps at high noise.
pub fn schedule(steps: usize, shift: f32) -> Vec<f32> {
    let shift = f64::from(shift);
    (0..=steps)
        .map(|i| {
            let s = 1.0 - i as f64 / steps as f64;
            (shift * s / (1.0 + (shift - 1.0) * s)) as f32
        })
        .collect()
}

/// The initial noise x_1 of shape [B, T, C, h, w]: elements 0.. of stream `Initial`
/// under `seed`, in row-major order.
pub fn initial_noise(shape: [usize; 5], seed: u64, device: &Device) -> Tensor<5> {
    let n = shape.iter().product();
    Tensor::from_data(TensorData::new(noise::gaussian_vec(seed, Stream::Initial, n), shape), device)
}

/// Runs `steps` Euler steps from the seeded noise; `on_step(i)` after each step.
pub fn sample(
    model: &Denoiser,
    lora: Option<&[Tensor<2>]>,
    shape: [usize; 5],
    steps: usize,
    shift: f32,
    seed: u64,
    device: &Device,
    mut on_step: impl FnMut(usize),
) -> Tensor<5> {
    let ts = schedule(steps, shift);
    let mut x = initial_noise(shape, seed, device);
    for i in 0..steps {
        let t = Tensor::<1>::from_data(TensorData::new(vec![ts[i]; shape[0]], [shape[0]]), device);
        let v = model.forward(x.clone(), t, lora);
        x = x + v.mul_scalar(ts[i + 1] - ts[i]);
        on_step(i);
    }
    x
}
