//! Golden vectors: the PRNG, the Gaussian noise, the index map, the entropy tables, the
//! sketch (payload, decoded samples, upsampled images, frame weights) and whole `.lvc`
//! files, pinned byte for byte. This file runs natively (`cargo test`) and
//! compiled to wasm32 under node (`scripts/test-wasm.sh`), which proves both targets agree.
//!
//! To re-bless after a deliberate format change (native only):
//! `LVC_BLESS=1 cargo test -p lora-video-shared --test golden -- --nocapture`,
//! then paste the printed constants. A change here is a change of the format.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use lora_video_shared::entropy::{Prior, PriorKind};
use lora_video_shared::format::Bitstream;
use lora_video_shared::hashing::{IndexMap, LoraPart, LoraSlot};
use lora_video_shared::noise::{self, Stream};
use lora_video_shared::package::sha256;
use lora_video_shared::to_hex;

mod common;
use common::{coded_motion_sketch, coded_transform_sketch, full_clip, minimal_clip, motion_clip, phased_clip, sharpened_clip, test_motion_sketch, test_phases, test_sketch, test_transform_sketch, transform_clip, wavelet_clip, wide_clip};

fn bless() -> bool {
    cfg!(not(target_arch = "wasm32")) && std::env::var_os("LVC_BLESS").is_some()
}

/// Compare, or print the new value when blessing.
fn pin(name: &str, got: &str, want: &str) {
    if bless() {
        println!("BLESS {name} = \"{got}\"");
    } else {
        assert_eq!(got, want, "golden vector {name} changed");
    }
}

fn hash_u32(v: impl IntoIterator<Item = u32>) -> String {
    let bytes: Vec<u8> = v.into_iter().flat_map(u32::to_le_bytes).collect();
    to_hex(&sha256(&bytes))
}

#[test]
fn philox_blocks() {
    let b = noise::block(0x0123_4567_89ab_cdef, Stream::Candidate { step: 3, index: 77 }, 1 << 40);
    pin("philox_block", &format!("{:08x?}", b), "[9db68938, f2660f66, 2d29e3d7, de55be46]");
    let draws: Vec<String> = (0..4).map(|i| format!("{:016x}", noise::u64_at(42, Stream::IndexMap, i))).collect();
    pin("u64_draws", &draws.join(","), "ecba94ea97907da9,1d9cc73d07dea2c9,146515f0f7bc4fb8,bf35da17df9e59b1");
}

#[test]
fn gaussian_noise() {
    let v = noise::gaussian_vec(2026, Stream::Initial, 8);
    let bits: Vec<String> = v.iter().map(|x| format!("{:08x}", x.to_bits())).collect();
    pin("gaussian_first8", &bits.join(","), "bea8320d,3f8bb052,3f1aaad4,bfa8e60d,3f2a7bf2,beed79a2,3ea68df2,be7728f1");
    let many = noise::gaussian_vec(7, Stream::Candidate { step: 12, index: 4095 }, 100_000);
    pin("gaussian_100k_sha256", &hash_u32(many.iter().map(|x| x.to_bits())), "00aef3984a5e32412e9f4e820deb21c46aab528a06e949e3bb41641d48ceed2f");
    let far = noise::gaussian(1, Stream::Initial, u64::MAX - 1);
    pin("gaussian_far", &format!("{:08x}", far.to_bits()), "bf75548e");
}

fn slots() -> Vec<LoraSlot> {
    let mut s = Vec::new();
    for layer in 0..4 {
        for proj in ["q", "k", "v", "out"] {
            let name = format!("blocks.{layer}.attn.{proj}");
            s.push(LoraSlot { layer: name.clone(), part: LoraPart::A, rows: 1, cols: 96 });
            s.push(LoraSlot { layer: name, part: LoraPart::B, rows: 96, cols: 1 });
        }
    }
    s
}

#[test]
fn index_map() {
    let m = IndexMap::new(&slots(), 1000, 0xfeed).unwrap();
    assert_eq!(m.len(), 3072);
    let first: Vec<String> = m.indices()[..12].iter().map(u32::to_string).collect();
    pin("index_map_first12", &first.join(","), "878,376,104,753,608,28,370,0,972,510,94,986");
    pin("index_map_sha256", &hash_u32(m.indices().iter().copied()), "da9c50ab98c82ae36efb62d92aa704e7f0ae160db74470c2ea34e22dd0ac1330");
    pin("index_map_scales_sha256", &hash_u32(m.scales().iter().map(|x| x.to_bits())), "906a35ae32b0d77a1313cc929c63f420807c98f3ab2e1e4d3e1d5db4b73aa9ae");
}

#[test]
fn entropy_tables() {
    for (name, kind, scale, want) in [
        ("table_laplace", PriorKind::Laplace, 2.5f32, "0225fa440fdb2955f23ec8b79a5e38cc885d92ba784740020c0bd1c4dd69b26b"),
        ("table_gaussian", PriorKind::Gaussian, 7.25f32, "fed134243b41fe5427f306248fd9b1bfa232ca4cf5c254f698aeb390bef5bc4c"),
    ] {
        let t = Prior { kind, scale, min: -60, max: 60 }.table().unwrap();
        pin(name, &hash_u32(t), want);
    }
}

fn check_file(name: &str, clip: Bitstream, golden: &[u8]) {
    let bytes = clip.to_bytes().unwrap();
    if bless() {
        let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::write(&path, &bytes).unwrap();
        println!("BLESS wrote {path} ({} bytes)", bytes.len());
        return;
    }
    assert_eq!(bytes, golden, "{name} changed");
    let back = Bitstream::read(golden).unwrap();
    assert_eq!(back, clip);
    assert_eq!(back.symbols().unwrap(), clip.symbols().unwrap());
}

#[test]
fn golden_files() {
    check_file("minimal.lvc", minimal_clip(), include_bytes!("golden/minimal.lvc"));
    check_file("full.lvc", full_clip(), include_bytes!("golden/full.lvc"));
    check_file("transform.lvc", transform_clip(), include_bytes!("golden/transform.lvc"));
    check_file("motion.lvc", motion_clip(), include_bytes!("golden/motion.lvc"));
    check_file("wavelet.lvc", wavelet_clip(false, false), include_bytes!("golden/wavelet.lvc"));
    check_file("wavelet-motion.lvc", wavelet_clip(true, false), include_bytes!("golden/wavelet-motion.lvc"));
    check_file("adaptive.lvc", wavelet_clip(false, true), include_bytes!("golden/adaptive.lvc"));
    check_file("adaptive-motion.lvc", wavelet_clip(true, true), include_bytes!("golden/adaptive-motion.lvc"));
    check_file("sharpened.lvc", sharpened_clip(), include_bytes!("golden/sharpened.lvc"));
    check_file("phased.lvc", phased_clip(), include_bytes!("golden/phased.lvc"));
    check_file("wide.lvc", wide_clip(false), include_bytes!("golden/wide.lvc"));
    check_file("wide-motion.lvc", wide_clip(true), include_bytes!("golden/wide-motion.lvc"));
    assert_eq!(motion_clip().version, 4);
    assert_eq!(transform_clip().version, 3);
    assert_eq!((wavelet_clip(false, false).version, wavelet_clip(true, false).version), (5, 5));
    assert_eq!((wavelet_clip(false, true).version, wavelet_clip(true, true).version), (6, 6));
    assert_eq!((sharpened_clip().version, phased_clip().version), (7, 8));
    assert_eq!((wide_clip(false).version, wide_clip(true).version), (9, 9));
}

#[test]
fn sharpened_frame() {
    // A decoder's last step (version 7), the same bits on every target.
    let (w, h) = (37, 29);
    let mut x: Vec<f32> = (0..3 * w * h).map(|i| ((i * 7919) % 1000) as f32 / 999.0).collect();
    lora_video_shared::sharpen::frame(&mut x, w, h, lora_video_shared::sharpen::amount(8));
    pin("sharpened_frame_sha256", &hash_u32(x.iter().map(|v| v.to_bits())), "47aedd30157f071d37f04b08694e1751946f7d122b980521af94f9c7ceb9a083");
}

/// Decodes a coded sketch of the golden clip as written and pins its payload and samples
/// (`{name}_payload_sha256`, `{name}_samples_sha256`).
fn pin_sketch(name: &str, s: &lora_video_shared::sketch::Sketch, decoded: &[lora_video_shared::sketch::Keyframe], payload: &str, samples: &str) {
    assert_eq!(&lora_video_shared::sketch::decode(s, 256, 256, 16).unwrap(), decoded, "{name}");
    pin(&format!("{name}_payload_sha256"), &to_hex(&sha256(&s.payload)), payload);
    let bytes: Vec<u8> = decoded.iter().flat_map(|kf| kf.iter().flat_map(|p| p.data.iter().copied())).collect();
    pin(&format!("{name}_samples_sha256"), &to_hex(&sha256(&bytes)), samples);
}

#[test]
fn motion_sketch_decode() {
    use lora_video_shared::sketch;
    let (s, decoded, field) = test_motion_sketch(0, false);
    let m = s.motion.as_ref().unwrap();
    pin("motion_payload_sha256", &to_hex(&sha256(&m.payload)), "d028a8e3d6e24821b934eb83ad2ead0d94fe919380353fcaa5cc1d6d0266f504");
    pin_sketch("motion_sketch", &s, &decoded, "048628e864141bd166ee3a1b248c5bbd90d6ba02affd2d9feb21b3b4a82bf831", "b5ee45bbc40067f9374a8847686bcc3b0dbb5da20bb32275cd12a9cc22329609");
    // A frame between keyframes 1 and 2, moved along the field, at another size.
    let (a, b) = (sketch::upsample_rgb(&decoded[1], (2.5, 1.5), 160, 96), sketch::upsample_rgb(&decoded[2], (2.5, 1.5), 160, 96));
    let mid = field.between(1, &a, &b, 0.4, (0.625, 0.375), 160, 96);
    pin("motion_between_sha256", &hash_u32(mid.iter().map(|x| x.to_bits())), "6797573a4a6541f8da4bf821c6b82c3cf8fc95b832d5796fd2295dc784f82056");
}

#[test]
fn transform_sketch_decode() {
    let (s, decoded) = test_transform_sketch(0, false);
    pin_sketch("transform_sketch", &s, &decoded, "9a8945c6a50fe46870172ad55c26aeb297aac7da8160bed26d9176d29dd0d122", "3125fdf973da99e8f188e34be5da32b4e25a6b7d7bbc1769534ab659c2a8161e");
    pin("transform_sketch_fields", &format!("{:?} {:?}", s.scale, s.transform), "[11, 11] Some(Transform { tilt: 16, decay: [16, 12], levels: 0, adaptive: false, wide: false })");
}

#[test]
fn wavelet_sketch_decode() {
    let (s, decoded) = test_transform_sketch(3, false);
    pin_sketch("wavelet_sketch", &s, &decoded, "31d4cc7fa6ee38dfd6e4b1e04401e3b171d7a0ba1d8ac629bd5494bd9da39745", "e0377f051c55f8c91d80cf1a1ddb522bc573187fd9a648fc24e37347ddb24ef2");
    let (s, decoded, _) = test_motion_sketch(3, false);
    pin_sketch("wavelet_motion_sketch", &s, &decoded, "8f5073cd04b6d842c0eff1261bd226c7173a384c892e3569e49ac9e915370dee", "da1a9afe4660e13a60e15391c58a3ec6f95843a6b07e9d6a9cf0f8d4f99719e8");
    pin("wavelet_motion_sketch_fields", &format!("{:?} {:?}", s.scale, s.transform), "[32, 16] Some(Transform { tilt: 16, decay: [48, 12], levels: 3, adaptive: false, wide: false })");
}

#[test]
fn adaptive_sketch_decode() {
    // The same symbols as `wavelet_sketch_decode`: the same keyframes, another payload.
    let (s, decoded) = test_transform_sketch(3, true);
    pin_sketch("adaptive_sketch", &s, &decoded, "e1741098e2b0e5a1f890752b091931c241c2747f55dcc755dac26c91662cbba8", "e0377f051c55f8c91d80cf1a1ddb522bc573187fd9a648fc24e37347ddb24ef2");
    let (s, decoded, _) = test_motion_sketch(3, true);
    pin_sketch("adaptive_motion_sketch", &s, &decoded, "6640e24f0c355c4aabe8f549c6dc69023b27cfb476315f4a134506b94a30df86", "da1a9afe4660e13a60e15391c58a3ec6f95843a6b07e9d6a9cf0f8d4f99719e8");
    pin("adaptive_motion_sketch_fields", &format!("{:?} {:?}", s.scale, s.transform), "[32, 16] Some(Transform { tilt: 16, decay: [48, 12], levels: 3, adaptive: true, wide: false })");
}

#[test]
fn wide_sketch_decode() {
    // Version 9: the same symbols as `adaptive_sketch_decode`, under wide contexts.
    let t = lora_video_shared::sketch::Transform::newest(16, 3);
    let (s, decoded) = coded_transform_sketch(t);
    pin_sketch("wide_sketch", &s, &decoded, "b1cd77fb097c557058c029f17fcb61e9b02b1d6bd9e3c7303f57dbed723b0724", "e0377f051c55f8c91d80cf1a1ddb522bc573187fd9a648fc24e37347ddb24ef2");
    let (s, decoded, _) = coded_motion_sketch(t, test_phases());
    pin_sketch("wide_motion_sketch", &s, &decoded, "daf222af2b845f9d9de1b4b0ff79ecc4d0c7c9ebf1f3d87c94b5a3b5ed873480", "da1a9afe4660e13a60e15391c58a3ec6f95843a6b07e9d6a9cf0f8d4f99719e8");
    pin("wide_motion_sketch_fields", &format!("{:?} {:?}", s.scale, s.transform), "[32, 16] Some(Transform { tilt: 16, decay: [48, 16], levels: 3, adaptive: true, wide: true })");
}

#[test]
fn sketch_decode_and_condition() {
    use lora_video_shared::sketch;
    let (s, decoded) = test_sketch();
    let back = sketch::decode(&s, 256, 256, 16).unwrap();
    assert_eq!(back, decoded);
    pin("sketch_payload_sha256", &to_hex(&sha256(&s.payload)), "e22f63d2e873e8b8de44b50ed92daaf0c4124deac1d16e29a7f6d633dd0cbde7");
    let samples: Vec<u8> = back.iter().flat_map(|kf| kf.iter().flat_map(|p| p.data.iter().copied())).collect();
    pin("sketch_samples_sha256", &to_hex(&sha256(&samples)), "fe4f7e4daa157a1e90f718edd4097aedcd7f8841e1e85e03f13c33c9ecb27f8e");
    let g = sketch::Geometry::new(256, 256, 16, &s.params).unwrap();
    let rgb: Vec<f32> = back.iter().flat_map(|kf| sketch::upsample_rgb(kf, (16.0, 16.0), 256, 256)).collect();
    pin("sketch_rgb_sha256", &hash_u32(rgb.iter().map(|x| x.to_bits())), "f9db8dec82506d98bb31f1a7a9164957525e02f69d0fe02b4a8265f477c30da7");
    // Another render size resamples the same keyframes; another length blends them.
    let other = sketch::upsample_rgb(&back[1], (16.0 * 40.0 / 256.0, 16.0 * 24.0 / 256.0), 40, 24);
    pin("sketch_rgb_40x24_sha256", &hash_u32(other.iter().map(|x| x.to_bits())), "c0e46b2a2c1f200dcf5511c501367adf08d278d510d524283ab5889b8268a5eb");
    let w: Vec<u32> = sketch::frame_weights(&g, 7, &[]).iter().flat_map(|&(a, b, u)| [a as u32, b as u32, u.to_bits()]).collect();
    pin("sketch_weights_7_sha256", &hash_u32(w), "3103596f004b5abb7c993eb30e3add24d41fcc73ec9a67165889c5380d5d37d4");
    // Phases (version 8) move the frames between keyframes, at the clip's length and another.
    let g4 = sketch::Geometry::new(256, 256, 16, &sketch::SketchParams { keyframes: 4, ..s.params }).unwrap();
    let phases: Vec<i8> = (0..12).map(|i| (i * 23 % 97 - 48) as i8).collect();
    let w: Vec<u32> = [16, 23].iter().flat_map(|&n| sketch::frame_weights(&g4, n, &phases)).flat_map(|(a, b, u)| [a as u32, b as u32, u.to_bits()]).collect();
    pin("sketch_phased_weights_sha256", &hash_u32(w), "056e9be1c45fb4179a35129933820f36debe0d975c9bcf421abb9a536a414c1b");
}

#[test]
fn package_identity() {
    use lora_video_shared::package::{LatentNorm, Manifest, Package, SamplerDefaults, Tensor};
    let mut p = Package::new(Manifest::new(
        "golden",
        serde_json::json!({"dim": 96, "depth": 4, "patch": 2}),
        LatentNorm { mean: vec![0.25; 32], std: vec![1.5; 32] },
        SamplerDefaults { steps: 8, shift: 3.0 },
    ));
    let w = noise::gaussian_vec(5, Stream::Initial, 96 * 32);
    p.insert("blocks.0.attn.q.weight", Tensor::int8_per_channel(&[96, 32], &w, 1));
    p.insert("blocks.0.norm.weight", Tensor::f16(&[96], &w[..96]));
    p.insert("head.bias", Tensor::f32(&[32], w[..32].to_vec()));
    let bytes = p.to_bytes().unwrap();
    pin("package_sha256", &to_hex(&sha256(&bytes)), "cf451617aa98673be097c0d0fd9534c417abde521f38f787194c02a72c2e84b4");
    assert_eq!(Package::from_bytes(&bytes).unwrap(), p);
}
