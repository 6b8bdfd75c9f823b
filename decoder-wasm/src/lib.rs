//! The browser decoder's wasm-bindgen API: load a base model (`Decoder.load`), decode a
//! clip to RGBA frames (`decode`, or `render` with controls and a merged clip) with
//! progress, on WebGPU or, where no adapter is
//! available, on the CPU. It builds natively too: Rust tests call `Decoder::open` and
//! `Decoder::decode_frames`, the same code the JS methods wrap.

mod decoder;

pub use decoder::{Backend, DecodedClip, Decoder};
use lora_video_shared::format::{Bitstream, FormatError};
use lora_video_shared::model::base::ModelError;
use lora_video_shared::model::render::RenderError;
use lora_video_shared::to_hex;
use wasm_bindgen::prelude::*;

/// Why a clip was refused, as a JS enum (never a string to parse).
#[wasm_bindgen]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The bytes end early.
    Truncated = 1,
    /// Not a lora-video clip at all.
    NotAClip = 2,
    /// A bitstream version or flag this decoder does not know.
    Unsupported = 3,
    /// Checksum mismatch or a damaged payload.
    Corrupt = 4,
    /// A field outside the format's limits or in non-canonical form.
    Invalid = 5,
    /// The clip needs another base model than the one loaded.
    WrongModel = 6,
    /// The base-model package is damaged or not a lora-video model.
    BadModel = 7,
    /// The device failed while decoding.
    Device = 8,
}

/// A typed decode error: `code` for programs, `message` for people.
#[wasm_bindgen(getter_with_clone)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub code: ErrorCode,
    pub message: String,
}

impl From<FormatError> for DecodeError {
    fn from(e: FormatError) -> Self {
        let code = match e {
            FormatError::Truncated { .. } => ErrorCode::Truncated,
            FormatError::BadMagic(_) => ErrorCode::NotAClip,
            FormatError::UnsupportedVersion(_) | FormatError::UnknownFlags(_) => ErrorCode::Unsupported,
            FormatError::Checksum { .. } | FormatError::Entropy(_) => ErrorCode::Corrupt,
            _ => ErrorCode::Invalid,
        };
        Self { code, message: e.to_string() }
    }
}

impl From<ModelError> for DecodeError {
    fn from(e: ModelError) -> Self {
        Self { code: ErrorCode::BadModel, message: e.to_string() }
    }
}

impl From<RenderError> for DecodeError {
    fn from(e: RenderError) -> Self {
        match e {
            RenderError::Format(f) => f.into(),
            RenderError::ModelMismatch { .. } => Self { code: ErrorCode::WrongModel, message: e.to_string() },
            RenderError::Readback(_) => Self { code: ErrorCode::Device, message: e.to_string() },
            RenderError::Unsupported { .. } | RenderError::Hash(_) => Self { code: ErrorCode::Unsupported, message: e.to_string() },
        }
    }
}

/// What a clip is, read from its header.
#[wasm_bindgen(getter_with_clone)]
#[derive(Clone, Debug, PartialEq)]
pub struct ClipInfo {
    pub width: u16,
    pub height: u16,
    pub frames: u16,
    pub fps: f64,
    pub k: u32,
    pub file_bytes: u32,
    /// SHA-256 of the base-model package the clip needs, lowercase hex.
    pub model_sha256: String,
}

/// Reads and checks a whole `.lvc` file, payload included.
#[wasm_bindgen]
pub fn inspect(bytes: &[u8]) -> Result<ClipInfo, DecodeError> {
    let clip = Bitstream::read(bytes)?;
    clip.symbols()?;
    let h = &clip.header;
    Ok(ClipInfo {
        width: h.width,
        height: h.height,
        frames: h.frames,
        fps: f64::from(h.fps.num) / f64::from(h.fps.den),
        k: h.lora.k,
        file_bytes: bytes.len() as u32,
        model_sha256: to_hex(&h.model_sha256),
    })
}

/// SHA-256 of `bytes`, lowercase hex: how the element checks a cached or fetched model
/// (works where `crypto.subtle` does not, on plain-http origins).
#[wasm_bindgen(js_name = sha256Hex)]
pub fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&lora_video_shared::package::sha256(bytes))
}
