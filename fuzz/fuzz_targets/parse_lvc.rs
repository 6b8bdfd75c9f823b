//! The `.lvc` reader on arbitrary bytes: it must never panic, and whatever it accepts
//! must decode (vector and sketch) without panicking and write back to exactly the same
//! bytes. Inputs whose
//! first byte is odd get a forged magic, version and CRC, so mutations reach the fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lora_video_shared::format::{Bitstream, MAGIC, VERSION};
use lora_video_shared::sketch;

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
        let h = &clip.header;
        if let Some(s) = &h.sketch {
            let (w, ht, t) = (usize::from(h.width), usize::from(h.height), usize::from(h.frames));
            if let Ok(keyframes) = sketch::decode(s, w, ht, t) {
                assert_eq!(keyframes.len(), usize::from(s.params.keyframes));
                let g = sketch::Geometry::new(w, ht, t, &s.params).expect("checked on read");
                let (sw, sh) = (w.min(64), ht.min(64));
                let cell = (g.cell as f32 * sw as f32 / w as f32, g.cell as f32 * sh as f32 / ht as f32);
                assert_eq!(sketch::upsample_rgb(&keyframes[0], cell, sw, sh).len(), 3 * sw * sh);
                let phases = s.motion.as_ref().map_or(&[][..], |m| &m.phases);
                for n in [t, 2 * t - 1] {
                    assert!(sketch::frame_weights(&g, n, phases).iter().all(|&(a, b, u)| a < keyframes.len() && b < keyframes.len() && (0.0..=1.0).contains(&u)));
                }
                if let Some(m) = &s.motion {
                    let field = sketch::motion::decode(m, w, ht, keyframes.len()).expect("the sketch decoded with it");
                    let image = sketch::upsample_rgb(&keyframes[1], cell, sw, sh);
                    let scale = (sw as f32 / w as f32, sh as f32 / ht as f32);
                    assert_eq!(field.between(0, &image, &image, 0.5, scale, sw, sh).len(), 3 * sw * sh);
                }
            }
        }
    }
});
