//! Clips and data shared by the integration tests.
#![allow(dead_code)]

use lora_video_shared::entropy::{Prior, PriorKind};
use lora_video_shared::format::*;
use lora_video_shared::noise::{self, Stream};
use lora_video_shared::package::sha256;
use lora_video_shared::quant;

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
        scaling: None,
        metadata: None,
    };
    Bitstream::encode(header, &q).unwrap()
}

/// Every section present.
pub fn full_clip() -> Bitstream {
    let q = symbols(1024);
    let mut b = minimal_clip();
    b.header.lora.k = 1024;
    b.header.prior = Prior::fit(PriorKind::Gaussian, &q);
    b.header.sampler.steps = 12;
    b.header.scaling = Some(Scaling {
        m_log2: 6,
        eta: 0.5,
        steps: vec![ScaledStep { step: 0, choice: 63 }, ScaledStep { step: 5, choice: 1 }, ScaledStep { step: 11, choice: 42 }],
    });
    b.header.metadata = Some(Metadata { title: "golden".into(), caption: "a pinned clip, é ✓".into() });
    Bitstream::encode(b.header, &q).unwrap()
}

pub mod data;
