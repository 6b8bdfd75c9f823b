//! Inference-time scaling in the encoder: run the decoder's sampler on the quantised
//! theta and, at each scaled step, score M = 2^m_log2 candidate noises against the
//! clip's latents and keep one; its index (m_log2 bits) goes into the scaling section.
//!
//! A scaled step goes from x (at t) to mean + c eps_j, with mean = (1 - t') x0 + t'
//! sqrt(1 - s^2) e and c = t' s (`sampler::sde_mean`). Had the model's clip estimate x0
//! been the clip z0, the step would land at mean + d with d = (1 - t') (z0 - x0); so
//! candidate j scores ||c eps_j - d||^2 = c^2 ||eps_j||^2 - 2 c <eps_j, d> + const.
//! The scores of a chunk of candidates are one matrix product on the backend.

use burn::tensor::{Device, Tensor, TensorData};
use lora_video_shared::format::{Bitstream, Header, ScaledStep, Scaling};
use lora_video_shared::model::base::BaseModel;
use lora_video_shared::model::render::{self, Latents, Render, RenderError};
use lora_video_shared::model::sampler;
use lora_video_shared::noise::{self, Stream};

use crate::error::CliError;

/// How a scaled step picks its candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Choose {
    /// The candidate with the lowest score.
    Greedy,
    /// A sample from the importance weights exp(-score / (2 c^2)), by the Gumbel-max trick.
    Gumbel,
}

/// The default M and number of scaled steps (the ones just before the last), chosen from
/// `bash scripts/bench-scaling.sh` (docs/BENCHMARKS.md, "Inference-time scaling").
pub const DEFAULT_M: u32 = 64;
pub const DEFAULT_SCALED: u8 = 2;

/// What to scale and how.
#[derive(Clone, Debug)]
pub struct ScalingConfig {
    pub m_log2: u8,
    pub eta: f32,
    /// The scaled sampler steps, increasing; the last step (to t = 0) has no noise.
    pub steps: Vec<u8>,
    pub choose: Choose,
    /// Seed of the Gumbel draws (the encoder's own; the decoder never needs them).
    pub seed: u64,
}

impl ScalingConfig {
    /// The scaling of an encode: none when `m` is 0, or when the sampler has no noisy
    /// step and no steps were asked for; otherwise `new`.
    pub fn of_encode(m: u32, steps_scaled: Option<Vec<u8>>, eta: f32, choose: Choose, seed: u64, steps: u8) -> Result<Option<Self>, CliError> {
        match m {
            0 if steps_scaled.is_some() => Err(CliError::Usage("--scale-steps needs --scaling M".into())),
            0 => Ok(None),
            _ if steps < 2 && steps_scaled.is_none() => Ok(None), // a one-step sampler has no noisy step to scale
            m => Self::new(m, steps_scaled, eta, choose, seed, steps).map(Some),
        }
    }

    /// Checked settings for a sampler of `steps` steps: M a power of two in 2..=65536, eta
    /// in (0, 10], scaled steps increasing and before the last (whose step to t = 0 has no
    /// noise); by default the `DEFAULT_SCALED` steps before the last.
    pub fn new(m: u32, steps_scaled: Option<Vec<u8>>, eta: f32, choose: Choose, seed: u64, steps: u8) -> Result<Self, CliError> {
        if !(2..=65536).contains(&m) || !m.is_power_of_two() {
            return Err(CliError::Usage(format!("--scaling {m}: M must be a power of two in 2..=65536")));
        }
        if !(eta > 0.0 && eta <= 10.0) {
            return Err(CliError::Usage(format!("--eta {eta}: must be in (0, 10]")));
        }
        let last = steps.saturating_sub(1);
        let chosen = steps_scaled.unwrap_or_else(|| (last.saturating_sub(DEFAULT_SCALED)..last).collect());
        if chosen.is_empty() || chosen.windows(2).any(|w| w[0] >= w[1]) || chosen.iter().any(|&s| s >= last) {
            return Err(CliError::Usage(format!("--scale-steps: increasing step numbers in 0..{last} (the last step, {last}, adds no noise)")));
        }
        Ok(Self { m_log2: m.trailing_zeros() as u8, eta, steps: chosen, choose, seed })
    }

    /// The section with placeholder choices: the same size as the final one, for the rate.
    pub fn placeholder(&self) -> Scaling {
        Scaling { m_log2: self.m_log2, eta: self.eta, steps: self.steps.iter().map(|&step| ScaledStep { step, choice: 0 }).collect() }
    }
}

/// Candidates per matrix product: at most 2^24 noise values (64 MiB of f32) at a time.
fn chunk(n: usize) -> usize {
    ((1usize << 24) / n.max(1)).max(1)
}

/// Fills `buf` with the noises of candidates `first..` (rows of `n`), on every core: each
/// row is its own seekable PRNG stream, so the split does not change the values.
fn candidates(seed: u64, step: usize, first: usize, n: usize, buf: &mut [f32]) {
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let rows_per = (buf.len() / n).div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        for (part, rows) in buf.chunks_mut(rows_per * n).enumerate() {
            scope.spawn(move || {
                for (j, row) in rows.chunks_exact_mut(n).enumerate() {
                    let index = (first + part * rows_per + j) as u32;
                    noise::fill_gaussian(seed, Stream::Candidate { step: step as u16, index }, 0, row);
                }
            });
        }
    });
}

fn scores(seed: u64, step: usize, m: usize, n: usize, d: &Tensor<2>, c: f32, device: &Device) -> Vec<f32> {
    let mut out = Vec::with_capacity(m);
    let per = chunk(n);
    let mut first = 0;
    while first < m {
        let count = per.min(m - first);
        let mut buf = vec![0f32; count * n];
        candidates(seed, step, first, n, &mut buf);
        let eps = Tensor::<2>::from_data(TensorData::new(buf, [count, n]), device);
        let dots = eps.clone().matmul(d.clone()).reshape([count]);
        let norms = eps.powi_scalar(2).sum_dim(1).reshape([count]);
        let s = norms.mul_scalar(c * c) - dots.mul_scalar(2.0 * c);
        out.extend(s.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 scores"));
        first += count;
    }
    out
}

fn pick(scores: &[f32], c: f32, choose: Choose, rng: &mut crate::corpus::Rng) -> usize {
    let mut key = |j: usize| -> f64 {
        match choose {
            Choose::Greedy => -f64::from(scores[j]),
            Choose::Gumbel => {
                let u = rng.uniform(1e-12, 1.0);
                -f64::from(scores[j]) / (2.0 * f64::from(c * c)) - (-u.ln()).ln()
            }
        }
    };
    (0..scores.len()).map(|j| (j, key(j))).max_by(|a, b| a.1.total_cmp(&b.1)).map_or(0, |(j, _)| j)
}

/// Chooses a candidate at every scaled step for the clip `header` with (quantised)
/// `theta`, against the clip's latents `z0` [1, T, C, h, w] (model space), in the
/// decoder's own sampler loop. Returns the scaling section and the final latents, which
/// the decoder reproduces.
pub fn choose(base: &BaseModel, header: &Header, theta: &[f32], z0: &Tensor<5>, cfg: &ScalingConfig, device: &Device, on_step: impl FnMut(usize)) -> Result<(Scaling, Latents), RenderError> {
    let r = Render::of(header);
    let map = render::lora_map(base, header, device)?;
    let factors = map.factors(Tensor::<1>::from_data(TensorData::new(theta.to_vec(), [theta.len()]), device), 1.0);
    let shape = render::latent_shape(base, header);
    let n: usize = shape.iter().product();
    let frames = render::condition_frames(base, &r, device)?;
    let sketch = frames.as_ref().map(|(s, _)| s);
    let ts = sampler::SketchInput::schedule(sketch, r.steps, r.shift);
    let mut rng = crate::corpus::Rng::new(cfg.seed ^ 0x5ca1_ab1e);
    let mut steps = Vec::new();
    let x = sampler::sample_choosing(
        &base.denoiser,
        Some(&factors),
        sketch,
        shape,
        r.steps,
        r.shift,
        r.seed,
        cfg.eta,
        |i| cfg.steps.contains(&(i as u8)),
        |i, x0, c| {
            let d = (z0.clone() - x0.clone()).mul_scalar(1.0 - ts[i + 1]).reshape([n, 1]);
            let j = pick(&scores(r.seed, i, 1usize << cfg.m_log2, n, &d, c, device), c, cfg.choose, &mut rng);
            steps.push(ScaledStep { step: i as u8, choice: j as u16 });
            j as u32
        },
        device,
        on_step,
    );
    Ok((Scaling { m_log2: cfg.m_log2, eta: cfg.eta, steps }, Latents::of(x, frames, r.sharpen)))
}

/// Chooses the candidates for `clip` (whose header holds the placeholder section, or
/// none) and stores them in its header; returns the final latents, which every decoder
/// reproduces. The section keeps its size, so the clip's length does not change.
pub fn apply(base: &BaseModel, clip: &mut Bitstream, theta: &[f32], z0: &Tensor<5>, cfg: &ScalingConfig, device: &Device, on_step: impl FnMut(usize)) -> Result<Latents, RenderError> {
    let (section, x) = choose(base, &clip.header, theta, z0, cfg, device, on_step)?;
    clip.header.scaling = Some(section);
    Ok(x)
}
