//! `lora-video info`: what a clip or a base-model package holds.

use std::io::Write;
use std::path::Path;

use lora_video_shared::format::{self, Bitstream, Header, LoraTargets};
use lora_video_shared::model::base::Architecture;
use lora_video_shared::model::taef2;
use lora_video_shared::package::{self, Package, TensorData};
use lora_video_shared::to_hex;
use serde::Serialize;

use crate::error::CliError;
use crate::io::read_limited;

/// The bytes of each part of a clip: sketch, vector, scaling choices, the rest.
#[derive(Debug, Serialize)]
pub struct Parts {
    pub sketch: usize,
    pub vector: usize,
    pub scaling: usize,
    pub other: usize,
}

impl Parts {
    /// The bytes of each part of `clip`.
    pub fn of(clip: &Bitstream) -> Self {
        let h = &clip.header;
        let sketch = h.sketch.as_ref().map_or(0, |s| s.section_len());
        let scaling = h.header_len() - header_len_without_scaling(h);
        let vector = clip.payload.len();
        Self { sketch, vector, scaling, other: clip.len() - sketch - scaling - vector }
    }
}

/// The header's length without its scaling section.
pub fn header_len_without_scaling(h: &Header) -> usize {
    Header { scaling: None, ..h.clone() }.header_len()
}

#[derive(Serialize)]
struct ClipInfo<'a> {
    kind: &'static str,
    version: u8,
    file_bytes: usize,
    header_bytes: usize,
    payload_bytes: usize,
    duration_s: f64,
    kbps: f64,
    /// Bits of the inference-time-scaling choices.
    scaling_bits: usize,
    /// Bytes of each part: sketch, vector, scaling, the rest.
    parts: Parts,
    header: &'a format::Header,
}

#[derive(Serialize)]
struct TensorInfo<'a> {
    name: &'a str,
    dtype: &'static str,
    shape: &'a [usize],
}

/// What one decode of the default operating point costs.
#[derive(Serialize)]
struct DecodeCost {
    frames: usize,
    width: usize,
    height: usize,
    steps: u8,
    denoiser_gflop: f64,
    taef2_gflop: f64,
    total_gflop: f64,
}

#[derive(Serialize)]
struct ModelInfo<'a> {
    kind: &'static str,
    decode_cost: Option<DecodeCost>,
    sha256: String,
    file_bytes: usize,
    parameters: usize,
    manifest: &'a package::Manifest,
    tensors: Vec<TensorInfo<'a>>,
}

pub fn run(path: &Path, json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    let bytes = read_limited(path, package::MAX_PACKAGE_BYTES as u64)?;
    let text = if bytes.starts_with(&format::MAGIC) || path.extension().is_none_or(|e| e != "lvm") {
        clip(path, &bytes, json)?
    } else {
        model(path, &bytes, json)?
    };
    writeln!(out, "{text}").map_err(|source| CliError::Io { path: "<stdout>".into(), source })
}

fn clip(path: &Path, bytes: &[u8], json: bool) -> Result<String, CliError> {
    let clip = Bitstream::read(bytes).map_err(|e| CliError::bad_input(path, e))?;
    clip.symbols().map_err(|e| CliError::bad_input(path, e))?;
    let h = &clip.header;
    if let Some(s) = &h.sketch {
        lora_video_shared::sketch::decode(s, usize::from(h.width), usize::from(h.height), usize::from(h.frames)).map_err(|e| CliError::bad_input(path, e))?;
    }
    let duration_s = f64::from(h.frames) * f64::from(h.fps.den) / f64::from(h.fps.num);
    let info = ClipInfo {
        kind: "clip",
        version: clip.version,
        file_bytes: bytes.len(),
        header_bytes: h.header_len(),
        payload_bytes: clip.payload.len(),
        duration_s,
        kbps: bytes.len() as f64 * 8.0 / duration_s / 1000.0,
        scaling_bits: h.scaling.as_ref().map_or(0, |s| s.choice_bits()),
        parts: Parts::of(&clip),
        header: h,
    };
    if json {
        return Ok(serde_json::to_string_pretty(&info).expect("serialisable"));
    }
    let targets = match h.lora.targets {
        LoraTargets::AttentionQkvo => "attention q/k/v/out",
    };
    let mut t = format!(
        "{}: lora-video clip, bitstream v{}, {} bytes\n\
         \x20 size       {}x{}, {} frames at {}/{} fps ({:.2} s, {:.2} kbps)\n\
         \x20 model      sha256 {}\n\
         \x20 sampler    {} steps, shift {}, seed {}\n\
         \x20 adapter    rank {} on {}, k = {}, hash seed {}\n\
         \x20 quantiser  step {}\n\
         \x20 prior      {:?}, scale {}, symbols {}..={}\n\
         \x20 layout     header {} + payload {} + crc 4 bytes\n\
         \x20 parts      sketch {} + vector {} + scaling {} + other {} bytes",
        path.display(),
        info.version,
        info.file_bytes,
        h.width,
        h.height,
        h.frames,
        h.fps.num,
        h.fps.den,
        duration_s,
        info.kbps,
        to_hex(&h.model_sha256),
        h.sampler.steps,
        h.sampler.shift,
        h.sampler.seed,
        h.lora.rank,
        targets,
        h.lora.k,
        h.lora.hash_seed,
        h.quant_step,
        h.prior.kind,
        h.prior.scale,
        h.prior.min,
        h.prior.max,
        info.header_bytes,
        info.payload_bytes,
        info.parts.sketch,
        info.parts.vector,
        info.parts.scaling,
        info.parts.other,
    );
    if let Some(s) = &h.sketch {
        let p = s.params;
        let basis = |tr: lora_video_shared::sketch::Transform| match tr.levels {
            0 => format!("DCT-coded (tilt {})", tr.tilt),
            l => format!("wavelet-coded ({l} levels, tilt {}{})", tr.tilt, match (tr.adaptive, tr.wide) {
                (true, true) => ", adaptive models, wide contexts",
                (true, false) => ", adaptive models",
                _ => "",
            }),
        };
        let coding = match (s.transform, &s.motion) {
            (Some(tr), Some(m)) if !m.phases.is_empty() => format!("{}, predicted along motion on {}-pixel blocks ({} bytes, with the phases of {} frames)", basis(tr), 1u32 << m.block_log2, m.len(), m.phases.len()),
            (Some(tr), Some(m)) => format!("{}, predicted along motion on {}-pixel blocks ({} bytes)", basis(tr), 1u32 << m.block_log2, m.len()),
            (Some(tr), None) => basis(tr),
            (None, _) => "sample-coded".to_string(),
        };
        t += &format!(
            "\n  sketch     {} keyframe{} of {}-pixel cells, {coding}, q {}/{} (luma/chroma), {} bytes{}{}",
            p.keyframes,
            if p.keyframes == 1 { "" } else { "s" },
            1u32 << p.cell_log2,
            p.q_luma,
            p.q_chroma,
            s.section_len(),
            if s.residual { "; decoded as its frames plus the model's change" } else { "" },
            if s.sharpen > 0 { format!("; sharpened by {}", lora_video_shared::sharpen::amount(s.sharpen)) } else { String::new() }
        );
    }
    if let Some(s) = &h.scaling {
        let steps: Vec<String> = s.steps.iter().map(|st| st.step.to_string()).collect();
        t += &format!(
            "\n  scaling    M = 2^{}, eta {}, steps {} ({} bits)",
            s.m_log2,
            s.eta,
            steps.join(","),
            s.choice_bits()
        );
    }
    if let Some(m) = &h.metadata {
        t += &format!("\n  title      {}\n  caption    {}", m.title, m.caption);
    }
    Ok(t)
}

fn model(path: &Path, bytes: &[u8], json: bool) -> Result<String, CliError> {
    let p = Package::from_bytes(bytes).map_err(|e| CliError::bad_input(path, e))?;
    let tensors: Vec<TensorInfo> = p
        .tensors
        .iter()
        .map(|(name, t)| TensorInfo {
            name,
            dtype: match t.data {
                TensorData::F32(_) => "f32",
                TensorData::F16(_) => "f16",
                TensorData::I8 { .. } => "i8",
            },
            shape: &t.shape,
        })
        .collect();
    let decode_cost = serde_json::from_value::<Architecture>(p.manifest.architecture.clone()).ok().map(|a| {
        let (frames, side, steps) = (16, 256, p.manifest.sampler.steps);
        let lat = side / taef2::SCALE;
        let denoiser = a.denoiser.flops(frames, lat, lat) as f64 * f64::from(steps) / 1e9;
        // A sketch model also encodes the sketch's keyframes, and with motion every frame
        // (`render::condition`): at most one a frame; a residual sketch decodes its
        // latents too (`render::Residual`).
        let sketch = if a.denoiser.cond_channels > 0 { frames as u64 } else { 0 };
        let vae = (taef2::decoder_flops(lat, lat) * (frames as u64 + sketch) + taef2::encoder_flops(lat, lat) * sketch) as f64 / 1e9;
        DecodeCost { frames, width: side, height: side, steps, denoiser_gflop: denoiser, taef2_gflop: vae, total_gflop: denoiser + vae }
    });
    let info = ModelInfo {
        kind: "model",
        decode_cost,
        sha256: to_hex(&package::sha256(bytes)),
        file_bytes: bytes.len(),
        parameters: p.tensors.values().map(|t| t.shape.iter().product::<usize>()).sum(),
        manifest: &p.manifest,
        tensors,
    };
    if json {
        return Ok(serde_json::to_string_pretty(&info).expect("serialisable"));
    }
    let m = &p.manifest;
    let mut t = format!(
        "{}: lora-video base model \"{}\", package v{}, {} bytes\n\
         \x20 sha256     {}\n\
         \x20 parameters {} in {} tensors\n\
         \x20 lora       rank {}, targets {}\n\
         \x20 sampler    {} steps, shift {}\n\
         \x20 latent     {} channels\n\
         \x20 arch       {}",
        path.display(),
        m.name,
        m.version,
        info.file_bytes,
        info.sha256,
        info.parameters,
        info.tensors.len(),
        m.lora_rank,
        m.lora_targets,
        m.sampler.steps,
        m.sampler.shift,
        m.latent.mean.len(),
        m.architecture,
    );
    if let Some(c) = &info.decode_cost {
        t += &format!(
            "\n  decode     {} frames at {}x{}, {} steps: denoiser {:.1} + TAEF2 {:.1} = {:.1} GFLOP",
            c.frames, c.width, c.height, c.steps, c.denoiser_gflop, c.taef2_gflop, c.total_gflop
        );
    }
    for ti in &info.tensors {
        t += &format!("\n  {:<40} {:<4} {:?}", ti.name, ti.dtype, ti.shape);
    }
    Ok(t)
}
