//! The `.lvc` reader on arbitrary bytes: it must never panic, and whatever it accepts
//! must decode without panicking and write back to exactly the same bytes. Inputs whose
//! first byte is odd get a forged magic, version and CRC, so mutations reach the fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lora_video_shared::format::{Bitstream, MAGIC, VERSION};

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.to_vec();
    if data.first().is_some_and(|b| b % 2 == 1) && bytes.len() >= 9 {
        bytes[..4].copy_from_slice(&MAGIC);
        bytes[4] = VERSION;
        let n = bytes.len() - 4;
        let crc = crc32fast::hash(&bytes[..n]);
        bytes[n..].copy_from_slice(&crc.to_le_bytes());
    }
    if let Ok(clip) = Bitstream::read(&bytes) {
        assert_eq!(clip.to_bytes().expect("an accepted clip writes back"), bytes);
        if let Ok(theta) = clip.theta() {
            assert_eq!(theta.len(), clip.header.lora.k as usize);
        }
    }
});
