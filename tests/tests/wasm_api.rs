//! The wasm decoder's API, built natively: the same code the browser runs gives the same
//! frames as the reference decoder, and its errors are typed.

use std::path::PathBuf;

use lora_video::cli::run;
use lora_video_decoder_wasm::{Backend, Decoder, ErrorCode};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn pack(which: &str) -> Vec<u8> {
    let out = std::env::temp_dir().join(format!("lora-video-wasm-api-{}-{which}.lvm", std::process::id()));
    let taef2 = std::env::var("LORA_VIDEO_TAEF2").unwrap_or_else(|_| root().join("../shared/assets/taef2").to_string_lossy().into());
    let denoiser = root().join("models").join(which).join("denoiser.safetensors");
    run(["lora-video", "pack-base", "--denoiser", denoiser.to_str().unwrap(), "--taef2", &taef2, "-o", out.to_str().unwrap()], &mut Vec::new()).unwrap();
    std::fs::read(out).unwrap()
}

/// The wasm decoder and the CLI on one fixture: the same RGBA bytes.
fn same_frames_as_the_reference_decoder_on(name: &str) {
    let model = pack("tiny");
    let fixture = root().join("tests/browser/fixtures").join(name);
    let clip = std::fs::read(&fixture).unwrap();
    let decoder = pollster::block_on(Decoder::open(&model, false)).unwrap();
    assert_eq!(decoder.backend(), Backend::Cpu);
    let mut calls = Vec::new();
    let got = pollster::block_on(decoder.decode_frames(&clip, &Default::default(), None, |done, total| calls.push((done, total)))).unwrap();
    assert_eq!(calls.last(), Some(&(calls.len() as u32, calls.len() as u32)), "progress ends at the total");

    // The CLI's reference decode of the same file, as PNG frames.
    let lvm = std::env::temp_dir().join(format!("lora-video-wasm-api-{}-{name}-ref.lvm", std::process::id()));
    std::fs::write(&lvm, &model).unwrap();
    let out = std::env::temp_dir().join(format!("lora-video-wasm-api-{}-{name}-%02d.png", std::process::id()));
    run(["lora-video", "decode", "-q", "-i", fixture.to_str().unwrap(), "-m", lvm.to_str().unwrap(), "-o", out.to_str().unwrap()], &mut Vec::new()).unwrap();
    let n = (got.width * got.height * 4) as usize;
    for i in 0..got.frames as usize {
        let png = image::open(out.to_str().unwrap().replace("%02d", &format!("{i:02}"))).unwrap().to_rgba8();
        assert_eq!(png.as_raw().as_slice(), &got.rgba[i * n..(i + 1) * n], "frame {i}");
    }
}

#[test]
fn same_frames_as_the_reference_decoder() {
    same_frames_as_the_reference_decoder_on("tiny.lvc");
}

/// A clip with inference-time scaling: both decoders replay the same choices.
#[test]
fn scaled_clip_same_frames_as_the_reference_decoder() {
    same_frames_as_the_reference_decoder_on("tiny-scaled.lvc");
}

#[test]
fn errors_are_typed() {
    let tiny = pollster::block_on(Decoder::open(&pack("tiny"), false)).unwrap();
    let other = std::fs::read(root().join("web/demo/samples/tree.lvc")).unwrap();
    let e = pollster::block_on(tiny.decode_frames(&other, &Default::default(), None, |_, _| {})).unwrap_err();
    assert_eq!(e.code, ErrorCode::WrongModel, "{}", e.message);
    let e = pollster::block_on(tiny.decode_frames(b"nope", &Default::default(), None, |_, _| {})).unwrap_err();
    assert_eq!(e.code, ErrorCode::NotAClip);
    let e = pollster::block_on(tiny.decode_frames(&other[..50], &Default::default(), None, |_, _| {})).unwrap_err();
    assert_eq!(e.code, ErrorCode::Truncated);
    let e = pollster::block_on(Decoder::open(b"not a model", false)).err().unwrap();
    assert_eq!(e.code, ErrorCode::BadModel);
}
