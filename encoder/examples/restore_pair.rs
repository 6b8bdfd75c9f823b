//! Runs a restorer (a safetensors file from `python3 -m lora_train.restore_train export`)
//! in burn on a pair from `--example sketch_pairs` (its sketch's frames and metadata),
//! prints the PSNR of the sketch and of the restored frames against the source and the
//! restorer's time, and with `--png DIR` writes the restored frames.
//! `--k K`: also fits a clip's vector of K values to the pair (`restore_fit`: LoRA of
//! rank `--rank 1` on every conv through the index map of `--hash-seed 0`; `--steps 300`
//! continuous, then a third as many rate-distortion steps at `--lambda 1e-7` per bit) and
//! prints the restored PSNR with theta quantised, and its bytes under the prior `encode`
//! fits (`Prior::fit`).
//! `cargo run --release -p lora-video --example restore_pair -- MODEL.safetensors PAIRS_DIR NAME.bin [--png DIR] [--k 128]`

use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use lora_video::fit::{FitConfig, FitNoise, Objective};
use lora_video::restore_fit::RestoreProblem;
use lora_video_shared::entropy::{Prior, PriorKind};
use lora_video_shared::model::lora::LoraMap;
use lora_video_shared::model::restorer::{Restorer, RestorerConfig, condition};
use lora_video_shared::quant;
use lora_video_shared::model::weights::Weights;
use lora_video_shared::sketch::{Geometry, SketchParams};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, dir, name, ..] = args.as_slice() else { return Err("usage: restore_pair MODEL.safetensors PAIRS_DIR NAME.bin [--png DIR]".into()) };
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1));
    let png = value("--png");
    let (w, meta) = Weights::from_safetensors(&std::fs::read(model)?)?;
    let config: RestorerConfig = serde_json::from_str(meta.get("restorer").ok_or("no restorer config in the model file")?)?;
    let device = Device::flex();
    let restorer = Restorer::load(&config, &w, &device)?;
    let index = std::fs::read_to_string(Path::new(dir).join("index.jsonl"))?;
    let m: serde_json::Value = index.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).find(|v| v["file"] == name.as_str()).ok_or("no such pair")?;
    let n = |k: &str| m[k].as_u64().unwrap_or(0) as usize;
    let (t, width, height) = (n("frames"), n("width"), n("height"));
    let params = SketchParams { cell_log2: n("cell_log2") as u8, keyframes: n("keyframes") as u8, q_luma: n("q_luma") as u8, q_chroma: n("q_chroma") as u8 };
    let times = Geometry::new(width, height, t, &params)?.keyframe_times();
    let cond: Vec<[f32; 6]> = (0..t).map(|f| condition(&params, m["motion"].as_bool().unwrap_or(false), &times, f)).collect();
    let raw = std::fs::read(Path::new(dir).join(name))?;
    let len = t * width * height * 3;
    if raw.len() != 2 * len {
        return Err("the pair's size does not match its index line".into());
    }
    let planar = |rgb: &[u8]| -> Vec<f32> {
        let plane = width * height;
        (0..t).flat_map(|f| (0..3).flat_map(move |c| (0..plane).map(move |p| f32::from(rgb[(f * plane + p) * 3 + c]) / 255.0))).collect()
    };
    let (src, sketch) = (planar(&raw[..len]), planar(&raw[len..]));
    let x = Tensor::<4>::from_data(TensorData::new(sketch.clone(), [t, 3, height, width]), &device);
    let t0 = std::time::Instant::now();
    let mut restored: Vec<f32> = restorer.restore(x.clone(), &cond, None).into_data().try_to_vec().map_err(|e| format!("{e:?}"))?;
    let seconds = t0.elapsed().as_secs_f64();
    let psnr = |a: &[f32]| {
        let mse = a.iter().zip(&src).map(|(x, y)| f64::from((x * 255.0).round() / 255.0 - y).powi(2)).sum::<f64>() / a.len() as f64;
        10.0 * (1.0 / mse.max(1e-12)).log10()
    };
    println!("{name}: sketch {:.3} dB -> restored {:.3} dB, restorer {seconds:.3} s ({t} frames of {width}x{height}, {} MAC/pixel)", psnr(&sketch), psnr(&restored), config.macs_per_pixel());
    if let Some(k) = value("--k") {
        let number = |flag: &str, default: &str| value(flag).map_or(default, String::as_str).parse::<f64>();
        let (k, rank, seed) = (k.parse::<u32>()?, number("--rank", "1")? as usize, number("--hash-seed", "0")? as u64);
        let steps = number("--steps", "300")? as usize;
        let cfg = FitConfig { stage1: steps, stage2: steps / 3, batch: 8, lr: 1e-2, lambda: number("--lambda", "1e-7")?, noise: FitNoise::Decode, sampler_seed: 0, seed: 1, init_std: 0.01 };
        let ad = device.clone().autodiff();
        let on = |v: &[f32]| Tensor::<4>::from_data(TensorData::new(v.to_vec(), [t, 3, height, width]), &ad);
        let slots = config.lora_slots(rank);
        let map_ad = LoraMap::new(&slots, k, seed, &ad)?;
        let t1 = std::time::Instant::now();
        let problem = RestoreProblem::new(&Restorer::load(&config, &w, &ad)?, &map_ad, on(&sketch), on(&src), cond.clone(), 96, &cfg);
        let fitted = problem.run(None, |_| {});
        let fit_seconds = t1.elapsed().as_secs_f64();
        let q = quant::quantize(&fitted.theta, fitted.step);
        let bits = Prior::fit(PriorKind::Laplace, &q).bits(&q)?;
        let theta = Tensor::from_data(TensorData::new(quant::dequantize(&q, fitted.step), [k as usize]), &device);
        let adapted = restorer.adapted(&LoraMap::new(&slots, k, seed, &device)?.factors(theta, 1.0));
        restored = adapted.restore(x, &cond, None).into_data().try_to_vec().map_err(|e| format!("{e:?}"))?;
        println!("  + the clip's vector (k = {k}, rank {rank}, quantised, step {:.4}): {:.3} dB, about {:.0} bytes; fit {fit_seconds:.1} s", fitted.step, psnr(&restored), bits / 8.0);
    }
    if let Some(dir) = png {
        std::fs::create_dir_all(dir)?;
        let plane = width * height;
        let restored = &restored;
        for f in 0..t {
            let rgb: Vec<u8> = (0..plane).flat_map(|p| (0..3).map(move |c| (restored[(f * 3 + c) * plane + p] * 255.0).round() as u8)).collect();
            image::RgbImage::from_raw(width as u32, height as u32, rgb).ok_or("frame size")?.save(Path::new(dir).join(format!("restored_{f:02}.png")))?;
        }
    }
    Ok(())
}
