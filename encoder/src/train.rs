//! `lora-video train-base`: flow-matching training of the denoiser on cached TAEF2
//! latents of the corpus, with validation on the held-out split, checkpoints and resume.
//!
//! Loss: t ~ U(0,1), e ~ N(0,1), x_t = (1-t) z0 + t e, || v(x_t, t) - (e - z0) ||^2.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use lora_video_shared::model::base::denoiser_package;
use lora_video_shared::model::denoiser::{Denoiser, DenoiserConfig};
use lora_video_shared::model::taef2;
use lora_video_shared::noise::{self, Stream};
use lora_video_shared::package::{LatentNorm, SamplerDefaults};
use safetensors::tensor::{Dtype, TensorView};

use crate::corpus::{self, Rng};
use crate::error::CliError;
use crate::io::{io_err, progress, write_atomic};

/// The options of `train-base` (see `cli.rs` for their documentation).
#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub data: PathBuf,
    pub out: PathBuf,
    pub config: DenoiserConfig,
    pub steps: usize,
    pub batch: usize,
    pub frames: usize,
    pub size: usize,
    pub clips: usize,
    pub lr: f64,
    pub val_every: usize,
    pub seed: u64,
    pub taef2: PathBuf,
    pub device: crate::device::Backend,
    pub quiet: bool,
}

/// Training and validation latents, [N, T, C, h, w] flattened, and their shapes.
struct Latents {
    train: Vec<f32>,
    dev: Vec<f32>,
    clip: [usize; 4],
}

impl Latents {
    fn clip_len(&self) -> usize {
        self.clip.iter().product()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct State {
    step: usize,
    config: DenoiserConfig,
    latent: LatentNorm,
    /// (step, validation loss)
    val: Vec<(usize, f64)>,
    train_seconds: f64,
}

fn cache_path(o: &TrainOptions, train: &corpus::Split, dev: &corpus::Split) -> PathBuf {
    let count = |s: &corpus::Split| s.stills.len() + s.videos.iter().map(Vec::len).sum::<usize>();
    let corpus = format!("{}-{}", count(train), count(dev));
    o.out.join(format!("latents-{}f-{}px-{}clips-seed{}-corpus{corpus}.safetensors", o.frames, o.size, o.clips, o.seed))
}

/// The latents a cache file holds (f16, read back as f32).
fn read_cache(path: &Path, clip: [usize; 4]) -> Result<Latents, CliError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| CliError::bad_input(path, e))?;
    let read = |name: &str| -> Result<Vec<f32>, CliError> {
        let t = st.tensor(name).map_err(|e| CliError::bad_input(path, e))?;
        Ok(t.data().chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect())
    };
    Ok(Latents { train: read("train")?, dev: read("dev")?, clip })
}

/// The latent cache: `clips` training clips and clips/8 dev clips, made once. Training
/// always reads the cache file back, so a fresh run and a cached run see the same data.
fn latents(o: &TrainOptions, log: &mut dyn Write) -> Result<Latents, CliError> {
    let h = o.size / taef2::SCALE;
    let clip = [o.frames, taef2::LATENT_CHANNELS, h, h];
    let (train, dev) = corpus::corpus(&o.data);
    let path = cache_path(o, &train, &dev);
    if path.exists() {
        let _ = writeln!(log, "latent cache: {}", path.display());
        return read_cache(&path, clip);
    }
    if train.stills.is_empty() || dev.stills.is_empty() {
        return Err(CliError::bad_input(&o.data, "no photos found: run `bash scripts/fetch-data.sh` first"));
    }
    let _ = writeln!(log, "corpus: train {}; held out {}", train.describe(), dev.describe());
    let device = Device::flex();
    let encoder = crate::model::load_taef2_encoder(&o.taef2, &device)?;
    let clip_len: usize = clip.iter().product();
    let make = |split: &corpus::Split, n: usize, seed: u64, label: &str| -> Vec<u8> {
        let mut rng = Rng::new(seed);
        let bar = progress(n as u64, label, o.quiet);
        let mut out = Vec::with_capacity(n * clip_len * 2);
        while out.len() < n * clip_len * 2 {
            let Some(frames) = split.clip(o.frames, o.size, &mut rng) else { continue };
            let z = corpus::encode_clip(&encoder, frames, o.frames, o.size, &device);
            out.extend(z.iter().flat_map(|x| half::f16::from_f32(*x).to_le_bytes()));
            bar.inc(1);
        }
        bar.finish();
        out
    };
    let (tb, db) = (make(&train, o.clips, o.seed, "encode train"), make(&dev, (o.clips / 8).max(4), o.seed ^ 0xdef, "encode dev"));
    let shape = |bytes: &[u8]| [vec![bytes.len() / 2 / clip_len], clip.to_vec()].concat();
    let views = [
        ("train", TensorView::new(Dtype::F16, shape(&tb), &tb).expect("shape")),
        ("dev", TensorView::new(Dtype::F16, shape(&db), &db).expect("shape")),
    ];
    let bytes = safetensors::serialize(views, None).map_err(|e| CliError::bad_input(&path, e))?;
    write_atomic(&path, &bytes)?;
    read_cache(&path, clip)
}

/// Per-channel mean and std of the training latents.
fn latent_norm(l: &Latents) -> LatentNorm {
    let [_, c, h, w] = l.clip;
    let (mut sum, mut sq, mut n) = (vec![0f64; c], vec![0f64; c], 0f64);
    for (i, &v) in l.train.iter().enumerate() {
        let ch = (i / (h * w)) % c;
        sum[ch] += f64::from(v);
        sq[ch] += f64::from(v) * f64::from(v);
        n += f64::from(u8::from(ch == 0));
    }
    let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
    let std = sq.iter().zip(&sum).map(|(q, s)| ((q / n - (s / n).powi(2)).max(1e-6)).sqrt() as f32).collect();
    LatentNorm { mean, std }
}

/// Clips `idx` of `set`, normalised: [B, T, C, h, w].
fn batch(set: &[f32], l: &Latents, idx: &[usize], norm: &LatentNorm) -> Vec<f32> {
    let (len, hw) = (l.clip_len(), l.clip[2] * l.clip[3]);
    let c = l.clip[1];
    let mut out = Vec::with_capacity(idx.len() * len);
    for &i in idx {
        out.extend(set[i * len..(i + 1) * len].iter().enumerate().map(|(j, &v)| {
            let ch = (j / hw) % c;
            (v - norm.mean[ch]) / norm.std[ch]
        }));
    }
    out
}

/// Flow-matching loss of `model` on clean latents z0 at times t with noise e.
fn loss(model: &Denoiser, z0: Vec<f32>, t: Vec<f32>, e: Vec<f32>, shape: [usize; 5], device: &Device) -> Tensor<1> {
    let b = shape[0];
    let z0 = Tensor::<5>::from_data(TensorData::new(z0, shape), device);
    let e = Tensor::<5>::from_data(TensorData::new(e, shape), device);
    let tt = Tensor::<1>::from_data(TensorData::new(t, [b]), device);
    let t5 = tt.clone().reshape([b, 1, 1, 1, 1]);
    let xt = z0.clone() * t5.clone().neg().add_scalar(1.0) + e.clone() * t5;
    let v = model.forward(xt, tt, None);
    (v - (e - z0)).powi_scalar(2).mean()
}

/// Validation loss: every dev clip at t = 0.1, 0.3, 0.5, 0.7, 0.9 with fixed noise.
fn validate(model: &Denoiser, l: &Latents, norm: &LatentNorm, device: &Device) -> f64 {
    let n = l.dev.len() / l.clip_len();
    let mut total = 0.0;
    for i in 0..n {
        let z0 = batch(&l.dev, l, &[i], norm);
        for (j, t) in [0.1f32, 0.3, 0.5, 0.7, 0.9].into_iter().enumerate() {
            let e = noise::gaussian_vec(1_000 + i as u64, Stream::Candidate { step: j as u16, index: 0 }, l.clip_len());
            let shape = [1, l.clip[0], l.clip[1], l.clip[2], l.clip[3]];
            total += f64::from(scalar(loss(model, z0.clone(), vec![t], e, shape, device)));
        }
    }
    total / (5 * n) as f64
}

fn scalar(t: Tensor<1>) -> f32 {
    t.into_data().convert::<f32>().try_to_vec::<f32>().expect("f32")[0]
}

/// Trains; resumes from `out/checkpoint.bpk` when a checkpoint is there.
pub fn run(o: &TrainOptions, log: &mut dyn Write) -> Result<(), CliError> {
    std::fs::create_dir_all(&o.out).map_err(io_err(&o.out))?;
    let lat = latents(o, log)?;
    let plain = crate::device::device(o.device)?;
    let device = plain.clone().autodiff();
    device.seed(o.seed); // the initial weights, so a run is reproducible from --seed
    let ckpt = o.out.join("checkpoint.bpk");
    let (optim_path, state_path) = (o.out.join("optimizer.bpk"), o.out.join("state.json"));
    let mut model = o.config.init(&device);
    let mut optim = AdamWConfig::new().with_weight_decay(0.0).init();
    let mut state = match std::fs::read(&state_path) {
        Ok(bytes) if ckpt.exists() => {
            let s: State = serde_json::from_slice(&bytes).map_err(|e| CliError::bad_input(&state_path, e))?;
            if s.config != o.config {
                return Err(CliError::bad_input(&state_path, "the checkpoint was trained with another --config"));
            }
            model = model.try_load_file(&ckpt).map_err(|e| CliError::bad_input(&ckpt, e))?;
            optim = optim.load(&optim_path).map_err(|e| CliError::bad_input(&optim_path, e))?;
            let _ = writeln!(log, "resuming at step {}", s.step);
            s
        }
        _ => State { step: 0, config: o.config.clone(), latent: latent_norm(&lat), val: vec![], train_seconds: 0.0 },
    };
    let n_train = lat.train.len() / lat.clip_len();
    let shape = [o.batch, lat.clip[0], lat.clip[1], lat.clip[2], lat.clip[3]];
    let bar = progress(o.steps as u64, "train", o.quiet);
    bar.set_position(state.step as u64);
    let started = Instant::now();
    let (step_at_start, seconds_at_start) = (state.step, state.train_seconds);
    let mut ema = None;
    let mut csv = std::fs::OpenOptions::new().create(true).append(true).open(o.out.join("log.csv")).map_err(io_err(&o.out))?;
    while state.step < o.steps {
        let step = state.step;
        let mut rng = Rng::new(o.seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let idx: Vec<usize> = (0..o.batch).map(|_| rng.below(n_train)).collect();
        let t: Vec<f32> = (0..o.batch).map(|_| rng.uniform(0.0, 1.0) as f32).collect();
        let e = noise::gaussian_vec(o.seed.wrapping_add(step as u64), Stream::Initial, shape.iter().product());
        let l = loss(&model, batch(&lat.train, &lat, &idx, &state.latent), t, e, shape, &device);
        let value = f64::from(scalar(l.clone()));
        let grads = GradientsParams::from_grads(l.backward(), &model);
        let lr = o.lr * ((step + 1) as f64 / 50.0).min(1.0);
        model = optim.step(lr, model, grads);
        state.step += 1;
        ema = Some(ema.map_or(value, |m: f64| 0.98 * m + 0.02 * value));
        let secs = seconds_at_start + started.elapsed().as_secs_f64();
        let val = state.val.last().map_or("-".into(), |v| format!("{:.4}", v.1));
        let clips_per_s = ((state.step - step_at_start) * o.batch) as f64 / started.elapsed().as_secs_f64().max(1e-9);
        bar.set_message(format!("loss {:.4} val {val} {clips_per_s:.2} clips/s", ema.unwrap_or(value)));
        bar.set_position(state.step as u64);
        if state.step % o.val_every == 0 || state.step == o.steps {
            let val = validate(&model.valid(), &lat, &state.latent, &plain);
            state.val.push((state.step, val));
            let _ = writeln!(csv, "{},{:.6},{:.6},{:.1}", state.step, ema.unwrap_or(value), val, secs);
            state.train_seconds = secs;
            save(o, &model, &optim, &state, &ckpt, &optim_path, &state_path)?;
        }
    }
    bar.finish();
    let val = state.val.last().map_or(f64::NAN, |v| v.1);
    let _ = writeln!(log, "trained {} steps of batch {} in {:.0} s ({:.2} clips/s); validation loss {:.4}", state.step, o.batch, state.train_seconds, (state.step * o.batch) as f64 / state.train_seconds.max(1e-9), val);
    Ok(())
}

fn save(o: &TrainOptions, model: &Denoiser, optim: &burn::optim::ModuleOptimizer, state: &State, ckpt: &Path, optim_path: &Path, state_path: &Path) -> Result<(), CliError> {
    let tmp = ckpt.with_extension("bpk.tmp");
    model.clone().save_file(&tmp).map_err(|e| CliError::bad_input(&tmp, e))?;
    std::fs::rename(&tmp, ckpt).map_err(io_err(ckpt))?;
    let tmp = optim_path.with_extension("bpk.tmp");
    optim.save(&tmp).map_err(|e| CliError::bad_input(&tmp, e))?;
    std::fs::rename(&tmp, optim_path).map_err(io_err(optim_path))?;
    write_atomic(state_path, &serde_json::to_vec_pretty(state).expect("serialisable"))?;
    let sampler = SamplerDefaults { steps: 8, shift: 3.0 };
    let file = denoiser_package("lora-video-base", &o.config, &model.valid().to_weights(), state.latent.clone(), sampler);
    let bytes = file.to_bytes().map_err(|e| CliError::bad_input(&o.out, e))?;
    write_atomic(&o.out.join("denoiser.safetensors"), &bytes)
}
