//! `lora-video encode`: frames -> TAEF2 latents -> two-stage fit of theta -> quantise ->
//! entropy code -> `.lvc`, with rate control by `--lambda` or a byte budget.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use lora_video_shared::entropy::{Prior, PriorKind};
use lora_video_shared::format::{self, Bitstream, Fps, Header, Lora, LoraTargets, Sampler};
use lora_video_shared::model::base::BaseModel;
use lora_video_shared::model::render::{self, Render};
use lora_video_shared::model::taef2;
use lora_video_shared::quant;
use serde::Serialize;

use crate::error::CliError;
use crate::fit::{self, FitConfig, FitNoise};
use crate::info::{Parts, header_len_without_scaling};
use crate::io::{progress, write_atomic};
use crate::media::{self, Select};
use crate::model::{load_base, load_taef2_encoder};
use crate::output;

/// Encoder effort: fit steps and times per step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    Fast,
    Default,
    Slow,
}

impl Preset {
    /// (stage-1 steps, stage-2 steps, times per step)
    pub fn schedule(self) -> (usize, usize, usize) {
        match self {
            Preset::Fast => (60, 20, 2),
            Preset::Default => (150, 40, 2),
            Preset::Slow => (600, 150, 2),
        }
    }
}

/// The default weight of bits in stage 2.
pub const DEFAULT_LAMBDA: f64 = 2e-6;
/// The default vector length (capped by the model's LoRA entries).
pub const DEFAULT_K: u32 = 4096;

#[derive(Clone, Debug)]
pub struct EncodeOptions {
    pub input: PathBuf,
    pub output: PathBuf,
    pub model: PathBuf,
    pub taef2: PathBuf,
    pub select: Select,
    pub size: (u32, u32),
    pub fps: Option<(u16, u16)>,
    pub lambda: Option<f64>,
    pub bytes: Option<usize>,
    pub kbps: Option<f64>,
    pub preset: Preset,
    /// Overrides of the preset's schedule.
    pub stage1: Option<usize>,
    pub stage2: Option<usize>,
    pub lr: f64,
    pub seed: u32,
    pub k: Option<u32>,
    pub rank: u8,
    pub steps: Option<u8>,
    pub noise: FitNoise,
    pub title: Option<String>,
    pub write_source: Option<PathBuf>,
    pub device: crate::device::Backend,
    /// Inference-time scaling: M candidates (a power of two) at `scale_steps` (default:
    /// the 2 steps before the last), noise level `eta`, chosen by `choose`; 0: off.
    pub scaling: u32,
    pub scale_steps: Option<Vec<u8>>,
    pub eta: f32,
    pub choose: crate::scaling::Choose,
    /// The sketch (visual caption): a level, off, or auto.
    pub sketch: crate::sketch::SketchChoice,
    /// The decode starts from the sketch noised to t0 = sketch_start/255.
    pub sketch_start: u8,
    /// With a budget, the share of the room `auto` gives the sketch.
    pub sketch_share: f64,
    /// A sketch's decode adds what the model changed to the sketch's own frames
    /// (`Sketch::residual`).
    pub residual: bool,
    /// How much the decode sharpens its frames (`sketch::sharpen`).
    pub sharpen: f64,
    pub json: bool,
    pub quiet: bool,
}

/// What scaling bought (`--json`).
#[derive(Debug, Serialize)]
pub struct ScalingSummary {
    pub m: u32,
    pub steps: Vec<u8>,
    pub eta: f32,
    pub choose: crate::scaling::Choose,
    /// Bits of the choices and bytes of the whole scaling section.
    pub choice_bits: usize,
    pub section_bytes: usize,
    /// Latent MSE of the same clip decoded without its scaling section (`--json` only:
    /// it costs a second sampler pass).
    pub unscaled_latent_mse: Option<f64>,
    /// Encode time of choosing the candidates.
    pub seconds: f64,
}

/// The machine-readable result of an encode (`--json`).
#[derive(Debug, Serialize)]
pub struct Summary {
    pub output: PathBuf,
    pub bytes: usize,
    pub payload_bytes: usize,
    pub budget_bytes: Option<usize>,
    /// Bytes of each part: the sketch section, the vector (payload), the scaling section,
    /// and the rest (fixed header, metadata, checksum).
    pub parts: Parts,
    pub sketch: Option<lora_video_shared::sketch::SketchParams>,
    pub width: u16,
    pub height: u16,
    pub frames: u16,
    pub fps: String,
    pub kbps: f64,
    pub k: u32,
    pub rank: u8,
    pub quant_step: f32,
    pub lambda: f64,
    pub preset: Preset,
    pub device: crate::device::Backend,
    pub stage1_loss: f64,
    pub stage2_loss: Option<f64>,
    /// Mean squared error of the decoded latents against the clip's (model space), and
    /// the same for the base model's own sample from the same seed (theta = 0).
    pub latent_mse: f64,
    pub base_latent_mse: f64,
    pub scaling: Option<ScalingSummary>,
    pub seconds: Seconds,
}

#[derive(Debug, Serialize)]
pub struct Seconds {
    pub read: f64,
    pub latents: f64,
    pub fit: f64,
    pub total: f64,
}

fn since(t: Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 100.0).round() / 100.0
}


/// Model-space latents [1, T, C, h, w] of frames [T, 3, H, W].
pub fn latents(base: &BaseModel, encoder: &taef2::Encoder, frames: &[image::RgbImage], device: &Device) -> Tensor<5> {
    let (t, w, h) = (frames.len(), frames[0].width() as usize, frames[0].height() as usize);
    let x = Tensor::<4>::from_data(TensorData::new(media::planar(frames), [t, 3, h, w]), device);
    let z = encoder.forward(x);
    let [_, c, lh, lw] = z.dims();
    let per_channel = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [c]), device).reshape([1, c, 1, 1]);
    let latent = &base.manifest.latent;
    ((z - per_channel(&latent.mean)) / per_channel(&latent.std)).reshape([1, t, c, lh, lw])
}

/// The clip for `theta` quantised with `step`, its prior fitted to the symbols.
pub fn pack(template: &Header, theta: &[f32], step: f32) -> Result<Bitstream, CliError> {
    let step = step.clamp(format::MIN_QUANT_STEP, format::MAX_QUANT_STEP);
    let symbols = quant::quantize(theta, step);
    let mut header = template.clone();
    header.quant_step = step;
    header.prior = Prior::fit(PriorKind::Laplace, &symbols);
    Bitstream::encode(header, &symbols).map_err(|e| CliError::Usage(format!("cannot write this clip: {e}")))
}

/// The finest quantiser step whose clip fits in `budget` bytes, searched from `step`
/// (stage 2's learned step): coarser (doubling) while it does not fit, finer (halving)
/// while it does, then bisection in log space. A finer step than the learned one spends
/// spare budget on a closer copy of theta. (At a large enough step every symbol is 0 and
/// the payload is empty, so any budget of at least the bare header fits.)
pub fn fit_budget(template: &Header, theta: &[f32], step: f32, budget: usize) -> Result<Bitstream, CliError> {
    let fits_in = |s: f32| pack(template, theta, s).ok().filter(|b| b.len() <= budget);
    // Invariant once found: `hi` fits (its clip in `best`), `lo` < `hi` does not.
    let (mut lo, mut hi, mut best) = match fits_in(step) {
        Some(b) => {
            let (mut hi, mut best) = (step, b);
            loop {
                let finer = hi / 2.0;
                if finer < format::MIN_QUANT_STEP {
                    return Ok(best);
                }
                match fits_in(finer) {
                    Some(b) => (hi, best) = (finer, b),
                    None => break (finer, hi, best),
                }
            }
        }
        None => {
            let mut lo = step;
            loop {
                let coarser = lo * 2.0;
                if let Some(b) = fits_in(coarser) {
                    break (lo, coarser, b);
                }
                if coarser >= format::MAX_QUANT_STEP {
                    let least = pack(template, theta, format::MAX_QUANT_STEP)?.len();
                    return Err(CliError::Usage(format!("--bytes {budget} is below the smallest clip this header allows ({least} bytes)")));
                }
                lo = coarser;
            }
        }
    };
    for _ in 0..24 {
        let mid = (lo * hi).sqrt();
        match fits_in(mid) {
            Some(b) => (hi, best) = (mid, b),
            None => lo = mid,
        }
    }
    Ok(best)
}

/// What a byte budget leaves for the sketch beside the fixed parts of `template`
/// (header with its scaling section, checksum); encode and eval share it.
pub fn sketch_room(template: &Header, budget: Option<usize>) -> Option<usize> {
    budget.map(|b| b.saturating_sub(template.header_len() + format::CHECKSUM_LEN))
}

/// The scaling the options ask for, checked.
fn scaling_config(o: &EncodeOptions, steps: u8) -> Result<Option<crate::scaling::ScalingConfig>, CliError> {
    crate::scaling::ScalingConfig::of_encode(o.scaling, o.scale_steps.clone(), o.eta, o.choose, u64::from(o.seed), steps)
}

/// The header every candidate clip of these frames shares (quantiser and prior still
/// to be set by `pack`): vector length `k` (default `DEFAULT_K`, capped by the model's
/// LoRA entries at `rank`), sampler and hash seed `seed`.
#[allow(clippy::too_many_arguments)]
pub fn template(base: &BaseModel, frames: &[image::RgbImage], fps: (u16, u16), seed: u32, k: Option<u32>, rank: u8, steps: u8, title: Option<String>) -> Result<Header, CliError> {
    let entries = base.config.lora_slots(usize::from(rank)).iter().map(|s| s.rows as u64 * s.cols as u64).sum::<u64>();
    let k = k.unwrap_or(DEFAULT_K.min(entries.min(u64::from(u32::MAX)) as u32));
    if k == 0 || u64::from(k) > entries {
        return Err(CliError::Usage(format!("--k {k}: this model has {entries} LoRA entries at rank {rank}; k must be 1..={entries} (raise --rank for more)")));
    }
    let (w, h) = frames.first().map(|f| f.dimensions()).ok_or_else(|| CliError::Usage("no frames to encode".into()))?;
    let header = Header {
        model_sha256: base.sha256,
        width: w as u16,
        height: h as u16,
        frames: frames.len() as u16,
        fps: Fps { num: fps.0, den: fps.1 },
        sampler: Sampler { steps, shift: base.manifest.sampler.shift, seed },
        lora: Lora { rank, targets: LoraTargets::AttentionQkvo, hash_seed: seed, k },
        quant_step: 1.0,
        prior: Prior { kind: PriorKind::Laplace, scale: 1.0, min: 0, max: 0 },
        sketch: None,
        scaling: None,
        metadata: title.map(|t| format::Metadata { title: t, caption: String::new() }),
    };
    header.check().map_err(|e| CliError::Usage(format!("cannot encode this clip: {e}")))?;
    Ok(header)
}

/// The fit's settings for a preset, with overrides of its steps.
pub fn fit_config(preset: Preset, stage1: Option<usize>, stage2: Option<usize>, lr: f64, lambda: f64, noise: FitNoise, seed: u32) -> FitConfig {
    let (s1, s2, batch) = preset.schedule();
    FitConfig {
        stage1: stage1.unwrap_or(s1),
        stage2: stage2.unwrap_or(s2),
        batch,
        lr,
        lambda,
        noise,
        sampler_seed: u64::from(seed),
        seed: u64::from(seed),
        init_std: 0.02,
    }
}

/// Mean squared error of two latent tensors.
pub fn mse(a: &Tensor<5>, b: &Tensor<5>) -> f64 {
    f64::from((a.clone() - b.clone()).powi_scalar(2).mean().into_data().convert::<f32>().try_to_vec::<f32>().expect("f32")[0])
}

pub fn run(o: &EncodeOptions, out: &mut dyn Write) -> Result<(), CliError> {
    let started = Instant::now();
    let device = crate::device::device(o.device)?;
    let base = load_base(&o.model, &device)?;
    let (w, h) = o.size;
    render::check_size(&base, w as usize, h as usize).map_err(|e| CliError::Usage(format!("--size: {e}")))?;
    let video = media::read(&o.input, o.select, o.fps.unwrap_or((24, 1)))?;
    let fps = o.fps.unwrap_or(video.fps);
    let frames: Vec<_> = video.frames.iter().map(|f| media::cover(f, w, h)).collect();
    if let Some(p) = &o.write_source {
        output::write(p, &output::frames_of(&frames), fps)?;
    }
    let read_s = since(started);
    let log = |msg: String| {
        if !o.quiet && !o.json {
            eprintln!("{msg}");
        }
    };
    log(format!("{}: {} frames at {}x{}, {}/{} fps", o.input.display(), frames.len(), w, h, fps.0, fps.1));

    let t = Instant::now();
    let encoder = load_taef2_encoder(&o.taef2, &device)?;
    let z0 = latents(&base, &encoder, &frames, &device);
    let latents_s = since(t);

    let duration = frames.len() as f64 * f64::from(fps.1) / f64::from(fps.0);
    let budget = match (o.bytes, o.kbps) {
        (Some(_), Some(_)) => return Err(CliError::Usage("give --bytes or --kbps, not both".into())),
        (Some(b), None) => Some(b),
        (None, Some(kbps)) if kbps > 0.0 && kbps.is_finite() => Some((kbps * 1000.0 / 8.0 * duration).floor() as usize),
        (None, Some(_)) => return Err(CliError::Usage("--kbps must be positive".into())),
        (None, None) => None,
    };
    let steps = o.steps.unwrap_or(base.manifest.sampler.steps as u8);
    let mut template = template(&base, &frames, fps, o.seed, o.k, o.rank, steps, o.title.clone())?;
    let k = template.lora.k;
    let scaling = scaling_config(o, steps)?;
    template.scaling = scaling.as_ref().map(|c| c.placeholder());
    template.check().map_err(|e| CliError::Usage(format!("--scaling: {e}")))?;
    let room = sketch_room(&template, budget);
    template.sketch = crate::sketch::choose(&frames, o.sketch, o.sketch_start, o.sketch_share, base.config.cond_channels > 0, room)?.map(|s| crate::sketch::sharpened(lora_video_shared::sketch::Sketch { residual: o.residual, ..s }, o.sharpen)).transpose()?;
    if let Some(b) = budget {
        let least = template.header_len() + format::CHECKSUM_LEN;
        if b < least {
            return Err(CliError::Usage(format!("a budget of {b} bytes is below the smallest clip ({least} bytes)")));
        }
    }

    // Fit on the autodiff device, against the package's own (dequantised) weights.
    let t = Instant::now();
    let ad = device.clone().autodiff();
    let denoiser = base.denoiser.clone().fork(&ad);
    let map = render::lora_map(&base, &template, &ad).map_err(|e| CliError::Usage(e.to_string()))?;
    let lambda = o.lambda.unwrap_or(DEFAULT_LAMBDA);
    let cfg = fit_config(o.preset, o.stage1, o.stage2, o.lr, lambda, o.noise, o.seed);
    let shape = render::latent_shape(&base, &template);
    let bar = progress((cfg.stage1 + cfg.stage2) as u64, "fit", o.quiet || o.json);
    let z0_ad = Tensor::<5>::from_data(z0.clone().into_data(), &ad);
    let sketch = render::condition(&base, &Render::of(&template), &device).map_err(|e| CliError::Usage(e.to_string()))?;
    let fitted = fit::fit(&denoiser, &map, &z0_ad, sketch.as_ref(), shape, &cfg, None, |p| {
        let bits = p.bits.map_or(String::new(), |b| format!(" ~{:.0} B", b / 8.0));
        bar.set_message(format!("stage {} loss {:.4}{bits}", p.stage, p.loss));
        bar.inc(1);
    });
    bar.finish_and_clear();
    let fit_s = since(t);

    let mut clip = match budget {
        Some(b) => fit_budget(&template, &fitted.theta, fitted.step, b)?,
        None => pack(&template, &fitted.theta, fitted.step)?,
    };
    let theta = clip.theta().map_err(|e| CliError::Usage(e.to_string()))?;

    // Scaling: choose the candidates on the quantised theta, in place of the placeholder
    // (the same size, so the rate and a budget still hold).
    let (mut scaling_summary, mut reconstruction) = (None, None);
    if let Some(cfg) = &scaling {
        let t = Instant::now();
        let bar = progress(u64::from(steps), "scale", o.quiet || o.json);
        let before = clip.header.header_len();
        let x = crate::scaling::apply(&base, &mut clip, &theta, &z0, cfg, &device, |_| bar.inc(1)).map_err(|e| CliError::Usage(e.to_string()))?;
        bar.finish_and_clear();
        reconstruction = Some(x);
        debug_assert_eq!(before, clip.header.header_len());
        let seconds = since(t);
        let unscaled_latent_mse = if o.json {
            let unscaled = Header { scaling: None, ..clip.header.clone() };
            Some(mse(&render::latents(&base, &unscaled, &theta, &Render::of(&unscaled), &device, |_| {}).map_err(|e| CliError::Usage(e.to_string()))?.z, &z0))
        } else {
            None
        };
        scaling_summary = Some(ScalingSummary {
            m: 1 << cfg.m_log2,
            steps: cfg.steps.clone(),
            eta: cfg.eta,
            choose: cfg.choose,
            choice_bits: clip.header.scaling.as_ref().map_or(0, |s| s.choice_bits()),
            section_bytes: before - header_len_without_scaling(&clip.header),
            unscaled_latent_mse,
            seconds,
        });
    }
    let bytes = clip.to_bytes().map_err(|e| CliError::Usage(e.to_string()))?;

    // What the decoder will make of it, in latent space, against the base model's sample.
    // (A scaled clip's search ran the decoder's own sampler loop: its result is that.)
    let render = Render::of(&clip.header);
    let decoded = match reconstruction {
        Some(x) => x,
        None => render::latents(&base, &clip.header, &theta, &render, &device, |_| {}).map_err(|e| CliError::Usage(e.to_string()))?,
    };
    let base_sample = render::latents(&base, &clip.header, &theta, &Render { strength: 0.0, ..render }, &device, |_| {}).map_err(|e| CliError::Usage(e.to_string()))?;
    write_atomic(&o.output, &bytes)?;

    let summary = Summary {
        output: o.output.clone(),
        bytes: bytes.len(),
        payload_bytes: clip.payload.len(),
        budget_bytes: budget,
        parts: Parts::of(&clip),
        sketch: clip.header.sketch.as_ref().map(|s| s.params),
        width: clip.header.width,
        height: clip.header.height,
        frames: clip.header.frames,
        fps: format!("{}/{}", fps.0, fps.1),
        kbps: (bytes.len() as f64 * 8.0 / 1000.0 / duration * 100.0).round() / 100.0,
        k,
        rank: o.rank,
        quant_step: clip.header.quant_step,
        lambda,
        preset: o.preset,
        device: o.device,
        stage1_loss: fitted.loss1,
        stage2_loss: fitted.loss2,
        latent_mse: mse(&decoded.z, &z0),
        base_latent_mse: mse(&base_sample.z, &z0),
        scaling: scaling_summary,
        seconds: Seconds { read: read_s, latents: latents_s, fit: fit_s, total: since(started) },
    };
    let text = if o.json {
        serde_json::to_string_pretty(&summary).expect("serialisable")
    } else {
        format!(
            "{}: {} bytes ({} kbps; sketch {}, vector {}, scaling {}), {} frames {}x{}, k {} step {:.4}; latent MSE {:.4} (base model's sample {:.4}); {:.1} s",
            summary.output.display(),
            summary.bytes,
            summary.kbps,
            summary.parts.sketch,
            summary.parts.vector,
            summary.parts.scaling,
            summary.frames,
            summary.width,
            summary.height,
            k,
            summary.quant_step,
            summary.latent_mse,
            summary.base_latent_mse,
            summary.seconds.total
        )
    };
    writeln!(out, "{text}").map_err(|source| CliError::Io { path: "<stdout>".into(), source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lora_video_shared::noise::{self, Stream};

    fn header(k: u32) -> Header {
        Header {
            model_sha256: [7; 32],
            width: 128,
            height: 128,
            frames: 8,
            fps: Fps { num: 24, den: 1 },
            sampler: Sampler { steps: 8, shift: 3.0, seed: 0 },
            lora: Lora { rank: 1, targets: LoraTargets::AttentionQkvo, hash_seed: 0, k },
            quant_step: 1.0,
            prior: Prior { kind: PriorKind::Laplace, scale: 1.0, min: 0, max: 0 },
            sketch: None,
            scaling: None,
            metadata: None,
        }
    }

    #[test]
    fn budget_search_fills_the_budget_from_either_side() {
        let theta: Vec<f32> = noise::gaussian_vec(3, Stream::Initial, 4096).iter().map(|v| v * 0.05).collect();
        let h = header(4096);
        for budget in [300, 1000, 2500] {
            // From a step far too coarse and one far too fine.
            for start in [0.5f32, 0.0005] {
                let clip = fit_budget(&h, &theta, start, budget).unwrap();
                let n = clip.to_bytes().unwrap().len();
                assert!(n <= budget && n as f64 >= 0.95 * budget as f64, "budget {budget} from {start}: {n} bytes");
            }
        }
        let least = h.header_len() + format::CHECKSUM_LEN;
        assert!(fit_budget(&h, &theta, 0.01, least - 1).is_err());
    }
}
