//! Samples from a base model's prior (theta = 0), as one PNG: a row per seed, a column
//! per frame. `cargo run --release -p lora-video --example prior_samples -- base.lvm out.png`

use burn::tensor::Device;
use lora_video_shared::model::base::BaseModel;
use lora_video_shared::model::sampler::sample;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (lvm, out) = match args.as_slice() {
        [_, lvm, out] => (lvm, out),
        _ => return Err("usage: prior_samples BASE.lvm OUT.png".into()),
    };
    let device = Device::flex();
    let base = BaseModel::from_bytes(&std::fs::read(lvm)?, &device)?;
    let (seeds, frames, lat) = (4u64, 8usize, 16usize);
    let side = lat * 8;
    let (steps, shift) = (usize::from(base.manifest.sampler.steps), base.manifest.sampler.shift);
    let mut grid = image::RgbImage::new((frames * side) as u32, (seeds as usize * side) as u32);
    for seed in 0..seeds {
        let z = sample(&base.denoiser, None, None, [1, frames, 32, lat, lat], steps, shift, seed, &device, |_| {});
        let px: Vec<f32> = base.decode(z).into_data().try_to_vec().map_err(|e| format!("{e:?}"))?;
        for f in 0..frames {
            for y in 0..side {
                for x in 0..side {
                    let at = |c: usize| (px[((f * 3 + c) * side + y) * side + x] * 255.0).round() as u8;
                    grid.put_pixel((f * side + x) as u32, (seed as usize * side + y) as u32, image::Rgb([at(0), at(1), at(2)]));
                }
            }
        }
    }
    grid.save(out)?;
    println!("{out}: {seeds} samples x {frames} frames at {side}x{side}, {steps} steps");
    Ok(())
}
