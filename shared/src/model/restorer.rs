//! The sketch restorer: a small pixel-space CNN from a decoded sketch frame (with its
//! neighbours and what the decoder knows of the sketch) to the frame. A mirror of
//! `train/lora_train/restorer.py`, pinned to it by `tests/restorer_parity.rs`.
//!
//! x [B, 3, H, W] in [0, 1] -> pixel-unshuffle by r of x - 0.5 and its neighbours,
//! beside the condition as constant maps -> `depth` convs 3x3 + ReLU at `width`
//! channels, each optionally modulated per clip, h <- h (1 + s_l) + b_l -> conv 3x3 ->
//! pixel-shuffle -> + x.
//!
//! A clip's vector theta steers it as the paper's method does: through `hashing::IndexMap`
//! into LoRA factors of every conv (`RestorerConfig::lora_slots`, `Restorer::adapted`).

use burn::module::{Module, Param, ParamId};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, PaddingConfig2d, PixelShuffleConfig, PixelUnshuffleConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::weights::{WeightError, Weights, conv2d};
use crate::hashing::{LoraPart, LoraSlot};
use crate::sketch::SketchParams;

/// What the decoder knows of a clip's sketch, as the condition's channels, in order
/// (`restorer.py` COND).
pub const COND: [&str; 6] = ["q_luma", "q_chroma", "cell", "keyframes", "motion", "phase"];

/// Architecture of the restorer; stored in the package manifest.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RestorerConfig {
    pub width: usize,
    pub depth: usize,
    /// The pixel-unshuffle factor r: the convs run at 1/r of the frame's size.
    pub shuffle: usize,
    /// Sketch frames read on each side of the restored one.
    pub neighbours: usize,
    /// Condition channels (COND).
    pub cond: usize,
}

impl RestorerConfig {
    pub fn base() -> Self {
        Self { width: 32, depth: 8, shuffle: 2, neighbours: 1, cond: COND.len() }
    }

    /// Channels of the first conv's input.
    pub fn inputs(&self) -> usize {
        3 * (1 + 2 * self.neighbours) * self.shuffle * self.shuffle + self.cond
    }

    /// Multiply-adds per output pixel.
    pub fn macs_per_pixel(&self) -> usize {
        let (w, r) = (self.width, self.shuffle);
        9 * (self.inputs() * w + (self.depth - 1) * w * w + w * 3 * r * r) / (r * r)
    }

    /// The LoRA slots a clip's vector fills, in order: for each conv (`convs.{i}`, then
    /// `out`) A [in·9, rank] then B [rank, out]. The conv's update is (A B)ᵀ as
    /// [out, in, 3, 3] (PyTorch's layout).
    pub fn lora_slots(&self, rank: usize) -> Vec<LoraSlot> {
        let layers = (0..self.depth).map(|i| (format!("convs.{i}"), if i == 0 { self.inputs() } else { self.width }, self.width));
        layers
            .chain(std::iter::once(("out".to_string(), self.width, 3 * self.shuffle * self.shuffle)))
            .flat_map(|(layer, cin, cout)| {
                let (rank, cin, cout) = (rank as u32, 9 * cin as u32, cout as u32);
                [LoraSlot { layer: layer.clone(), part: LoraPart::A, rows: cin, cols: rank }, LoraSlot { layer, part: LoraPart::B, rows: rank, cols: cout }]
            })
            .collect()
    }

    /// A new model: random hidden convs, a zero output conv (it starts as the identity).
    pub fn init(&self, device: &Device) -> Restorer {
        let conv = |i, o, init: Initializer| {
            Conv2dConfig::new([i, o], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).with_initializer(init).init(device)
        };
        let kaiming = Initializer::KaimingUniform { gain: 1.0 / 3f64.sqrt(), fan_out_only: false };
        let mut out = conv(self.width, 3 * self.shuffle * self.shuffle, Initializer::Zeros);
        out.bias = out.bias.map(|b| Param::from_tensor(b.val().zeros_like()));
        Restorer {
            convs: (0..self.depth).map(|i| conv(if i == 0 { self.inputs() } else { self.width }, self.width, kaiming.clone())).collect(),
            out,
            shuffle: self.shuffle,
            neighbours: self.neighbours,
        }
    }
}

/// The condition of frame `frame` of a clip whose sketch has parameters `p`, motion or
/// not, and keyframes at `times` (`Geometry::keyframe_times`; `restorer.py` cond_of):
/// its steps, cell side, keyframe count and motion, and the frame's distance to the
/// nearest keyframe as a fraction of their gap, times 2 (0 on a keyframe, 1 halfway).
pub fn condition(p: &SketchParams, motion: bool, times: &[usize], frame: usize) -> [f32; 6] {
    let phase = times
        .windows(2)
        .filter(|w| w[0] <= frame && frame <= w[1] && w[1] > w[0])
        .map(|w| (frame - w[0]).min(w[1] - frame) as f32 / (w[1] - w[0]) as f32)
        .last()
        .unwrap_or(0.0);
    [
        f32::from(p.q_luma) / 160.0,
        f32::from(p.q_chroma) / 160.0,
        f32::from(p.cell_log2) / 4.0,
        (f32::from(p.keyframes.max(1))).log2() / 4.0,
        if motion { 1.0 } else { 0.0 },
        2.0 * phase,
    ]
}

#[derive(Module, Debug)]
pub struct Restorer {
    convs: Vec<Conv2d>,
    out: Conv2d,
    shuffle: usize,
    neighbours: usize,
}

impl Restorer {
    /// The model of `config` with the weights `w` (`convs.{i}.weight`, `convs.{i}.bias`,
    /// `out.weight`, `out.bias`: PyTorch's names and layouts).
    pub fn load(config: &RestorerConfig, w: &Weights, device: &Device) -> Result<Self, WeightError> {
        let (width, r) = (config.width, config.shuffle);
        let convs = (0..config.depth)
            .map(|i| conv2d(w, &format!("convs.{i}."), [if i == 0 { config.inputs() } else { width }, width], 3, 1, true, device))
            .collect::<Result<_, _>>()?;
        Ok(Self { convs, out: conv2d(w, "out.", [width, 3 * r * r], 3, 1, true, device)?, shuffle: r, neighbours: config.neighbours })
    }

    /// Sketch frames read on each side of the restored one.
    pub fn neighbours(&self) -> usize {
        self.neighbours
    }

    /// This model with a clip's LoRA added to its convs' weights: `factors` are
    /// `LoraMap::factors` over `RestorerConfig::lora_slots` (A, B for each conv).
    pub fn adapted(&self, factors: &[Tensor<2>]) -> Self {
        assert_eq!(factors.len(), 2 * (self.convs.len() + 1), "a restorer's LoRA has two factors per conv");
        let add = |conv: &Conv2d, a: &Tensor<2>, b: &Tensor<2>| {
            let [cout, cin, kh, kw] = conv.weight.dims();
            let mut c = conv.clone();
            c.weight = Param::initialized(ParamId::new(), conv.weight.val() + a.clone().matmul(b.clone()).transpose().reshape([cout, cin, kh, kw]));
            c
        };
        let mut f = factors.chunks(2);
        let convs = self.convs.iter().zip(&mut f).map(|(c, ab)| add(c, &ab[0], &ab[1])).collect();
        let ab = f.next().expect("the output conv's factors");
        Self { convs, out: add(&self.out, &ab[0], &ab[1]), shuffle: self.shuffle, neighbours: self.neighbours }
    }

    /// A clip's frames [T, 3, H, W] in [0, 1] from its sketch's frames `x` [T, 3, H, W],
    /// each with its neighbours either side (clamped at the clip's ends) and its
    /// condition (`condition`).
    pub fn restore(&self, x: Tensor<4>, cond: &[[f32; 6]], film: Option<Tensor<4>>) -> Tensor<4> {
        let [t, c, h, w] = x.dims();
        let (device, neighbours) = (x.device(), self.neighbours);
        let n = neighbours as i64;
        let around: Vec<i64> = (0..t as i64).flat_map(|f| (-n..=n).filter(|&d| d != 0).map(move |d| (f + d).clamp(0, t as i64 - 1))).collect();
        let around = x.clone().select(0, Tensor::<1, Int>::from_data(TensorData::new(around, [t * 2 * neighbours]), &device));
        let cond = Tensor::from_data(TensorData::new(cond.iter().flatten().copied().collect::<Vec<f32>>(), [t, cond.first().map_or(0, |c| c.len())]), &device);
        self.forward(x, around.reshape([t, 2 * neighbours, c, h, w]), cond, film).clamp(0.0, 1.0)
    }

    /// The restored frames [B, 3, H, W] of sketch frames `x` [B, 3, H, W] in [0, 1], with
    /// `neighbours` [B, 2n, 3, H, W] (the n frames before, then the n after), the
    /// condition `cond` [B, COND] and optionally a clip's modulation `film` [B, depth,
    /// 2, width] (scale, shift). H and W must divide by the shuffle factor.
    pub fn forward(&self, x: Tensor<4>, neighbours: Tensor<5>, cond: Tensor<2>, film: Option<Tensor<4>>) -> Tensor<4> {
        let [b, _, h, w] = x.dims();
        let r = self.shuffle;
        let frames = Tensor::cat(vec![x.clone().unsqueeze_dim::<5>(1), neighbours], 1);
        let [_, n, c, _, _] = frames.dims();
        let unshuffled = PixelUnshuffleConfig::new(r).init().forward(frames.reshape([b, n * c, h, w]).sub_scalar(0.5));
        let k = cond.dims()[1];
        let maps = cond.reshape([b, k, 1, 1]).expand([b, k, h / r, w / r]);
        let mut y = Tensor::cat(vec![unshuffled, maps], 1);
        for (i, conv) in self.convs.iter().enumerate() {
            y = conv.forward(y);
            if let Some(f) = &film {
                let [_, _, _, width] = f.dims();
                let layer = f.clone().narrow(1, i, 1).reshape([b, 2, width]);
                let scale = layer.clone().narrow(1, 0, 1).reshape([b, width, 1, 1]);
                let shift = layer.narrow(1, 1, 1).reshape([b, width, 1, 1]);
                y = y.clone() * scale.add_scalar(1.0) + shift;
            }
            y = relu(y);
        }
        x + PixelShuffleConfig::new(r).init().forward(self.out.forward(y))
    }
}
