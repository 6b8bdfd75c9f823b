//! The native build of the wasm API reads the golden clips and types its errors.

use lora_video_decoder_wasm::{inspect, ErrorCode};

const FULL: &[u8] = include_bytes!("../../shared/tests/golden/full.lvc");

#[test]
fn reads_golden_clip() {
    let info = inspect(FULL).unwrap();
    assert_eq!((info.width, info.height, info.frames, info.k), (256, 256, 16, 1024));
    assert_eq!(info.fps, 24.0);
    assert_eq!(info.file_bytes as usize, FULL.len());
    assert_eq!(info.model_sha256.len(), 64);
}

#[test]
fn errors_are_typed() {
    assert_eq!(inspect(&FULL[..10]).unwrap_err().code, ErrorCode::Truncated);
    assert_eq!(inspect(b"GIF89a..........").unwrap_err().code, ErrorCode::NotAClip);
    let mut newer = FULL.to_vec();
    newer[4] = lora_video_shared::format::VERSION + 1;
    assert_eq!(inspect(&newer).unwrap_err().code, ErrorCode::Unsupported);
    let mut flipped = FULL.to_vec();
    flipped[200] ^= 4;
    let e = inspect(&flipped).unwrap_err();
    assert_eq!(e.code, ErrorCode::Corrupt);
    assert!(e.message.contains("checksum"), "{}", e.message);
}
