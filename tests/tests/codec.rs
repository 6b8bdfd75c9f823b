//! encode -> .lvc -> decode end to end on the tiny test model (`models/tiny`), in-process:
//! real clips from opencv-doc (read through ffmpeg), the byte budget, the adapter as the
//! carrier of the clip, and the bad-input cases with their exit codes.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::tensor::Device;
use lora_video::cli::run;
use lora_video::error::CliError;
use lora_video::media::{self, Select};
use lora_video_shared::model::base::BaseModel;
use lora_video_shared::model::render::{self, Render};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn taef2() -> String {
    std::env::var("LORA_VIDEO_TAEF2").unwrap_or_else(|_| root().join("../shared/assets/taef2").to_string_lossy().into())
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lora-video-codec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One of opencv-doc's real clips, fetched by `scripts/fetch-data.sh --test`.
fn opencv_clip(name: &str) -> PathBuf {
    let data = std::env::var_os("LORA_VIDEO_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/lora-video/data"));
    let p = data.join("deb/opencv-doc/usr/share/doc/opencv-doc/examples/data").join(name);
    assert!(p.exists(), "{}: run `bash scripts/fetch-data.sh --test` first", p.display());
    p
}

fn cli(args: &[&str]) -> Result<String, CliError> {
    let mut out = Vec::new();
    run(std::iter::once("lora-video").chain(args.iter().copied()), &mut out)?;
    Ok(String::from_utf8(out).unwrap())
}

/// A .lvm packed from a committed denoiser, once per test process.
fn packed(which: &'static str, cell: &'static OnceLock<PathBuf>) -> &'static Path {
    cell.get_or_init(|| {
        let out = scratch().join(format!("{which}.lvm"));
        let denoiser = root().join("models").join(which).join("denoiser.safetensors");
        cli(&["pack-base", "--denoiser", denoiser.to_str().unwrap(), "--taef2", &taef2(), "-o", out.to_str().unwrap()]).unwrap();
        out
    })
}

fn tiny() -> &'static Path {
    static CELL: OnceLock<PathBuf> = OnceLock::new();
    packed("tiny", &CELL)
}

/// Encodes 4 frames of `clip` at 64x64 (fast preset) into `out`; returns the JSON summary.
fn encode(clip: &Path, out: &Path, source: &Path, extra: &[&str]) -> serde_json::Value {
    let t = taef2();
    let mut args = vec![
        "encode", "-q", "--json", "-i", clip.to_str().unwrap(), "-o", out.to_str().unwrap(), "-m", tiny().to_str().unwrap(), "--taef2", &t,
        "--frames", "4", "--size", "64x64", "--preset", "fast", "--write-source", source.to_str().unwrap(),
    ];
    args.extend(extra);
    serde_json::from_str(&cli(&args).unwrap_or_else(|e| panic!("encode failed: {e}"))).unwrap()
}

fn read_y4m(path: &Path) -> Vec<f32> {
    let f = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    media::planar(&media::read_y4m(f, path, Select { start: 0, count: 1024 }).unwrap().frames)
}

fn psnr(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mse = a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum::<f64>() / a.len() as f64;
    10.0 * (1.0 / mse).log10()
}

/// Decodes `clip` with the CLI to y4m and reads the frames back.
fn decode(clip: &Path) -> Vec<f32> {
    let out = clip.with_extension("y4m");
    cli(&["decode", "-q", "-i", clip.to_str().unwrap(), "-o", out.to_str().unwrap(), "-m", tiny().to_str().unwrap()]).unwrap();
    read_y4m(&out)
}

#[test]
fn encode_obeys_the_budget_and_beats_the_base_model() {
    let dir = scratch();
    let (lvc, src) = (dir.join("vtest.lvc"), dir.join("vtest-src.y4m"));
    // The adapter alone (no sketch) against the base model alone.
    let summary = encode(&opencv_clip("vtest.avi"), &lvc, &src, &["--bytes", "600", "--preset", "default", "--sketch", "off"]);
    let len = std::fs::metadata(&lvc).unwrap().len();
    assert!(len <= 600, "{len} bytes over a budget of 600");
    assert_eq!(summary["bytes"], len);
    let (fit_mse, base_mse) = (summary["latent_mse"].as_f64().unwrap(), summary["base_latent_mse"].as_f64().unwrap());
    assert!(fit_mse < 0.8 * base_mse, "latent MSE {fit_mse} against the base model's {base_mse}");
    let source = read_y4m(&src);
    let decoded = decode(&lvc);

    // The base model's own sample from the same seed: theta at strength 0.
    let device = Device::flex();
    let base = BaseModel::from_bytes(&std::fs::read(tiny()).unwrap(), &device).unwrap();
    let clip = lora_video::decode::read_clip(&lvc).unwrap();
    let theta = clip.theta().unwrap();
    let z = render::latents(&base, &clip.header, &theta, &Render { strength: 0.0, ..Render::of(&clip.header) }, &device, |_| {}).unwrap();
    let prior = render::frames(&base, z, |_| {});
    let prior = media::planar(&(0..4).map(|i| lora_video::output::image(&prior, i)).collect::<Vec<_>>());

    let (fit, unfit) = (psnr(&decoded, &source), psnr(&prior, &source));
    eprintln!("vtest 4x64x64 in {len} bytes: decode {fit:.2} dB, base model's sample {unfit:.2} dB");
    assert!(fit > unfit + 1.0, "the decode ({fit:.2} dB) must beat the base model's sample ({unfit:.2} dB)");
}

#[test]
fn the_adapter_carries_the_clip() {
    // Two real clips, same settings and seed: the headers differ only in theta's payload
    // (and its step and prior), so whatever tells the decodes apart is in the adapter.
    let dir = scratch();
    let (a, b) = (dir.join("a.lvc"), dir.join("b.lvc"));
    let (sa, sb) = (dir.join("a-src.y4m"), dir.join("b-src.y4m"));
    encode(&opencv_clip("vtest.avi"), &a, &sa, &["--sketch", "off"]);
    encode(&opencv_clip("tree.avi"), &b, &sb, &["--sketch", "off"]);
    let (src_a, src_b) = (read_y4m(&sa), read_y4m(&sb));
    let (dec_a, dec_b) = (decode(&a), decode(&b));
    let (aa, ab, ba, bb) = (psnr(&dec_a, &src_a), psnr(&dec_b, &src_a), psnr(&dec_a, &src_b), psnr(&dec_b, &src_b));
    eprintln!("vs vtest: own {aa:.2} dB, other {ab:.2} dB; vs tree: own {bb:.2} dB, other {ba:.2} dB");
    assert!(aa > ab + 1.0 && bb > ba + 1.0, "each decode must be closer to its own source");
}

/// The sketch: counted in the budget, reported per part, and the decode depicts the
/// source far better with it than without at the same bytes.
#[test]
fn the_sketch_makes_the_decode_depict_the_source() {
    let dir = scratch().join("sketch");
    std::fs::create_dir_all(&dir).unwrap();
    let (with, without, src) = (dir.join("with.lvc"), dir.join("without.lvc"), dir.join("src.y4m"));
    let s = encode(&opencv_clip("vtest.avi"), &with, &src, &["--bytes", "600", "--sketch", "5"]);
    encode(&opencv_clip("vtest.avi"), &without, &dir.join("src2.y4m"), &["--bytes", "600", "--sketch", "off"]);
    let len = std::fs::metadata(&with).unwrap().len() as usize;
    assert!(len <= 600);
    let parts = &s["parts"];
    let sum: u64 = ["sketch", "vector", "scaling", "other"].iter().map(|p| parts[p].as_u64().unwrap()).sum();
    assert_eq!(sum as usize, len, "{parts}");
    let clip = lora_video::decode::read_clip(&with).unwrap();
    let sketch = clip.header.sketch.as_ref().expect("a sketch section");
    assert_eq!(parts["sketch"].as_u64().unwrap() as usize, sketch.section_len());
    assert_eq!(sketch.params, lora_video::sketch::LEVELS[4]);
    let source = read_y4m(&src);
    let (a, b) = (psnr(&decode(&with), &source), psnr(&decode(&without), &source));
    eprintln!("vtest 4x64x64 in 600 bytes: with a sketch {a:.2} dB, without {b:.2} dB");
    assert!(a > b + 3.0, "with a sketch {a:.2} dB, without {b:.2} dB");
    // `info` reports the parts too.
    let info = cli(&["info", with.to_str().unwrap()]).unwrap();
    assert!(info.contains(&format!("sketch {} + vector", sketch.section_len())), "{info}");
    // A level that does not exist is a usage error.
    let e = cli(&["encode", "-q", "-i", src.to_str().unwrap(), "-o", dir.join("x.lvc").to_str().unwrap(), "-m", tiny().to_str().unwrap(), "--sketch", "9"]).unwrap_err();
    assert_eq!(e.exit_code(), 1, "{e}");
}

#[test]
fn a_residual_sketch_decodes_as_its_frames_plus_the_models_change() {
    let dir = scratch().join("residual");
    std::fs::create_dir_all(&dir).unwrap();
    let (res, plain, src) = (dir.join("residual.lvc"), dir.join("plain.lvc"), dir.join("src.y4m"));
    encode(&opencv_clip("vtest.avi"), &res, &src, &["--start", "700", "--bytes", "900"]);
    encode(&opencv_clip("vtest.avi"), &plain, &dir.join("src2.y4m"), &["--start", "700", "--bytes", "900", "--no-residual"]);
    // The same encode: the files differ in FLAG_RESIDUAL (and the checksum) alone.
    let (a, b) = (std::fs::read(&res).unwrap(), std::fs::read(&plain).unwrap());
    assert_eq!(a.len(), b.len());
    let differ: Vec<usize> = (0..a.len() - 4).filter(|&i| a[i] != b[i]).collect();
    assert_eq!((differ, a[5] & !b[5]), (vec![5], lora_video_shared::format::FLAG_RESIDUAL));
    assert!(cli(&["info", res.to_str().unwrap()]).unwrap().contains("plus the model's change"));

    // residual - plain = S - D(z_s): the sketch's frames (as the encoder's sketch fit
    // composes them) less TAEF2's decode of their latents (where the sampler starts).
    let header = lora_video::decode::read_clip(&res).unwrap().header;
    let s = header.sketch.as_ref().unwrap();
    let (w, h, n) = (64, 64, 4);
    let g = lora_video_shared::sketch::Geometry::new(w, h, n, &s.params).unwrap();
    let kf = lora_video_shared::sketch::decode(s, w, h, n).unwrap();
    let field = s.motion.as_ref().map(|m| lora_video_shared::sketch::motion::decode(m, w, h, g.keyframes).unwrap());
    let mut pixels = Vec::new();
    lora_video::sketch_fit::for_each_frame(&kf, &g, field.as_ref(), w, h, |_, image| pixels.extend_from_slice(image));
    let device = Device::flex();
    let base = BaseModel::from_bytes(&std::fs::read(tiny()).unwrap(), &device).unwrap();
    let start = render::condition(&base, &Render::of(&header), &device).unwrap().unwrap().start;
    let round_trip = render::frames(&base, render::Latents::plain(start), |_| {});
    let round_trip = media::planar(&(0..n).map(|i| lora_video::output::image(&round_trip, i)).collect::<Vec<_>>());
    let (r, p) = (decode(&res), decode(&plain));
    let added: Vec<f32> = r.iter().zip(&p).zip(&round_trip).map(|((r, p), d)| r - p + d).collect();
    assert!(psnr(&added, &pixels) > 35.0, "residual - plain + D(z_s) vs the sketch's frames: {:.2} dB", psnr(&added, &pixels));
    let source = read_y4m(&src);
    let (with, without) = (psnr(&r, &source), psnr(&p, &source));
    eprintln!("vtest 4x64x64 in 900 bytes: residual decode {with:.2} dB, plain {without:.2} dB");
    assert!(with > without, "residual decode {with:.2} dB, plain {without:.2} dB");
}

#[test]
fn other_inputs_and_outputs() {
    let dir = scratch();
    // A y4m in (the source written by an earlier encode), a PNG in, PNG sequence out.
    let (lvc, src) = (dir.join("tree.lvc"), dir.join("tree-src.y4m"));
    encode(&opencv_clip("tree.avi"), &lvc, &src, &["--stage1", "5", "--stage2", "2"]);
    let again = dir.join("again.lvc");
    let s = encode(&src, &again, &dir.join("again-src.y4m"), &["--stage1", "5", "--stage2", "2", "--frames", "2"]);
    assert_eq!(s["frames"], 2);
    let pattern = dir.join("frame_%03d.png");
    cli(&["decode", "-q", "-i", again.to_str().unwrap(), "-o", pattern.to_str().unwrap(), "-m", tiny().to_str().unwrap()]).unwrap();
    assert!(dir.join("frame_000.png").exists() && dir.join("frame_001.png").exists() && !dir.join("frame_002.png").exists());
    // mp4 through ffmpeg, written under a temporary name and renamed.
    let mp4 = dir.join("again.mp4");
    cli(&["decode", "-q", "-i", again.to_str().unwrap(), "-o", mp4.to_str().unwrap(), "-m", tiny().to_str().unwrap()]).unwrap();
    let back = media::read(&mp4, Select { start: 0, count: 100 }, (24, 1)).unwrap();
    assert_eq!((back.frames.len(), back.width(), back.height()), (2, 64, 64));
    let still = dir.join("still.lvc");
    let s = encode(&dir.join("frame_001.png"), &still, &dir.join("still-src.png"), &["--stage1", "5", "--stage2", "2"]);
    assert_eq!(s["frames"], 1);
    assert_eq!(s["fps"], "24/1");
    // The numbered sequence reads back as a clip, starting where the numbering starts.
    let s = encode(&pattern, &dir.join("seq.lvc"), &dir.join("seq-src.y4m"), &["--stage1", "5", "--stage2", "2", "--start", "1"]);
    assert_eq!(s["frames"], 1);
}

#[test]
fn bad_input_is_a_typed_error() {
    let dir = scratch();
    let t = taef2();
    let m = tiny().to_str().unwrap().to_string();
    let enc = |input: &str, extra: &[&str]| {
        let out = dir.join("bad.lvc");
        let mut args = vec!["encode", "-q", "-i", input, "-o", out.to_str().unwrap(), "-m", &m, "--taef2", &t, "--frames", "2", "--stage1", "2", "--stage2", "1"];
        if !extra.contains(&"--size") {
            args.extend(["--size", "64x64"]);
        }
        args.extend(extra);
        cli(&args)
    };
    let vtest = opencv_clip("vtest.avi");
    let vtest = vtest.to_str().unwrap();

    let missing = enc(dir.join("nope.y4m").to_str().unwrap(), &[]).unwrap_err();
    assert_eq!(missing.exit_code(), 2, "{missing}");
    std::fs::write(dir.join("junk.y4m"), b"YUV4MPEG2 W64 H64 F25:1 C444\nFRAME\nshort").unwrap();
    let junk = enc(dir.join("junk.y4m").to_str().unwrap(), &[]).unwrap_err();
    assert_eq!(junk.exit_code(), 1, "{junk}");
    let huge = b"YUV4MPEG2 W99999999 H99999999 F25:1\nFRAME\n";
    std::fs::write(dir.join("huge.y4m"), huge).unwrap();
    assert!(enc(dir.join("huge.y4m").to_str().unwrap(), &[]).unwrap_err().to_string().contains("outside"));
    for (flags, want) in [
        (&["--bytes", "50"][..], "below the smallest clip"),
        (&["--size", "60x60"], "multiples of 16"),
        (&["--k", "999999"], "LoRA entries"),
        (&["--frames", "0"], "at least 1"),
        (&["--bytes", "500", "--kbps", "3"], "not both"),
        (&["--fps", "0"], "expected a rate"),
    ] {
        let e = enc(vtest, flags).unwrap_err();
        assert_eq!(e.exit_code(), 1, "{flags:?}: {e}");
        assert!(e.to_string().contains(want), "{flags:?}: {e}");
    }
    assert!(!dir.join("bad.lvc").exists(), "a failed encode writes nothing");

    // An output folder that does not exist: an I/O error, and nothing left behind.
    let e = cli(&["encode", "-q", "-i", vtest, "-o", dir.join("no/such/dir/x.lvc").to_str().unwrap(), "-m", &m, "--taef2", &t, "--frames", "1", "--size", "64x64", "--stage1", "1", "--stage2", "1"]).unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");

    // A clip for another base model: exit 3, and the message names both models.
    let good = dir.join("good.lvc");
    encode(&opencv_clip("vtest.avi"), &good, &dir.join("good-src.y4m"), &["--stage1", "2", "--stage2", "1"]);
    static DEFAULT: OnceLock<PathBuf> = OnceLock::new();
    let other = packed("default", &DEFAULT);
    let e = cli(&["decode", "-i", good.to_str().unwrap(), "-o", dir.join("x.y4m").to_str().unwrap(), "-m", other.to_str().unwrap()]).unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    let (clip_sha, model_sha) = (lora_video::decode::read_clip(&good).unwrap().header.model_sha256, lora_video_shared::package::sha256(&std::fs::read(other).unwrap()));
    for sha in [clip_sha, model_sha] {
        assert!(e.to_string().contains(&lora_video_shared::to_hex(&sha)), "{e}");
    }
    assert!(!dir.join("x.y4m").exists());

    // A damaged clip: every truncation is refused.
    let bytes = std::fs::read(&good).unwrap();
    for cut in [0, 4, 50, bytes.len() - 1] {
        std::fs::write(dir.join("cut.lvc"), &bytes[..cut]).unwrap();
        let e = cli(&["decode", "-i", dir.join("cut.lvc").to_str().unwrap(), "-o", dir.join("cut.y4m").to_str().unwrap(), "-m", &m]).unwrap_err();
        assert_eq!(e.exit_code(), 1, "{e}");
    }
    // A multi-frame clip cannot be one PNG.
    let e = cli(&["decode", "-q", "-i", good.to_str().unwrap(), "-o", dir.join("one.png").to_str().unwrap(), "-m", &m]).unwrap_err();
    assert!(e.to_string().contains("%04d"), "{e}");
}

/// `lora-video eval` end to end on the tiny model: every codec scored at lora-video's
/// byte counts, CSVs, plots and BD summary written; `eval-curve` scores each k and step.
#[test]
fn eval_scores_every_codec_at_matched_bytes() {
    let out = scratch().join("eval");
    let (t, clip) = (taef2(), opencv_clip("vtest.avi"));
    let common = ["-m", tiny().to_str().unwrap(), "--taef2", &t, "--start", "700", "--frames", "4", "--size", "64x64", "-q"];
    let mut args = vec!["eval", clip.to_str().unwrap(), "-o", out.to_str().unwrap(), "--preset", "fast", "--bytes", "150,300,600,1200"];
    args.extend(common);
    let summary = cli(&args).unwrap_or_else(|e| panic!("eval failed: {e}"));
    assert!(summary.contains("| vtest-700 | x264 |") && summary.contains("| vtest-700 | svt-av1 |"), "{summary}");
    let csv = std::fs::read_to_string(out.join("vtest-700.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let col = |r: &Vec<&str>, i: usize| r[i].parse::<f64>().unwrap();
    for codec in ["lora-video", "x264", "x265", "svt-av1"] {
        let mine: Vec<_> = rows.iter().filter(|r| r[1] == codec).collect();
        assert_eq!(mine.len(), 4, "{codec} rows in\n{csv}");
        for r in &mine {
            // bytes <= target whenever the row says it fits; every score is a number.
            assert!(r[4] == "false" || col(r, 3) <= col(r, 2), "{r:?}");
            assert!((6..=10).all(|i| col(r, i).is_finite()), "{r:?}");
        }
        if codec != "lora-video" {
            // More bytes, better quality: the largest target scores above the smallest.
            assert!(col(mine[3], 6) > col(mine[0], 6), "{codec}: {mine:?}");
        }
    }
    for m in ["psnr", "msssim", "ssimulacra2"] {
        let png = image::open(out.join(format!("vtest-700-{m}.png"))).unwrap();
        assert_eq!((png.width(), png.height()), (800, 560));
    }

    let curve = scratch().join("curve");
    let mut args = vec!["eval-curve", clip.to_str().unwrap(), "-o", curve.to_str().unwrap(), "--k", "256,1024", "--at", "0,4"];
    args.extend(common);
    cli(&args).unwrap_or_else(|e| panic!("eval-curve failed: {e}"));
    let csv = std::fs::read_to_string(curve.join("curve.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 2, "{csv}");
    assert!(curve.join("curve-psnr.png").exists() && curve.join("curve-ssimulacra2.png").exists());

    let sweep = scratch().join("eval-scaling");
    let mut args = vec!["eval-scaling", clip.to_str().unwrap(), "-o", sweep.to_str().unwrap(), "--preset", "fast", "--bytes", "300,600", "--m", "4,16", "--counts", "1,2"];
    args.extend(common);
    let summary = cli(&args).unwrap_or_else(|e| panic!("eval-scaling failed: {e}"));
    assert!(summary.contains("**Equal total bytes") && summary.contains("| 16 | 2 | 1 | greedy |"), "{summary}");
    let csv = std::fs::read_to_string(sweep.join("scaling.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    // Per budget: the plain clip, then 2 M x 2 step counts, each added and equal.
    assert_eq!(rows.len(), 2 * (1 + 2 * 2 * 2), "{csv}");
    let num = |r: &Vec<&str>, i: usize| r[i].parse::<f64>().unwrap();
    for r in &rows {
        let plain = rows.iter().find(|p| p[2] == "none" && p[1] == r[1]).unwrap();
        // choice bits = steps x log2 M; the file on disk is the counted size.
        assert_eq!(num(r, 8), num(r, 4) * num(r, 3).max(1.0).log2(), "{r:?}");
        let file = match r[2] {
            "none" => format!("none-{}.lvc", r[1]),
            mode => format!("{mode}-{}-m{}-last{}-eta{}-{}.lvc", r[1], r[3], r[4], r[5], r[6]),
        };
        assert_eq!(std::fs::metadata(sweep.join("vtest-700").join(file)).unwrap().len() as f64, num(r, 7), "{r:?}");
        match r[2] {
            // "added" keeps the plain clip's vector and adds the section; the rest stay in budget.
            "added" => assert!(num(r, 7) > num(plain, 7) && num(r, 9) == num(plain, 9), "{r:?} vs {plain:?}"),
            _ => assert!(num(r, 7) <= num(r, 1), "{r:?}"),
        }
        assert!((10..=15).all(|i| num(r, i).is_finite()), "{r:?}");
    }
    for m in ["psnr", "msssim", "ssimulacra2"] {
        assert!(sweep.join(format!("vtest-700-added-{m}.png")).exists() && sweep.join(format!("vtest-700-equal-{m}.png")).exists());
    }
}

/// PNG frames `dir/NAME_%02d.png` as planar floats.
fn pngs(dir: &Path, name: &str, n: usize) -> Vec<f32> {
    media::planar(&(0..n).map(|i| image::open(dir.join(format!("{name}_{i:02}.png"))).unwrap().to_rgb8()).collect::<Vec<_>>())
}

/// `lora-video render` of the committed tiny fixture to PNG frames named `name`.
fn render_cli(dir: &Path, name: &str, extra: &[&str]) -> Result<Vec<f32>, CliError> {
    let fixture = root().join("tests/browser/fixtures/tiny.lvc");
    let out = dir.join(format!("{name}_%02d.png"));
    let mut args = vec!["render", "-q", "-i", fixture.to_str().unwrap(), "-m", tiny().to_str().unwrap(), "-o", out.to_str().unwrap()];
    args.extend(extra);
    cli(&args)?;
    Ok(pngs(dir, name, 4))
}

#[test]
fn render_controls_change_only_the_decode() {
    let dir = scratch().join("render");
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = root().join("tests/browser/fixtures/tiny.lvc");
    let header = lora_video::decode::read_clip(&fixture).unwrap().header;
    let own_seed = header.sampler.seed.to_string();

    // Strength 1 with the stored seed is the decode, bit for bit.
    let decoded = render_cli(&dir, "decode", &[]).unwrap();
    cli(&["decode", "-q", "-i", fixture.to_str().unwrap(), "-m", tiny().to_str().unwrap(), "-o", dir.join("plain_%02d.png").to_str().unwrap()]).unwrap();
    assert_eq!(pngs(&dir, "plain", 4), decoded);
    assert_eq!(render_cli(&dir, "one", &["--strength", "1", "--seed", &own_seed]).unwrap(), decoded);

    // Determinism: the same options give the same frames; other options other frames.
    let a = render_cli(&dir, "a", &["--seed", "7", "--strength", "1.5", "--steps", "6"]).unwrap();
    assert_eq!(render_cli(&dir, "b", &["--seed", "7", "--strength", "1.5", "--steps", "6"]).unwrap(), a);
    for (name, extra) in [("seed", ["--seed", "8"]), ("strength", ["--strength", "0.5"]), ("steps", ["--steps", "3"])] {
        let other = render_cli(&dir, name, &extra).unwrap();
        assert!(psnr(&other, &decoded) < 60.0, "--{name} must change the frames");
    }
    // Sharpening: the fixture's sketch (version 6) has none; --sharpen adds it, 0..=4.
    assert_eq!(render_cli(&dir, "sharp0", &["--sharpen", "0"]).unwrap(), decoded);
    let sharp = render_cli(&dir, "sharp", &["--sharpen", "1"]).unwrap();
    assert!(psnr(&sharp, &decoded) < 60.0 && psnr(&sharp, &decoded) > 20.0, "--sharpen 1: {:.2} dB", psnr(&sharp, &decoded));
    let e = render_cli(&dir, "blunt", &["--sharpen", "5"]).unwrap_err();
    assert!(e.exit_code() == 1 && e.to_string().contains("sharpen"), "{e}");

    // Strength 0 is the base model's own sample from that seed (no LoRA at all), from the
    // clip's sketch, or with --sketch off from noise alone.
    let device = Device::flex();
    let base = BaseModel::from_bytes(&std::fs::read(tiny()).unwrap(), &device).unwrap();
    let r = Render { seed: 5, ..Render::of(&header) };
    let sampled = |r: &Render| {
        let sketch = render::condition_frames(&base, r, &device).unwrap();
        let z = lora_video_shared::model::sampler::sample(&base.denoiser, None, sketch.as_ref().map(|(s, _)| s), render::render_shape(&base, r), r.steps, r.shift, r.seed, &device, |_| {});
        let frames = render::frames(&base, render::Latents::of(z, sketch, r.sharpen), |_| {});
        media::planar(&(0..4).map(|i| lora_video::output::image(&frames, i)).collect::<Vec<_>>())
    };
    let zero = render_cli(&dir, "zero", &["--strength", "0", "--seed", "5"]).unwrap();
    assert!(psnr(&zero, &sampled(&r)) > 50.0, "strength 0 vs the base model: {:.2} dB", psnr(&zero, &sampled(&r)));
    let bare = render_cli(&dir, "bare", &["--strength", "0", "--seed", "5", "--sketch", "off"]).unwrap();
    let plain = sampled(&Render { sketch: None, sharpen: 0.0, ..r.clone() });
    assert!(psnr(&bare, &plain) > 50.0, "strength 0 without a sketch vs the base model: {:.2} dB", psnr(&bare, &plain));

    // The sketch: off renders the adapter alone; another clip's sketch changes the layout;
    // the clip's own sketch is the decode.
    let off = render_cli(&dir, "off", &["--sketch", "off"]).unwrap();
    assert!(psnr(&off, &decoded) < 40.0, "--sketch off must change the frames");
    let own = render_cli(&dir, "own", &["--sketch-from", fixture.to_str().unwrap()]).unwrap();
    assert_eq!(own, decoded);

    // A merge with mix 0 is the first clip; with mix 1 it differs.
    let other = dir.join("other.lvc");
    encode(&opencv_clip("tree.avi"), &other, &dir.join("other-src.y4m"), &[]);
    // A new clip's decode is sharpened by default when its sketch is under adaptive models,
    // which have wide contexts (version 9).
    let other_clip = lora_video::decode::read_clip(&other).unwrap();
    let s = other_clip.header.sketch.as_ref().expect("a sketch");
    let adaptive = s.transform.is_some_and(|t| t.adaptive && t.wide);
    assert_eq!((s.sharpen, other_clip.version), if adaptive { (8, 9) } else { (0, lora_video_shared::format::Bitstream::version_for(&other_clip.header)) });
    let mix0 = render_cli(&dir, "mix0", &["--merge", other.to_str().unwrap(), "--mix", "0"]).unwrap();
    assert!(psnr(&mix0, &decoded) > 40.0, "merge at mix 0 vs the clip: {:.2} dB", psnr(&mix0, &decoded));
    let mix1 = render_cli(&dir, "mix1", &["--merge", other.to_str().unwrap()]).unwrap();
    assert!(psnr(&mix1, &decoded) < 40.0, "a merge at mix 1 must change the frames");
    let layout = render_cli(&dir, "layout", &["--sketch-from", other.to_str().unwrap()]).unwrap();
    assert!(psnr(&layout, &decoded) < psnr(&layout, &render_cli(&dir, "tree", &["--sketch-from", other.to_str().unwrap(), "--strength", "0"]).unwrap()), "another clip's sketch leads the render");
    let plain_clip = dir.join("plain.lvc");
    encode(&opencv_clip("tree.avi"), &plain_clip, &dir.join("plain-src.y4m"), &["--sketch", "off", "--stage1", "2", "--stage2", "1"]);
    let e = render_cli(&dir, "x", &["--sketch-from", plain_clip.to_str().unwrap()]).unwrap_err();
    assert!(e.exit_code() == 1 && e.to_string().contains("no sketch"), "{e}");

    // Other lengths and sizes, where the model allows them.
    let long = dir.join("long.y4m");
    cli(&["render", "-q", "-i", fixture.to_str().unwrap(), "-m", tiny().to_str().unwrap(), "-o", long.to_str().unwrap(), "--frames", "6", "--size", "96x64"]).unwrap();
    let v = media::read_y4m(std::io::BufReader::new(std::fs::File::open(&long).unwrap()), &long, Select { start: 0, count: 100 }).unwrap();
    assert_eq!((v.frames.len(), v.frames[0].width(), v.frames[0].height()), (6, 96, 64));

    // Bad combinations are clear errors.
    let wrong = root().join("web/demo/samples/tree.lvc"); // made for the default model
    let e = render_cli(&dir, "x", &["--merge", wrong.to_str().unwrap()]).unwrap_err();
    assert!(matches!(e, CliError::WrongModel(_)) && e.exit_code() == 3 && e.to_string().contains("tree.lvc"), "{e}");
    for (extra, needle) in [(&["--frames", "5000"][..], "frame count"), (&["--steps", "0"], "sampler steps"), (&["--mix", "0.5"], "--merge"), (&["--size", "72x64"], "multiples of 16")] {
        let e = render_cli(&dir, "x", extra).unwrap_err();
        assert!(e.exit_code() == 1 && e.to_string().contains(needle), "{extra:?}: {e}");
    }
}

/// Inference-time scaling: the choices count in the rate (exactly), the reference decoder
/// replays them to the encoder's own reconstruction, and they change the decode.
#[test]
fn scaling_is_counted_replayed_and_used() {
    let dir = scratch().join("scaling");
    std::fs::create_dir_all(&dir).unwrap();
    let (lvc, src) = (dir.join("scaled.lvc"), dir.join("scaled-src.y4m"));
    let summary = encode(&opencv_clip("vtest.avi"), &lvc, &src, &["--bytes", "600", "--scaling", "64", "--scale-steps", "0,2,4"]);
    let bytes = std::fs::read(&lvc).unwrap();
    assert!(bytes.len() <= 600, "{} bytes", bytes.len());
    let clip = lora_video::decode::read_clip(&lvc).unwrap();
    let section = clip.header.scaling.clone().expect("a scaling section");
    assert_eq!((section.m_log2, section.steps.iter().map(|s| s.step).collect::<Vec<_>>()), (6, vec![0, 2, 4]));
    // Rate accounting: header (with the 3 x 6 choice bits) + payload + CRC is the file.
    assert_eq!(clip.header.header_len() + clip.payload.len() + lora_video_shared::format::CHECKSUM_LEN, bytes.len());
    assert_eq!(summary["scaling"]["choice_bits"], 18);

    // The encoder's own reconstruction, recomputed: the same choices, the same latents.
    let device = Device::flex();
    let base = BaseModel::from_bytes(&std::fs::read(tiny()).unwrap(), &device).unwrap();
    let frames = media::read(&src, Select { start: 0, count: 4 }, (24, 1)).unwrap().frames;
    let encoder = lora_video::model::load_taef2_encoder(Path::new(&taef2()), &device).unwrap();
    let z0 = lora_video::encode::latents(&base, &encoder, &frames, &device);
    let theta = clip.theta().unwrap();
    let cfg = lora_video::scaling::ScalingConfig { m_log2: 6, eta: 1.0, steps: vec![0, 2, 4], choose: lora_video::scaling::Choose::Greedy, seed: 0 };
    let mut placeholder = clip.header.clone();
    placeholder.scaling = Some(cfg.placeholder());
    let (again, x) = lora_video::scaling::choose(&base, &placeholder, &theta, &z0, &cfg, &device, |_| {}).unwrap();
    assert_eq!(again, section, "the encoder's choices are deterministic");
    // Through y4m, like `decode`'s output, so both take the same colour conversion.
    let own = dir.join("own.y4m");
    std::fs::write(&own, lora_video::output::y4m_bytes(&render::frames(&base, x, |_| {}), (24, 1))).unwrap();
    let (decoded, own) = (decode(&lvc), read_y4m(&own));
    assert!(psnr(&decoded, &own) > 40.0, "decode vs the encoder's reconstruction: {:.2} dB", psnr(&decoded, &own));

    // Without its choices the same clip decodes differently (they are used).
    let unscaled = render::latents(&base, &clip.header, &theta, &Render { scaling: None, ..Render::of(&clip.header) }, &device, |_| {}).unwrap();
    let with = render::latents(&base, &clip.header, &theta, &Render::of(&clip.header), &device, |_| {}).unwrap();
    let diff: f32 = (with.z - unscaled.z).abs().max().into_scalar();
    assert!(diff > 1e-3, "scaling must change the decode");

    // Bad scaling options are usage errors.
    let (t, bad_out) = (taef2(), dir.join("bad.lvc"));
    for bad in [&["--scaling", "48"][..], &["--scaling", "16", "--scale-steps", "7"], &["--scaling", "0", "--scale-steps", "0"], &["--scaling", "16", "--eta", "0"]] {
        let mut args = vec!["encode", "-q", "-i", src.to_str().unwrap(), "-o", bad_out.to_str().unwrap(), "-m", tiny().to_str().unwrap(), "--taef2", &t, "--size", "64x64", "--stage1", "1", "--stage2", "0"];
        args.extend(bad);
        let e = cli(&args).unwrap_err();
        assert_eq!(e.exit_code(), 1, "{bad:?}: {e}");
    }
}
