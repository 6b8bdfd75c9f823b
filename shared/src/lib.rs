//! lora-video's shared core: everything the encoder and the decoders must agree on, bit
//! for bit. One module per concept; `SPEC.md` beside this crate uses the same names.

pub mod color;
pub mod entropy;
pub mod format;
pub mod hashing;
#[cfg(feature = "model")]
pub mod model;
pub mod noise;
pub mod package;
pub mod quant;
pub mod sharpen;
pub mod sketch;

pub use format::{Bitstream, FormatError, Header};
pub use package::{Package, PackageError};

/// Lowercase hex of a byte string (SHA-256 digests in messages and JSON).
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn serialize_hex<S: serde::Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&to_hex(bytes))
}
