//! The sketch's own rate-distortion, before the model, for 16 frames of a clip (or
//! `--frames N`; any input `encode` reads, from frame `--start N`, covering 256x256 as
//! `encode --size` does): what
//! `sketch::search` picks at each budget (`2400`) or trade-off (`l=20000`; none given:
//! the default without a budget), its bytes and the PSNR of its decode (upsampled and
//! blended, as the model's condition) against the frames; `--y4m PREFIX` writes that
//! decode as PREFIX-TARGET.y4m and the frames as PREFIX-src_NN.png (for `lora-video
//! compare`). `--sweep` prints every setting
//! the search tries as CSV first. `--near` prints, for each target, the sketches the
//! search reranks by SSIMULACRA2 (`sketch::candidates`: squared error, SSIMULACRA2,
//! bytes, setting), and with `--y4m` writes each decode as PREFIX-TARGET-nNN.y4m. Transform-coded sketches (version 3), or with
//! `--samples` predicted samples (version 2).
//! `cargo run --release -p lora-video --example sketch_rd -- CLIP [--start N] [--frames N] [--samples] [--sweep] [--near] [--y4m PREFIX] [2400 l=20000 ...]`

use std::path::Path;

use lora_video::media::{self, Select};
use lora_video::sketch::{self, Target};
use lora_video::{output, sketch_fit};
use lora_video_shared::model::render::Frames;

/// A target as the output's file names give it: the bytes, or `l` and the lambda.
fn name(t: Target) -> String {
    match t {
        Target::Bytes(b) => b.to_string(),
        Target::Lambda(l) => format!("l{l}"),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else { return Err("usage: sketch_rd CLIP [--start N] [--sweep] [BYTES | l=LAMBDA ...]".into()) };
    let value = |flag: &str, default: usize| -> Result<usize, Box<dyn std::error::Error>> {
        match args.iter().position(|a| a == flag) {
            Some(i) => Ok(args.get(i + 1).ok_or(format!("{flag} needs a number"))?.parse()?),
            None => Ok(default),
        }
    };
    let (start, count) = (value("--start", 0)?, value("--frames", 16)?);
    let video = media::read(Path::new(path), Select { start, count }, (24, 1))?;
    let frames: Vec<_> = video.frames.iter().map(|f| media::cover(f, 256, 256)).collect();
    let frames = &frames;
    let transform = !args.iter().any(|a| a == "--samples");
    let y4m = args.iter().position(|a| a == "--y4m").map(|i| args.get(i + 1).cloned().ok_or("--y4m needs a prefix")).transpose()?;
    if let Some(prefix) = &y4m {
        let rgb = frames.iter().flat_map(|f| f.as_raw().iter().copied()).collect();
        output::write(Path::new(&format!("{prefix}-src_%02d.png")), &Frames { width: 256, height: 256, count: frames.len(), rgb }, (24, 1))?;
    }
    let mut targets = Vec::new();
    let mut rest = args[1..].iter();
    while let Some(a) = rest.next() {
        match a.as_str() {
            "--start" | "--frames" | "--y4m" => {
                rest.next();
            }
            "--samples" | "--near" => {}
            "--sweep" => {
                println!("cell,keyframes,q_luma,q_chroma,tilt,motion,bytes,psnr");
                for (s, psnr) in sketch::sweep(frames, sketch::START, transform) {
                    let (p, tilt) = (s.params, s.transform.map_or(0, |t| t.tilt));
                    let motion = s.motion.as_ref().map_or(0, |m| m.len());
                    println!("{},{},{},{},{tilt},{motion},{},{psnr:.3}", 1 << p.cell_log2, p.keyframes, p.q_luma, p.q_chroma, s.section_len());
                }
            }
            l if l.starts_with("l=") => targets.push(Target::Lambda(l[2..].parse()?)),
            b => targets.push(Target::Bytes(b.parse()?)),
        }
    }
    if targets.is_empty() {
        targets.push(Target::Lambda(sketch::LAMBDA));
    }
    for t in targets {
        let t0 = std::time::Instant::now();
        let chosen = if args.iter().any(|a| a == "--near") {
            let near = sketch::candidates(frames, sketch::START, t, transform);
            let label = name(t);
            for (i, (error, ssimulacra2, s)) in near.iter().enumerate() {
                let motion = s.motion.as_ref().map_or(0, |m| m.len());
                println!("near {label} n{i:02}: error {error:.0}, SSIMULACRA2 {ssimulacra2:.2}, {} bytes, {:?} {:?}, motion {motion} bytes", s.section_len(), s.params, s.transform);
                if let Some(prefix) = &y4m {
                    let rgb = sketch_fit::decode_frames(s, 256, 256, frames.len())?;
                    output::write(Path::new(&format!("{prefix}-{label}-n{i:02}.y4m")), &Frames { width: 256, height: 256, count: frames.len(), rgb }, (24, 1))?;
                }
            }
            sketch::rerank(near)
        } else {
            sketch::search(frames, sketch::START, t, transform)
        };
        match chosen {
            Some(s) => {
                let motion = s.motion.as_ref().map_or("no motion".into(), |m| format!("motion {} bytes", m.len()));
                println!("{t:?}: {:?} {:?}, {motion}, {} bytes, {:.2} dB ({:.1} s)", s.params, s.transform, s.section_len(), sketch::psnr(frames, &s), t0.elapsed().as_secs_f64());
                if let Some(prefix) = &y4m {
                    let rgb = sketch_fit::decode_frames(&s, 256, 256, frames.len())?;
                    output::write(Path::new(&format!("{prefix}-{}.y4m", name(t))), &Frames { width: 256, height: 256, count: frames.len(), rgb }, (24, 1))?;
                }
            }
            None => println!("{t:?}: nothing fits"),
        }
    }
    Ok(())
}
