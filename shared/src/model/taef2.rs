//! TAEF2, the frozen pretrained tiny autoencoder (../shared/assets/taef2/README.md):
//! RGB in [0, 1], 3 x H x W  <->  latent 32 x H/8 x W/8. Frames are coded one by one.
//! Layer names follow the checkpoint's `nn.Sequential` indices.

#[cfg(feature = "pytorch")]
use std::path::Path;

use burn::module::Module;
use burn::nn::GroupNorm;
use burn::nn::conv::Conv2d;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::weights::{WeightError, Weights, conv2d, group_norm};

pub const LATENT_CHANNELS: usize = 32;
/// Pixels per latent cell along each side.
pub const SCALE: usize = 8;
const C: usize = 64;

/// The global branch of some blocks: x + P(x), P = 1x1 conv up, GroupNorm, ReLU, 1x1 conv down.
#[derive(Module, Debug)]
pub struct Pool {
    expand: Conv2d,
    norm: GroupNorm,
    reduce: Conv2d,
}

impl Pool {
    fn load(w: &Weights, p: &str, device: &Device) -> Result<Self, WeightError> {
        Ok(Self {
            expand: conv2d(w, &format!("{p}pool.0."), [C, 4 * C], 1, 1, false, device)?,
            norm: group_norm(w, &format!("{p}pool.1."), 4, 4 * C, device)?,
            reduce: conv2d(w, &format!("{p}pool.3."), [4 * C, C], 1, 1, false, device)?,
        })
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.reduce.forward(relu(self.norm.forward(self.expand.forward(x))))
    }
}

/// ReLU(conv(ReLU(conv(ReLU(conv(x))))) + x), after x = x + P(x) where there is a pool branch.
#[derive(Module, Debug)]
pub struct Block {
    convs: Vec<Conv2d>,
    pool: Option<Pool>,
}

impl Block {
    fn load(w: &Weights, index: usize, pooled: bool, device: &Device) -> Result<Self, WeightError> {
        let p = format!("{index}.");
        let convs = [0, 2, 4]
            .iter()
            .map(|i| conv2d(w, &format!("{p}conv.{i}."), [C, C], 3, 1, true, device))
            .collect::<Result<_, _>>()?;
        let pool = if pooled { Some(Pool::load(w, &p, device)?) } else { None };
        Ok(Self { convs, pool })
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = match &self.pool {
            Some(p) => x.clone() + p.forward(x),
            None => x,
        };
        let h = relu(self.convs[0].forward(x.clone()));
        let h = relu(self.convs[1].forward(h));
        relu(self.convs[2].forward(h) + x)
    }
}

/// A conv (strided down in the encoder, after an upsample in the decoder) and its blocks.
#[derive(Module, Debug)]
pub struct Stage {
    conv: Conv2d,
    blocks: Vec<Block>,
}

impl Stage {
    fn load(w: &Weights, conv: usize, stride: usize, pooled: bool, blocks: usize, device: &Device) -> Result<Self, WeightError> {
        Ok(Self {
            conv: conv2d(w, &format!("{conv}."), [C, C], 3, stride, false, device)?,
            blocks: (conv + 1..=conv + blocks).map(|i| Block::load(w, i, pooled, device)).collect::<Result<_, _>>()?,
        })
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.blocks.iter().fold(self.conv.forward(x), |x, b| b.forward(x))
    }
}

/// Image [B, 3, H, W] in [0, 1] -> latent [B, 32, H/8, W/8].
#[derive(Module, Debug)]
pub struct Encoder {
    conv_in: Conv2d,
    block_in: Block,
    downs: Vec<Stage>,
    conv_out: Conv2d,
}

impl Encoder {
    pub fn load(w: &Weights, device: &Device) -> Result<Self, WeightError> {
        Ok(Self {
            conv_in: conv2d(w, "0.", [3, C], 3, 1, true, device)?,
            block_in: Block::load(w, 1, false, device)?,
            downs: vec![
                Stage::load(w, 2, 2, false, 3, device)?,
                Stage::load(w, 6, 2, false, 3, device)?,
                Stage::load(w, 10, 2, true, 3, device)?,
            ],
            conv_out: conv2d(w, "14.", [C, LATENT_CHANNELS], 3, 1, true, device)?,
        })
    }

    pub fn forward(&self, image: Tensor<4>) -> Tensor<4> {
        let x = self.block_in.forward(self.conv_in.forward(image));
        self.conv_out.forward(self.downs.iter().fold(x, |x, s| s.forward(x)))
    }
}

/// Latent [B, 32, h, w] -> image [B, 3, 8h, 8w], clamped to [0, 1].
#[derive(Module, Debug)]
pub struct Decoder {
    conv_in: Conv2d,
    blocks_in: Vec<Block>,
    ups: Vec<Stage>,
    conv_out: Conv2d,
}

impl Decoder {
    pub fn load(w: &Weights, device: &Device) -> Result<Self, WeightError> {
        Ok(Self {
            conv_in: conv2d(w, "1.", [LATENT_CHANNELS, C], 3, 1, true, device)?,
            blocks_in: (3..=5).map(|i| Block::load(w, i, true, device)).collect::<Result<_, _>>()?,
            ups: vec![
                Stage::load(w, 7, 1, false, 3, device)?,
                Stage::load(w, 12, 1, false, 3, device)?,
                Stage::load(w, 17, 1, false, 1, device)?,
            ],
            conv_out: conv2d(w, "19.", [C, 3], 3, 1, true, device)?,
        })
    }

    pub fn forward(&self, latent: Tensor<4>) -> Tensor<4> {
        let x = latent.div_scalar(3.0).tanh().mul_scalar(3.0);
        let x = relu(self.conv_in.forward(x));
        let x = self.blocks_in.iter().fold(x, |x, b| b.forward(x));
        let x = self.ups.iter().fold(x, |x, s| s.forward(upsample2(x)));
        self.conv_out.forward(x).clamp(0.0, 1.0)
    }
}

/// FLOPs (2 per multiply-add) of decoding one frame from an h x w latent, conv by conv.
pub fn decoder_flops(h: usize, w: usize) -> u64 {
    let conv = |cin: u64, cout: u64, k: u64, px: usize| 2 * cin * cout * k * k * px as u64;
    let c = C as u64;
    let block = |px: usize, pooled: bool| 3 * conv(c, c, 3, px) + if pooled { 2 * conv(c, 4 * c, 1, px) } else { 0 };
    let px = h * w;
    let mut f = conv(LATENT_CHANNELS as u64, c, 3, px) + 3 * block(px, true);
    for (scale, blocks) in [(4, 3), (16, 3), (64, 1)] {
        f += conv(c, c, 3, px * scale) + blocks * block(px * scale, false);
    }
    f + conv(c, 3, 3, px * 64)
}

/// FLOPs (2 per multiply-add) of encoding one H x W frame (h x w latent, H = 8h), conv by conv.
pub fn encoder_flops(h: usize, w: usize) -> u64 {
    let conv = |cin: u64, cout: u64, k: u64, px: usize| 2 * cin * cout * k * k * px as u64;
    let c = C as u64;
    let block = |px: usize, pooled: bool| 3 * conv(c, c, 3, px) + if pooled { 2 * conv(c, 4 * c, 1, px) } else { 0 };
    let full = h * w * 64;
    let mut f = conv(3, c, 3, full) + block(full, false);
    for (px, pooled) in [(full / 4, false), (full / 16, false), (full / 64, true)] {
        f += conv(c, c, 3, px) + 3 * block(px, pooled);
    }
    f + conv(c, LATENT_CHANNELS as u64, 3, h * w)
}

/// Nearest-neighbour upsampling by 2.
fn upsample2(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b, c, h, 1, w, 1]).expand([b, c, h, 2, w, 2]).reshape([b, c, 2 * h, 2 * w])
}

/// The 8-bit latent code of the TAEF2 README: q = round(clamp(x/6 + 1/2, 0, 1) * 255),
/// returned dequantised, x' = (q/255 - 1/2) * 6.
pub fn round_trip_u8(latent: Tensor<4>) -> Tensor<4> {
    latent.div_scalar(6.0).add_scalar(0.5).clamp(0.0, 1.0).mul_scalar(255.0).round().div_scalar(255.0).sub_scalar(0.5).mul_scalar(6.0)
}

/// SHA-256 digests of the two checkpoints, from the `SHA256SUMS` beside them.
#[cfg(feature = "pytorch")]
fn digests(dir: &Path) -> Result<(String, String), WeightError> {
    let path = dir.join("SHA256SUMS");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| WeightError::Checkpoint { path: path.display().to_string(), message: e.to_string() })?;
    let find = |file: &str| {
        text.lines()
            .find_map(|l| l.split_once("  ").filter(|(_, f)| f.trim() == file).map(|(h, _)| h.to_string()))
            .ok_or_else(|| WeightError::Checkpoint { path: path.display().to_string(), message: format!("no digest for {file}") })
    };
    Ok((find("taef2_encoder.pth")?, find("taef2_decoder.pth")?))
}

/// The encoder and decoder weights from `taef2_{encoder,decoder}.pth` in `dir`, each
/// checked against `dir/SHA256SUMS`.
#[cfg(feature = "pytorch")]
pub fn load_checkpoints(dir: &Path) -> Result<(Weights, Weights), WeightError> {
    let (enc, dec) = digests(dir)?;
    Ok((Weights::from_pth(&dir.join("taef2_encoder.pth"), &enc)?, Weights::from_pth(&dir.join("taef2_decoder.pth"), &dec)?))
}
