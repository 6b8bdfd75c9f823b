//! Fitting a clip's vector theta to the restorer (issue 34): the frozen restorer, adapted
//! by theta through the index map into LoRA factors of every conv (`Restorer::adapted`),
//! restores random crops of random sketch frames; the distortion is their squared error
//! against the clip's frames, in `fit`'s two stages (`Objective::run`).

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use lora_video_shared::model::lora::LoraMap;
use lora_video_shared::model::restorer::Restorer;

use crate::corpus::Rng;
use crate::fit::{FitConfig, Objective};

/// One clip's fitting problem on an autodiff device.
pub struct RestoreProblem<'a> {
    model: Restorer,
    map: &'a LoraMap,
    /// The sketch's decoded frames and the clip's, [T, 3, H, W] in [0, 1].
    sketch: Tensor<4>,
    source: Tensor<4>,
    cond: Vec<[f32; 6]>,
    /// The side of the square crops (even, at most the frame's sides).
    crop: usize,
    cfg: &'a FitConfig,
    device: Device,
}

impl<'a> RestoreProblem<'a> {
    /// `sketch` and `source` on the autodiff device `map` lives on; `cond` each frame's
    /// condition (`restorer::condition`). The restorer reads at least one neighbour.
    pub fn new(model: &Restorer, map: &'a LoraMap, sketch: Tensor<4>, source: Tensor<4>, cond: Vec<[f32; 6]>, crop: usize, cfg: &'a FitConfig) -> Self {
        let [_, _, h, w] = sketch.dims();
        let device = sketch.device();
        Self { model: model.clone().no_grad(), map, sketch, source, cond, crop: crop.min(h).min(w) & !1, cfg, device }
    }
}

impl Objective for RestoreProblem<'_> {
    fn distortion(&self, theta: Tensor<1>, step: usize) -> Tensor<1> {
        let [t, c, h, w] = self.sketch.dims();
        let (n, side) = (self.model.neighbours() as i64, self.crop);
        let mut rng = Rng::new(self.cfg.seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (mut xs, mut nbs, mut ys, mut conds) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..self.cfg.batch {
            let f = rng.below(t);
            let (y0, x0) = (2 * rng.below((h - side) / 2 + 1), 2 * rng.below((w - side) / 2 + 1));
            let crop = |clip: &Tensor<4>, f: usize| clip.clone().slice([f..f + 1, 0..c, y0..y0 + side, x0..x0 + side]);
            xs.push(crop(&self.sketch, f));
            ys.push(crop(&self.source, f));
            let around = (-n..=n).filter(|&d| d != 0).map(|d| crop(&self.sketch, (f as i64 + d).clamp(0, t as i64 - 1) as usize));
            nbs.push(Tensor::cat(around.collect(), 0).unsqueeze_dim::<5>(0));
            conds.extend_from_slice(&self.cond[f]);
        }
        let cond = Tensor::<2>::from_data(TensorData::new(conds, [self.cfg.batch, 6]), &self.device);
        let adapted = self.model.adapted(&self.map.factors(theta, 1.0));
        let restored = adapted.forward(Tensor::cat(xs, 0), Tensor::cat(nbs, 0), cond, None);
        (restored - Tensor::cat(ys, 0)).powi_scalar(2).mean()
    }

    fn k(&self) -> usize {
        self.map.k()
    }

    fn device(&self) -> Device {
        self.device.clone()
    }

    fn config(&self) -> &FitConfig {
        self.cfg
    }
}

#[cfg(test)]
mod tests {
    use lora_video_shared::model::restorer::RestorerConfig;

    use super::*;
    use crate::fit::FitNoise;

    #[test]
    fn the_fit_lowers_the_restorers_error() {
        let device = Device::flex().autodiff();
        let config = RestorerConfig { width: 8, depth: 2, ..RestorerConfig::base() };
        let model = config.init(&device);
        let map = LoraMap::new(&config.lora_slots(1), 16, 3, &device).unwrap();
        let sketch = Tensor::<4>::random([4, 3, 16, 16], burn::tensor::Distribution::Uniform(0.0, 1.0), &device);
        let source = sketch.clone().mul_scalar(0.7).add_scalar(0.2);
        let cfg = FitConfig { stage1: 80, stage2: 0, batch: 4, lr: 3e-2, lambda: 0.0, noise: FitNoise::Decode, sampler_seed: 0, seed: 5, init_std: 0.05 };
        let problem = RestoreProblem::new(&model, &map, sketch, source, vec![[0.5; 6]; 4], 16, &cfg);
        let error = |theta: &[f32]| {
            let theta = Tensor::from_data(TensorData::new(theta.to_vec(), [16]), &device);
            f64::from(problem.distortion(theta, 0).into_data().try_to_vec::<f32>().unwrap()[0])
        };
        let fitted = problem.run(None, |_| {});
        let (before, after) = (error(&[0.0; 16]), error(&fitted.theta));
        assert!(after < 0.85 * before, "the clip's vector must fit: {before} -> {after}");
    }
}
