//! The `lora-video` binary as a user runs it: exit codes, a killed encode, no ffmpeg.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lora-video"))
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lora-video-process-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn taef2() -> PathBuf {
    std::env::var_os("LORA_VIDEO_TAEF2").map(PathBuf::from).unwrap_or_else(|| root().join("../shared/assets/taef2"))
}

/// The tiny test model, packed by the binary itself.
fn tiny_lvm(dir: &std::path::Path) -> PathBuf {
    let out = dir.join("tiny.lvm");
    let status = bin()
        .args(["pack-base", "--denoiser"])
        .arg(root().join("models/tiny/denoiser.safetensors"))
        .arg("--taef2")
        .arg(taef2())
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    out
}

/// A small real image from the test data.
fn photo() -> PathBuf {
    let data = std::env::var_os("LORA_VIDEO_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/lora-video/data"));
    let p = data.join("photos/scikit-image/astronaut.png");
    assert!(p.exists(), "{}: run `bash scripts/fetch-data.sh --test` first", p.display());
    p
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let out = bin().args(["encode", "--size", "17x17", "-i", "a", "-o", "b"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("multiples of 16"));
    let out = bin().args(["encode", "--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    for flag in ["--bytes", "--kbps", "--lambda", "--preset", "--seed", "--json"] {
        assert!(String::from_utf8_lossy(&out.stdout).contains(flag), "help lists {flag}");
    }
}

#[test]
fn a_killed_encode_leaves_no_clip() {
    let dir = scratch();
    let model = tiny_lvm(&dir);
    let out = dir.join("killed.lvc");
    let mut child = bin()
        .args(["encode", "-q", "--size", "64x64", "--stage1", "100000", "-i"])
        .arg(photo())
        .arg("-o")
        .arg(&out)
        .arg("-m")
        .arg(&model)
        .arg("--taef2")
        .arg(taef2())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    assert!(child.try_wait().unwrap().is_none(), "still fitting");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "no .lvc after a kill");
}

#[test]
fn without_ffmpeg_the_error_names_the_alternatives() {
    let dir = scratch();
    let model = tiny_lvm(&dir);
    std::fs::write(dir.join("clip.mp4"), b"not really").unwrap();
    let out = bin()
        .env("PATH", "")
        .args(["encode", "-i"])
        .arg(dir.join("clip.mp4"))
        .arg("-o")
        .arg(dir.join("x.lvc"))
        .arg("-m")
        .arg(&model)
        .arg("--taef2")
        .arg(taef2())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in ["ffmpeg", ".y4m", "PNG", "%04d"] {
        assert!(err.contains(want), "{err}");
    }
}
