//! `lora-video eval-scaling`: what inference-time scaling buys. Each clip is fitted once;
//! at each byte budget the plain clip is scored, then every scaling setting twice:
//! "added", its choices on top of the same vector (quality against extra bits), and
//! "equal", its choices inside the budget (the vector gets the rest: the vector or the
//! sampler path at equal total bytes).

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use image::RgbImage;
use lora_video_shared::format::Bitstream;
use lora_video_shared::model::render::{self, Render};
use serde::Serialize;

use super::{ClipArgs, METRICS, Setup, frames, log, plot, setup, specs};
use crate::encode::{self, Preset};
use crate::error::CliError;
use crate::metrics::{self, Scores};
use crate::scaling::{self, Choose, ScalingConfig};

#[derive(clap::Args, Debug)]
pub struct ScalingArgs {
    #[command(flatten)]
    pub clips: ClipArgs,
    /// Total byte budgets (as `encode --bytes`).
    #[arg(long, value_delimiter = ',', default_value = "600,1200,2400")]
    pub bytes: Vec<usize>,
    /// Candidates per scaled step (powers of two).
    #[arg(long = "m", value_delimiter = ',', default_value = "64,256,1024")]
    pub m: Vec<u32>,
    /// Numbers of scaled steps: n scales the n steps before the last.
    #[arg(long, value_delimiter = ',', default_value = "2,4,7")]
    pub counts: Vec<u8>,
    /// Noise levels eta.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub eta: Vec<f32>,
    /// How a step picks its candidate.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "greedy")]
    pub choose: Vec<Choose>,
    /// Encoder effort of the fit.
    #[arg(long, value_enum, default_value = "default")]
    pub preset: Preset,
}

/// One scaling setting of the sweep.
#[derive(Clone, Debug)]
struct Setting {
    m: u32,
    count: u8,
    cfg: ScalingConfig,
}

impl Setting {
    fn label(&self) -> String {
        format!("M={} last {} eta {} {}", self.m, self.count, self.cfg.eta, choose_name(self.cfg.choose))
    }
}

fn choose_name(c: Choose) -> &'static str {
    match c {
        Choose::Greedy => "greedy",
        Choose::Gumbel => "gumbel",
    }
}

/// One scored clip of the sweep.
#[derive(Clone, Debug, Serialize)]
pub struct ScalingRow {
    pub clip: String,
    pub budget: usize,
    /// "none", "added" (choices on top of the budget's vector) or "equal" (inside the budget).
    pub mode: &'static str,
    /// 0 for "none".
    pub m: u32,
    pub scaled_steps: u8,
    pub eta: f32,
    pub choose: &'static str,
    pub bytes: usize,
    pub choice_bits: usize,
    pub quant_step: f32,
    pub latent_mse: f64,
    #[serde(flatten)]
    pub scores: Scores,
    /// Encode time of choosing the candidates.
    pub choose_seconds: f64,
}

fn settings(a: &ScalingArgs, steps: u8, seed: u32) -> Result<Vec<Setting>, CliError> {
    let last = steps.saturating_sub(1);
    let mut out = Vec::new();
    for &count in &a.counts {
        if count == 0 || count > last {
            return Err(CliError::Usage(format!("--counts {count}: 1..={last} (steps before the last of {steps})")));
        }
        for &eta in &a.eta {
            for &choose in &a.choose {
                for &m in &a.m {
                    let cfg = ScalingConfig::new(m, Some((last - count..last).collect()), eta, choose, u64::from(seed), steps)?;
                    out.push(Setting { m, count, cfg });
                }
            }
        }
    }
    if out.is_empty() {
        return Err(CliError::Usage("--m, --counts, --eta and --choose need at least one value each".into()));
    }
    Ok(out)
}

fn score_latents(s: &Setup, images: &[RgbImage], z: render::Latents) -> Scores {
    metrics::score(images, &super::decoded(s, z))
}

fn theta(clip: &Bitstream) -> Result<Vec<f32>, CliError> {
    clip.theta().map_err(|e| CliError::Usage(e.to_string()))
}

/// Every row of one clip.
fn clip_rows(s: &Setup, name: &str, images: &[RgbImage], fps: (u16, u16), a: &ScalingArgs, dir: &Path) -> Result<Vec<ScalingRow>, CliError> {
    let quiet = a.clips.quiet;
    let template = super::template_for(s, images, fps, a.clips.seed, a.bytes.iter().copied().min())?;
    let fit = super::fit_clip(s, images, template, a.clips.seed, a.preset)?;
    log(quiet, format!("{name}: fit {:.0} s", fit.seconds));
    let steps = fit.template.sampler.steps;
    let all = settings(a, steps, a.clips.seed)?;
    let mut rows = Vec::new();
    let emit = |rows: &mut Vec<ScalingRow>, clip: &Bitstream, row: ScalingRow| -> Result<(), CliError> {
        let bytes = clip.to_bytes().map_err(|e| CliError::Usage(e.to_string()))?;
        let file = if row.mode == "none" { format!("none-{}.lvc", row.budget) } else { format!("{}-{}-m{}-last{}-eta{}-{}.lvc", row.mode, row.budget, row.m, row.scaled_steps, row.eta, row.choose) };
        crate::io::write_atomic(&dir.join(file), &bytes)?;
        let row = ScalingRow { bytes: bytes.len(), ..row };
        log(
            quiet,
            format!(
                "  {} {} {} M {} last {}: {} B, PSNR {:.2}, SSIMULACRA2 {:.1}, latent MSE {:.4}, {:.1} s",
                row.budget, row.mode, row.choose, row.m, row.scaled_steps, row.bytes, row.scores.psnr, row.scores.ssimulacra2, row.latent_mse, row.choose_seconds
            ),
        );
        rows.push(row);
        Ok(())
    };
    for &budget in &a.bytes {
        let plain = encode::fit_budget(&fit.template, &fit.fitted.theta, fit.fitted.step, budget)?;
        let plain_theta = theta(&plain)?;
        let z = render::latents(&s.base, &plain.header, &plain_theta, &Render::of(&plain.header), &s.device, |_| {}).map_err(|e| CliError::Usage(e.to_string()))?;
        let row = ScalingRow {
            clip: name.into(),
            budget,
            mode: "none",
            m: 0,
            scaled_steps: 0,
            eta: 0.0,
            choose: "-",
            bytes: 0,
            choice_bits: 0,
            quant_step: plain.header.quant_step,
            latent_mse: encode::mse(&z.z, &fit.z0),
            scores: score_latents(s, images, z),
            choose_seconds: 0.0,
        };
        emit(&mut rows, &plain, row)?;
        for setting in &all {
            // "added": the budget's vector plus the choices; "equal": the choices inside the budget.
            let mut template = fit.template.clone();
            template.scaling = Some(setting.cfg.placeholder());
            let equal = encode::fit_budget(&template, &fit.fitted.theta, fit.fitted.step, budget)?;
            for (mode, mut clip) in [("added", plain.clone()), ("equal", equal)] {
                let th = theta(&clip)?;
                let t = Instant::now();
                let z = scaling::apply(&s.base, &mut clip, &th, &fit.z0, &setting.cfg, &s.device, |_| {}).map_err(|e| CliError::Usage(e.to_string()))?;
                let choose_seconds = t.elapsed().as_secs_f64();
                let choice_bits = clip.header.scaling.as_ref().map_or(0, |s| s.choice_bits());
                let row = ScalingRow {
                    clip: name.into(),
                    budget,
                    mode,
                    m: setting.m,
                    scaled_steps: setting.count,
                    eta: setting.cfg.eta,
                    choose: choose_name(setting.cfg.choose),
                    bytes: 0,
                    choice_bits,
                    quant_step: clip.header.quant_step,
                    latent_mse: encode::mse(&z.z, &fit.z0),
                    scores: score_latents(s, images, z),
                    choose_seconds,
                };
                emit(&mut rows, &clip, row)?;
            }
        }
    }
    Ok(rows)
}

const CSV_HEADER: &str = "clip,budget,mode,m,scaled_steps,eta,choose,bytes,choice_bits,quant_step,latent_mse,psnr,ssim,msssim,msssim_db,ssimulacra2,choose_seconds";

fn csv_line(r: &ScalingRow) -> String {
    format!(
        "{},{},{},{},{},{},{},{},{},{:.5},{:.5},{:.4},{:.5},{:.5},{:.4},{:.4},{:.2}",
        r.clip,
        r.budget,
        r.mode,
        r.m,
        r.scaled_steps,
        r.eta,
        r.choose,
        r.bytes,
        r.choice_bits,
        r.quant_step,
        r.latent_mse,
        r.scores.psnr,
        r.scores.ssim,
        r.scores.msssim,
        metrics::msssim_db(r.scores.msssim),
        r.scores.ssimulacra2,
        r.choose_seconds
    )
}

fn same_setting(r: &ScalingRow, s: &Setting) -> bool {
    r.m == s.m && r.scaled_steps == s.count && r.eta == s.cfg.eta && r.choose == choose_name(s.cfg.choose)
}

/// Mean differences of one setting's rows of `mode` against the plain clips at the same budget.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Gain {
    pub cells: usize,
    pub choice_bits: f64,
    pub psnr: f64,
    pub msssim_db: f64,
    pub ssimulacra2: f64,
    pub latent_mse: f64,
    /// Cells where PSNR, MS-SSIM and SSIMULACRA2 all improve.
    pub all_better: usize,
    pub choose_seconds: f64,
}

fn gain(rows: &[ScalingRow], s: &Setting, mode: &str, clip: Option<&str>) -> Gain {
    let mut g = Gain::default();
    for r in rows.iter().filter(|r| r.mode == mode && same_setting(r, s) && clip.is_none_or(|c| r.clip == c)) {
        let Some(p) = rows.iter().find(|p| p.mode == "none" && p.clip == r.clip && p.budget == r.budget) else {
            continue;
        };
        let d = |f: fn(&Scores) -> f64| f(&r.scores) - f(&p.scores);
        let (dp, dm, ds) = (d(|s| s.psnr), d(|s| metrics::msssim_db(s.msssim)), d(|s| s.ssimulacra2));
        g.cells += 1;
        g.choice_bits += r.choice_bits as f64;
        g.psnr += dp;
        g.msssim_db += dm;
        g.ssimulacra2 += ds;
        g.latent_mse += r.latent_mse - p.latent_mse;
        g.all_better += usize::from(dp > 0.0 && dm > 0.0 && ds > 0.0);
        g.choose_seconds += r.choose_seconds;
    }
    let n = g.cells.max(1) as f64;
    Gain { choice_bits: g.choice_bits / n, psnr: g.psnr / n, msssim_db: g.msssim_db / n, ssimulacra2: g.ssimulacra2 / n, latent_mse: g.latent_mse / n, choose_seconds: g.choose_seconds / n, ..g }
}

fn gain_cells(g: &Gain) -> String {
    format!("{:.0} | {:+.3} | {:+.2} | {:+.3} | {:+.1} | {}/{} | {:.1}", g.choice_bits, g.latent_mse, g.psnr, g.msssim_db, g.ssimulacra2, g.all_better, g.cells, g.choose_seconds)
}

const GAIN_HEADER: &str = "choice bits | latent MSE | PSNR dB | MS-SSIM dB | SSIMULACRA2 | all three better | choose s |\n";
const GAIN_RULE: &str = "-----------:|-----------:|--------:|-----------:|------------:|-----------------:|---------:|\n";

fn summary_markdown(a: &ScalingArgs, clips: &[String], all: &[Setting], rows: &[ScalingRow]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Differences against the plain clip at the same budget (positive is better, except latent MSE), mean over {} clips x budgets {:?}. MS-SSIM in dB, -10 log10(1 - MS-SSIM). \"all three better\": cells where PSNR, MS-SSIM and SSIMULACRA2 all rise. choose s: encode time of choosing the candidates.\n",
        clips.len(),
        a.bytes
    );
    for (mode, title) in [("equal", "Equal total bytes (the choices come out of the budget)"), ("added", "Added bits (the same vector plus the choices)")] {
        let _ = write!(s, "**{title}**\n\n| M | scaled steps | eta | choose | {GAIN_HEADER}|--:|--:|--:|---|{GAIN_RULE}");
        for set in all {
            let _ = writeln!(s, "| {} | {} | {} | {} | {} |", set.m, set.count, set.cfg.eta, choose_name(set.cfg.choose), gain_cells(&gain(rows, set, mode, None)));
        }
        let _ = writeln!(s);
    }
    let _ = write!(s, "**Per clip, equal total bytes** (mean over the budgets)\n\n| clip | M | scaled steps | eta | choose | {GAIN_HEADER}|------|--:|--:|--:|---|{GAIN_RULE}");
    for clip in clips {
        for set in all {
            let _ = writeln!(s, "| {clip} | {} | {} | {} | {} | {} |", set.m, set.count, set.cfg.eta, choose_name(set.cfg.choose), gain_cells(&gain(rows, set, "equal", Some(clip))));
        }
    }
    let _ = write!(
        s,
        "\n**Plain clips** (the reference of every difference)\n\n| clip | budget | bytes | quantiser step | latent MSE | PSNR dB | MS-SSIM | SSIMULACRA2 |\n|------|-------:|------:|------:|------:|------:|------:|------:|\n"
    );
    for r in rows.iter().filter(|r| r.mode == "none") {
        let _ = writeln!(s, "| {} | {} | {} | {:.4} | {:.4} | {:.2} | {:.4} | {:.1} |", r.clip, r.budget, r.bytes, r.quant_step, r.latent_mse, r.scores.psnr, r.scores.msssim, r.scores.ssimulacra2);
    }
    s
}

fn plots(a: &ScalingArgs, clip: &str, all: &[Setting], rows: &[ScalingRow]) -> Result<(), CliError> {
    let mid = {
        let mut b = a.bytes.clone();
        b.sort_unstable();
        b[b.len() / 2]
    };
    let plain = |budget: usize| rows.iter().find(|r| r.mode == "none" && r.budget == budget);
    // Lines: settings that differ only in M.
    let mut groups: Vec<&Setting> = all.iter().collect();
    groups.dedup_by(|x, y| x.count == y.count && x.cfg.eta == y.cfg.eta && x.cfg.choose == y.cfg.choose);
    let longest = a.counts.iter().copied().max().unwrap_or(0);
    for m in &METRICS {
        let value = |r: &ScalingRow| (m.value)(&r.scores);
        let added: Vec<plot::Series> = groups
            .iter()
            .map(|g| {
                let name = format!("last {} steps, eta {} {}", g.count, g.cfg.eta, choose_name(g.cfg.choose));
                let pts = plain(mid).map(|p| (0.0, value(p))).into_iter();
                let pts = pts.chain(
                    rows.iter()
                        .filter(|r| r.mode == "added" && r.budget == mid && r.scaled_steps == g.count && r.eta == g.cfg.eta && r.choose == choose_name(g.cfg.choose))
                        .map(|r| (r.choice_bits as f64, value(r))),
                );
                plot::Series { name, points: pts.collect() }
            })
            .collect();
        let title = format!("{clip}: {} against extra bits ({mid}-byte vector + choices)", m.key);
        plot::lines(&a.clips.out.join(format!("{clip}-added-{}.png", m.key)), &title, "choice bits", m.label, &added, false)?;
        let line = |mode: &str, name: String, keep: &dyn Fn(&ScalingRow) -> bool| {
            let mut pts: Vec<(f64, f64)> = rows.iter().filter(|r| r.mode == mode && keep(r)).map(|r| (r.bytes as f64, value(r))).collect();
            pts.sort_by(|x, y| x.0.total_cmp(&y.0));
            plot::Series { name, points: pts }
        };
        let mut equal = vec![line("none", "no scaling".into(), &|_| true)];
        for set in all.iter().filter(|s| s.count == longest && s.cfg.eta == a.eta[0] && s.cfg.choose == a.choose[0]) {
            equal.push(line("equal", format!("M={} last {}", set.m, set.count), &|r| same_setting(r, set)));
        }
        let title = format!("{clip}: {} at equal total bytes", m.key);
        plot::lines(&a.clips.out.join(format!("{clip}-equal-{}.png", m.key)), &title, "bytes", m.label, &equal, true)?;
    }
    Ok(())
}

pub fn run(a: &ScalingArgs, out: &mut dyn Write) -> Result<(), CliError> {
    if a.bytes.is_empty() {
        return Err(CliError::Usage("--bytes: give at least one budget".into()));
    }
    let clips = specs(&a.clips)?;
    std::fs::create_dir_all(&a.clips.out).map_err(crate::io::io_err(&a.clips.out))?;
    let s = setup(&a.clips)?;
    let all = settings(a, s.base.manifest.sampler.steps as u8, a.clips.seed)?;
    let mut rows = Vec::new();
    for spec in &clips {
        let dir = a.clips.out.join(&spec.name);
        std::fs::create_dir_all(&dir).map_err(crate::io::io_err(&dir))?;
        let (images, fps) = frames(spec, &a.clips)?;
        let clip = clip_rows(&s, &spec.name, &images, fps, a, &dir)?;
        plots(a, &spec.name, &all, &clip)?;
        rows.extend(clip);
    }
    let csv: String = std::iter::once(CSV_HEADER.to_string()).chain(rows.iter().map(csv_line)).map(|l| l + "\n").collect();
    crate::io::write_atomic(&a.clips.out.join("scaling.csv"), csv.as_bytes())?;
    let names: Vec<String> = clips.iter().map(|c| c.name.clone()).collect();
    let md = summary_markdown(a, &names, &all, &rows);
    crate::io::write_atomic(&a.clips.out.join("summary.md"), md.as_bytes())?;
    let gains: Vec<serde_json::Value> =
        all.iter().map(|set| serde_json::json!({ "setting": set.label(), "equal": gain(&rows, set, "equal", None), "added": gain(&rows, set, "added", None) })).collect();
    let json = serde_json::json!({ "rows": rows, "gains": gains });
    crate::io::write_atomic(&a.clips.out.join("summary.json"), serde_json::to_string_pretty(&json).expect("json").as_bytes())?;
    write!(out, "{md}").map_err(|source| CliError::Io { path: "<stdout>".into(), source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: ScalingArgs,
    }

    #[test]
    fn settings_scale_the_last_steps_and_check_them() {
        let a = Cli::parse_from(["x", "-o", "/tmp/x", "--m", "64,1024", "--counts", "2,7", "--choose", "greedy,gumbel"]).a;
        let all = settings(&a, 8, 0).unwrap();
        assert_eq!(all.len(), 8);
        assert_eq!(all[0].cfg.steps, vec![5, 6]);
        assert_eq!(all[0].cfg.m_log2, 6);
        assert_eq!(all.last().unwrap().cfg.steps, (0..7).collect::<Vec<u8>>());
        assert_eq!(all.last().unwrap().cfg.choose, Choose::Gumbel);
        let bad = Cli::parse_from(["x", "-o", "/tmp/x", "--counts", "8"]).a;
        assert!(settings(&bad, 8, 0).is_err());
        let bad = Cli::parse_from(["x", "-o", "/tmp/x", "--m", "100"]).a;
        assert!(settings(&bad, 8, 0).is_err());
    }
}
