//! The `.lvm` reader on arbitrary bytes: no panic; an accepted package dequantises and
//! survives a write/read round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lora_video_shared::package::Package;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Package::from_bytes(data) {
        for t in p.tensors.values() {
            assert_eq!(t.to_f32().len(), t.shape.iter().product::<usize>());
        }
        let bytes = p.to_bytes().expect("an accepted package writes back");
        assert_eq!(Package::from_bytes(&bytes).expect("reads back"), p);
    }
});
