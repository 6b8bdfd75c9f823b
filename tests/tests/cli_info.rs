//! `lora-video info` end to end, in-process: clips, models, and every class of bad input.

use std::path::PathBuf;

use lora_video::cli::run;
use lora_video::error::CliError;
use lora_video_shared::package::{self, LatentNorm, Manifest, Package, SamplerDefaults, Tensor};
use lora_video_shared::to_hex;

const FULL: &[u8] = include_bytes!("../../shared/tests/golden/full.lvc");

fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lora-video-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn info(args: &[&str]) -> Result<String, CliError> {
    let mut out = Vec::new();
    run(["lora-video", "info"].iter().chain(args), &mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

#[test]
fn clip_info_text_and_json() {
    let path = scratch("full.lvc", FULL);
    let text = info(&[path.to_str().unwrap()]).unwrap();
    let sketch = lora_video_shared::format::Bitstream::read(FULL).unwrap().header.sketch.unwrap();
    let parts = format!("parts      sketch {} + vector", sketch.section_len());
    for want in ["bitstream v2", "256x256, 16 frames at 24/1 fps", "k = 1024", "M = 2^6, eta 0.5, steps 0,5,11 (18 bits)", "title      golden", "sketch     3 keyframes of 16-pixel cells, sample-coded, q 6/10", &parts] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    let json: serde_json::Value = serde_json::from_str(&info(&[path.to_str().unwrap(), "--json"]).unwrap()).unwrap();
    assert_eq!(json["kind"], "clip");
    assert_eq!(json["file_bytes"], FULL.len());
    assert_eq!(json["header_bytes"], 86 + sketch.section_len() + 10 + 1 + 6 + 2 + "a pinned clip, é ✓".len());
    assert_eq!(json["parts"]["sketch"], sketch.section_len());
    assert_eq!(json["header"]["sketch"]["params"]["keyframes"], 3);
    assert_eq!(json["header"]["lora"]["k"], 1024);
    assert_eq!(json["header"]["prior"]["kind"], "gaussian");
    assert_eq!(json["scaling_bits"], 18);
    // Version 3: a transform-coded sketch.
    let path = scratch("transform.lvc", include_bytes!("../../shared/tests/golden/transform.lvc"));
    let text = info(&[path.to_str().unwrap()]).unwrap();
    for want in ["bitstream v3", "sketch     4 keyframes of 4-pixel cells, DCT-coded (tilt 16), q 70/80"] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }    // Version 5: a wavelet sketch with motion.
    let path = scratch("wavelet-motion.lvc", include_bytes!("../../shared/tests/golden/wavelet-motion.lvc"));
    let text = info(&[path.to_str().unwrap()]).unwrap();
    for want in ["bitstream v5", "4 keyframes of 4-pixel cells, wavelet-coded (3 levels, tilt 16), predicted along motion on 64-pixel blocks"] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}

#[test]
fn model_info_text_and_json() {
    let mut p = Package::new(Manifest::new("tiny", serde_json::json!({"dim": 8}), LatentNorm { mean: vec![0.0; 2], std: vec![1.0; 2] }, SamplerDefaults { steps: 4, shift: 2.0 }));
    p.insert("w", Tensor::int8_per_channel(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 0));
    let bytes = p.to_bytes().unwrap();
    let path = scratch("tiny.lvm", &bytes);
    let text = info(&[path.to_str().unwrap()]).unwrap();
    assert!(text.contains("base model \"tiny\""), "{text}");
    assert!(text.contains(&to_hex(&package::sha256(&bytes))), "{text}");
    let json: serde_json::Value = serde_json::from_str(&info(&[path.to_str().unwrap(), "--json"]).unwrap()).unwrap();
    assert_eq!(json["kind"], "model");
    assert_eq!(json["parameters"], 6);
    assert_eq!(json["tensors"][0]["dtype"], "i8");
}

#[test]
fn bad_inputs_have_exit_codes_and_clear_messages() {
    let truncated = scratch("truncated.lvc", &FULL[..FULL.len() - 9]);
    let e = info(&[truncated.to_str().unwrap()]).unwrap_err();
    assert_eq!(e.exit_code(), 1);
    let mut flipped = FULL.to_vec();
    flipped[120] ^= 1;
    let e = info(&[scratch("flipped.lvc", &flipped).to_str().unwrap()]).unwrap_err();
    assert_eq!(e.exit_code(), 1);
    assert!(e.to_string().contains("checksum mismatch"), "{e}");
    let e = info(&[scratch("junk.lvm", b"junk").to_str().unwrap()]).unwrap_err();
    assert!(e.to_string().contains("not a valid safetensors container"), "{e}");
    let e = info(&["/nonexistent/clip.lvc"]).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let mut out = Vec::new();
    assert_eq!(run(["lora-video", "info", "--frobnicate"], &mut out).unwrap_err().exit_code(), 1);
    assert_eq!(run(["lora-video"], &mut out).unwrap_err().exit_code(), 1);
    run(["lora-video", "--help"], &mut out).unwrap();
    assert!(String::from_utf8(out).unwrap().contains("info"));
}
