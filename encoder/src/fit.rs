//! Fitting a clip's vector theta to its latents, in the paper's two stages.
//!
//! Stage 1 (continuous): flow-matching velocity MSE, || v(x_t, t; theta) - (e - z0) ||^2
//! with x_t = (1 - t) z0 + t e, over theta alone (the base model is frozen).
//! Stage 2 (rate-distortion): the same distortion on theta^ = s * round(theta / s)
//! (straight-through rounding), with a learned step s = softplus(rho) and a learned
//! Laplace prior of scale b, loss = distortion + lambda * bits.
//!
//! The decoder starts from one fixed noise, the header's seed. By default e is that
//! noise (`FitNoise::Decode`): the fit then teaches the model the straight path from the
//! decoder's starting point to the clip, which is the path the Euler sampler follows.
//! `FitNoise::Fresh` draws e anew each step, as in training a prior.

use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::softplus;
use burn::tensor::{Device, Tensor, TensorData};
use lora_video_shared::model::denoiser::Denoiser;
use lora_video_shared::model::lora::LoraMap;
use lora_video_shared::model::sampler::{self, SketchInput};
use lora_video_shared::noise::{self, Stream};

/// Which noise e the flow-matching loss pairs with the clip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum FitNoise {
    /// The decoder's own starting noise (the header's seed).
    Decode,
    /// Fresh noise every step.
    Fresh,
}

/// How to fit.
#[derive(Clone, Debug)]
pub struct FitConfig {
    pub stage1: usize,
    pub stage2: usize,
    /// Times t per step (the clip is repeated along the batch).
    pub batch: usize,
    pub lr: f64,
    /// Weight of bits in stage 2 (distortion is a mean over latent elements).
    pub lambda: f64,
    pub noise: FitNoise,
    /// Sampler seed (the decoder's noise) and encoder seed (theta's start, fresh noise, t).
    pub sampler_seed: u64,
    pub seed: u64,
    /// Standard deviation of theta's random start (at theta = 0 the gradient is zero).
    pub init_std: f32,
}

/// Where a fit ended.
#[derive(Clone, Debug)]
pub struct Fitted {
    pub theta: Vec<f32>,
    /// The learned quantiser step (the initial one if stage 2 did not run).
    pub step: f32,
    /// Mean distortion over the last steps of each stage.
    pub loss1: f64,
    pub loss2: Option<f64>,
    /// Estimated bits at the end of stage 2.
    pub bits: Option<f64>,
}

/// The trained values: theta, the step's rho, the prior's log scale (in steps).
#[derive(Module, Debug)]
struct Adapter {
    theta: Param<Tensor<1>>,
    rho: Param<Tensor<1>>,
    log_b: Param<Tensor<1>>,
}

/// One progress report: stage (1 or 2), step within it, loss, estimated bits.
pub struct Progress {
    pub stage: u8,
    pub step: usize,
    pub loss: f64,
    pub bits: Option<f64>,
}

fn scalar(t: Tensor<1>) -> f64 {
    f64::from(t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32")[0])
}

fn inverse_softplus(s: f32) -> f32 {
    (s.exp() - 1.0).max(1e-30).ln()
}

/// Bits of the symbols `y` (already rounded, with straight-through gradients) under a
/// zero-mean discretised Laplace of scale `b` (in steps): -log2 P(y).
fn laplace_bits(y: Tensor<1>, b: Tensor<1>) -> Tensor<1> {
    let ln2 = std::f32::consts::LN_2;
    let a = y.abs();
    let zero = a.clone().detach().lower_elem(0.5).float();
    let inv_b = b.recip();
    // P(0) = 1 - exp(-1/(2b)); P(a >= 1) = exp(-(a - 1/2)/b) (1 - exp(-1/b)) / 2.
    let p0 = inv_b.clone().mul_scalar(-0.5).exp().neg().add_scalar(1.0);
    let tail = inv_b.clone().neg().exp().neg().add_scalar(1.0);

    let bits0 = p0.log().div_scalar(-ln2);
    let bits_a = (a.sub_scalar(0.5) * inv_b).div_scalar(ln2) + tail.log().div_scalar(-ln2).add_scalar(1.0);
    (zero.clone() * bits0 + zero.neg().add_scalar(1.0) * bits_a).sum()
}

/// One clip's fitting problem: the frozen model, the index map and the clip's latents.
pub struct Problem<'a> {
    model: Denoiser,
    map: &'a LoraMap,
    z0b: Tensor<5>,
    /// The decoder's sketch condition, repeated along the batch.
    cond: Option<Tensor<5>>,
    /// With a sketch: the start time t0 and the shift of the noise end, (1 - t0)/t0 (z_s - z0).
    t0: f32,
    noise_shift: Option<Tensor<5>>,
    decode_noise: Tensor<5>,
    shape: [usize; 5],
    cfg: &'a FitConfig,
    device: Device,
}

impl<'a> Problem<'a> {
    /// `z0` [1, T, C, h, w] (model space) on an autodiff device; `sampler_shape` its shape;
    /// `sketch` what the decoder's sampler gets from the clip's sketch (`render::condition`).
    ///
    /// With a sketch the decode starts at x_t0 = (1 - t0) z_s + t0 e; the straight path
    /// from the clip through that point ends at e' = e + (1 - t0)/t0 (z_s - z0), so the
    /// fit pairs z0 with e' at times in (0, t0).
    pub fn new(model: &Denoiser, map: &'a LoraMap, z0: &Tensor<5>, sketch: Option<&SketchInput>, sampler_shape: [usize; 5], cfg: &'a FitConfig) -> Self {
        let device: Device = z0.device();
        let [_, t_len, c, h, w] = sampler_shape;
        let on = |t: &Tensor<5>| Tensor::<5>::from_data(t.clone().into_data(), &device).repeat_dim(0, cfg.batch);
        let t0 = sketch.map_or(1.0, |s| s.t0);
        Self {
            model: model.clone().no_grad(),
            map,
            z0b: z0.clone().repeat_dim(0, cfg.batch),
            cond: sketch.map(|s| on(&s.cond)),
            t0,
            noise_shift: sketch.map(|s| (on(&s.start) - z0.clone().repeat_dim(0, cfg.batch)).mul_scalar((1.0 - t0) / t0)),
            decode_noise: sampler::initial_noise(sampler_shape, cfg.sampler_seed, &device).repeat_dim(0, cfg.batch),
            shape: [cfg.batch, t_len, c, h, w],
            cfg,
            device,
        }
    }
}

fn one(device: &Device, v: f32) -> Tensor<1> {
    Tensor::<1>::from_data(TensorData::new(vec![v], [1]), device)
}

/// What the two stages minimise: a clip's distortion as a function of theta (on an
/// autodiff device), for the diffusion model (`Problem`) or the restorer
/// (`restore_fit`).
pub trait Objective {
    /// The distortion of theta (continuous or quantised) at fitting step `step`.
    fn distortion(&self, theta: Tensor<1>, step: usize) -> Tensor<1>;
    /// theta's length.
    fn k(&self) -> usize;
    fn device(&self) -> Device;
    fn config(&self) -> &FitConfig;

    /// Stage 1: `cfg.stage1` steps of the continuous fit from a small random theta.
    /// `on_theta(step, theta)` sees theta before the steps listed in `at` (and at the end
    /// if `cfg.stage1` is listed). Returns theta and the mean loss of the last steps.
    fn continuous(&self, mut on_progress: impl FnMut(Progress), at: &[usize], mut on_theta: impl FnMut(usize, &[f32])) -> (Vec<f32>, f64) {
        let cfg = self.config();
        let k = self.k();
        let theta0: Vec<f32> = noise::gaussian_vec(cfg.seed ^ 0x7e7a, Stream::Initial, k).iter().map(|v| v * cfg.init_std).collect();
        let mut adapter = Adapter {
            theta: Param::from_tensor(Tensor::from_data(TensorData::new(theta0, [k]), &self.device())),
            rho: Param::from_tensor(one(&self.device(), 0.0)),
            log_b: Param::from_tensor(one(&self.device(), 0.0)),
        };
        let mut optim = AdamConfig::new().init();
        let mut recent = Vec::new();
        let values = |a: &Adapter| a.theta.val().into_data().try_to_vec::<f32>().expect("f32");
        for step in 0..cfg.stage1 {
            if at.contains(&step) {
                on_theta(step, &values(&adapter));
            }
            let loss = self.distortion(adapter.theta.val(), step);
            let value = scalar(loss.clone());
            recent.push(value);
            on_progress(Progress { stage: 1, step, loss: value, bits: None });
            let grads = GradientsParams::from_grads(loss.backward(), &adapter);
            let lr = cfg.lr * cosine(step, cfg.stage1);
            adapter = optim.step(lr, adapter, grads);
        }
        let theta = values(&adapter);
        if at.contains(&cfg.stage1) {
            on_theta(cfg.stage1, &theta);
        }
        (theta, tail(&recent))
    }

    /// Stage 2: `cfg.stage2` steps of rate-distortion fine-tuning of `theta` with
    /// straight-through rounding, from `init_step` (or half theta's mean magnitude).
    fn fine_tune(&self, theta: Vec<f32>, loss1: f64, init_step: Option<f32>, mut on_progress: impl FnMut(Progress)) -> Fitted {
        let cfg = self.config();
        let k = theta.len();
        let mean_abs = theta.iter().map(|v| v.abs()).sum::<f32>() / k.max(1) as f32;
        let step0 = init_step.unwrap_or((mean_abs / 2.0).max(1e-6));
        if cfg.stage2 == 0 {
            return Fitted { theta, step: step0, loss1, loss2: None, bits: None };
        }
        let mut adapter = Adapter {
            theta: Param::from_tensor(Tensor::from_data(TensorData::new(theta, [k]), &self.device())),
            rho: Param::from_tensor(one(&self.device(), inverse_softplus(step0))),
            log_b: Param::from_tensor(one(&self.device(), (mean_abs / step0).max(0.1).ln())),
        };
        let mut optim = AdamConfig::new().init();
        let (mut recent, mut bits) = (Vec::new(), 0.0);
        for step in 0..cfg.stage2 {
            let s = softplus(adapter.rho.val(), 1.0);
            let y = adapter.theta.val() / s.clone();
            let y_hat = y.clone() + (y.clone().round() - y).detach();
            let rate = laplace_bits(y_hat.clone(), adapter.log_b.val().exp());
            let d = self.distortion(y_hat * s, cfg.stage1 + step);
            let loss = d.clone() + rate.clone().mul_scalar(cfg.lambda);
            let dv = scalar(d);
            bits = scalar(rate);
            recent.push(dv);
            on_progress(Progress { stage: 2, step, loss: dv, bits: Some(bits) });
            let grads = GradientsParams::from_grads(loss.backward(), &adapter);
            let lr = cfg.lr * 0.3 * cosine(step, cfg.stage2);
            adapter = optim.step(lr, adapter, grads);
        }
        let theta = adapter.theta.val().into_data().try_to_vec::<f32>().expect("f32");
        let step = scalar(softplus(adapter.rho.val(), 1.0)) as f32;
        Fitted { theta, step, loss1, loss2: Some(tail(&recent)), bits: Some(bits) }
    }

    /// Both stages: `cfg.stage1` continuous steps, then `cfg.stage2` rate-distortion
    /// steps from `init_step`.
    fn run(&self, init_step: Option<f32>, mut on_progress: impl FnMut(Progress)) -> Fitted {
        let (theta, loss1) = self.continuous(&mut on_progress, &[], |_, _| {});
        self.fine_tune(theta, loss1, init_step, on_progress)
    }
}

impl Objective for Problem<'_> {
    /// Flow-matching distortion of theta (continuous or quantised) at this step's times and noise.
    fn distortion(&self, theta: Tensor<1>, step: usize) -> Tensor<1> {
        let cfg = self.cfg;
        let mut rng = crate::corpus::Rng::new(cfg.seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let u = rng.uniform(0.0, 1.0);
        let t: Vec<f32> = (0..cfg.batch).map(|j| ((j as f64 + u) / cfg.batch as f64) as f32 * self.t0).collect();
        let e = match cfg.noise {
            FitNoise::Decode => self.decode_noise.clone(),
            FitNoise::Fresh => {
                let n = self.shape.iter().product::<usize>();
                Tensor::from_data(TensorData::new(noise::gaussian_vec(cfg.seed.wrapping_add(1 + step as u64), Stream::Initial, n), self.shape), &self.device)
            }
        };
        let e = match &self.noise_shift {
            Some(d) => e + d.clone(),
            None => e,
        };
        let tt = Tensor::<1>::from_data(TensorData::new(t, [cfg.batch]), &self.device);
        let t5 = tt.clone().reshape([cfg.batch, 1, 1, 1, 1]);
        let xt = self.z0b.clone() * t5.clone().neg().add_scalar(1.0) + e.clone() * t5;
        let factors = self.map.factors(theta, 1.0);
        let v = self.model.forward_cond(xt, tt, self.cond.as_ref(), Some(&factors));
        (v - (e - self.z0b.clone())).powi_scalar(2).mean()
    }

    fn k(&self) -> usize {
        self.map.k()
    }

    fn device(&self) -> Device {
        self.device.clone()
    }

    fn config(&self) -> &FitConfig {
        self.cfg
    }
}

/// Mean of the last ten values.
fn tail(v: &[f64]) -> f64 {
    v[v.len().saturating_sub(10)..].iter().sum::<f64>() / v.len().clamp(1, 10) as f64
}

/// Fits theta (length `map.k()`) to `z0` [1, T, C, h, w] (model space) under the sketch
/// input `sketch`, then, when
/// `cfg.stage2 > 0`, fine-tunes it for rate and distortion from `init_step`.
pub fn fit(model: &Denoiser, map: &LoraMap, z0: &Tensor<5>, sketch: Option<&SketchInput>, sampler_shape: [usize; 5], cfg: &FitConfig, init_step: Option<f32>, on_progress: impl FnMut(Progress)) -> Fitted {
    Problem::new(model, map, z0, sketch, sampler_shape, cfg).run(init_step, on_progress)
}

/// Cosine decay from 1 to 0.1 over `total` steps, after a short warm-up.
fn cosine(step: usize, total: usize) -> f64 {
    let warm = (total / 20).max(1);
    if step < warm {
        return (step + 1) as f64 / warm as f64;
    }
    let p = (step - warm) as f64 / (total - warm).max(1) as f64;
    0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laplace_bits_match_the_entropy_coder() {
        use lora_video_shared::entropy::{Prior, PriorKind};
        let device = Device::flex();
        let q = [0, 0, 1, -1, 3, 0, -2, 5, 0, 0, 1, -7];
        let prior = Prior { kind: PriorKind::Laplace, scale: 1.3, min: -64, max: 64 };
        let want = prior.bits(&q).unwrap();
        let y = Tensor::<1>::from_data(TensorData::new(q.iter().map(|&v| v as f32).collect::<Vec<_>>(), [q.len()]), &device);
        let b = Tensor::<1>::from_data(TensorData::new(vec![1.3f32], [1]), &device);
        let got = scalar(laplace_bits(y, b));
        assert!((got - want).abs() < 0.05 * want, "bits {got} vs coder {want}");
    }
}
