//! `lora-video eval`: rate-distortion against x264, x265 and SVT-AV1 at matched bytes,
//! with BD-rates and plots; `lora-video eval-curve`: quality of the continuous fit
//! against fit steps for several vector lengths k (the paper's representation curve).

pub mod bdrate;
pub mod codecs;
pub mod plot;
pub mod scaling;

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::{Device, Tensor};
use image::RgbImage;
use lora_video_shared::model::base::BaseModel;
use lora_video_shared::model::render::{self, Render};
use serde::Serialize;

use crate::encode::{self, Preset};
use crate::error::CliError;
use crate::fit::{FitNoise, Objective, Problem};
use crate::media::{self, Select};
use crate::metrics::{self, Scores};
use bdrate::Point;
use codecs::{Codec, Search};

/// Clips to evaluate, shared by both commands.
#[derive(clap::Args, Debug, Clone)]
pub struct ClipArgs {
    /// Clips: any input `encode` reads (see --start).
    pub clips: Vec<PathBuf>,
    /// A list file: one clip per line, `PATH [START]`; `#` comments; $VARS expanded;
    /// relative paths are relative to the list file.
    #[arg(long)]
    pub list: Option<PathBuf>,
    /// First frame of the clips given on the command line.
    #[arg(long, default_value_t = 0)]
    pub start: usize,
    /// Frames per clip.
    #[arg(long, default_value_t = 8)]
    pub frames: usize,
    /// Size WxH (scaled to cover, centre-cropped).
    #[arg(long, default_value = "128x128", value_parser = crate::cli::parse_size)]
    pub size: (u32, u32),
    /// Output folder: CSVs, plots, summary.md, summary.json, and every encoded file.
    #[arg(short, long)]
    pub out: PathBuf,
    /// The base model (.lvm) [env: LORA_VIDEO_MODEL; default base.lvm].
    #[arg(short, long)]
    pub model: Option<PathBuf>,
    /// Folder with the TAEF2 checkpoints [env: LORA_VIDEO_TAEF2].
    #[arg(long)]
    pub taef2: Option<PathBuf>,
    /// Seed of the decoder's noise, the index map and the fit.
    #[arg(long, default_value_t = 0)]
    pub seed: u32,
    /// Compute backend.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: crate::device::Backend,
    /// No progress lines.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    pub clips: ClipArgs,
    /// lora-video's rate points: byte budgets (as `encode --bytes`); BD-rates need 2 or more (a cubic from 4).
    /// Each budget gets the sketch `encode` would choose; budgets that choose the same one share a fit.
    #[arg(long, value_delimiter = ',', default_value = "300,600,1200,2400")]
    pub bytes: Vec<usize>,
    /// Encoder effort of lora-video.
    #[arg(long, value_enum, default_value = "default")]
    pub preset: Preset,
    /// Reference codecs.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "x264,x265,svtav1")]
    pub codecs: Vec<Codec>,
    /// Each codec also codes at 1/N size (area-downscaled, scaled back up bicubic to score): `x264/2`, ...
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub scales: Vec<u32>,
    /// lora-video's inference-time scaling, as `encode --scaling` (0: off).
    #[arg(long, default_value_t = crate::scaling::DEFAULT_M)]
    pub scaling: u32,
    /// Also decode each lora-video point without its scaling choices, and its sketch alone
    /// (theta = 0): what each part buys.
    #[arg(long)]
    pub ablation: bool,
    /// Also score VMAF, through this ffmpeg built with libvmaf (PyPI imageio-ffmpeg's has it).
    #[arg(long, value_name = "FFMPEG")]
    pub vmaf: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct CurveArgs {
    #[command(flatten)]
    pub clips: ClipArgs,
    /// Vector lengths k.
    #[arg(long, value_delimiter = ',', default_value = "1024,4096,16384")]
    pub k: Vec<u32>,
    /// Fit steps at which to decode and score the continuous theta.
    #[arg(long, value_delimiter = ',', default_value = "0,25,50,100,200,400")]
    pub at: Vec<usize>,
    /// LoRA rank for every k (default: the least that holds the largest k).
    #[arg(long)]
    pub rank: Option<u8>,
}

/// One clip of a list.
#[derive(Clone, Debug, PartialEq)]
pub struct ClipSpec {
    pub path: PathBuf,
    pub start: usize,
    pub name: String,
}

fn expand_vars(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(body) = after.strip_prefix('{') {
            match body.find('}') {
                Some(j) => (&body[..j], j + 2),
                None => ("", 0),
            }
        } else {
            let j = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
            (&after[..j], j)
        };
        if name.is_empty() {
            out.push('$');
            rest = after;
        } else {
            out.push_str(&std::env::var(name).unwrap_or_default());
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    out
}

fn name_of(path: &Path, start: usize) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "clip".into());
    let stem: String = stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    if start > 0 { format!("{stem}-{start}") } else { stem }
}

/// Parses a list file's text (`dir` resolves relative paths).
pub fn parse_list(text: &str, dir: &Path) -> Result<Vec<ClipSpec>, String> {
    let mut clips = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (path, start) = match line.rsplit_once(char::is_whitespace) {
            Some((p, s)) if s.chars().all(|c| c.is_ascii_digit()) => (p.trim(), s.parse::<usize>().map_err(|e| format!("line {}: {e}", i + 1))?),
            _ => (line, 0),
        };
        let path = PathBuf::from(expand_vars(path));
        let path = if path.is_relative() { dir.join(path) } else { path };
        clips.push(ClipSpec { name: name_of(&path, start), path, start });
    }
    Ok(clips)
}

fn specs(a: &ClipArgs) -> Result<Vec<ClipSpec>, CliError> {
    let mut clips: Vec<ClipSpec> = a.clips.iter().map(|p| ClipSpec { path: p.clone(), start: a.start, name: name_of(p, a.start) }).collect();
    if let Some(list) = &a.list {
        let text = std::fs::read_to_string(list).map_err(crate::io::io_err(list))?;
        clips.extend(parse_list(&text, list.parent().unwrap_or(Path::new("."))).map_err(|e| CliError::bad_input(list, e))?);
    }
    if clips.is_empty() {
        return Err(CliError::Usage("no clips: give paths or --list FILE".into()));
    }
    for (i, c) in clips.iter().enumerate() {
        if clips[..i].iter().any(|d| d.name == c.name) {
            return Err(CliError::Usage(format!("two clips are both named {} (file stem and start)", c.name)));
        }
    }
    Ok(clips)
}

/// What both commands load once.
pub(crate) struct Setup {
    base: BaseModel,
    device: Device,
    taef2: lora_video_shared::model::taef2::Encoder,
}

fn setup(a: &ClipArgs) -> Result<Setup, CliError> {
    let device = crate::device::device(a.device)?;
    let base = crate::model::load_base(&crate::model::model_path(a.model.clone()), &device)?;
    render::check_size(&base, a.size.0 as usize, a.size.1 as usize).map_err(|e| CliError::Usage(format!("--size: {e}")))?;
    let taef2 = crate::model::load_taef2_encoder(&crate::model::taef2_dir(a.taef2.clone()), &device)?;
    Ok(Setup { base, device, taef2 })
}

/// The clip's frames at the evaluation size, and its frame rate.
fn frames(spec: &ClipSpec, a: &ClipArgs) -> Result<(Vec<RgbImage>, (u16, u16)), CliError> {
    let video = media::read(&spec.path, Select { start: spec.start, count: a.frames }, (24, 1))?;
    Ok((video.frames.iter().map(|f| media::cover(f, a.size.0, a.size.1)).collect(), video.fps))
}

/// The clip's decode at adapter `strength`, without its scaling choices.
fn decode(s: &Setup, header: &lora_video_shared::format::Header, theta: &[f32], strength: f32) -> Result<Vec<RgbImage>, CliError> {
    let render = Render { strength, scaling: None, ..Render::of(header) };
    let z = render::latents(&s.base, header, theta, &render, &s.device, |_| {}).map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(decoded(s, z))
}

/// The frames of latents, through TAEF2's decoder.
fn decoded(s: &Setup, z: render::Latents) -> Vec<RgbImage> {
    let f = render::frames(&s.base, z, |_| {});
    (0..f.count).map(|i| crate::output::image(&f, i)).collect()
}

fn log(quiet: bool, msg: String) {
    if !quiet {
        eprintln!("{msg}");
    }
}

/// One scored point of a rate-distortion curve.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub clip: String,
    pub codec: String,
    pub target_bytes: usize,
    pub bytes: usize,
    /// Whether the encode fits the target (a codec's highest CRF may not).
    pub fits: bool,
    /// CRF, or lora-video's quantiser step.
    pub setting: String,
    #[serde(flatten)]
    pub scores: Scores,
    pub seconds: f64,
}

const CSV_HEADER: &str = "clip,codec,target_bytes,bytes,fits,setting,psnr,ssim,msssim,msssim_db,ssimulacra2,vmaf,vmaf_neg,seconds";

fn csv_line(r: &Row) -> String {
    format!(
        "{},{},{},{},{},{},{:.4},{:.5},{:.5},{:.4},{:.4},{},{},{:.2}",
        r.clip,
        r.codec,
        r.target_bytes,
        r.bytes,
        r.fits,
        r.setting,
        r.scores.psnr,
        r.scores.ssim,
        r.scores.msssim,
        metrics::msssim_db(r.scores.msssim),
        r.scores.ssimulacra2,
        r.scores.vmaf.map_or(String::new(), |v| format!("{v:.3}")),
        r.scores.vmaf_neg.map_or(String::new(), |v| format!("{v:.3}")),
        r.seconds
    )
}

pub const LORA: &str = "lora-video";

/// A clip fitted once: its header template, latents and stage-2 theta (as `encode` does
/// at the default lambda), ready for any number of budgets.
pub(crate) struct Fit {
    pub template: lora_video_shared::format::Header,
    pub z0: Tensor<5>,
    pub fitted: crate::fit::Fitted,
    pub seconds: f64,
}

/// The header template `encode --bytes budget` starts from, with the sketch it chooses
/// (`sketch::choose`, auto).
fn template_for(s: &Setup, images: &[RgbImage], fps: (u16, u16), seed: u32, budget: Option<usize>) -> Result<lora_video_shared::format::Header, CliError> {
    let steps = s.base.manifest.sampler.steps as u8;
    let mut template = encode::template(&s.base, images, fps, seed, None, 1, steps, None)?;
    // Room as `encode` leaves it: beside the header with the default scaling section.
    let scaling = crate::scaling::ScalingConfig::of_encode(crate::scaling::DEFAULT_M, None, 1.0, crate::scaling::Choose::Greedy, u64::from(seed), steps)?;
    let room = encode::sketch_room(&lora_video_shared::format::Header { scaling: scaling.map(|c| c.placeholder()), ..template.clone() }, budget);
    template.sketch = crate::sketch::choose(images, crate::sketch::SketchChoice::Auto, crate::sketch::START, crate::sketch::AUTO_SHARE, s.base.config.cond_channels > 0, room)?.map(|s| crate::sketch::sharpened(lora_video_shared::sketch::Sketch { residual: true, ..s }, crate::sketch::SHARPEN)).transpose()?;
    Ok(template)
}

/// Latents, stage 1 and stage 2 once for a clip's frames under `template`.
fn fit_clip(s: &Setup, images: &[RgbImage], template: lora_video_shared::format::Header, seed: u32, preset: Preset) -> Result<Fit, CliError> {
    let started = Instant::now();
    let z0 = encode::latents(&s.base, &s.taef2, images, &s.device);
    let ad = s.device.clone().autodiff();
    let denoiser = burn::module::Module::fork(s.base.denoiser.clone(), &ad);
    let map = render::lora_map(&s.base, &template, &ad).map_err(|e| CliError::Usage(e.to_string()))?;
    let cfg = encode::fit_config(preset, None, None, 0.03, encode::DEFAULT_LAMBDA, FitNoise::Decode, seed);
    let z0_ad = Tensor::<5>::from_data(z0.clone().into_data(), &ad);
    let sketch = render::condition(&s.base, &Render::of(&template), &s.device).map_err(|e| CliError::Usage(e.to_string()))?;
    let problem = Problem::new(&denoiser, &map, &z0_ad, sketch.as_ref(), render::latent_shape(&s.base, &template), &cfg);
    let fitted = problem.run(None, |_| {});
    Ok(Fit { template, z0, fitted, seconds: started.elapsed().as_secs_f64() })
}

/// lora-video's points for one clip: for each budget, the sketch `encode` would choose,
/// a fit per distinct sketch, then the quantiser step searched for the budget.
fn lora_points(s: &Setup, spec: &ClipSpec, images: &[RgbImage], fps: (u16, u16), a: &EvalArgs, dir: &Path) -> Result<Vec<Row>, CliError> {
    let quiet = a.clips.quiet;
    let steps = s.base.manifest.sampler.steps as u8;
    let scaling = crate::scaling::ScalingConfig::of_encode(a.scaling, None, 1.0, crate::scaling::Choose::Greedy, u64::from(a.clips.seed), steps)?;
    let (s1, s2, _) = a.preset.schedule();
    let mut fits: Vec<Fit> = Vec::new();
    let mut rows = Vec::new();
    for &target in &a.bytes {
        let template = template_for(s, images, fps, a.clips.seed, Some(target))?;
        let (fit_s, i) = match fits.iter().position(|f| f.template == template) {
            Some(i) => (0.0, i),
            None => {
                fits.push(fit_clip(s, images, template, a.clips.seed, a.preset)?);
                let f = fits.last().expect("pushed");
                let sketch = f.template.sketch.as_ref().map_or("no sketch".into(), |k| format!("sketch {:?}, {} B", k.params, k.section_len()));
                log(quiet, format!("{} at {target} B: lora-video fit {:.0} s ({s1} + {s2} steps), {sketch}", spec.name, f.seconds));
                (f.seconds, fits.len() - 1)
            }
        };
        let Fit { template, z0, fitted, .. } = &fits[i];
        let scaled = lora_video_shared::format::Header { scaling: scaling.as_ref().map(|c| c.placeholder()), ..template.clone() };
        let t = Instant::now();
        let mut clip = encode::fit_budget(&scaled, &fitted.theta, fitted.step, target)?;
        let theta = clip.theta().map_err(|e| CliError::Usage(e.to_string()))?;
        let decoded = match &scaling {
            Some(cfg) => decoded(s, crate::scaling::apply(&s.base, &mut clip, &theta, z0, cfg, &s.device, |_| {}).map_err(|e| CliError::Usage(e.to_string()))?),
            None => decode(s, &clip.header, &theta, 1.0)?,
        };
        let bytes = clip.to_bytes().map_err(|e| CliError::Usage(e.to_string()))?;
        crate::io::write_atomic(&dir.join(format!("lora-video-{target}.lvc")), &bytes)?;
        let scores = metrics::score_with(images, &decoded, a.vmaf.as_deref())?;
        rows.push(Row {
            clip: spec.name.clone(),
            codec: LORA.into(),
            target_bytes: target,
            bytes: bytes.len(),
            fits: bytes.len() <= target,
            setting: format!("step {:.4}{}", clip.header.quant_step, clip.header.scaling.as_ref().map_or(String::new(), |c| format!(" scaling M={} x{}", 1u32 << c.m_log2, c.steps.len()))),
            scores,
            seconds: fit_s + t.elapsed().as_secs_f64(),
        });
        log(quiet, format!("  {}", csv_line(rows.last().expect("row"))));
        if a.ablation {
            // The same clip without its scaling choices (the vector's decode), and its
            // sketch alone (theta = 0, what the base model draws from the sketch).
            let unscaled = lora_video_shared::format::Header { scaling: None, ..clip.header.clone() }.header_len();
            let plain = decode(s, &clip.header, &theta, 1.0)?;
            let alone = decode(s, &clip.header, &theta, 0.0)?;
            let variants = [(ABLATION[1], bytes.len() - (clip.header.header_len() - unscaled), plain), (ABLATION[0], unscaled + lora_video_shared::format::CHECKSUM_LEN, alone)];
            for (codec, bytes, decoded) in variants {
                let scores = metrics::score_with(images, &decoded, a.vmaf.as_deref())?;
                rows.push(Row { clip: spec.name.clone(), codec: codec.into(), target_bytes: target, bytes, fits: bytes <= target, setting: "ablation".into(), scores, seconds: 0.0 });
                log(quiet, format!("  {}", csv_line(rows.last().expect("row"))));
            }
        }
    }
    Ok(rows)
}

/// The ablation's rows: the sketch alone, then the sketch and the vector (no scaling).
const ABLATION: [&str; 2] = ["lora-video sketch alone", "lora-video no scaling"];

/// Every codec's points for one clip, at lora-video's byte counts.
#[allow(clippy::too_many_arguments)]
fn codec_points(spec: &ClipSpec, source: &Path, images: &[RgbImage], size: (u32, u32), targets: &[usize], codecs: &[Codec], scales: &[u32], dir: &Path, vmaf: Option<&Path>, quiet: bool) -> Result<Vec<Row>, CliError> {
    let mut rows = Vec::new();
    for (codec, scale) in codecs.iter().flat_map(|&c| scales.iter().map(move |&s| (c, s))) {
        if size.0 / scale < 16 || size.1 / scale < 16 || size.0 % (2 * scale) != 0 || size.1 % (2 * scale) != 0 {
            return Err(CliError::Usage(format!("--scales {scale}: {}x{} does not divide into 4:2:0 frames of 16 pixels or more", size.0, size.1)));
        }
        let mut search = Search::new(codec, source, dir, size, scale);
        for &target in targets {
            let t = Instant::now();
            let (e, fits) = search.at_most(target)?;
            if e.frames.len() != images.len() {
                return Err(CliError::Tool(format!("{} decoded {} frames of {}", codec.name(), e.frames.len(), images.len())));
            }
            rows.push(Row {
                clip: spec.name.clone(),
                codec: codec.variant(scale),
                target_bytes: target,
                bytes: e.payload,
                fits,
                setting: format!("crf {}", e.crf),
                scores: metrics::score_with(images, &e.frames, vmaf)?,
                seconds: t.elapsed().as_secs_f64(),
            });
            log(quiet, format!("  {}", csv_line(rows.last().expect("row"))));
        }
    }
    Ok(rows)
}

/// A metric of the summary: its name, axis label and value of a row (higher is better).
pub(crate) struct Metric {
    key: &'static str,
    label: &'static str,
    value: fn(&Scores) -> f64,
}

pub(crate) const METRICS: [Metric; 3] = [
    Metric { key: "psnr", label: "PSNR RGB (dB)", value: |s| s.psnr },
    Metric { key: "msssim", label: "MS-SSIM luma (dB)", value: |s| metrics::msssim_db(s.msssim) },
    Metric { key: "ssimulacra2", label: "SSIMULACRA2", value: |s| s.ssimulacra2 },
];
const VMAFS: [Metric; 2] = [
    Metric { key: "vmaf", label: "VMAF", value: |s| s.vmaf.unwrap_or(f64::NAN) },
    Metric { key: "vmaf_neg", label: "VMAF-NEG", value: |s| s.vmaf_neg.unwrap_or(f64::NAN) },
];

/// The metrics eval reports: METRICS, and VMAF and VMAF-NEG where they are measured.
fn metrics_of(a: &EvalArgs) -> Vec<&'static Metric> {
    METRICS.iter().chain(VMAFS.iter().filter(|_| a.vmaf.is_some())).collect()
}

fn curve_of(rows: &[Row], codec: &str, m: &Metric) -> Vec<Point> {
    let mut pts: Vec<Point> = rows.iter().filter(|r| r.codec == codec).map(|r| Point { bytes: r.bytes as f64, quality: (m.value)(&r.scores) }).collect();
    pts.sort_by(|a, b| a.bytes.total_cmp(&b.bytes));
    pts.dedup_by(|a, b| a.bytes == b.bytes);
    pts
}

/// BD numbers of lora-video against one codec on one clip, for one metric.
#[derive(Clone, Debug, Serialize)]
pub struct Bd {
    pub clip: String,
    pub codec: String,
    pub metric: String,
    /// Percent more bytes lora-video needs for the same quality (None: no common quality).
    pub bd_rate: Option<f64>,
    /// lora-video's quality minus the codec's at the same bytes (None: no common rate).
    pub bd_quality: Option<f64>,
}

fn fmt_opt(v: Option<f64>, unit: &str) -> String {
    v.map_or("n/a".into(), |v| format!("{v:+.1}{unit}"))
}

pub fn run_eval(a: &EvalArgs, out: &mut dyn Write) -> Result<(), CliError> {
    if a.bytes.is_empty() {
        return Err(CliError::Usage("--bytes: give at least one rate point (4 or more for BD-rates)".into()));
    }
    if !media::have_ffmpeg() {
        return Err(CliError::Tool("eval needs ffmpeg (with libx264, libx265, libsvtav1) on PATH, e.g. `apt-get install ffmpeg`".into()));
    }
    let clips = specs(&a.clips)?;
    std::fs::create_dir_all(&a.clips.out).map_err(crate::io::io_err(&a.clips.out))?;
    let s = setup(&a.clips)?;
    let mut all_rows = Vec::new();
    let mut bds = Vec::new();
    for spec in &clips {
        let dir = a.clips.out.join(&spec.name);
        std::fs::create_dir_all(&dir).map_err(crate::io::io_err(&dir))?;
        let (images, fps) = frames(spec, &a.clips)?;
        let source = dir.join("source.y4m");
        crate::io::write_atomic(&source, &crate::output::y4m_bytes(&crate::output::frames_of(&images), fps))?;
        log(a.clips.quiet, format!("{}: {} frames at {}x{}", spec.name, images.len(), a.clips.size.0, a.clips.size.1));
        let mut rows = lora_points(&s, spec, &images, fps, a, &dir)?;
        let targets: Vec<usize> = rows.iter().filter(|r| r.codec == LORA).map(|r| r.bytes).collect();
        rows.extend(codec_points(spec, &source, &images, a.clips.size, &targets, &a.codecs, &a.scales, &dir, a.vmaf.as_deref(), a.clips.quiet)?);
        let csv: String = std::iter::once(CSV_HEADER.to_string()).chain(rows.iter().map(csv_line)).map(|l| l + "\n").collect();
        crate::io::write_atomic(&a.clips.out.join(format!("{}.csv", spec.name)), csv.as_bytes())?;
        let variants = variants(a);
        let ablation = if a.ablation { &ABLATION[..] } else { &[] };
        let names: Vec<&str> = std::iter::once(LORA).chain(ablation.iter().copied()).chain(variants.iter().map(String::as_str)).collect();
        for m in metrics_of(a) {
            let series: Vec<plot::Series> = names.iter().map(|n| plot::Series { name: n.to_string(), points: curve_of(&rows, n, m).iter().map(|p| (p.bytes, p.quality)).collect() }).collect();
            let title = format!("{} ({} frames {}x{}): {}", spec.name, images.len(), a.clips.size.0, a.clips.size.1, m.key);
            plot::lines(&a.clips.out.join(format!("{}-{}.png", spec.name, m.key)), &title, "bytes", m.label, &series, true)?;
            let ours = curve_of(&rows, LORA, m);
            for c in &variants {
                let theirs = curve_of(&rows, c, m);
                bds.push(Bd { clip: spec.name.clone(), codec: c.clone(), metric: m.key.into(), bd_rate: bdrate::bd_rate(&theirs, &ours), bd_quality: bdrate::bd_quality(&theirs, &ours) });
            }
        }
        all_rows.extend(rows);
    }
    let summary = summary_markdown(a, &clips, &all_rows, &bds);
    crate::io::write_atomic(&a.clips.out.join("summary.md"), summary.as_bytes())?;
    let json = serde_json::json!({ "rows": all_rows, "bd": bds });
    crate::io::write_atomic(&a.clips.out.join("summary.json"), serde_json::to_string_pretty(&json).expect("json").as_bytes())?;
    write!(out, "{summary}").map_err(|source| CliError::Io { path: "<stdout>".into(), source })
}

/// Every codec at every scale, by name.
fn variants(a: &EvalArgs) -> Vec<String> {
    a.codecs.iter().flat_map(|c| a.scales.iter().map(move |&s| c.variant(s))).collect()
}

fn summary_markdown(a: &EvalArgs, clips: &[ClipSpec], rows: &[Row], bds: &[Bd]) -> String {
    let mut s = String::new();
    let vmaf = a.vmaf.is_some();
    let one = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    let vmaf_of = |r: &Row| format!("{} | {}", one(r.scores.vmaf), one(r.scores.vmaf_neg));
    // BD-rates need two rate points or more.
    if a.bytes.len() > 1 {
        let _ = writeln!(s, "BD-rate of lora-video against each codec (percent more bytes for the same quality; n/a where the quality ranges do not overlap), and BD-quality (lora-video minus the codec at the same bytes). MS-SSIM in dB, -10 log10(1 - MS-SSIM).\n");
        let (head, rule) = if vmaf { (" BD-rate VMAF | BD-VMAF | BD-VMAF-NEG |", "-------------:|--------:|------------:|") } else { ("", "") };
        let _ = writeln!(s, "| clip | codec | BD-rate MS-SSIM | BD-rate SSIMULACRA2 | BD-MS-SSIM (dB) | BD-SSIMULACRA2 | BD-PSNR (dB) |{head}");
        let _ = writeln!(s, "|------|-------|----------------:|--------------------:|----------------:|---------------:|-------------:|{rule}");
        let find = |clip: &str, codec: &str, metric: &str| bds.iter().find(|b| b.clip == clip && b.codec == codec && b.metric == metric);
        for spec in clips {
            for c in &variants(a) {
                let (ms, s2, ps, vm) = (find(&spec.name, c, "msssim"), find(&spec.name, c, "ssimulacra2"), find(&spec.name, c, "psnr"), find(&spec.name, c, "vmaf"));
                let neg = find(&spec.name, c, "vmaf_neg");
                let tail = if vmaf { format!(" {} | {} | {} |", fmt_opt(vm.and_then(|b| b.bd_rate), "%"), fmt_opt(vm.and_then(|b| b.bd_quality), ""), fmt_opt(neg.and_then(|b| b.bd_quality), "")) } else { String::new() };
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} |{tail}",
                    spec.name,
                    c,
                    fmt_opt(ms.and_then(|b| b.bd_rate), "%"),
                    fmt_opt(s2.and_then(|b| b.bd_rate), "%"),
                    fmt_opt(ms.and_then(|b| b.bd_quality), ""),
                    fmt_opt(s2.and_then(|b| b.bd_quality), ""),
                    fmt_opt(ps.and_then(|b| b.bd_quality), "")
                );
            }
        }
    }
    if a.scales.len() > 1 {
        let _ = writeln!(s, "\nEach codec's best variant (of {}) at each of lora-video's sizes, among those within the bytes, by each metric:\n", a.scales.iter().map(|x| format!("1/{x}")).collect::<Vec<_>>().join(", "));
        let (head, rule) = if vmaf { (" best VMAF (variant) | lora-video VMAF | best VMAF-NEG (variant) | lora-video VMAF-NEG |", "--------------------:|----------------:|------------------------:|--------------------:|") } else { ("", "") };
        let _ = writeln!(s, "| clip | bytes | codec | best PSNR dB (variant) | lora-video PSNR | best SSIMULACRA2 (variant) | lora-video SSIMULACRA2 |{head}");
        let _ = writeln!(s, "|------|------:|-------|----------------------:|----------------:|---------------------------:|-----------------------:|{rule}");
        for ours in rows.iter().filter(|r| r.codec == LORA) {
            for c in &a.codecs {
                let theirs: Vec<&Row> = rows.iter().filter(|r| r.clip == ours.clip && r.target_bytes == ours.bytes && r.fits && (r.codec == c.name() || r.codec.starts_with(&format!("{}/", c.name())))).collect();
                let best = |key: fn(&Row) -> f64| theirs.iter().max_by(|x, y| key(x).total_cmp(&key(y))).map_or("none fits".to_string(), |r| format!("{:.2} ({})", key(r), r.codec));
                let tail = if vmaf {
                    format!(" {} | {} | {} | {} |", best(|r| r.scores.vmaf.unwrap_or(f64::NAN)), one(ours.scores.vmaf), best(|r| r.scores.vmaf_neg.unwrap_or(f64::NAN)), one(ours.scores.vmaf_neg))
                } else {
                    String::new()
                };
                let _ = writeln!(s, "| {} | {} | {} | {} | {:.2} | {} | {:.2} |{tail}", ours.clip, ours.bytes, c.name(), best(|r| r.scores.psnr), ours.scores.psnr, best(|r| r.scores.ssimulacra2), ours.scores.ssimulacra2);
            }
        }
    }
    if a.ablation {
        let _ = writeln!(s, "\nWhat each part buys: each lora-video point decoded from its sketch alone (theta = 0; bytes: the file without vector or scaling), from the sketch and the vector (no scaling choices), and whole:\n");
        let (head, rule) = if vmaf { (" VMAF | VMAF-NEG |", "-----:|---------:|") } else { ("", "") };
        let _ = writeln!(s, "| clip | target | decode | bytes | PSNR dB | MS-SSIM | SSIMULACRA2 |{head}");
        let _ = writeln!(s, "|------|-------:|--------|------:|--------:|--------:|------------:|{rule}");
        for r in rows.iter().filter(|r| r.codec == LORA || ABLATION.contains(&r.codec.as_str())) {
            let part = match r.codec.as_str() {
                c if c == ABLATION[0] => "sketch alone",
                c if c == ABLATION[1] => "sketch + vector",
                _ => "sketch + vector + scaling",
            };
            let tail = if vmaf { format!(" {} |", vmaf_of(r)) } else { String::new() };
            let _ = writeln!(s, "| {} | {} | {} | {} | {:.2} | {:.4} | {:.2} |{tail}", r.clip, r.target_bytes, part, r.bytes, r.scores.psnr, r.scores.msssim, r.scores.ssimulacra2);
        }
    }
    let _ = writeln!(s, "\nEvery point (bytes: the whole .lvc for lora-video; the codec payload for the others):\n");
    let (head, rule) = if vmaf { (" VMAF | VMAF-NEG |", "-----:|---------:|") } else { ("", "") };
    let _ = writeln!(s, "| clip | codec | target | bytes | setting | PSNR dB | MS-SSIM | SSIMULACRA2 |{head}");
    let _ = writeln!(s, "|------|-------|-------:|------:|---------|--------:|--------:|------------:|{rule}");
    for r in rows {
        let mark = if r.fits { "" } else { " (over)" };
        let tail = if vmaf { format!(" {} |", vmaf_of(r)) } else { String::new() };
        let _ = writeln!(s, "| {} | {} | {} | {}{} | {} | {:.2} | {:.4} | {:.2} |{tail}", r.clip, r.codec, r.target_bytes, r.bytes, mark, r.setting, r.scores.psnr, r.scores.msssim, r.scores.ssimulacra2);
    }
    s
}

/// One point of the representation curve.
#[derive(Clone, Debug, Serialize)]
pub struct CurveRow {
    pub clip: String,
    pub k: u32,
    pub rank: u8,
    pub step: usize,
    #[serde(flatten)]
    pub scores: Scores,
    pub fit_loss: f64,
}

pub fn run_curve(a: &CurveArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let clips = specs(&a.clips)?;
    if a.k.is_empty() || a.at.is_empty() || a.k.contains(&0) {
        return Err(CliError::Usage("--k and --at need at least one value; k > 0".into()));
    }
    std::fs::create_dir_all(&a.clips.out).map_err(crate::io::io_err(&a.clips.out))?;
    let s = setup(&a.clips)?;
    let per_rank = s.base.config.lora_slots(1).iter().map(|s| s.rows as u64 * s.cols as u64).sum::<u64>();
    let need = a.k.iter().map(|&k| u64::from(k).div_ceil(per_rank)).max().unwrap_or(1);
    let rank = a.rank.unwrap_or(u8::try_from(need).map_err(|_| CliError::Usage("--k is too large for this model".into()))?);
    let total = a.at.iter().copied().max().unwrap_or(0);
    let steps = s.base.manifest.sampler.steps as u8;
    let mut rows: Vec<CurveRow> = Vec::new();
    for spec in &clips {
        let (images, fps) = frames(spec, &a.clips)?;
        let z0 = encode::latents(&s.base, &s.taef2, &images, &s.device);
        for &k in &a.k {
            let started = Instant::now();
            let template = encode::template(&s.base, &images, fps, a.clips.seed, Some(k), rank, steps, None)?;
            let ad = s.device.clone().autodiff();
            let denoiser = burn::module::Module::fork(s.base.denoiser.clone(), &ad);
            let map = render::lora_map(&s.base, &template, &ad).map_err(|e| CliError::Usage(e.to_string()))?;
            let cfg = encode::fit_config(Preset::Default, Some(total), Some(0), 0.03, encode::DEFAULT_LAMBDA, FitNoise::Decode, a.clips.seed);
            let z0_ad = Tensor::<5>::from_data(z0.clone().into_data(), &ad);
            let problem = Problem::new(&denoiser, &map, &z0_ad, None, render::latent_shape(&s.base, &template), &cfg);
            let last_loss = std::cell::Cell::new(f64::NAN);
            let mut failed = None;
            problem.continuous(
                |p| last_loss.set(p.loss),
                &a.at,
                |step, theta| match decode(&s, &template, theta, 1.0) {
                    Ok(decoded) => {
                        let row = CurveRow { clip: spec.name.clone(), k, rank, step, scores: metrics::score(&images, &decoded), fit_loss: last_loss.get() };
                        log(a.clips.quiet, format!("{} k {k} step {step}: PSNR {:.2} dB, SSIMULACRA2 {:.2}", spec.name, row.scores.psnr, row.scores.ssimulacra2));
                        rows.push(row);
                    }
                    Err(e) => failed = Some(e),
                },
            );
            if let Some(e) = failed {
                return Err(e);
            }
            log(a.clips.quiet, format!("{} k {k}: {:.0} s", spec.name, started.elapsed().as_secs_f64()));
        }
    }
    let mut csv = String::from("clip,k,rank,step,psnr,ssim,msssim,ssimulacra2,fit_loss\n");
    for r in &rows {
        let _ = writeln!(csv, "{},{},{},{},{:.4},{:.5},{:.5},{:.4},{:.5}", r.clip, r.k, r.rank, r.step, r.scores.psnr, r.scores.ssim, r.scores.msssim, r.scores.ssimulacra2, r.fit_loss);
    }
    crate::io::write_atomic(&a.clips.out.join("curve.csv"), csv.as_bytes())?;
    for (key, label, value) in [("psnr", "PSNR RGB (dB)", (|s: &Scores| s.psnr) as fn(&Scores) -> f64), ("ssimulacra2", "SSIMULACRA2", |s: &Scores| s.ssimulacra2)] {
        let series: Vec<plot::Series> = clips
            .iter()
            .flat_map(|c| a.k.iter().map(move |&k| (c, k)))
            .map(|(c, k)| plot::Series { name: format!("{} k={k}", c.name), points: rows.iter().filter(|r| r.clip == c.name && r.k == k).map(|r| (r.step as f64, value(&r.scores))).collect() })
            .collect();
        let title = format!("continuous fit: {key} against fit steps (rank {rank}, {} frames {}x{})", a.clips.frames, a.clips.size.0, a.clips.size.1);
        plot::lines(&a.clips.out.join(format!("curve-{key}.png")), &title, "fit steps", label, &series, false)?;
    }
    let mut md = format!("| clip | k | {} |\n|------|--:|{}\n", a.at.iter().map(|s| format!("step {s}")).collect::<Vec<_>>().join(" | "), a.at.iter().map(|_| "------:|").collect::<String>());
    for c in &clips {
        for &k in &a.k {
            let cells: Vec<String> = a
                .at
                .iter()
                .map(|&st| rows.iter().find(|r| r.clip == c.name && r.k == k && r.step == st).map_or("-".into(), |r| format!("{:.2} / {:.1}", r.scores.psnr, r.scores.ssimulacra2)))
                .collect();
            let _ = writeln!(md, "| {} | {k} | {} |", c.name, cells.join(" | "));
        }
    }
    crate::io::write_atomic(&a.clips.out.join("curve.md"), md.as_bytes())?;
    write!(out, "{md}").map_err(|source| CliError::Io { path: "<stdout>".into(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_files_resolve_paths_starts_and_variables() {
        // SAFETY: tests in this module do not read this variable concurrently.
        unsafe { std::env::set_var("LV_EVAL_TEST_DIR", "/data") };
        let text = "# dev clips\n$LV_EVAL_TEST_DIR/tree.avi 400\n${LV_EVAL_TEST_DIR}/v test.avi   700  # comment\nrel/clip.y4m\n\n";
        let got = parse_list(text, Path::new("/lists")).unwrap();
        assert_eq!(
            got,
            vec![
                ClipSpec { path: "/data/tree.avi".into(), start: 400, name: "tree-400".into() },
                ClipSpec { path: "/data/v test.avi".into(), start: 700, name: "v_test-700".into() },
                ClipSpec { path: "/lists/rel/clip.y4m".into(), start: 0, name: "clip".into() },
            ]
        );
    }

    #[test]
    fn csv_lines_match_the_header_with_and_without_vmaf() {
        let row = |vmaf: Option<f64>| Row {
            clip: "c".into(),
            codec: LORA.into(),
            target_bytes: 2400,
            bytes: 2390,
            fits: true,
            setting: "q1".into(),
            scores: Scores { psnr: 24.0, ssim: 0.7, msssim: 0.9, ssimulacra2: -10.0, vmaf, vmaf_neg: vmaf.map(|v| v - 1.0) },
            seconds: 1.0,
        };
        let fields = CSV_HEADER.split(',').count();
        for r in [row(None), row(Some(48.5))] {
            assert_eq!(csv_line(&r).split(',').count(), fields, "{}", csv_line(&r));
        }
        assert!(csv_line(&row(Some(48.5))).ends_with(",48.500,47.500,1.00"));
    }
}
