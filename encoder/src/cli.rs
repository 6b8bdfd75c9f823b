//! Argument parsing and dispatch.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::error::CliError;

#[derive(Parser, Debug)]
#[command(name = "lora-video", version, about = "A video codec that stores a clip as a LoRA of a frozen diffusion model")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show the header of a clip (.lvc) or the manifest of a base model (.lvm).
    Info {
        /// The .lvc or .lvm file.
        file: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
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
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ModelSize {
    Base,
    Tiny,
}

/// The TAEF2 folder: the flag, $LORA_VIDEO_TAEF2, or ../shared/assets/taef2.
fn taef2_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("LORA_VIDEO_TAEF2").map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("../shared/assets/taef2"))
}

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
            ModelSize::Base => DenoiserConfig::base(),
            ModelSize::Tiny => DenoiserConfig::tiny(),
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
        Command::Info { file, json } => crate::info::run(&file, json, out),
        Command::TrainBase(args) => crate::train::run(&train_options(args)?, out),
        Command::PackBase { denoiser, taef2, output } => crate::pack::run(&denoiser, &taef2_dir(taef2), &output, out),
    }
}
