//! What a clip's sketch gives before any sampler step: its keyframes upsampled,
//! TAEF2-encoded and blended in time (the sampler's starting latents without noise, as
//! `render::condition` builds them), then TAEF2-decoded. Comparing this with the decode
//! (`lora-video compare`) tells what TAEF2's round trip costs and what the model adds.
//! `cargo run --release -p lora-video --example sketch_latents -- CLIP.lvc BASE.lvm OUT.y4m`

use std::path::Path;

use burn::tensor::Device;
use lora_video::decode::read_clip;
use lora_video::model::load_base;
use lora_video::output;
use lora_video_shared::model::render::{self, Render};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [clip, base, out] = args.as_slice() else { return Err("usage: sketch_latents CLIP.lvc BASE.lvm OUT.y4m".into()) };
    let device = Device::flex();
    let base = load_base(Path::new(base), &device)?;
    let clip = read_clip(Path::new(clip))?;
    let render = Render::of(&clip.header);
    let sketch = render::condition(&base, &render, &device)?.ok_or("the clip has no sketch, or the model reads none")?;
    let frames = render::frames(&base, render::Latents::plain(sketch.start), |_| ());
    output::write(Path::new(out), &frames, (24, 1))?;
    Ok(())
}
