//! Line plots as PNG (plotters, drawn into memory and written atomically). Text needs a
//! TrueType font from the system (DejaVu or Liberation Sans, as Debian ships them).

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;

use crate::error::CliError;

/// One line of a plot.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

const FONTS: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
];

fn font() -> Result<(), CliError> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let path = std::env::var("LORA_VIDEO_FONT").ok().into_iter().chain(FONTS.iter().map(|s| s.to_string())).find(|p| Path::new(p).is_file());
            let path = path.ok_or("no TrueType font for the plots: install fonts-dejavu-core, or set LORA_VIDEO_FONT to a .ttf")?;
            let bytes: &'static [u8] = Box::leak(std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?.into_boxed_slice());
            plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).map_err(|_| format!("{path}: not a usable font"))
        })
        .clone()
        .map_err(CliError::Tool)
}

/// Tableau's ten, then black and navy: an operating-point plot has twelve series.
const COLORS: [RGBColor; 12] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 0),
    RGBColor(0, 0, 128),
];

/// Writes a plot of `series` to `path` (PNG, 800x560), x on a log scale when `log_x`.
pub fn lines(path: &Path, title: &str, x_label: &str, y_label: &str, series: &[Series], log_x: bool) -> Result<(), CliError> {
    font()?;
    let (w, h) = (800u32, 560u32);
    let mut buf = vec![0u8; (w * h * 3) as usize];
    let all = || series.iter().flat_map(|s| s.points.iter()).filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (x, _)| (a.min(*x), b.max(*x)));
    let (mut y0, mut y1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (_, y)| (a.min(*y), b.max(*y)));
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (1.0, 10.0, 0.0, 1.0);
    }
    let pad = ((y1 - y0) * 0.05).max(1e-3);
    (y0, y1) = (y0 - pad, y1 + pad);
    if log_x {
        (x0, x1) = (x0 / 1.15, x1 * 1.15);
    } else {
        let p = ((x1 - x0) * 0.03).max(1e-3);
        (x0, x1) = (x0 - p, x1 + p);
    }
    let draw = |buf: &mut [u8]| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = BitMapBackend::with_buffer(buf, (w, h)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut builder = ChartBuilder::on(&root);
        builder.caption(title, ("sans-serif", 22)).margin(14).x_label_area_size(44).y_label_area_size(64);
        macro_rules! body {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart.configure_mesh().x_label_formatter(&|v| format!("{v:.0}")).x_desc(x_label).y_desc(y_label).label_style(("sans-serif", 15)).draw()?;
                for (i, s) in series.iter().enumerate() {
                    let color = COLORS[i % COLORS.len()];
                    let pts: Vec<(f64, f64)> = s.points.iter().copied().filter(|(x, y)| x.is_finite() && y.is_finite()).collect();
                    chart.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?.label(s.name.as_str()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
                    chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
                }
                chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).label_font(("sans-serif", 15)).position(SeriesLabelPosition::LowerRight).draw()?;
            }};
        }
        if log_x {
            body!(builder.build_cartesian_2d((x0..x1).log_scale(), y0..y1)?);
        } else {
            body!(builder.build_cartesian_2d(x0..x1, y0..y1)?);
        }
        root.present()?;
        Ok(())
    };
    draw(&mut buf).map_err(|e| CliError::Tool(format!("plot {}: {e}", path.display())))?;
    let img = image::RgbImage::from_raw(w, h, buf).expect("buffer size");
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).map_err(|e| CliError::Tool(format!("plot {}: {e}", path.display())))?;
    crate::io::write_atomic(path, &png)
}
