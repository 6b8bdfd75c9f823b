//! Argument parsing and dispatch.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::error::CliError;

#[derive(Parser, Debug)]
#[command(name = "lora-video", version, about = "A video codec that stores a clip as a LoRA of a frozen diffusion model", args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Encode a clip or image into a .lvc: fit a LoRA vector, quantise and entropy-code it.
    Encode(EncodeArgs),
    /// Decode a .lvc to y4m, PNG (frames_%04d.png) or, through ffmpeg, mp4 (the reference decoder).
    Decode(DecodeArgs),
    /// Re-render a stored clip: another seed, adapter strength, a merged second clip, steps, length or size.
    Render(RenderArgs),
    /// PSNR (RGB), SSIM, MS-SSIM (luma), SSIMULACRA2 and optionally VMAF of a clip against a reference.
    Compare {
        /// The reference (for example, encode's --write-source).
        reference: PathBuf,
        /// The clip to score (for example, decode's output).
        test: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also VMAF, through this ffmpeg built with libvmaf (e.g. PyPI imageio-ffmpeg's).
        #[arg(long, value_name = "FFMPEG")]
        vmaf: Option<PathBuf>,
    },
    /// Show the header of a clip (.lvc) or the manifest of a base model (.lvm).
    Info {
        /// The .lvc or .lvm file.
        file: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Rate-distortion against x264, x265 and SVT-AV1 (ffmpeg) at matched bytes: CSVs, BD-rates, plots.
    Eval(crate::eval::EvalArgs),
    /// The representation curve: quality of the continuous fit against fit steps, per vector length k.
    EvalCurve(crate::eval::CurveArgs),
    /// Inference-time scaling: quality against extra bits, and at equal total bytes, for several M and scaled steps.
    EvalScaling(crate::eval::scaling::ScalingArgs),
    /// Train the base denoiser: flow matching on TAEF2 latents of the photo corpus.
    TrainBase(TrainArgs),
    /// Build the base-model package (.lvm) from the denoiser file and TAEF2's decoder.
    PackBase {
        /// The trained denoiser (train-base's denoiser.safetensors).
        #[arg(long, default_value = "models/default/denoiser.safetensors")]
        denoiser: PathBuf,
        /// Folder with taef2_{encoder,decoder}.pth and SHA256SUMS [env: LORA_VIDEO_TAEF2].
        #[arg(long)]
        taef2: Option<PathBuf>,
        /// Where to write the package.
        #[arg(short, long, default_value = "base.lvm")]
        output: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
pub struct EncodeArgs {
    /// Input: .y4m, .png/.jpg (one frame), a sequence such as frames/%04d.png, or any video ffmpeg reads.
    #[arg(short, long)]
    pub input: PathBuf,
    /// The .lvc to write (atomically).
    #[arg(short, long)]
    pub output: PathBuf,
    /// The base model (.lvm) [env: LORA_VIDEO_MODEL; default base.lvm].
    #[arg(short, long)]
    pub model: Option<PathBuf>,
    /// Folder with the TAEF2 checkpoints [env: LORA_VIDEO_TAEF2].
    #[arg(long)]
    pub taef2: Option<PathBuf>,
    /// First input frame to use.
    #[arg(long, default_value_t = 0)]
    pub start: usize,
    /// Frames to encode (fewer if the input ends first).
    #[arg(long, default_value_t = 16)]
    pub frames: usize,
    /// Output size WxH; the input is scaled to cover it and centre-cropped. Multiples of 16.
    #[arg(long, default_value = "256x256", value_parser = parse_size)]
    pub size: (u32, u32),
    /// Frame rate, e.g. 24 or 30000/1001 (default: the input's; 24 for images).
    #[arg(long, value_parser = parse_fps)]
    pub fps: Option<(u16, u16)>,
    /// Largest file in bytes (searches the quantiser step until the clip fits).
    #[arg(long)]
    pub bytes: Option<usize>,
    /// Target rate in kilobits per second of clip (a byte budget for its duration).
    #[arg(long)]
    pub kbps: Option<f64>,
    /// Weight of bits against distortion in the rate-distortion stage.
    #[arg(long)]
    pub lambda: Option<f64>,
    /// Encoder effort.
    #[arg(long, value_enum, default_value = "default")]
    pub preset: crate::encode::Preset,
    /// Stage-1 (continuous fit) steps, overriding the preset.
    #[arg(long)]
    pub stage1: Option<usize>,
    /// Stage-2 (rate-distortion) steps, overriding the preset.
    #[arg(long)]
    pub stage2: Option<usize>,
    /// Learning rate of the fit (Adam).
    #[arg(long, default_value_t = 0.03)]
    pub lr: f64,
    /// Seed of the decoder's noise, the index map and the fit.
    #[arg(long, default_value_t = 0)]
    pub seed: u32,
    /// Vector length k (default 4096, at most the model's LoRA entries at this rank).
    #[arg(long)]
    pub k: Option<u32>,
    /// LoRA rank.
    #[arg(long, default_value_t = 1)]
    pub rank: u8,
    /// Sampler steps the decoder runs (default: the model's).
    #[arg(long)]
    pub steps: Option<u8>,
    /// Noise the fit pairs with the clip.
    #[arg(long, value_enum, default_value = "decode")]
    pub fit_noise: crate::fit::FitNoise,
    /// A title stored in the clip's metadata.
    #[arg(long)]
    pub title: Option<String>,
    /// Also write the frames that were encoded (after frame selection and resizing).
    #[arg(long)]
    pub write_source: Option<PathBuf>,
    /// Compute backend.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: crate::device::Backend,
    /// Inference-time scaling: M candidate noises per scaled sampler step (a power of two); log2(M) bits each; 0 turns it off.
    #[arg(long, default_value_t = crate::scaling::DEFAULT_M)]
    pub scaling: u32,
    /// Which sampler steps to scale, e.g. 0,1,2 (default: the 2 before the last).
    #[arg(long, value_delimiter = ',')]
    pub scale_steps: Option<Vec<u8>>,
    /// Noise level of the scaled (stochastic) steps.
    #[arg(long, default_value_t = 1.0)]
    pub eta: f32,
    /// How a scaled step picks its candidate.
    #[arg(long, value_enum, default_value = "greedy")]
    pub choose: crate::scaling::Choose,
    /// The sketch (a coded thumbnail the model conditions on): `auto`, `off`, or a level 1..=6 (coarse to fine).
    #[arg(long, default_value = "auto")]
    pub sketch: crate::sketch::SketchChoice,
    /// Where the decode starts: the sketch's latents noised to t0 = N/255 (1..=255; lower keeps closer to the sketch).
    #[arg(long, default_value_t = crate::sketch::START)]
    pub sketch_start: u8,
    /// With --bytes or --kbps, the share of the room beside the header that `--sketch auto` gives the sketch (0.05..=1); the vector gets the rest.
    #[arg(long, default_value_t = crate::sketch::AUTO_SHARE)]
    pub sketch_share: f64,
    /// Decode through the model alone: the frames are TAEF2's decode of the sampler's latents, without the sketch's own pixels under them (a cheaper decode: 16 fewer TAEF2 decodes for 16 frames; by default the decode adds what the model changed to the sketch's frames).
    #[arg(long)]
    pub no_residual: bool,
    /// How much the decode sharpens its frames (0..=4 in sixteenths; 0: not at all): each frame gains this times its luma minus the luma blurred. Only a sketch under adaptive models (the default) carries it.
    #[arg(long, default_value_t = crate::sketch::SHARPEN)]
    pub sharpen: f64,
    /// Print a JSON summary.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

pub(crate) fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or("expected WxH, e.g. 256x256")?;
    let p = |v: &str| v.parse::<u32>().map_err(|_| format!("{v} is not a number"));
    let (w, h) = (p(w)?, p(h)?);
    if w == 0 || h == 0 || w % 16 != 0 || h % 16 != 0 || w > 4096 || h > 4096 {
        return Err("width and height must be multiples of 16 in 16..=4096".into());
    }
    Ok((w, h))
}

fn parse_fps(s: &str) -> Result<(u16, u16), String> {
    let (n, d) = s.split_once('/').unwrap_or((s, "1"));
    match (n.parse::<u16>(), d.parse::<u16>()) {
        (Ok(n), Ok(d)) if n > 0 && d > 0 && u32::from(n) <= 1000 * u32::from(d) => Ok((n, d)),
        _ => Err("expected a rate such as 24 or 30000/1001 (at most 1000 fps)".into()),
    }
}

fn encode_options(a: EncodeArgs) -> crate::encode::EncodeOptions {
    crate::encode::EncodeOptions {
        input: a.input,
        output: a.output,
        model: crate::model::model_path(a.model),
        taef2: taef2_dir(a.taef2),
        select: crate::media::Select { start: a.start, count: a.frames },
        size: a.size,
        fps: a.fps,
        lambda: a.lambda,
        bytes: a.bytes,
        kbps: a.kbps,
        preset: a.preset,
        stage1: a.stage1,
        stage2: a.stage2,
        lr: a.lr,
        seed: a.seed,
        k: a.k,
        rank: a.rank,
        steps: a.steps,
        noise: a.fit_noise,
        title: a.title,
        write_source: a.write_source,
        device: a.device,
        scaling: a.scaling,
        scale_steps: a.scale_steps,
        eta: a.eta,
        choose: a.choose,
        sketch: a.sketch,
        sketch_start: a.sketch_start,
        sketch_share: a.sketch_share,
        residual: !a.no_residual,
        sharpen: a.sharpen,
        json: a.json,
        quiet: a.quiet,
    }
}

/// Where `decode` and `render` read and write.
#[derive(clap::Args, Debug)]
pub struct DecodeArgs {
    /// The .lvc clip.
    #[arg(short, long)]
    pub input: PathBuf,
    /// out.y4m, frame.png (one frame), frames_%04d.png, or any ffmpeg output such as out.mp4.
    #[arg(short, long)]
    pub output: PathBuf,
    /// The base model (.lvm) [env: LORA_VIDEO_MODEL; default base.lvm].
    #[arg(short, long)]
    pub model: Option<PathBuf>,
    /// Compute backend.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: crate::device::Backend,
    /// Print a JSON summary.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

fn decode_options(a: DecodeArgs, controls: lora_video_shared::model::render::Controls, merge: Option<PathBuf>) -> crate::decode::DecodeOptions {
    crate::decode::DecodeOptions { input: a.input, output: a.output, model: crate::model::model_path(a.model), device: a.device, json: a.json, quiet: a.quiet, controls, merge, sketch_from: None }
}

#[derive(clap::Args, Debug)]
pub struct RenderArgs {
    #[command(flatten)]
    pub io: DecodeArgs,
    /// Seed of the sampler's noise: a variation (default: the clip's own).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Adapter strength: 0 is the base model's own sample, 1 the stored clip, above 1 exaggerates it.
    #[arg(long, allow_hyphen_values = true)]
    pub strength: Option<f32>,
    /// Another clip for the same base model: its LoRA update is added, layer by layer.
    #[arg(long)]
    pub merge: Option<PathBuf>,
    /// Weight of the merged clip's update (default 1; 0 renders the first clip alone).
    #[arg(long, allow_hyphen_values = true)]
    pub mix: Option<f32>,
    /// Sampler steps: fewer for speed, more for quality (default: the clip's).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Frames to render (default: the clip's).
    #[arg(long)]
    pub frames: Option<usize>,
    /// Size WxH to render (default: the clip's).
    #[arg(long, value_parser = parse_size)]
    pub size: Option<(u32, u32)>,
    /// `off`: render the adapter without the clip's sketch.
    #[arg(long, value_parser = ["off"])]
    pub sketch: Option<String>,
    /// Render under another clip's sketch (its layout, colours and motion).
    #[arg(long, conflicts_with = "sketch")]
    pub sketch_from: Option<PathBuf>,
    /// How much to sharpen the frames, 0..=4 (default: the rendered sketch's own amount; 0: not at all).
    #[arg(long)]
    pub sharpen: Option<f32>,
}

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Output folder: latent cache, checkpoint, log.csv, state.json, denoiser.safetensors.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Data folder of scripts/fetch-data.sh [env: LORA_VIDEO_DATA; default ~/.cache/lora-video/data].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Model size.
    #[arg(long, value_enum, default_value = "base")]
    pub config: ModelSize,
    /// Total optimiser steps (a resumed run continues up to this).
    #[arg(long, default_value_t = 2000)]
    pub steps: usize,
    /// Clips per step.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// Frames per training clip.
    #[arg(long, default_value_t = 8)]
    pub frames: usize,
    /// Side of the square training clips in pixels (a multiple of 16).
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// Training clips to synthesise and encode once (plus 1/8 as many held out).
    #[arg(long, default_value_t = 256)]
    pub clips: usize,
    /// Peak learning rate (AdamW, 50 warm-up steps).
    #[arg(long, default_value_t = 5e-4)]
    pub lr: f64,
    /// Validate and checkpoint every this many steps.
    #[arg(long, default_value_t = 100)]
    pub val_every: usize,
    /// Seed of the corpus and of the training noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Folder with the TAEF2 checkpoints [env: LORA_VIDEO_TAEF2].
    #[arg(long)]
    pub taef2: Option<PathBuf>,
    /// Compute backend of the training loop (the latent cache is made on the CPU).
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: crate::device::Backend,
    /// Start from this denoiser file (e.g. models/default/denoiser.safetensors) instead of
    /// a fresh model; a sketch model's new input rows start at zero.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ModelSize {
    /// The default size, conditioned on the sketch.
    Base,
    /// The default size without a sketch input (models before bitstream v2).
    BasePlain,
    Tiny,
    /// The tiny test model with a sketch input.
    TinySketch,
}

use crate::model::taef2_dir;

fn train_options(a: TrainArgs) -> Result<crate::train::TrainOptions, CliError> {
    use lora_video_shared::model::denoiser::DenoiserConfig;
    if a.size == 0 || a.size % 16 != 0 || a.frames == 0 || a.batch == 0 || a.clips == 0 || a.val_every == 0 {
        return Err(CliError::Usage("--size must be a positive multiple of 16; --frames, --batch, --clips, --val-every positive".into()));
    }
    let data = a.data.or_else(|| std::env::var_os("LORA_VIDEO_DATA").map(PathBuf::from)).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/lora-video/data")
    });
    Ok(crate::train::TrainOptions {
        data,
        out: a.out,
        config: match a.config {
            ModelSize::Base => DenoiserConfig::base_sketch(),
            ModelSize::BasePlain => DenoiserConfig::base(),
            ModelSize::Tiny => DenoiserConfig::tiny(),
            ModelSize::TinySketch => DenoiserConfig { cond_channels: lora_video_shared::model::denoiser::SKETCH_CHANNELS, ..DenoiserConfig::tiny() },
        },
        steps: a.steps,
        batch: a.batch,
        frames: a.frames,
        size: a.size,
        clips: a.clips,
        lr: a.lr,
        val_every: a.val_every,
        seed: a.seed,
        taef2: taef2_dir(a.taef2),
        device: a.device,
        init: a.init,
        quiet: a.quiet,
    })
}

/// Runs the CLI on `args` (program name first), writing results to `out`.
pub fn run<I, T>(args: I, out: &mut dyn Write) -> Result<(), CliError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = Cli::try_parse_from(args).map_err(|e| match e.kind() {
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => CliError::Info(e.to_string()),
        _ => CliError::Usage(e.to_string()),
    });
    let cli = match cli {
        Err(CliError::Info(text)) => {
            return write!(out, "{text}").map_err(|source| CliError::Io { path: "<stdout>".into(), source });
        }
        other => other?,
    };
    match cli.command {
        Command::Encode(args) => crate::encode::run(&encode_options(args), out),
        Command::Decode(a) => crate::decode::run(&decode_options(a, Default::default(), None), out),
        Command::Render(a) => {
            let controls = lora_video_shared::model::render::Controls {
                seed: a.seed,
                strength: a.strength,
                steps: a.steps,
                frames: a.frames,
                size: a.size.map(|(w, h)| (w as usize, h as usize)),
                mix: a.mix,
                sketch: a.sketch.is_some().then_some(None),
                sharpen: a.sharpen,
            };
            let o = crate::decode::DecodeOptions { sketch_from: a.sketch_from, ..decode_options(a.io, controls, a.merge) };
            crate::decode::run(&o, out)
        }
        Command::Compare { reference, test, json, vmaf } => crate::metrics::run(&reference, &test, json, vmaf.as_deref(), out),
        Command::Info { file, json } => crate::info::run(&file, json, out),
        Command::Eval(args) => crate::eval::run_eval(&args, out),
        Command::EvalCurve(args) => crate::eval::run_curve(&args, out),
        Command::EvalScaling(args) => crate::eval::scaling::run(&args, out),
        Command::TrainBase(args) => crate::train::run(&train_options(args)?, out),
        Command::PackBase { denoiser, taef2, output } => crate::pack::run(&denoiser, &taef2_dir(taef2), &output, out),
    }
}
