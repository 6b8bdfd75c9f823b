//! The `.lvc` reader and writer: round trips of every section, every malformed input
//! class as a typed error, and property tests (no input panics; reading is canonical).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{full_clip, minimal_clip, motion_clip, phased_clip, sharpened_clip, symbols, transform_clip, wavelet_clip, wide_clip};
use lora_video_shared::entropy::{EntropyError, Prior, PriorKind};
use lora_video_shared::format::*;
use proptest::prelude::*;

/// Recompute the CRC so a test reaches the field checks behind it.
fn recrc(mut b: Vec<u8>) -> Vec<u8> {
    let n = b.len() - CHECKSUM_LEN;
    let crc = crc32fast::hash(&b[..n]);
    b[n..].copy_from_slice(&crc.to_le_bytes());
    b
}

fn patch(bytes: &[u8], at: usize, with: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at..at + with.len()].copy_from_slice(with);
    recrc(b)
}

fn field_of(e: FormatError) -> &'static str {
    match e {
        FormatError::OutOfRange { field, .. } => field,
        other => panic!("expected OutOfRange, got {other:?}"),
    }
}

// Offsets in the fixed header (SPEC.md).
const WIDTH: usize = 40;
const FRAMES: usize = 44;
const FPS_DEN: usize = 48;
const STEPS: usize = 50;
const TARGETS: usize = 52;
const PRIOR_KIND: usize = 53;
const SHIFT: usize = 54;
const K: usize = 66;
const QUANT_STEP: usize = 70;
const PRIOR_MIN: usize = 78;
const PAYLOAD_LEN: usize = 82;

#[test]
fn every_section_round_trips() {
    let mut only_scaling = full_clip();
    only_scaling.header.metadata = None;
    let mut only_metadata = full_clip();
    only_metadata.header.scaling = None;
    only_metadata.header.sketch = None;
    let mut only_sketch = full_clip();
    only_sketch.header.scaling = None;
    only_sketch.header.metadata = None;
    let mut v1 = minimal_clip();
    v1.version = 1;
    let mut residual = wavelet_clip(true, false);
    residual.header.sketch.as_mut().unwrap().residual = true;
    for clip in [minimal_clip(), full_clip(), transform_clip(), motion_clip(), wavelet_clip(false, false), wavelet_clip(true, false), wavelet_clip(false, true), wavelet_clip(true, true), sharpened_clip(), phased_clip(), wide_clip(false), wide_clip(true), only_scaling, only_metadata, only_sketch, v1, residual] {
        let bytes = clip.to_bytes().unwrap();
        assert_eq!(bytes.len(), clip.len());
        let back = Bitstream::read(&bytes).unwrap();
        assert_eq!(back, clip);
        assert_eq!(back.symbols().unwrap(), clip.symbols().unwrap());
        assert_eq!(back.to_bytes().unwrap(), bytes);
    }
}

#[test]
fn typical_header_is_86_bytes_plus_4_crc() {
    let clip = minimal_clip();
    assert_eq!(clip.header.header_len(), FIXED_HEADER_LEN);
    assert_eq!(clip.to_bytes().unwrap().len(), 86 + clip.payload.len() + 4);
    assert_eq!(clip.symbols().unwrap(), symbols(4096));
}

#[test]
fn every_truncation_is_an_error() {
    for clip in [full_clip(), transform_clip(), motion_clip(), wavelet_clip(false, false), wavelet_clip(true, false), wavelet_clip(true, true)] {
        let bytes = clip.to_bytes().unwrap();
        for n in 0..bytes.len() {
            assert!(Bitstream::read(&bytes[..n]).is_err(), "prefix of {n} bytes was accepted");
        }
    }
    let bytes = full_clip().to_bytes().unwrap();
    assert_eq!(Bitstream::read(&bytes[..2]), Err(FormatError::Truncated { needed: 4, got: 2 }));
    assert_eq!(Bitstream::read(&bytes[..50]), Err(FormatError::Truncated { needed: 90, got: 50 }));
}

#[test]
fn every_bit_flip_is_detected() {
    for clip in [full_clip(), transform_clip(), motion_clip(), wavelet_clip(false, false), wavelet_clip(true, false), wavelet_clip(true, true)] {
        let bytes = clip.to_bytes().unwrap();
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            let e = Bitstream::read(&b).unwrap_err();
            match bit / 8 {
                0..=3 => assert!(matches!(e, FormatError::BadMagic(_)), "bit {bit}: {e:?}"),
                // Another known version fails the checksum, which covers the version byte.
                4 if (OLDEST_VERSION..=VERSION).contains(&b[4]) => assert!(matches!(e, FormatError::Checksum { .. }), "bit {bit}: {e:?}"),
                4 => assert!(matches!(e, FormatError::UnsupportedVersion(_)), "bit {bit}: {e:?}"),
                _ => assert!(matches!(e, FormatError::Checksum { .. }), "bit {bit}: {e:?}"),
            }
        }
    }
}

#[test]
fn wrong_magic_version_flags_and_checksum() {
    let bytes = minimal_clip().to_bytes().unwrap();
    let png = b"\x89PNG\r\n\x1a\n0000000000";
    assert_eq!(Bitstream::read(png), Err(FormatError::BadMagic(*b"\x89PNG")));
    assert_eq!(Bitstream::read(&patch(&bytes, 4, &[10])), Err(FormatError::UnsupportedVersion(10)));
    assert_eq!(Bitstream::read(&patch(&bytes, 4, &[0])), Err(FormatError::UnsupportedVersion(0)));
    assert_eq!(Bitstream::read(&patch(&bytes, 5, &[0x80])), Err(FormatError::UnknownFlags(0x80)));
    // A residual sketch sets FLAG_RESIDUAL; without a sketch the flag is an error.
    let mut residual = wavelet_clip(false, false);
    residual.header.sketch.as_mut().unwrap().residual = true;
    let (with, without) = (residual.to_bytes().unwrap(), wavelet_clip(false, false).to_bytes().unwrap());
    assert_eq!((with[5] & !without[5], with.len()), (FLAG_RESIDUAL, without.len()));
    assert!(Bitstream::read(&with).unwrap().header.sketch.unwrap().residual);
    assert_eq!(field_of(Bitstream::read(&recrc(patch(&bytes, 5, &[FLAG_RESIDUAL]))).unwrap_err()), "flags");
    // Version 1 reads, and has no sketch flag.
    let v1 = patch(&bytes, 4, &[1]);
    assert_eq!(Bitstream::read(&v1).unwrap().version, 1);
    assert_eq!(Bitstream::read(&v1).unwrap().to_bytes().unwrap(), v1);
    let full = full_clip().to_bytes().unwrap();
    assert_eq!(Bitstream::read(&patch(&full, 4, &[1])), Err(FormatError::UnknownFlags(full[5])));
    let mut v1_sketch = full_clip();
    v1_sketch.version = 1;
    assert_eq!(field_of(v1_sketch.to_bytes().unwrap_err()), "version");
    // Version 2 holds sample-coded sketches, version 3 transform-coded ones; a new clip
    // gets the version its sketch needs.
    assert_eq!((minimal_clip().version, full_clip().version, transform_clip().version, motion_clip().version), (3, 2, 3, 4));
    for (mut clip, wrong) in [(full_clip(), 3), (transform_clip(), 2), (transform_clip(), 4), (motion_clip(), 3), (motion_clip(), 5), (wavelet_clip(false, false), 3), (wavelet_clip(true, false), 4), (wavelet_clip(true, false), 6), (wavelet_clip(true, true), 5), (wavelet_clip(true, true), 7), (sharpened_clip(), 6), (sharpened_clip(), 8), (phased_clip(), 7), (phased_clip(), 9), (wide_clip(false), 8), (wide_clip(true), 8)] {
        clip.version = wrong;
        assert_eq!(field_of(clip.to_bytes().unwrap_err()), "version");
    }
    // A version-2 sketch read as version 3 (and back) is an error, never a misread.
    assert!(Bitstream::read(&patch(&full, 4, &[3])).is_err());
    let transform = transform_clip().to_bytes().unwrap();
    assert!(Bitstream::read(&patch(&transform, 4, &[2])).is_err());
    // Version 4 reads motion after the sketch's payload; a version-3 sketch read as 4, or
    // a version-4 one read as 3, is an error.
    assert!(Bitstream::read(&recrc(patch(&transform, 4, &[4]))).is_err());
    let motion = motion_clip().to_bytes().unwrap();
    assert!(Bitstream::read(&recrc(patch(&motion, 4, &[3]))).is_err());
    // Version 5 reads `levels` after decay: a version-4 sketch read as 5, or a version-5
    // one read as 4, is an error.
    assert!(Bitstream::read(&recrc(patch(&motion, 4, &[5]))).is_err());
    for m in [false, true] {
        assert!(Bitstream::read(&recrc(patch(&wavelet_clip(m, false).to_bytes().unwrap(), 4, &[4]))).is_err());
    }
    // Version 6 is version 5's layout under adaptive models: the same fields read either
    // way, and the symbols decode differently (here, to an error or other keyframes).
    for m in [false, true] {
        let (v5, v6) = (wavelet_clip(m, false), wavelet_clip(m, true));
        assert_eq!((v5.version, v6.version), (5, 6));
        let (b5, b6) = (v5.to_bytes().unwrap(), v6.to_bytes().unwrap());
        let as6 = Bitstream::read(&recrc(patch(&b5, 4, &[6]))).unwrap().header.sketch.unwrap();
        let as5 = Bitstream::read(&recrc(patch(&b6, 4, &[5]))).unwrap().header.sketch.unwrap();
        assert!(as6.transform.unwrap().adaptive && !as5.transform.unwrap().adaptive);
        let keyframes = |s: &lora_video_shared::sketch::Sketch| lora_video_shared::sketch::decode(s, 256, 256, 16).ok();
        let right = keyframes(&v6.header.sketch.clone().unwrap()).unwrap();
        assert_eq!(keyframes(&v5.header.sketch.clone().unwrap()).unwrap(), right);
        assert_ne!(keyframes(&as5), Some(right));
    }
    // Version 7 is version 6 with `sharpen` (1..=64) after `levels`; a version-6 file is
    // unsharpened and written back as 6. Either read as the other is an error.
    let (v6, v7) = (wavelet_clip(true, true), sharpened_clip());
    assert_eq!((v6.version, v7.version), (6, 7));
    let (b6, b7) = (v6.to_bytes().unwrap(), v7.to_bytes().unwrap());
    assert_eq!((b7.len(), b7[97]), (b6.len() + 1, 8));
    assert_eq!(Bitstream::read(&b6).unwrap().header.sketch.unwrap().sharpen, 0);
    for wrong in [0, 65] {
        assert_eq!(field_of(Bitstream::read(&patch(&b7, 97, &[wrong])).unwrap_err()), "sketch sharpen");
    }
    assert_eq!(Bitstream::read(&patch(&b7, 97, &[64])).unwrap().header.sketch.unwrap().sharpen, 64);
    assert!(Bitstream::read(&patch(&b6, 4, &[7])).is_err());
    assert!(Bitstream::read(&patch(&b7, 4, &[6])).is_err());
    // Only a sketch under adaptive models sharpens.
    let mut fixed = wavelet_clip(true, false);
    fixed.header.sketch.as_mut().unwrap().sharpen = 8;
    fixed.version = 7;
    assert!(fixed.to_bytes().is_err());
    // Version 8 is version 7 with a phase for each frame between keyframes after the
    // motion payload, and sharpen 0..=64; a version-7 file has none and is written back
    // as 7. Either read as the other is an error.
    let v8 = phased_clip();
    let b8 = v8.to_bytes().unwrap();
    assert_eq!((v8.version, b8.len(), b8[97]), (8, b6.len() + 1 + 12, 0));
    assert_eq!(Bitstream::read(&b8).unwrap(), v8);
    assert!(Bitstream::read(&b7).unwrap().header.sketch.unwrap().motion.unwrap().phases.is_empty());
    assert!(Bitstream::read(&recrc(patch(&b8, 4, &[7]))).is_err());
    assert!(Bitstream::read(&recrc(patch(&b7, 4, &[8]))).is_err());
    let mut short = phased_clip();
    short.header.sketch.as_mut().unwrap().motion.as_mut().unwrap().phases.pop();
    assert!(short.to_bytes().is_err());
    // Version 8 needs phases: a sketch without motion cannot be version 8.
    let mut still = wavelet_clip(false, true);
    still.version = 8;
    assert!(still.to_bytes().is_err());
    // Version 9 is version 8's layout, with or without motion, under wide contexts: the
    // same fields read as either version, and the symbols decode differently.
    let keyframes = |s: &lora_video_shared::sketch::Sketch| lora_video_shared::sketch::decode(s, 256, 256, 16).ok();
    let v9 = wide_clip(true);
    let b9 = v9.to_bytes().unwrap();
    assert_eq!((v9.version, b9[97]), (9, 8));
    let as8 = Bitstream::read(&recrc(patch(&b9, 4, &[8]))).unwrap().header.sketch.unwrap();
    let as9 = Bitstream::read(&recrc(patch(&b8, 4, &[9]))).unwrap().header.sketch.unwrap();
    assert!(as9.transform.unwrap().wide && !as8.transform.unwrap().wide);
    let right = keyframes(v9.header.sketch.as_ref().unwrap()).unwrap();
    assert_eq!(keyframes(v8.header.sketch.as_ref().unwrap()).unwrap(), right);
    assert_ne!(keyframes(&as8), Some(right.clone()));
    assert_ne!(keyframes(&as9), Some(right));
    // Without motion, version 9 still has the sharpen byte (here 0); read as 8 it is an
    // error (no motion).
    let still9 = wide_clip(false).to_bytes().unwrap();
    assert_eq!((still9[4], still9[97]), (9, 0));
    assert!(Bitstream::read(&recrc(patch(&still9, 4, &[8]))).is_err());
    // With motion, version 9 always has the phases: a sketch without them cannot be written.
    let mut unphased = wide_clip(true);
    unphased.header.sketch.as_mut().unwrap().motion.as_mut().unwrap().phases.clear();
    assert!(unphased.to_bytes().is_err());
    let mut bad_crc = bytes.clone();
    *bad_crc.last_mut().unwrap() ^= 0xff;
    assert!(matches!(Bitstream::read(&bad_crc), Err(FormatError::Checksum { .. })));
}

#[test]
fn absurd_sizes_are_rejected_before_allocation() {
    let bytes = minimal_clip().to_bytes().unwrap();
    let cases: [(usize, Vec<u8>, &str); 12] = [
        (FRAMES, u16::MAX.to_le_bytes().to_vec(), "frames"),
        (WIDTH, 0u16.to_le_bytes().to_vec(), "width"),
        (WIDTH, 4100u16.to_le_bytes().to_vec(), "width"),
        (WIDTH, [4096u16.to_le_bytes(), 4096u16.to_le_bytes(), 1024u16.to_le_bytes()].concat(), "width*height*frames"),
        (FPS_DEN, 0u16.to_le_bytes().to_vec(), "fps"),
        (STEPS, vec![0], "steps"),
        (TARGETS, vec![9], "lora_targets"),
        (PRIOR_KIND, vec![7], "prior_kind"),
        (SHIFT, f32::NAN.to_le_bytes().to_vec(), "shift"),
        (K, u32::MAX.to_le_bytes().to_vec(), "k"),
        (QUANT_STEP, f32::INFINITY.to_le_bytes().to_vec(), "quant_step"),
        (PAYLOAD_LEN, u32::MAX.to_le_bytes().to_vec(), "payload_len"),
    ];
    for (at, with, field) in cases {
        assert_eq!(field_of(Bitstream::read(&patch(&bytes, at, &with)).unwrap_err()), field);
    }
    let inverted = patch(&bytes, PRIOR_MIN, &[5i16.to_le_bytes(), (-5i16).to_le_bytes()].concat());
    assert_eq!(Bitstream::read(&inverted), Err(FormatError::Entropy(EntropyError::EmptyRange { min: 5, max: -5 })));
}

#[test]
fn inconsistent_lengths_are_rejected() {
    let bytes = minimal_clip().to_bytes().unwrap();
    let stored = u16::from_le_bytes([bytes[6], bytes[7]]);
    assert_eq!(
        Bitstream::read(&patch(&bytes, 6, &(stored + 1).to_le_bytes())),
        Err(FormatError::HeaderLength { stored: stored + 1, actual: 86 })
    );
    let mut longer = bytes.clone();
    longer.splice(bytes.len() - 4..bytes.len() - 4, [1, 2, 3, 4]);
    assert_eq!(Bitstream::read(&recrc(longer)), Err(FormatError::TrailingBytes(4)));
    let payload_len = u32::from_le_bytes(bytes[PAYLOAD_LEN..PAYLOAD_LEN + 4].try_into().unwrap());
    let claims_more = patch(&bytes, PAYLOAD_LEN, &(payload_len + 4).to_le_bytes());
    assert!(matches!(Bitstream::read(&claims_more), Err(FormatError::Truncated { .. })));
}

#[test]
fn hostile_sketch_sections_are_typed_errors() {
    use lora_video_shared::sketch::SketchError;
    // full.lvc: the sketch at 86: cell_log2, keyframes, q_luma, q_chroma, start, scale[2], payload_len.
    let bytes = full_clip().to_bytes().unwrap();
    let sketch_err = |b: Vec<u8>| match Bitstream::read(&b) {
        Err(FormatError::Sketch(SketchError::OutOfRange { field, .. })) => field,
        other => panic!("expected a sketch range error, got {other:?}"),
    };
    assert_eq!(sketch_err(patch(&bytes, 86, &[1])), "cell_log2");
    assert_eq!(sketch_err(patch(&bytes, 86, &[9])), "cell_log2");
    assert_eq!(sketch_err(patch(&bytes, 87, &[17])), "keyframes");
    assert_eq!(sketch_err(patch(&bytes, 87, &[0])), "keyframes");
    assert_eq!(sketch_err(patch(&bytes, 88, &[0])), "q_luma");
    assert_eq!(sketch_err(patch(&bytes, 89, &[200])), "q", "version 2: steps 1..=128");
    assert_eq!(sketch_err(patch(&bytes, 89, &[0])), "q_chroma");
    // Version 3 (transform.lvc): cells from 1 pixel, q to 255; tilt and decay follow scale.
    let v3 = transform_clip().to_bytes().unwrap();
    assert!(Bitstream::read(&patch(&v3, 86, &[0])).is_ok());
    assert!(Bitstream::read(&patch(&v3, 89, &[255])).is_ok());
    assert_eq!(sketch_err(patch(&v3, 86, &[9])), "cell_log2");
    assert_eq!(sketch_err(patch(&bytes, 90, &[0])), "start");
    assert_eq!(sketch_err(patch(&bytes, 91, &[0])), "scale");
    assert_eq!(field_of(Bitstream::read(&patch(&bytes, 93, &65000u16.to_le_bytes())).unwrap_err()), "sketch payload_len");
    assert_eq!(field_of(Bitstream::read(&patch(&bytes, 93, &3u16.to_le_bytes())).unwrap_err()), "sketch payload_len");
    // A payload claimed longer than the file: truncated, nothing allocated from the claim.
    assert!(matches!(Bitstream::read(&patch(&bytes, 93, &32768u16.to_le_bytes())), Err(FormatError::Truncated { .. })));
    // Motion (version 4, motion.lvc): block_log2, scale, payload_len after the sketch's payload.
    let v4 = motion_clip().to_bytes().unwrap();
    let at = 86 + 12 + usize::from(u16::from_le_bytes([v4[96], v4[97]]));
    assert!(Bitstream::read(&v4).unwrap().header.sketch.unwrap().motion.is_some());
    assert_eq!(sketch_err(recrc(patch(&v4, at, &[2]))), "motion block_log2");
    assert_eq!(sketch_err(recrc(patch(&v4, at, &[9]))), "motion block_log2");
    assert_eq!(sketch_err(recrc(patch(&v4, at + 1, &[0]))), "motion scale");
    assert_eq!(field_of(Bitstream::read(&recrc(patch(&v4, at + 2, &3u16.to_le_bytes()))).unwrap_err()), "motion payload_len");
    assert!(matches!(Bitstream::read(&recrc(patch(&v4, at + 2, &32768u16.to_le_bytes()))), Err(FormatError::Truncated { .. })));
    assert_eq!(sketch_err(recrc(patch(&v4, 87, &[1]))), "keyframes", "motion needs 2 keyframes");
    // Version 5 (wavelet.lvc, wavelet-motion.lvc): levels 1..=8 after decay; without
    // motion, the motion fields are all zero.
    for m in [false, true] {
        let v5 = wavelet_clip(m, false).to_bytes().unwrap();
        assert_eq!(field_of(Bitstream::read(&recrc(patch(&v5, 96, &[0]))).unwrap_err()), "sketch levels");
        assert_eq!(field_of(Bitstream::read(&recrc(patch(&v5, 96, &[9]))).unwrap_err()), "sketch levels");
        assert!(Bitstream::read(&recrc(patch(&v5, 96, &[8]))).is_ok());
        assert_eq!(Bitstream::read(&v5).unwrap().header.sketch.unwrap().motion.is_some(), m);
    }
    let v5 = wavelet_clip(false, false).to_bytes().unwrap();
    let at = 86 + 13 + usize::from(u16::from_le_bytes([v5[97], v5[98]]));
    assert_eq!(v5[at..at + 4], [0, 0, 0, 0]);
    assert_eq!(field_of(Bitstream::read(&recrc(patch(&v5, at + 1, &[3]))).unwrap_err()), "motion scale and payload_len");
    assert_eq!(field_of(Bitstream::read(&recrc(patch(&v5, at + 2, &[4]))).unwrap_err()), "motion scale and payload_len");
    // Motion fields where there was none: the motion is checked (here, garbage).
    assert!(Bitstream::read(&recrc(patch(&v5, at, &[6]))).is_err());
    // Damaged sketch payload under a valid checksum: the decode says so.
    let clip = Bitstream::read(&bytes).unwrap();
    let mut s = clip.header.sketch.clone().unwrap();
    let n = s.payload.len();
    s.payload[n - 4..].copy_from_slice(&[0, 0, 0, 0]);
    assert!(matches!(lora_video_shared::sketch::decode(&s, 256, 256, 16), Err(SketchError::Corrupt(_))));
}

#[test]
fn sections_must_be_canonical_and_valid() {
    // full.lvc: steps = 12, the sketch at 86 (9 + payload bytes), then scaling (m_log2,
    // eta, mask[2], choices[3]), then metadata.
    let full = full_clip().to_bytes().unwrap();
    let sketch_len = 9 + usize::from(u16::from_le_bytes([full[93], full[94]]));
    // The same offsets as without the sketch: cut it out.
    let mut bytes = full[..86].to_vec();
    bytes.extend_from_slice(&full[86 + sketch_len..]);
    bytes[5] &= !FLAG_SKETCH;
    let hl = u16::from_le_bytes([bytes[6], bytes[7]]) - sketch_len as u16;
    bytes[6..8].copy_from_slice(&hl.to_le_bytes());
    let bytes = recrc(bytes);
    assert!(Bitstream::read(&bytes).is_ok());
    assert_eq!(Bitstream::read(&patch(&bytes, 92, &[bytes[92] | 0x80])), Err(FormatError::NonCanonical("scaling step mask")));
    assert_eq!(Bitstream::read(&patch(&bytes, 95, &[bytes[95] | 0x80])), Err(FormatError::NonCanonical("scaling choices")));
    assert_eq!(field_of(Bitstream::read(&patch(&bytes, 86, &[0])).unwrap_err()), "m_log2");
    assert_eq!(field_of(Bitstream::read(&patch(&bytes, 87, &(-1f32).to_le_bytes())).unwrap_err()), "eta");
    assert_eq!(field_of(Bitstream::read(&patch(&bytes, 91, &[0, 0])).unwrap_err()), "scaled steps");
    assert_eq!(Bitstream::read(&patch(&bytes, 97, &[0xff])), Err(FormatError::InvalidUtf8("title")));
    let caption_len = 96 + 1 + 6;
    assert_eq!(field_of(Bitstream::read(&patch(&bytes, caption_len, &60000u16.to_le_bytes())).unwrap_err()), "caption length");
}

#[test]
fn corrupt_payload_under_a_valid_checksum_is_an_error() {
    let clip = minimal_clip();
    let mut bytes = clip.to_bytes().unwrap();
    let end = bytes.len() - 4;
    bytes[end - 4..end].copy_from_slice(&[0, 0, 0, 0]);
    let read = Bitstream::read(&recrc(bytes)).unwrap();
    assert!(matches!(read.symbols(), Err(FormatError::Entropy(EntropyError::CorruptPayload(_)))));
}

#[test]
fn writer_refuses_what_the_reader_would_refuse() {
    let mut clip = minimal_clip();
    clip.header.width = 12;
    assert_eq!(field_of(clip.to_bytes().unwrap_err()), "width");
    let clip = minimal_clip();
    assert_eq!(Bitstream::encode(clip.header.clone(), &[0; 3]), Err(FormatError::VectorLength { k: 4096, got: 3 }));
    let mut h = clip.header;
    h.prior = Prior { kind: PriorKind::Laplace, scale: 1.0, min: -1, max: 1 };
    let mut q = vec![0; 4096];
    q[9] = 2;
    assert!(matches!(Bitstream::encode(h, &q), Err(FormatError::Entropy(EntropyError::SymbolOutOfRange { .. }))));
}

fn arb_clip() -> impl Strategy<Value = (Header, Vec<i32>)> {
    let dims = (1u16..=64, 1u16..=64, 1u16..=32, 1u16..=240, 1u16..=2);
    let sampler = (1u8..=50, 0.01f32..50.0, any::<u32>());
    let lora = (1u8..=8, any::<u32>(), 1u32..=600);
    let coding = (1e-4f32..10.0, prop_oneof![Just(PriorKind::Laplace), Just(PriorKind::Gaussian)], 0.01f32..100.0, -300i32..300);
    let scaling = proptest::option::of((1u8..=16, 0f32..10.0, proptest::collection::vec(any::<u16>(), 1..50)));
    let metadata = proptest::option::of(("\\PC{0,40}", "\\PC{0,200}"));
    (dims, sampler, lora, coding, scaling, metadata).prop_flat_map(
        |((w, h, f, fps, den), (steps, shift, seed), (rank, hash_seed, k), (step, kind, scale, spread), scaling, meta)| {
            let symbols = proptest::collection::vec(-spread.abs()..=spread.abs(), k as usize);
            symbols.prop_map(move |q| {
                let scaling = scaling.clone().map(|(m_log2, eta, choices)| Scaling {
                    m_log2,
                    eta,
                    steps: (0..steps)
                        .zip(&choices)
                        .filter(|(s, c)| s % 3 == 0 || **c % 2 == 0)
                        .map(|(s, &c)| ScaledStep { step: s, choice: c & ((1u32 << m_log2) - 1) as u16 })
                        .collect(),
                });
                let header = Header {
                    model_sha256: [seed as u8; 32],
                    width: w * 8,
                    height: h * 8,
                    frames: f,
                    fps: Fps { num: fps, den },
                    sampler: Sampler { steps, shift, seed },
                    lora: Lora { rank, targets: LoraTargets::AttentionQkvo, hash_seed, k },
                    quant_step: step,
                    prior: Prior { scale, ..Prior::fit(kind, &q) },
                    sketch: None,
                    scaling: scaling.filter(|s| !s.steps.is_empty()),
                    metadata: meta.clone().map(|(title, caption)| Metadata { title, caption }),
                };
                (header, q)
            })
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_valid_clip_round_trips((header, q) in arb_clip()) {
        let clip = Bitstream::encode(header, &q).unwrap();
        let bytes = clip.to_bytes().unwrap();
        let back = Bitstream::read(&bytes).unwrap();
        prop_assert_eq!(&back, &clip);
        prop_assert_eq!(back.symbols().unwrap(), q);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut b = bytes;
        if b.len() >= 5 { b[..5].copy_from_slice(b"lvcf\x01"); }
        let _ = Bitstream::read(&b);
        if b.len() >= 4 { let _ = Bitstream::read(&recrc(b)); }
    }

    #[test]
    fn mutated_files_are_errors_or_read_canonically(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        full in any::<bool>(),
    ) {
        let mut b = if full { full_clip() } else { minimal_clip() }.to_bytes().unwrap();
        for (i, v) in edits {
            let n = b.len() - CHECKSUM_LEN;
            b[i.index(n)] = v;
        }
        let b = recrc(b);
        if let Ok(clip) = Bitstream::read(&b) {
            prop_assert_eq!(clip.to_bytes().unwrap(), b);
            let _ = clip.symbols();
        }
    }
}
