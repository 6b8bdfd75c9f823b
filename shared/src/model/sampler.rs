//! The sampler: Euler steps of the flow ODE dx/dt = v(x, t) from t = 1 (noise) to t = 0
//! (data), with x_t = (1 - t) z0 + t e and v = e - z0. The initial noise comes from the
//! shared PRNG, so every decoder starts from the same numbers. Steps a clip's scaling
//! section names are stochastic instead (`sde_step`): their noise is candidate `choice`
//! of that step, drawn from the PRNG's stream (step, choice), the one the encoder chose.

use burn::tensor::{Device, Tensor, TensorData};

use super::denoiser::Denoiser;
use crate::format::Scaling;
use crate::noise::{self, Stream};

/// Times t_0 = 1 > t_1 > ... > t_steps = 0: s = 1 - i/steps, t = shift s / (1 + (shift - 1) s).
/// A shift above 1 spends more steps at high noise.
pub fn schedule(steps: usize, shift: f32) -> Vec<f32> {
    schedule_from(steps, shift, 1.0)
}

/// The schedule from t_0 = t0 down to 0: the same curve, s = s0 (1 - i/steps) with s0 the
/// s whose t is t0, s0 = t0 / (shift - (shift - 1) t0).
pub fn schedule_from(steps: usize, shift: f32, t0: f32) -> Vec<f32> {
    let (shift, t0) = (f64::from(shift), f64::from(t0));
    let s0 = t0 / (shift - (shift - 1.0) * t0);
    (0..=steps)
        .map(|i| {
            let s = s0 * (1.0 - i as f64 / steps as f64);
            (shift * s / (1.0 + (shift - 1.0) * s)) as f32
        })
        .collect()
}

/// What a clip's sketch gives the sampler: the denoiser's condition [B, T, cond, h, w],
/// the sketch's latents [B, T, C, h, w] (model space), and the start time t0: the decode
/// leaves from x_t0 = (1 - t0) start + t0 e instead of pure noise.
#[derive(Clone, Debug)]
pub struct SketchInput {
    pub cond: Tensor<5>,
    pub start: Tensor<5>,
    pub t0: f32,
}

impl SketchInput {
    /// The schedule of a sampler with this input (`None`: from t = 1).
    pub fn schedule(input: Option<&Self>, steps: usize, shift: f32) -> Vec<f32> {
        schedule_from(steps, shift, input.map_or(1.0, |s| s.t0))
    }
}

/// The initial noise x_1 of shape [B, T, C, h, w]: elements 0.. of stream `Initial`
/// under `seed`, in row-major order.
pub fn initial_noise(shape: [usize; 5], seed: u64, device: &Device) -> Tensor<5> {
    let n = shape.iter().product();
    Tensor::from_data(TensorData::new(noise::gaussian_vec(seed, Stream::Initial, n), shape), device)
}

/// Runs `steps` Euler steps from the seeded noise, or from the sketch's latents noised to
/// its t0 and conditioned on it where given; `on_step(i)` after each step.
#[allow(clippy::too_many_arguments)]
pub fn sample(
    model: &Denoiser,
    lora: Option<&[Tensor<2>]>,
    sketch: Option<&SketchInput>,
    shape: [usize; 5],
    steps: usize,
    shift: f32,
    seed: u64,
    device: &Device,
    on_step: impl FnMut(usize),
) -> Tensor<5> {
    sample_scaled(model, lora, sketch, shape, steps, shift, seed, None, device, on_step)
}

/// Noise fraction s of a stochastic step from t down to t_next: min(1, eta sqrt(t - t_next)).
pub fn noise_fraction(eta: f32, t: f32, t_next: f32) -> f32 {
    (eta * (t - t_next).max(0.0).sqrt()).min(1.0)
}

/// The model's estimates at (x, t) with velocity v: the clip x0 = x - t v and the noise
/// e = x + (1 - t) v.
pub fn estimates(x: &Tensor<5>, v: &Tensor<5>, t: f32) -> (Tensor<5>, Tensor<5>) {
    (x.clone() - v.clone().mul_scalar(t), x.clone() + v.clone().mul_scalar(1.0 - t))
}

/// The deterministic part of a stochastic step to t_next with noise fraction s:
/// (1 - t_next) x0 + t_next sqrt(1 - s^2) e. The step adds t_next s eps to it.
pub fn sde_mean(x0: Tensor<5>, e: Tensor<5>, t_next: f32, s: f32) -> Tensor<5> {
    x0.mul_scalar(1.0 - t_next) + e.mul_scalar(t_next * (1.0 - s * s).sqrt())
}

/// Candidate `index` of sampler step `step`: stream (step, index) under `seed`, elements
/// 0.. in row-major order of `shape`. The decoder draws only the chosen one.
pub fn candidate_noise(shape: [usize; 5], seed: u64, step: usize, index: u32, device: &Device) -> Tensor<5> {
    let n = shape.iter().product();
    let stream = Stream::Candidate { step: step as u16, index };
    Tensor::from_data(TensorData::new(noise::gaussian_vec(seed, stream, n), shape), device)
}

/// `sample`, replaying `scaling`: each scaled step is the stochastic step with its stored
/// candidate's noise; the others are Euler steps.
#[allow(clippy::too_many_arguments)]
pub fn sample_scaled(
    model: &Denoiser,
    lora: Option<&[Tensor<2>]>,
    sketch: Option<&SketchInput>,
    shape: [usize; 5],
    steps: usize,
    shift: f32,
    seed: u64,
    scaling: Option<&Scaling>,
    device: &Device,
    on_step: impl FnMut(usize),
) -> Tensor<5> {
    let stored = |i: usize| scaling.and_then(|sc| sc.steps.iter().find(|s| usize::from(s.step) == i)).map(|s| u32::from(s.choice));
    let eta = scaling.map_or(0.0, |sc| sc.eta);
    sample_choosing(model, lora, sketch, shape, steps, shift, seed, eta, |i| stored(i).is_some(), |i, _, _| stored(i).unwrap_or(0), device, on_step)
}

/// The sampler loop every scaled decode and the encoder's search share. Steps for which
/// `scaled(i)` holds are stochastic: with the model's clip estimate x0 and the noise
/// scale c = t' s in hand, `choose(i, x0, c)` names the candidate (the decoder: the stored
/// one; the encoder: its pick). The others are Euler steps. (With s = 0 the two agree:
/// (1 - t') (x - t v) + t' (x + (1 - t) v) = x + (t' - t) v.)
#[allow(clippy::too_many_arguments)]
pub fn sample_choosing(
    model: &Denoiser,
    lora: Option<&[Tensor<2>]>,
    sketch: Option<&SketchInput>,
    shape: [usize; 5],
    steps: usize,
    shift: f32,
    seed: u64,
    eta: f32,
    scaled: impl Fn(usize) -> bool,
    mut choose: impl FnMut(usize, &Tensor<5>, f32) -> u32,
    device: &Device,
    mut on_step: impl FnMut(usize),
) -> Tensor<5> {
    let ts = SketchInput::schedule(sketch, steps, shift);
    let noise = initial_noise(shape, seed, device);
    let mut x = match sketch {
        Some(s) => s.start.clone().mul_scalar(1.0 - s.t0) + noise.mul_scalar(s.t0),
        None => noise,
    };
    let cond = sketch.map(|s| &s.cond);
    for i in 0..steps {
        let t = Tensor::<1>::from_data(TensorData::new(vec![ts[i]; shape[0]], [shape[0]]), device);
        let v = model.forward_cond(x.clone(), t, cond, lora);
        x = if scaled(i) {
            let s = noise_fraction(eta, ts[i], ts[i + 1]);
            let c = ts[i + 1] * s;
            let (x0, e) = estimates(&x, &v, ts[i]);
            let j = choose(i, &x0, c);
            sde_mean(x0, e, ts[i + 1], s) + candidate_noise(shape, seed, i, j, device).mul_scalar(c)
        } else {
            x + v.mul_scalar(ts[i + 1] - ts[i])
        };
        on_step(i);
    }
    x
}
