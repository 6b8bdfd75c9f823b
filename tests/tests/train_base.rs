//! train-base and pack-base end to end on the tiny configuration: reproducible from the
//! seed, an interrupted run resumes to exactly the same weights, and the result packs
//! into a .lvm that loads and that `info` reads.

use std::path::{Path, PathBuf};

use lora_video::cli::run;
use lora_video_shared::model::base::BaseModel;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lora-video-train-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn taef2() -> String {
    std::env::var("LORA_VIDEO_TAEF2").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/assets/taef2").into())
}

fn train(out: &Path, steps: usize) -> String {
    let steps = steps.to_string();
    let t = taef2();
    let args = ["lora-video", "train-base", "-q", "--config", "tiny", "--clips", "8", "--batch", "2", "--frames", "3", "--size", "32", "--val-every", "3", "--steps", &steps, "--taef2", &t, "-o", out.to_str().unwrap()];
    let mut log = Vec::new();
    run(args, &mut log).unwrap_or_else(|e| panic!("train-base failed: {e}"));
    String::from_utf8(log).unwrap()
}

#[test]
fn train_resume_and_pack() {
    let (a, b) = (scratch("a"), scratch("b"));
    let log = train(&a, 6);
    assert!(log.contains("held out"), "{log}");
    assert!(log.contains("validation loss"), "{log}");
    let csv = std::fs::read_to_string(a.join("log.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2, "validation at steps 3 and 6: {csv}");

    // Same seed, interrupted at step 3 and resumed: the same bytes.
    for f in std::fs::read_dir(&a).unwrap().flatten() {
        if f.file_name().to_string_lossy().starts_with("latents-") {
            std::fs::copy(f.path(), b.join(f.file_name())).unwrap();
        }
    }
    train(&b, 3);
    assert!(train(&b, 6).contains("resuming at step 3"));
    let (fa, fb) = (std::fs::read(a.join("denoiser.safetensors")).unwrap(), std::fs::read(b.join("denoiser.safetensors")).unwrap());
    assert_eq!(fa, fb, "a resumed run must give the same weights as an uninterrupted one");

    let lvm = a.join("tiny.lvm");
    let mut out = Vec::new();
    let t = taef2();
    run(["lora-video", "pack-base", "--denoiser", a.join("denoiser.safetensors").to_str().unwrap(), "--taef2", &t, "-o", lvm.to_str().unwrap()], &mut out).unwrap();
    let bytes = std::fs::read(&lvm).unwrap();
    let model = BaseModel::from_bytes(&bytes, &burn::tensor::Device::flex()).unwrap();
    assert!(String::from_utf8(out).unwrap().contains(&lora_video_shared::to_hex(&model.sha256)));
    let lvm2 = a.join("again.lvm");
    run(["lora-video", "pack-base", "--denoiser", a.join("denoiser.safetensors").to_str().unwrap(), "--taef2", &t, "-o", lvm2.to_str().unwrap()], &mut Vec::new()).unwrap();
    assert_eq!(std::fs::read(&lvm2).unwrap(), bytes, "pack-base is reproducible");
    let mut info = Vec::new();
    run(["lora-video", "info", lvm.to_str().unwrap()], &mut info).unwrap();
    assert!(String::from_utf8(info).unwrap().contains("denoiser.blocks.0.spatial.q.weight"));
}
