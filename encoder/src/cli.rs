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
    }
}
