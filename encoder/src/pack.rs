//! `lora-video pack-base`: the committed denoiser file + TAEF2's decoder (and, for a
//! sketch model, its encoder) -> the `.lvm`.

use std::io::Write;
use std::path::Path;

use lora_video_shared::model::base::pack_base;
use lora_video_shared::model::taef2;
use lora_video_shared::package::{self, Package};
use lora_video_shared::to_hex;

use crate::error::CliError;
use crate::io::read_limited;
use crate::io::write_atomic;

pub fn run(denoiser: &Path, taef2_dir: &Path, out_path: &Path, out: &mut dyn Write) -> Result<(), CliError> {
    let bytes = read_limited(denoiser, package::MAX_PACKAGE_BYTES as u64)?;
    let file = Package::from_bytes(&bytes).map_err(|e| CliError::bad_input(denoiser, e))?;
    let (encoder, decoder) = taef2::load_checkpoints(taef2_dir).map_err(|e| CliError::bad_input(taef2_dir, e))?;
    let lvm = pack_base(&file, &decoder, &encoder).map_err(|e| CliError::bad_input(denoiser, e))?;
    let bytes = lvm.to_bytes().map_err(|e| CliError::bad_input(denoiser, e))?;
    write_atomic(out_path, &bytes)?;
    writeln!(out, "{}: {} bytes, sha256 {}", out_path.display(), bytes.len(), to_hex(&package::sha256(&bytes)))
        .map_err(|source| CliError::Io { path: "<stdout>".into(), source })
}
