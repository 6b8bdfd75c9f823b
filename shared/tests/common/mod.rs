//! Clips and data shared by the integration tests.
#![allow(dead_code)]

use lora_video_shared::entropy::{Prior, PriorKind};
use lora_video_shared::format::*;
use lora_video_shared::noise::{self, Stream};
use lora_video_shared::package::sha256;
use lora_video_shared::quant;
use lora_video_shared::sketch::{self, Geometry, Keyframe, Sketch, SketchParams};

pub fn symbols(k: usize) -> Vec<i32> {
    let theta: Vec<f32> = noise::gaussian_vec(11, Stream::Initial, k).iter().map(|z| z * 0.03).collect();
    quant::quantize(&theta, 0.01)
}

/// A typical clip: 16 frames of 256x256, k = 4096, no optional sections.
pub fn minimal_clip() -> Bitstream {
    let q = symbols(4096);
    let header = Header {
        model_sha256: sha256(b"golden model"),
        width: 256,
        height: 256,
        frames: 16,
        fps: Fps { num: 24, den: 1 },
        sampler: Sampler { steps: 8, shift: 3.0, seed: 1 },
        lora: Lora { rank: 1, targets: LoraTargets::AttentionQkvo, hash_seed: 7, k: 4096 },
        quant_step: 0.01,
        prior: Prior::fit(PriorKind::Laplace, &q),
        sketch: None,
        scaling: None,
        metadata: None,
    };
    Bitstream::encode(header, &q).unwrap()
}

/// A synthetic RGB8 clip: gradients that drift frame by frame.
pub fn test_frames(w: usize, h: usize, t: usize) -> Vec<Vec<u8>> {
    (0..t)
        .map(|f| {
            (0..w * h)
                .flat_map(|p| {
                    let (x, y) = (p % w, p / w);
                    [((x + 3 * f) * 255 / (w + 3 * t)) as u8, ((y * 180) / h + 40) as u8, (((x / 16 + y / 16) % 2) * 120 + f * 4) as u8]
                })
                .collect()
        })
        .collect()
}

/// The sketch the golden files hold: `test_frames(256, 256, 16)` at 16-pixel cells, 3
/// keyframes, steps 6 and 10; and its decoded keyframes.
pub fn test_sketch() -> (Sketch, Vec<Keyframe>) {
    let p = SketchParams { cell_log2: 4, keyframes: 3, q_luma: 6, q_chroma: 10 };
    let (g, targets) = test_targets(&p);
    sketch::encode(&g, p, 191, &targets)
}

/// The geometry of `p` for `test_frames(256, 256, 16)` and the thumbnails of its keyframes.
fn test_targets(p: &SketchParams) -> (Geometry, Vec<Keyframe>) {
    let (w, h, t) = (256, 256, 16);
    let g = Geometry::new(w, h, t, p).unwrap();
    let frames = test_frames(w, h, t);
    let targets = g.keyframe_times().iter().map(|&k| sketch::thumbnail(&frames[k], w, h, &g)).collect();
    (g, targets)
}

/// Tilt 16 at `levels`: the DCT (levels 0) or the wavelet under fixed models or
/// (`adaptive`) adaptive ones with narrow contexts.
fn models(levels: u8, adaptive: bool) -> sketch::Transform {
    sketch::Transform { adaptive, wide: false, ..sketch::Transform::newest(16, levels) }
}

/// The transform-coded sketch the golden files hold: `test_frames(256, 256, 16)` at
/// 4-pixel cells, 4 keyframes, q 70 and 80, tilt 16, dead zone 16, the DCT (levels 0,
/// version 3) or the wavelet (version 5; `adaptive`: version 6); and its decoded
/// keyframes.
pub fn test_transform_sketch(levels: u8, adaptive: bool) -> (Sketch, Vec<Keyframe>) {
    coded_transform_sketch(models(levels, adaptive))
}

/// `test_transform_sketch` coded under `t`.
pub fn coded_transform_sketch(t: sketch::Transform) -> (Sketch, Vec<Keyframe>) {
    let p = SketchParams { cell_log2: 2, keyframes: 4, q_luma: 70, q_chroma: 80 };
    let (g, targets) = test_targets(&p);
    sketch::encode_transform(&g, p, t, 26, &sketch::transform::analyse(&g, t.levels, &targets), 16)
}

/// The field the golden motion sketch holds: 4 keyframes of a 256x256 clip on 64-pixel
/// blocks, vectors (half pixels) that vary with block and interval, some past the limits.
pub fn test_field() -> sketch::motion::Field {
    let mut f = sketch::motion::Field::still(256, 256, 4, 6);
    for (i, v) in f.v.iter_mut().enumerate() {
        let (k, b) = (i as i32 / 16, i as i32 % 16);
        *v = [6 + k - b % 4, -2 + (b / 4) * k * 3];
    }
    f.v[5] = [300, -300];
    f
}

/// The transform-coded sketch with motion the golden files hold: `test_frames(256, 256,
/// 16)` at 4-pixel cells, 4 keyframes predicted along `test_field`, q 70 and 80, tilt
/// 16, dead zone 16, the DCT (levels 0, version 4) or the wavelet (version 5;
/// `adaptive`: version 6); its decoded keyframes and field.
pub fn test_motion_sketch(levels: u8, adaptive: bool) -> (Sketch, Vec<Keyframe>, sketch::motion::Field) {
    coded_motion_sketch(models(levels, adaptive), Vec::new())
}

/// `test_motion_sketch` coded under `t`, its motion with `phases`.
pub fn coded_motion_sketch(t: sketch::Transform, phases: Vec<i8>) -> (Sketch, Vec<Keyframe>, sketch::motion::Field) {
    let p = SketchParams { cell_log2: 2, keyframes: 4, q_luma: 70, q_chroma: 80 };
    let (g, targets) = test_targets(&p);
    let field = sketch::motion::Field { phases, ..test_field() };
    let motion = sketch::motion::encode(&field);
    let field = sketch::motion::decode(&motion, 256, 256, 4).unwrap();
    let (s, decoded) = sketch::encode_predicted(&g, p, t, 26, &targets, &field, &motion, 16);
    (s, decoded, field)
}

/// `full_clip` with the sketch with motion: version 4.
pub fn motion_clip() -> Bitstream {
    with_sketch(test_motion_sketch(0, false).0)
}

/// `full_clip` with the transform-coded sketch: version 3.
pub fn transform_clip() -> Bitstream {
    with_sketch(test_transform_sketch(0, false).0)
}

/// `full_clip` with a wavelet sketch of 3 levels, with motion or without, under fixed
/// models (version 5) or adaptive ones (version 6).
pub fn wavelet_clip(motion: bool, adaptive: bool) -> Bitstream {
    with_sketch(if motion { test_motion_sketch(3, adaptive).0 } else { test_transform_sketch(3, adaptive).0 })
}

/// `wavelet_clip(true, true)` whose sketch sharpens the decode by 1/2 (version 7).
pub fn sharpened_clip() -> Bitstream {
    with_sketch(Sketch { sharpen: 8, ..test_motion_sketch(3, true).0 })
}

/// `wavelet_clip(true, true)` whose motion has phases (version 8, unsharpened): the 12
/// frames between its 4 keyframes, -64 to 68 128ths.
pub fn phased_clip() -> Bitstream {
    let (s, _, _) = test_motion_sketch(3, true);
    let m = s.motion.clone().unwrap();
    with_sketch(Sketch { motion: Some(sketch::Motion { phases: test_phases(), ..m }), ..s })
}

/// The wavelet sketch under adaptive models with wide contexts (version 9): without
/// motion and unsharpened, or with motion, `phased_clip`'s phases and sharpened by 1/2.
pub fn wide_clip(motion: bool) -> Bitstream {
    let t = sketch::Transform::newest(16, 3);
    with_sketch(if motion { Sketch { sharpen: 8, ..coded_motion_sketch(t, test_phases()).0 } } else { coded_transform_sketch(t).0 })
}

/// The 12 phases of `phased_clip`: -64 to 68 128ths.
pub fn test_phases() -> Vec<i8> {
    (0..12).map(|i| (i * 12 - 64) as i8).collect()
}

/// `full_clip` with another sketch, in the version it needs.
fn with_sketch(s: Sketch) -> Bitstream {
    let b = full_clip();
    let q = b.symbols().unwrap();
    let mut h = b.header;
    h.sketch = Some(s);
    Bitstream::encode(h, &q).unwrap()
}

/// Every section present (a sample-coded sketch: version 2).
pub fn full_clip() -> Bitstream {
    let q = symbols(1024);
    let mut b = minimal_clip();
    b.header.lora.k = 1024;
    b.header.prior = Prior::fit(PriorKind::Gaussian, &q);
    b.header.sampler.steps = 12;
    b.header.sketch = Some(test_sketch().0);
    b.header.scaling = Some(Scaling {
        m_log2: 6,
        eta: 0.5,
        steps: vec![ScaledStep { step: 0, choice: 63 }, ScaledStep { step: 5, choice: 1 }, ScaledStep { step: 11, choice: 42 }],
    });
    b.header.metadata = Some(Metadata { title: "golden".into(), caption: "a pinned clip, é ✓".into() });
    Bitstream::encode(b.header, &q).unwrap()
}

pub mod data;
