//! The browser decoder's wasm-bindgen API. It builds natively too, so Rust tests call
//! the same code. Today it inspects clips; decoding frames arrives with the model.

use lora_video_shared::format::{Bitstream, FormatError};
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
