//! Finding and loading the base model (`.lvm`) and the TAEF2 encoder.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use lora_video_shared::model::base::BaseModel;
use lora_video_shared::model::taef2;
use lora_video_shared::package::MAX_PACKAGE_BYTES;

use crate::error::CliError;
use crate::io::read_limited;

/// The base model: the flag, $LORA_VIDEO_MODEL, or `base.lvm` in the working directory.
pub fn model_path(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("LORA_VIDEO_MODEL").map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("base.lvm"))
}

/// The TAEF2 folder: the flag, $LORA_VIDEO_TAEF2, or ../shared/assets/taef2.
pub fn taef2_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("LORA_VIDEO_TAEF2").map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("../shared/assets/taef2"))
}

/// Loads a `.lvm` onto `device`; a missing file says how to make one.
pub fn load_base(path: &Path, device: &Device) -> Result<BaseModel, CliError> {
    if !path.exists() {
        return Err(CliError::Io {
            path: path.into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no base model here; make one with `lora-video pack-base -o base.lvm`, or pass --model"),
        });
    }
    let bytes = read_limited(path, MAX_PACKAGE_BYTES as u64)?;
    BaseModel::from_bytes(&bytes, device).map_err(|e| CliError::bad_input(path, e))
}

/// The TAEF2 encoder from the checkpoints in `dir` (checked against SHA256SUMS).
pub fn load_taef2_encoder(dir: &Path, device: &Device) -> Result<taef2::Encoder, CliError> {
    let (enc, _) = taef2::load_checkpoints(dir).map_err(|e| CliError::bad_input(dir, e))?;
    taef2::Encoder::load(&enc, device).map_err(|e| CliError::bad_input(dir, e))
}
