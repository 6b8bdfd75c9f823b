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
use lora_video_shared::model::denoiser::{Denoiser, DenoiserConfig, SKETCH_CHANNELS};
use lora_video_shared::model::taef2;
use lora_video_shared::noise::{self, Stream};
use lora_video_shared::package::{LatentNorm, Package, SamplerDefaults};
use lora_video_shared::sketch::{self, SketchParams};
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
    /// Warm start: a denoiser file (`denoiser.safetensors`) whose weights start the run;
    /// a sketch model's extra input rows start at zero, so it begins as that model.
    pub init: Option<PathBuf>,
    pub quiet: bool,
}

/// Threads (and clip streams) that build the latent cache.
const CACHE_STREAMS: usize = 2;

/// Share of training steps whose clip gets no sketch (condition dropout).
pub const SKETCH_DROPOUT: f64 = 0.1;

/// Training and validation latents, [N, T, C, h, w] flattened, and their shapes, with
/// each clip's sketch latents: SKETCH_VARIANTS sketches at random settings, each
/// `keyframes(frames)` keyframes as a decoder sees them (coded, upsampled, TAEF2-encoded),
/// [N, V, K, C, h, w].
struct Latents {
    train: Vec<f32>,
    dev: Vec<f32>,
    train_sketches: Vec<f32>,
    dev_sketches: Vec<f32>,
    clip: [usize; 4],
}

/// Sketches per cached clip, and keyframes per sketch.
const SKETCH_VARIANTS: usize = 2;
const SKETCH_KEYFRAMES: usize = 4;

/// Keyframes per sketch of a clip of `frames` frames.
fn keyframes(frames: usize) -> usize {
    SKETCH_KEYFRAMES.min(frames)
}

impl Latents {
    fn clip_len(&self) -> usize {
        self.clip.iter().product()
    }

    /// Values of one sketch's keyframe latents.
    fn sketch_len(&self) -> usize {
        keyframes(self.clip[0]) * self.clip[1] * self.clip[2] * self.clip[3]
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct State {
    step: usize,
    config: DenoiserConfig,
    latent: LatentNorm,
    /// (step, validation loss): with the validation sketch for a sketch model
    val: Vec<(usize, f64)>,
    /// (step, validation loss without a sketch), for a sketch model
    #[serde(default)]
    val_plain: Vec<(usize, f64)>,
    train_seconds: f64,
}

fn cache_path(o: &TrainOptions, train: &corpus::Split, dev: &corpus::Split) -> PathBuf {
    let count = |s: &corpus::Split| s.stills.len() + s.videos.iter().map(Vec::len).sum::<usize>();
    let corpus = format!("{}-{}", count(train), count(dev));
    o.out.join(format!("latents-v5-{}f-{}px-{}clips-seed{}-corpus{corpus}.safetensors", o.frames, o.size, o.clips, o.seed))
}

/// The latents a cache file holds (f16, read back as f32).
fn read_cache(path: &Path, clip: [usize; 4]) -> Result<Latents, CliError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| CliError::bad_input(path, e))?;
    let read = |name: &str| -> Result<Vec<f32>, CliError> {
        let t = st.tensor(name).map_err(|e| CliError::bad_input(path, e))?;
        Ok(t.data().chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect())
    };
    Ok(Latents { train: read("train")?, dev: read("dev")?, train_sketches: read("train_sketches")?, dev_sketches: read("dev_sketches")?, clip })
}

/// A clip [frames, 3, size, size] in [0, 1] as RGB8 frames (interleaved).
fn rgb8(clip: &[f32], frames: usize, size: usize) -> Vec<Vec<u8>> {
    let n = size * size;
    (0..frames).map(|f| (0..n).flat_map(|p| (0..3).map(move |c| (clip[(f * 3 + c) * n + p] * 255.0).round().clamp(0.0, 255.0) as u8)).collect()).collect()
}

/// A training sketch's coding: its settings and, for the transform, its tilt and
/// whether it uses the wavelet in space (None: predicted samples, version 2).
struct TrainSketch {
    params: SketchParams,
    transform: Option<(u8, bool)>,
}

/// A random sketch setting, as the encoder's search picks them. Seven in eight are
/// transform-coded: cells of 1 to 4 pixels (mostly 1), luma q 100 to 150, a tilt of
/// 0 to 32, chroma q equal or 9 coarser (a step 1.5 times the luma's), and in space
/// the wavelet (`sketch::wavelet_levels`; six in eight) or the DCT (one in eight). The
/// rest are sample-coded (`--sketch N` levels): cells of 8 to 32 pixels, luma step 3 to
/// 20 and chroma step 1 to 2 times that. Each has `keyframes` keyframes.
fn random_sketch(rng: &mut Rng, keyframes: usize) -> TrainSketch {
    let keyframes = keyframes as u8;
    let kind = rng.below(8);
    if kind == 0 {
        let q_luma = 3 + rng.below(18) as u8;
        let params = SketchParams { cell_log2: 3 + rng.below(3) as u8, keyframes, q_luma, q_chroma: q_luma + rng.below(usize::from(q_luma) + 1) as u8 };
        return TrainSketch { params, transform: None };
    }
    let cell_log2 = [0, 0, 0, 1, 2][rng.below(5)];
    let q_luma = 100 + rng.below(51) as u8;
    let tilt = [0, 8, 16, 32][rng.below(4)];
    let q_chroma = q_luma + if rng.below(2) == 0 { 0 } else { 9 };
    TrainSketch { params: SketchParams { cell_log2, keyframes, q_luma, q_chroma }, transform: Some((tilt, kind != 1)) }
}

/// The keyframe images a decoder rebuilds from a sketch of `clip` coded as `s`: [K, 3,
/// size, size]. The keyframes are the encoder's least-squares targets (`sketch_fit`).
fn sketch_images(clip: &[f32], frames: usize, size: usize, s: &TrainSketch) -> Vec<f32> {
    let p = &s.params;
    let g = sketch::Geometry::new(size, size, frames, p).expect("valid training sketch");
    let rgb = rgb8(clip, frames, size);
    let refs: Vec<&[u8]> = rgb.iter().map(Vec::as_slice).collect();
    let targets = crate::sketch_fit::targets(&refs, size, size, &g);
    let decoded = match s.transform {
        Some((tilt, wavelet)) => {
            let levels = if wavelet { crate::sketch::wavelet_levels(&g) } else { 0 };
            let coefs = sketch::transform::quantise(&g, p, &sketch::Transform::newest(tilt, levels), &sketch::transform::analyse(&g, levels, &targets), crate::sketch::TRANSFORM_DEAD_ZONE);
            sketch::transform::reconstruct(&g, p, tilt, levels, &coefs)
        }
        None => sketch::quantise_keyframes(&g, p, &targets).1,
    };
    let cell = g.cell as f32;
    decoded.iter().flat_map(|kf| sketch::upsample_rgb(kf, (cell, cell), size, size)).collect()
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
    // CACHE_STREAMS independent streams of clips, one thread each, joined in order: the
    // same cache on any machine.
    let make = |split: &corpus::Split, n: usize, seed: u64, label: &str| -> (Vec<u8>, Vec<u8>) {
        let bar = progress(n as u64, label, o.quiet);
        let stream = |j: usize| {
            let mut rng = Rng::new(seed ^ (j as u64).wrapping_mul(0xA24B_AED4_963E_E407));
            let count = n / CACHE_STREAMS + usize::from(j < n % CACHE_STREAMS);
            let (mut out, mut th) = (Vec::with_capacity(count * clip_len * 2), Vec::new());
            while out.len() < count * clip_len * 2 {
                let Some(frames) = split.clip(o.frames, o.size, &mut rng) else { continue };
                for _ in 0..SKETCH_VARIANTS {
                    let images = sketch_images(&frames, o.frames, o.size, &random_sketch(&mut rng, keyframes(o.frames)));
                    let z = corpus::encode_clip(&encoder, images, keyframes(o.frames), o.size, &device);
                    th.extend(z.iter().flat_map(|x| half::f16::from_f32(*x).to_le_bytes()));
                }
                let z = corpus::encode_clip(&encoder, frames, o.frames, o.size, &device);
                out.extend(z.iter().flat_map(|x| half::f16::from_f32(*x).to_le_bytes()));
                bar.inc(1);
            }
            (out, th)
        };
        let parts: Vec<(Vec<u8>, Vec<u8>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..CACHE_STREAMS).map(|j| s.spawn(move || stream(j))).collect();
            handles.into_iter().map(|h| h.join().expect("cache thread")).collect()
        });
        bar.finish();
        parts.into_iter().fold((Vec::new(), Vec::new()), |(mut a, mut b), (x, y)| {
            a.extend(x);
            b.extend(y);
            (a, b)
        })
    };
    let ((tb, tt), (db, dt)) = (make(&train, o.clips, o.seed, "encode train"), make(&dev, (o.clips / 8).max(4), o.seed ^ 0xdef, "encode dev"));
    let shape = |bytes: &[u8]| [vec![bytes.len() / 2 / clip_len], clip.to_vec()].concat();
    let sketch_shape = |bytes: &[u8]| {
        let one = SKETCH_VARIANTS * keyframes(o.frames) * taef2::LATENT_CHANNELS * h * h;
        vec![bytes.len() / 2 / one, SKETCH_VARIANTS, keyframes(o.frames), taef2::LATENT_CHANNELS, h, h]
    };
    let views = [
        ("train", TensorView::new(Dtype::F16, shape(&tb), &tb).expect("shape")),
        ("dev", TensorView::new(Dtype::F16, shape(&db), &db).expect("shape")),
        ("train_sketches", TensorView::new(Dtype::F16, sketch_shape(&tt), &tt).expect("shape")),
        ("dev_sketches", TensorView::new(Dtype::F16, sketch_shape(&dt), &dt).expect("shape")),
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

/// Flow-matching loss of `model` on clean latents z0 at times t with noise e, given the
/// sketch condition `cond` ([B, T, SKETCH_CHANNELS, h, w]; zeros where a clip has none).
fn loss(model: &Denoiser, z0: Vec<f32>, t: Vec<f32>, e: Vec<f32>, cond: Option<Vec<f32>>, shape: [usize; 5], device: &Device) -> Tensor<1> {
    let b = shape[0];
    let z0 = Tensor::<5>::from_data(TensorData::new(z0, shape), device);
    let e = Tensor::<5>::from_data(TensorData::new(e, shape), device);
    let tt = Tensor::<1>::from_data(TensorData::new(t, [b]), device);
    let t5 = tt.clone().reshape([b, 1, 1, 1, 1]);
    let xt = z0.clone() * t5.clone().neg().add_scalar(1.0) + e.clone() * t5;
    let cond = cond.map(|c| Tensor::<5>::from_data(TensorData::new(c, [b, shape[1], SKETCH_CHANNELS, shape[3], shape[4]]), device));
    let v = model.forward_cond(xt, tt, cond.as_ref(), None);
    (v - (e - z0)).powi_scalar(2).mean()
}

/// The condition a decoder builds from sketch `v` of clip `i` of `sketches`: its
/// keyframe latents normalised, blended to every frame (`sketch::frame_weights`), and a
/// channel of ones; [T, SKETCH_CHANNELS, h, w].
fn sketch_condition(l: &Latents, sketches: &[f32], i: usize, v: usize, norm: &LatentNorm) -> Vec<f32> {
    let [frames, c, h, w] = l.clip;
    let hw = h * w;
    let z = &sketches[(i * SKETCH_VARIANTS + v) * l.sketch_len()..][..l.sketch_len()];
    let g = sketch::Geometry::of_cell(w * 8, h * 8, frames, 8, keyframes(frames));
    let at = |k: usize, ch: usize, p: usize| (z[(k * c + ch) * hw + p] - norm.mean[ch]) / norm.std[ch];
    let mut out = Vec::with_capacity(frames * (c + 1) * hw);
    for (a, b, u) in sketch::frame_weights(&g, frames, &[]) {
        for ch in 0..c {
            out.extend((0..hw).map(|p| at(a, ch, p) * (1.0 - u) + at(b, ch, p) * u));
        }
        out.extend(std::iter::repeat_n(1.0, hw));
    }
    out
}

/// Validation loss: every dev clip at t = 0.1, 0.3, 0.5, 0.7, 0.9 with fixed noise,
/// with the clip's first cached sketch (`with_sketch`, a sketch model) or none.
fn validate(model: &Denoiser, l: &Latents, norm: &LatentNorm, with_sketch: bool, device: &Device) -> f64 {
    let n = l.dev.len() / l.clip_len();
    let mut total = 0.0;
    for i in 0..n {
        let z0 = batch(&l.dev, l, &[i], norm);
        let cond = with_sketch.then(|| sketch_condition(l, &l.dev_sketches, i, 0, norm));
        for (j, t) in [0.1f32, 0.3, 0.5, 0.7, 0.9].into_iter().enumerate() {
            let e = noise::gaussian_vec(1_000 + i as u64, Stream::Candidate { step: j as u16, index: 0 }, l.clip_len());
            let shape = [1, l.clip[0], l.clip[1], l.clip[2], l.clip[3]];
            total += f64::from(scalar(loss(model, z0.clone(), vec![t], e, cond.clone(), shape, device)));
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
    let mut latent_init = None;
    if let Some(p) = &o.init {
        let (m, norm) = warm_start(&o.config, p, &device)?;
        model = m;
        latent_init = Some(norm);
    }
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
        _ => State { step: 0, config: o.config.clone(), latent: latent_init.unwrap_or_else(|| latent_norm(&lat)), val: vec![], val_plain: vec![], train_seconds: 0.0 },
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
        let cond = (o.config.cond_channels > 0).then(|| {
            let [frames, _, h, w] = lat.clip;
            idx.iter()
                .flat_map(|&i| {
                    if rng.uniform(0.0, 1.0) < SKETCH_DROPOUT {
                        vec![0.0; frames * SKETCH_CHANNELS * h * w]
                    } else {
                        sketch_condition(&lat, &lat.train_sketches, i, rng.below(SKETCH_VARIANTS), &state.latent)
                    }
                })
                .collect::<Vec<f32>>()
        });
        let l = loss(&model, batch(&lat.train, &lat, &idx, &state.latent), t, e, cond, shape, &device);
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
            let sketched = o.config.cond_channels > 0;
            let val = validate(&model.valid(), &lat, &state.latent, sketched, &plain);
            state.val.push((state.step, val));
            let plain_val = if sketched { validate(&model.valid(), &lat, &state.latent, false, &plain) } else { val };
            if sketched {
                state.val_plain.push((state.step, plain_val));
            }
            let _ = writeln!(csv, "{},{:.6},{:.6},{:.1},{:.6}", state.step, ema.unwrap_or(value), val, secs, plain_val);
            state.train_seconds = secs;
            save(o, &model, &optim, &state, &ckpt, &optim_path, &state_path)?;
        }
    }
    bar.finish();
    let val = state.val.last().map_or(f64::NAN, |v| v.1);
    let _ = writeln!(log, "trained {} steps of batch {} in {:.0} s ({:.2} clips/s); validation loss {:.4}", state.step, o.batch, state.train_seconds, (state.step * o.batch) as f64 / state.train_seconds.max(1e-9), val);
    Ok(())
}

/// A model of `config` from the denoiser file `path` and that file's latent
/// normalisation. Input rows the file lacks (the sketch channels of `patch_in`) start at
/// zero, so the new model computes exactly what the file's model does without a sketch.
fn warm_start(config: &DenoiserConfig, path: &Path, device: &Device) -> Result<(Denoiser, LatentNorm), CliError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let pkg = Package::from_bytes(&bytes).map_err(|e| CliError::bad_input(path, e))?;
    let mut w = lora_video_shared::model::weights::Weights::from_package(&pkg, "");
    let name = "patch_in.weight";
    let want = (config.latent_channels + config.cond_channels) * config.patch * config.patch;
    let (shape, values) = w.iter().find(|(n, _, _)| *n == name).map(|(_, s, v)| (s.to_vec(), v.to_vec())).ok_or_else(|| CliError::bad_input(path, "no patch_in.weight"))?;
    if shape.len() == 2 && shape[0] < want {
        let mut padded = values;
        padded.resize(want * shape[1], 0.0);
        w.insert(name, vec![want, shape[1]], padded);
    }
    let model = Denoiser::load(config, &w, device).map_err(|e| CliError::bad_input(path, e))?;
    Ok((model, pkg.manifest.latent.clone()))
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
