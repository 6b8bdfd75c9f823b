//! The latent video denoiser: a diffusion transformer on TAEF2 latents that predicts the
//! flow-matching velocity v = e - z0 at time t.
//!
//! Latent [B, T, C, h, w] -> patches of p x p -> tokens [B, T, N, D] + sinusoidal
//! (frame, row, column) positions, so any size works. Each block: spatial attention
//! within a frame, temporal attention across frames at one position, an MLP, all three
//! modulated by the timestep (adaLN-zero). Every attention q/k/v/out projection has a
//! LoRA slot fed by theta (`lora.rs`).

use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::{gelu, silu, softmax};
use burn::tensor::{Device, Tensor, TensorData};

use super::weights::{WeightError, Weights, load_linear, save_linear};
use crate::hashing::{LoraPart, LoraSlot};

/// Architecture of the denoiser; stored in the package manifest.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DenoiserConfig {
    pub latent_channels: usize,
    pub patch: usize,
    pub dim: usize,
    pub depth: usize,
    pub heads: usize,
    pub mlp_ratio: usize,
    /// The default LoRA rank of clips made with this model.
    pub lora_rank: usize,
    /// Channels of the sketch condition read beside the latent (SKETCH_CHANNELS), or 0
    /// for an unconditional model. Absent from older manifests (0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cond_channels: usize,
}

fn is_zero(v: &usize) -> bool {
    *v == 0
}

const TIME_FEATURES: usize = 256;
/// The sketch condition: the sketch's TAEF2 latents (model space) and a mask channel of
/// ones; all zeros without a sketch (`render::condition`).
pub const SKETCH_CHANNELS: usize = super::taef2::LATENT_CHANNELS + 1;
/// Attention layers per block, in order, and the projections of each.
const ATTENTIONS: [&str; 2] = ["spatial", "temporal"];
const PROJECTIONS: [&str; 4] = ["q", "k", "v", "out"];

impl DenoiserConfig {
    /// The default base model: small enough to train on a CPU and to run in a browser.
    pub fn base() -> Self {
        Self { latent_channels: 32, patch: 2, dim: 96, depth: 4, heads: 4, mlp_ratio: 4, lora_rank: 1, cond_channels: 0 }
    }

    /// The default base model conditioned on the sketch.
    pub fn base_sketch() -> Self {
        Self { cond_channels: SKETCH_CHANNELS, ..Self::base() }
    }

    /// The configuration the tests use: small enough for CI.
    pub fn tiny() -> Self {
        Self { latent_channels: 32, patch: 2, dim: 48, depth: 2, heads: 2, mlp_ratio: 2, lora_rank: 1, cond_channels: 0 }
    }

    /// A new model for training: adaLN-zero, so every block starts as the identity.
    pub fn init(&self, device: &Device) -> Denoiser {
        self.init_with(device, Initializer::Zeros)
    }

    /// A new model whose modulation and output layers start from `gates` (zeros for
    /// training; random where a test needs every path to matter).
    pub fn init_with(&self, device: &Device, gates: Initializer) -> Denoiser {
        assert!(self.dim % 6 == 0 && self.dim % self.heads == 0, "dim must divide by 6 and by heads");
        let linear = |i, o| LinearConfig::new(i, o).init(device);
        let zero = |i, o| LinearConfig::new(i, o).with_initializer(gates.clone()).init(device);
        let (d, tokens) = (self.dim, self.latent_channels * self.patch * self.patch);
        let inputs = (self.latent_channels + self.cond_channels) * self.patch * self.patch;
        let attention = || Attention { q: linear(d, d), k: linear(d, d), v: linear(d, d), out: linear(d, d), heads: self.heads };
        Denoiser {
            patch_in: linear(inputs, d),
            time_in: linear(TIME_FEATURES, d),
            time_out: linear(d, d),
            blocks: (0..self.depth)
                .map(|_| Block {
                    modulation: zero(d, 9 * d),
                    spatial: attention(),
                    temporal: attention(),
                    mlp_in: linear(d, d * self.mlp_ratio),
                    mlp_out: linear(d * self.mlp_ratio, d),
                })
                .collect(),
            final_modulation: zero(d, 2 * d),
            patch_out: zero(d, tokens),
            patch: self.patch,
            channels: self.latent_channels,
            cond_channels: self.cond_channels,
        }
    }

    /// The LoRA slots at `rank` (a clip's header sets it), in the order the index map
    /// numbers them: block, attention (spatial, temporal), projection (q, k, v, out),
    /// A [dim, rank] then B [rank, dim]. There are depth * 16 * dim * rank entries.
    pub fn lora_slots(&self, rank: usize) -> Vec<LoraSlot> {
        let (d, r) = (self.dim as u32, rank as u32);
        let mut slots = Vec::new();
        for b in 0..self.depth {
            for a in ATTENTIONS {
                for p in PROJECTIONS {
                    let layer = format!("blocks.{b}.{a}.{p}");
                    slots.push(LoraSlot { layer: layer.clone(), part: LoraPart::A, rows: d, cols: r });
                    slots.push(LoraSlot { layer, part: LoraPart::B, rows: r, cols: d });
                }
            }
        }
        slots
    }

    /// Multiply-add FLOPs (x2) of one forward pass on `frames` latent frames of h x w,
    /// counting the matrix products and attention (norms and activations are negligible).
    pub fn flops(&self, frames: usize, h: usize, w: usize) -> u64 {
        let (d, t) = (self.dim as u64, frames as u64);
        let n = (h / self.patch * (w / self.patch)) as u64;
        let tokens = t * n;
        let io = 2 * tokens * d * ((2 * self.latent_channels + self.cond_channels) * self.patch * self.patch) as u64;
        let proj = 2 * 4 * d * d * tokens * 2;
        let mlp = 2 * 2 * d * d * self.mlp_ratio as u64 * tokens;
        let attn = 2 * 2 * tokens * d * (n + t);
        let modulation = 2 * d * 9 * d;
        io + self.depth as u64 * (proj + mlp + attn + modulation)
    }
}

/// Multi-head self-attention whose projections may carry LoRA factors.
#[derive(Module, Debug)]
pub struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    heads: usize,
}

/// y = x W + b, plus (x A) B when the projection is adapted.
fn project(linear: &Linear, x: Tensor<3>, lora: Option<(&Tensor<2>, &Tensor<2>)>) -> Tensor<3> {
    let y = linear.forward(x.clone());
    match lora {
        Some((a, b)) => y + x.matmul(a.clone().unsqueeze()).matmul(b.clone().unsqueeze()),
        None => y,
    }
}

impl Attention {
    /// x: [batch, tokens, dim]; `lora`: A, B for q, k, v, out.
    fn forward(&self, x: Tensor<3>, lora: Option<&[Tensor<2>]>) -> Tensor<3> {
        let [b, n, d] = x.dims();
        let (h, dh) = (self.heads, d / self.heads);
        let ab = |i: usize| lora.map(|f| (&f[2 * i], &f[2 * i + 1]));
        let split = |t: Tensor<3>| t.reshape([b, n, h, dh]).swap_dims(1, 2);
        let q = split(project(&self.q, x.clone(), ab(0)));
        let k = split(project(&self.k, x.clone(), ab(1)));
        let v = split(project(&self.v, x, ab(2)));
        let weights = softmax(q.matmul(k.swap_dims(2, 3)).div_scalar((dh as f32).sqrt()), 3);
        let y = weights.matmul(v).swap_dims(1, 2).reshape([b, n, d]);
        project(&self.out, y, ab(3))
    }
}

/// Layer norm over the last axis, without affine parameters (adaLN supplies them).
fn norm(x: Tensor<4>) -> Tensor<4> {
    let centred = x.clone() - x.mean_dim(3);
    let var = centred.clone().powi_scalar(2).mean_dim(3);
    centred / var.add_scalar(1e-6).sqrt()
}

/// x * (1 + scale) + shift, with shift and scale [B, D] broadcast over frames and tokens.
fn modulate(x: Tensor<4>, shift: &Tensor<4>, scale: &Tensor<4>) -> Tensor<4> {
    x.clone() * scale.clone() + x + shift.clone()
}

#[derive(Module, Debug)]
pub struct Block {
    modulation: Linear,
    spatial: Attention,
    temporal: Attention,
    mlp_in: Linear,
    mlp_out: Linear,
}

impl Block {
    /// x: [B, T, N, D]; c: [B, D]; `lora`: 16 factors (spatial then temporal).
    fn forward(&self, x: Tensor<4>, c: &Tensor<2>, lora: Option<&[Tensor<2>]>) -> Tensor<4> {
        let [b, t, n, d] = x.dims();
        let m: Vec<Tensor<4>> = self.modulation.forward(silu(c.clone())).reshape([b, 9, d]).chunk(9, 1).into_iter().map(|m| m.reshape([b, 1, 1, d])).collect();

        let h = modulate(norm(x.clone()), &m[0], &m[1]).reshape([b * t, n, d]);
        let h = self.spatial.forward(h, lora.map(|f| &f[..8])).reshape([b, t, n, d]);
        let x = x + h * m[2].clone();

        let h = modulate(norm(x.clone()), &m[3], &m[4]).swap_dims(1, 2).reshape([b * n, t, d]);
        let h = self.temporal.forward(h, lora.map(|f| &f[8..])).reshape([b, n, t, d]).swap_dims(1, 2);
        let x = x + h * m[5].clone();

        let h = modulate(norm(x.clone()), &m[6], &m[7]);
        let h = self.mlp_out.forward(gelu(self.mlp_in.forward(h)));
        x + h * m[8].clone()
    }
}

#[derive(Module, Debug)]
pub struct Denoiser {
    patch_in: Linear,
    time_in: Linear,
    time_out: Linear,
    blocks: Vec<Block>,
    final_modulation: Linear,
    patch_out: Linear,
    patch: usize,
    channels: usize,
    cond_channels: usize,
}

impl Denoiser {
    /// Every linear layer with its weight-name prefix, in a fixed order.
    fn linears_mut(&mut self) -> Vec<(String, &mut Linear)> {
        let mut v: Vec<(String, &mut Linear)> = vec![
            ("patch_in.".into(), &mut self.patch_in),
            ("time_in.".into(), &mut self.time_in),
            ("time_out.".into(), &mut self.time_out),
            ("final_modulation.".into(), &mut self.final_modulation),
            ("patch_out.".into(), &mut self.patch_out),
        ];
        for (i, b) in self.blocks.iter_mut().enumerate() {
            v.push((format!("blocks.{i}.modulation."), &mut b.modulation));
            v.push((format!("blocks.{i}.mlp_in."), &mut b.mlp_in));
            v.push((format!("blocks.{i}.mlp_out."), &mut b.mlp_out));
            for (name, a) in [("spatial", &mut b.spatial), ("temporal", &mut b.temporal)] {
                for (p, l) in PROJECTIONS.iter().zip([&mut a.q, &mut a.k, &mut a.v, &mut a.out]) {
                    v.push((format!("blocks.{i}.{name}.{p}."), l));
                }
            }
        }
        v
    }

    /// The model's weights by name (`blocks.0.spatial.q.weight`, ...; weights [in, out]).
    pub fn to_weights(&self) -> Weights {
        let mut w = Weights::default();
        for (prefix, linear) in self.clone().linears_mut() {
            save_linear(&mut w, &prefix, linear);
        }
        w
    }

    /// A model of `config` with the weights `w` (as written by `to_weights`).
    pub fn load(config: &DenoiserConfig, w: &Weights, device: &Device) -> Result<Self, WeightError> {
        let mut model = config.init(device);
        for (prefix, linear) in model.linears_mut() {
            load_linear(w, &prefix, linear, device)?;
        }
        Ok(model)
    }

    /// Velocity for latents x [B, T, C, h, w] at times t [B] in [0, 1]. `lora` is
    /// `LoraMap::factors` (16 per block) or None for the base model.
    pub fn forward(&self, x: Tensor<5>, t: Tensor<1>, lora: Option<&[Tensor<2>]>) -> Tensor<5> {
        self.forward_cond(x, t, None, lora)
    }

    /// Sketch channels this model reads (0: unconditional).
    pub fn cond_channels(&self) -> usize {
        self.cond_channels
    }

    /// `forward` conditioned on `cond` [B, T, cond_channels, h, w] (`render::condition`).
    /// No condition is all zeros, the input condition dropout trains for; an
    /// unconditional model ignores `cond`.
    pub fn forward_cond(&self, x: Tensor<5>, t: Tensor<1>, cond: Option<&Tensor<5>>, lora: Option<&[Tensor<2>]>) -> Tensor<5> {
        let [b, frames, c, h, w] = x.dims();
        let p = self.patch;
        let (hp, wp) = (h / p, w / p);
        let device = x.device();
        let x = match self.cond_channels {
            0 => x,
            k => {
                let cond = cond.cloned().unwrap_or_else(|| Tensor::zeros([b, frames, k, h, w], &device));
                Tensor::cat(vec![x, cond], 2)
            }
        };
        let ci = c + self.cond_channels;
        let tokens = x
            .reshape([b * frames, ci, hp, p, wp, p])
            .permute([0, 2, 4, 1, 3, 5])
            .reshape([b, frames, hp * wp, ci * p * p]);
        let mut x = self.patch_in.forward(tokens);
        let d = x.dims()[3];
        x = x + positions(frames, hp, wp, d, &device).unsqueeze();

        let c_t = self.time_out.forward(silu(self.time_in.forward(time_features(t))));
        let per_block = 2 * ATTENTIONS.len() * PROJECTIONS.len();
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(x, &c_t, lora.map(|f| &f[i * per_block..(i + 1) * per_block]));
        }
        let m = self.final_modulation.forward(silu(c_t)).reshape([b, 2, d]).chunk(2, 1);
        let (shift, scale) = (m[0].clone().reshape([b, 1, 1, d]), m[1].clone().reshape([b, 1, 1, d]));
        self.patch_out
            .forward(modulate(norm(x), &shift, &scale))
            .reshape([b * frames, hp, wp, c, p, p])
            .permute([0, 3, 1, 4, 2, 5])
            .reshape([b, frames, c, h, w])
    }
}

/// sin/cos features of `pos` over `n` dims (n even), frequencies 1 / 10000^(2i/n).
fn sinusoid(pos: f64, n: usize, out: &mut Vec<f32>) {
    for i in 0..n / 2 {
        let a = pos / libm::pow(10_000.0, 2.0 * i as f64 / n as f64);
        out.extend([libm::sin(a) as f32, libm::cos(a) as f32]);
    }
}

/// Fixed (frame, row, column) embeddings, a third of the dims each: [T, N, D].
fn positions(frames: usize, hp: usize, wp: usize, d: usize, device: &Device) -> Tensor<3> {
    let mut v = Vec::with_capacity(frames * hp * wp * d);
    for f in 0..frames {
        for y in 0..hp {
            for x in 0..wp {
                for pos in [f, y, x] {
                    sinusoid(pos as f64, d / 3, &mut v);
                }
            }
        }
    }
    Tensor::from_data(TensorData::new(v, [frames, hp * wp, d]), device)
}

/// Timestep features: sin/cos of 1000 t over TIME_FEATURES dims, [B, TIME_FEATURES].
fn time_features(t: Tensor<1>) -> Tensor<2> {
    let half = TIME_FEATURES / 2;
    let freqs: Vec<f32> = (0..half).map(|i| libm::pow(10_000.0, -(i as f64) / half as f64) as f32).collect();
    let freqs = Tensor::<1>::from_data(TensorData::new(freqs, [half]), &t.device());
    let args = t.mul_scalar(1000.0).unsqueeze_dim::<2>(1) * freqs.unsqueeze_dim(0);
    Tensor::cat(vec![args.clone().sin(), args.cos()], 1)
}
