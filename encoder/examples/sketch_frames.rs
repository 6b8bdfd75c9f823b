//! A clip's sketch as a decoder reads it, before TAEF2 and the model: its keyframes
//! upsampled and blended in time (along its motion, if any), written as frames. Beside
//! `sketch_latents` (the same through TAEF2's round trip) and the decode, it tells what
//! the sketch itself gives.
//! `cargo run --release -p lora-video --example sketch_frames -- CLIP.lvc OUT.y4m`

use std::path::Path;

use lora_video::decode::read_clip;
use lora_video::{output, sketch_fit};
use lora_video_shared::model::render::Frames;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [clip, out] = args.as_slice() else { return Err("usage: sketch_frames CLIP.lvc OUT.y4m".into()) };
    let h = read_clip(Path::new(clip))?.header;
    let s = h.sketch.as_ref().ok_or("the clip has no sketch")?;
    let (w, ht, n) = (usize::from(h.width), usize::from(h.height), usize::from(h.frames));
    let rgb = sketch_fit::decode_frames(s, w, ht, n)?;
    output::write(Path::new(out), &Frames { width: w, height: ht, count: n, rgb }, (h.fps.num, h.fps.den))?;
    Ok(())
}
