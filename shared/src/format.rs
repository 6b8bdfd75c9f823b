//! The `.lvc` bitstream, version 9 (SPEC.md): fixed header, optional sections, the
//! entropy-coded payload, and a CRC-32 over everything before it.
//!
//! Reading checks the magic, the version, the checksum, then every field against the
//! limits below before anything is allocated from it. Reading is canonical: a file that
//! reads back without error is written back to exactly the same bytes.

use crate::entropy::{self, EntropyError, Prior, PriorKind};
use crate::quant;
use crate::sketch::{self, Sketch, SketchError, SketchParams};

pub const MAGIC: [u8; 4] = *b"lvcf";
/// The newest version: version 8's layout, with or without motion, whose adaptive
/// models use wide contexts (`Transform::wide`).
pub const VERSION: u8 = 9;
/// Versions 1 (no sketch section), 2 (sample-coded sketches), 3 (transform-coded
/// sketches without motion), 4 (with motion), 5 (wavelet sketches under fixed models),
/// 6 (under adaptive models), 7 (sharpened) and 8 (phased) still read; a file is
/// written back with the version it was read with.
pub const OLDEST_VERSION: u8 = 1;
/// The version whose sketches are sample-coded (`Sketch::transform` None).
pub const SAMPLE_SKETCH_VERSION: u8 = 2;
/// The version whose sketches are transform-coded without motion, and of new clips
/// without a sketch.
pub const TRANSFORM_SKETCH_VERSION: u8 = 3;
/// The version whose sketches are DCT-coded with motion.
pub const MOTION_SKETCH_VERSION: u8 = 4;
/// The version whose sketches are wavelet-coded under fixed models.
pub const WAVELET_SKETCH_VERSION: u8 = 5;
/// The version whose sketches are wavelet-coded under adaptive models, unsharpened.
pub const ADAPTIVE_SKETCH_VERSION: u8 = 6;
/// The version whose sketches sharpen the decode, without phases.
pub const SHARPENED_SKETCH_VERSION: u8 = 7;
/// The version whose sketches' motion places each frame between keyframes by its phase
/// (`Motion::phases`).
pub const PHASED_SKETCH_VERSION: u8 = 8;
/// Bytes of the fixed header (magic through payload_len).
pub const FIXED_HEADER_LEN: usize = 86;
/// Bytes of the CRC-32 trailer.
pub const CHECKSUM_LEN: usize = 4;

/// Header flag bits. Any other bit set is an error.
pub const FLAG_SCALING: u8 = 1 << 0;
pub const FLAG_METADATA: u8 = 1 << 1;
/// Version 2 on.
pub const FLAG_SKETCH: u8 = 1 << 2;
/// With `FLAG_SKETCH` only: the decode adds what the sampler changed to the sketch's own
/// frames (`Sketch::residual`).
pub const FLAG_RESIDUAL: u8 = 1 << 3;
const KNOWN_FLAGS: u8 = FLAG_SCALING | FLAG_METADATA | FLAG_SKETCH | FLAG_RESIDUAL;
const KNOWN_FLAGS_V1: u8 = FLAG_SCALING | FLAG_METADATA;

// Limits, checked on write and on read (SPEC.md "Limits").
pub const MIN_SIDE: u16 = 8;
pub const MAX_SIDE: u16 = 4096;
pub const MAX_FRAMES: u16 = 1024;
/// Largest width * height * frames a decoder must be ready to produce.
pub const MAX_PIXELS: u64 = 1 << 28;
pub const MAX_FPS: u32 = 1000;
pub const MAX_STEPS: u8 = 200;
pub const MAX_SHIFT: f32 = 100.0;
pub const MAX_RANK: u8 = 64;
pub const MAX_K: u32 = 1 << 20;
pub const MIN_QUANT_STEP: f32 = 1.0 / 16_777_216.0;
pub const MAX_QUANT_STEP: f32 = 256.0;
pub const MAX_PAYLOAD: u32 = 16 << 20;
pub const MAX_M_LOG2: u8 = 16;
pub const MAX_ETA: f32 = 10.0;
pub const MAX_TITLE: usize = 255;
pub const MAX_CAPTION: usize = 4096;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FormatError {
    #[error("file is truncated: {needed} bytes needed, {got} present")]
    Truncated { needed: usize, got: usize },
    #[error("not a lora-video clip (magic {0:02x?}, expected \"lvcf\")")]
    BadMagic([u8; 4]),
    #[error("bitstream version {0} is not supported (this decoder reads versions {OLDEST_VERSION} to {VERSION})")]
    UnsupportedVersion(u8),
    #[error("checksum mismatch: stored {stored:08x}, computed {computed:08x}; the file is corrupt")]
    Checksum { stored: u32, computed: u32 },
    #[error("unknown header flags {0:#04x}")]
    UnknownFlags(u8),
    #[error("header_len is {stored} but the header holds {actual} bytes")]
    HeaderLength { stored: u16, actual: usize },
    #[error("{0} bytes follow the payload before the checksum")]
    TrailingBytes(usize),
    #[error("{field} = {value} is out of range ({allowed})")]
    OutOfRange { field: &'static str, value: String, allowed: &'static str },
    #[error("{0} is not in canonical form (non-zero padding or unused bits)")]
    NonCanonical(&'static str),
    #[error("{0} is not valid UTF-8")]
    InvalidUtf8(&'static str),
    #[error("the vector has {got} entries but the header says k = {k}")]
    VectorLength { k: u32, got: usize },
    #[error(transparent)]
    Entropy(#[from] EntropyError),
    #[error(transparent)]
    Sketch(#[from] SketchError),
}

fn out_of_range(field: &'static str, value: impl ToString, allowed: &'static str) -> FormatError {
    FormatError::OutOfRange { field, value: value.to_string(), allowed }
}

/// Frame rate as a fraction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Fps {
    pub num: u16,
    pub den: u16,
}

/// The deterministic sampler: Euler steps on a shifted sigma schedule from a fixed seed.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Sampler {
    pub steps: u8,
    pub shift: f32,
    pub seed: u32,
}

/// Which layers carry LoRA slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoraTargets {
    /// The q, k, v and out projections of every attention layer.
    AttentionQkvo = 0,
}

impl LoraTargets {
    pub fn from_id(id: u8) -> Option<Self> {
        (id == 0).then_some(Self::AttentionQkvo)
    }
}

/// The adapter's shape and the index map that feeds it from theta.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Lora {
    pub rank: u8,
    pub targets: LoraTargets,
    pub hash_seed: u32,
    pub k: u32,
}

/// One scaled sampler step and the candidate the encoder chose there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ScaledStep {
    pub step: u8,
    pub choice: u16,
}

/// Inference-time scaling: M = 2^m_log2 candidates per scaled step, SDE noise level eta.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Scaling {
    pub m_log2: u8,
    pub eta: f32,
    /// Strictly increasing steps.
    pub steps: Vec<ScaledStep>,
}

impl Scaling {
    /// Bits the choices take in the file, before byte padding.
    pub fn choice_bits(&self) -> usize {
        self.steps.len() * usize::from(self.m_log2)
    }
}

/// Free-form text carried with the clip.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Metadata {
    pub title: String,
    pub caption: String,
}

/// Everything a decoder needs besides the payload.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Header {
    #[serde(serialize_with = "crate::serialize_hex")]
    pub model_sha256: [u8; 32],
    pub width: u16,
    pub height: u16,
    pub frames: u16,
    pub fps: Fps,
    pub sampler: Sampler,
    pub lora: Lora,
    pub quant_step: f32,
    pub prior: Prior,
    /// The visual caption the denoiser conditions on.
    pub sketch: Option<Sketch>,
    pub scaling: Option<Scaling>,
    pub metadata: Option<Metadata>,
}

fn check_f32(field: &'static str, v: f32, min: f32, max: f32, allowed: &'static str) -> Result<(), FormatError> {
    if v.is_finite() && v >= min && v <= max { Ok(()) } else { Err(out_of_range(field, v, allowed)) }
}

impl Header {
    /// Checks every field against the limits. Reading and writing both call it.
    pub fn check(&self) -> Result<(), FormatError> {
        for (field, side) in [("width", self.width), ("height", self.height)] {
            if !(MIN_SIDE..=MAX_SIDE).contains(&side) || side % 8 != 0 {
                return Err(out_of_range(field, side, "8..=4096, a multiple of 8"));
            }
        }
        if !(1..=MAX_FRAMES).contains(&self.frames) {
            return Err(out_of_range("frames", self.frames, "1..=1024"));
        }
        let pixels = u64::from(self.width) * u64::from(self.height) * u64::from(self.frames);
        if pixels > MAX_PIXELS {
            return Err(out_of_range("width*height*frames", pixels, "at most 2^28"));
        }
        if self.fps.num == 0 || self.fps.den == 0 || u32::from(self.fps.num) > MAX_FPS * u32::from(self.fps.den) {
            return Err(out_of_range("fps", format!("{}/{}", self.fps.num, self.fps.den), "num, den >= 1, num/den <= 1000"));
        }
        if !(1..=MAX_STEPS).contains(&self.sampler.steps) {
            return Err(out_of_range("steps", self.sampler.steps, "1..=200"));
        }
        check_f32("shift", self.sampler.shift, f32::MIN_POSITIVE, MAX_SHIFT, "0 < shift <= 100")?;
        if !(1..=MAX_RANK).contains(&self.lora.rank) {
            return Err(out_of_range("lora_rank", self.lora.rank, "1..=64"));
        }
        if !(1..=MAX_K).contains(&self.lora.k) {
            return Err(out_of_range("k", self.lora.k, "1..=2^20"));
        }
        check_f32("quant_step", self.quant_step, MIN_QUANT_STEP, MAX_QUANT_STEP, "2^-24..=256")?;
        self.prior.check()?;
        if let Some(s) = &self.sketch {
            let g = sketch::Geometry::new(usize::from(self.width), usize::from(self.height), usize::from(self.frames), &s.params)?;
            sketch::check(s, &g)?;
        }
        if let Some(s) = &self.scaling {
            if !(1..=MAX_M_LOG2).contains(&s.m_log2) {
                return Err(out_of_range("m_log2", s.m_log2, "1..=16"));
            }
            check_f32("eta", s.eta, 0.0, MAX_ETA, "0..=10")?;
            if s.steps.is_empty() {
                return Err(out_of_range("scaled steps", 0, "at least one"));
            }
            let mut prev: Option<u8> = None;
            for st in &s.steps {
                if st.step >= self.sampler.steps || prev.is_some_and(|p| st.step <= p) {
                    return Err(out_of_range("scaled step", st.step, "increasing, below steps"));
                }
                if u32::from(st.choice) >> s.m_log2 != 0 {
                    return Err(out_of_range("scaling choice", st.choice, "below 2^m_log2"));
                }
                prev = Some(st.step);
            }
        }
        if let Some(m) = &self.metadata {
            if m.title.len() > MAX_TITLE {
                return Err(out_of_range("title length", m.title.len(), "at most 255 bytes"));
            }
            if m.caption.len() > MAX_CAPTION {
                return Err(out_of_range("caption length", m.caption.len(), "at most 4096 bytes"));
            }
        }
        Ok(())
    }

    fn flags(&self) -> u8 {
        let bit = |on: bool, flag: u8| if on { flag } else { 0 };
        bit(self.scaling.is_some(), FLAG_SCALING) | bit(self.metadata.is_some(), FLAG_METADATA) | bit(self.sketch.is_some(), FLAG_SKETCH)
            | bit(self.sketch.as_ref().is_some_and(|s| s.residual), FLAG_RESIDUAL)
    }

    /// Bytes before the payload: the fixed header plus the optional sections.
    pub fn header_len(&self) -> usize {
        let scaling = self.scaling.as_ref().map_or(0, |s| {
            1 + 4 + usize::from(self.sampler.steps).div_ceil(8) + s.choice_bits().div_ceil(8)
        });
        let metadata = self.metadata.as_ref().map_or(0, |m| 1 + m.title.len() + 2 + m.caption.len());
        let sketch = self.sketch.as_ref().map_or(0, Sketch::section_len);
        FIXED_HEADER_LEN + sketch + scaling + metadata
    }
}

/// A whole clip: header and entropy-coded payload.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Bitstream {
    /// The version the file was read as (VERSION for new clips); written back as read,
    /// so reading stays canonical. Version 1 cannot hold a sketch.
    pub version: u8,
    pub header: Header,
    #[serde(skip)]
    pub payload: Vec<u8>,
}

impl Bitstream {
    /// Entropy-codes the quantised vector `symbols` (length k) under the header's prior.
    pub fn encode(header: Header, symbols: &[i32]) -> Result<Self, FormatError> {
        header.check()?;
        if symbols.len() != header.lora.k as usize {
            return Err(FormatError::VectorLength { k: header.lora.k, got: symbols.len() });
        }
        let payload = entropy::encode(&header.prior, symbols)?;
        Ok(Self { version: Self::version_for(&header), header, payload })
    }

    /// The version a new clip with this header is written as: 9 when its sketch's
    /// adaptive models use wide contexts, 8 when its motion has phases, 7 when it
    /// sharpens the decode, 6 when it is wavelet-coded under adaptive models, 5 under
    /// fixed ones, 4 when it has motion, 2 when it is sample-coded, else 3.
    pub fn version_for(header: &Header) -> u8 {
        match &header.sketch {
            Some(s) if s.transform.is_some_and(|t| t.wide) => VERSION,
            Some(s) if s.phased() => PHASED_SKETCH_VERSION,
            Some(s) if s.sharpen > 0 => SHARPENED_SKETCH_VERSION,
            Some(s) if s.transform.is_some_and(|t| t.adaptive) => ADAPTIVE_SKETCH_VERSION,
            Some(s) if s.transform.is_some_and(|t| t.levels > 0) => WAVELET_SKETCH_VERSION,
            Some(s) if s.motion.is_some() => MOTION_SKETCH_VERSION,
            Some(s) if s.transform.is_none() => SAMPLE_SKETCH_VERSION,
            _ => TRANSFORM_SKETCH_VERSION,
        }
    }

    /// The quantised vector, entropy-decoded.
    pub fn symbols(&self) -> Result<Vec<i32>, FormatError> {
        Ok(entropy::decode(&self.header.prior, &self.payload, self.header.lora.k as usize)?)
    }

    /// The dequantised vector theta.
    pub fn theta(&self) -> Result<Vec<f32>, FormatError> {
        Ok(quant::dequantize(&self.symbols()?, self.header.quant_step))
    }

    /// Total size of the file in bytes.
    pub fn len(&self) -> usize {
        self.header.header_len() + self.payload.len() + CHECKSUM_LEN
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Serialises the clip; checks the header first.
    pub fn to_bytes(&self) -> Result<Vec<u8>, FormatError> {
        let h = &self.header;
        h.check()?;
        if self.payload.len() > MAX_PAYLOAD as usize || self.payload.len() % 4 != 0 {
            return Err(out_of_range("payload_len", self.payload.len(), "a multiple of 4, at most 16 MiB"));
        }
        let header_len = h.header_len();
        if header_len > usize::from(u16::MAX) {
            return Err(out_of_range("header_len", header_len, "at most 65535"));
        }
        // A sketch's coding fixes the version (`version_for`).
        let fits = h.sketch.is_none() || self.version == Self::version_for(h);
        if !(OLDEST_VERSION..=VERSION).contains(&self.version) || !fits {
            return Err(out_of_range("version", self.version, "1 (no sketch), 2 (sample-coded sketch), 3 (transform-coded sketch), 4 (with motion), 5 (wavelet), 6 (adaptive), 7 (sharpened), 8 (phased) or 9 (wide contexts)"));
        }
        let mut w = Vec::with_capacity(self.len());
        w.extend_from_slice(&MAGIC);
        w.push(self.version);
        w.push(h.flags());
        w.extend_from_slice(&(header_len as u16).to_le_bytes());
        w.extend_from_slice(&h.model_sha256);
        for v in [h.width, h.height, h.frames, h.fps.num, h.fps.den] {
            w.extend_from_slice(&v.to_le_bytes());
        }
        w.extend_from_slice(&[h.sampler.steps, h.lora.rank, h.lora.targets as u8, h.prior.kind as u8]);
        w.extend_from_slice(&h.sampler.shift.to_le_bytes());
        w.extend_from_slice(&h.sampler.seed.to_le_bytes());
        w.extend_from_slice(&h.lora.hash_seed.to_le_bytes());
        w.extend_from_slice(&h.lora.k.to_le_bytes());
        w.extend_from_slice(&h.quant_step.to_le_bytes());
        w.extend_from_slice(&h.prior.scale.to_le_bytes());
        w.extend_from_slice(&h.prior.min.to_le_bytes());
        w.extend_from_slice(&h.prior.max.to_le_bytes());
        w.extend_from_slice(&(self.payload.len() as u32).to_le_bytes());
        debug_assert_eq!(w.len(), FIXED_HEADER_LEN);
        if let Some(s) = &h.sketch {
            let p = &s.params;
            w.extend_from_slice(&[p.cell_log2, p.keyframes, p.q_luma, p.q_chroma, s.start, s.scale[0], s.scale[1]]);
            if let Some(t) = &s.transform {
                w.extend_from_slice(&[t.tilt, t.decay[0], t.decay[1]]);
                if self.version >= 5 {
                    w.push(t.levels);
                }
                if self.version >= 7 {
                    w.push(s.sharpen);
                }
            }
            w.extend_from_slice(&(s.payload.len() as u16).to_le_bytes());
            w.extend_from_slice(&s.payload);
            match &s.motion {
                Some(m) => {
                    w.extend_from_slice(&[m.block_log2, m.scale]);
                    w.extend_from_slice(&(m.payload.len() as u16).to_le_bytes());
                    w.extend_from_slice(&m.payload);
                    w.extend(m.phases.iter().map(|&p| p as u8));
                }
                // Version 5 says "no motion" with block_log2 0.
                None if self.version >= 5 => w.extend_from_slice(&[0; sketch::motion::FIELDS]),
                None => {}
            }
        }
        if let Some(s) = &h.scaling {
            w.push(s.m_log2);
            w.extend_from_slice(&s.eta.to_le_bytes());
            let mut mask = vec![0u8; usize::from(h.sampler.steps).div_ceil(8)];
            let mut choices = vec![0u8; s.choice_bits().div_ceil(8)];
            for (j, st) in s.steps.iter().enumerate() {
                mask[usize::from(st.step) / 8] |= 1 << (st.step % 8);
                for b in 0..usize::from(s.m_log2) {
                    if st.choice >> b & 1 == 1 {
                        let bit = j * usize::from(s.m_log2) + b;
                        choices[bit / 8] |= 1 << (bit % 8);
                    }
                }
            }
            w.extend_from_slice(&mask);
            w.extend_from_slice(&choices);
        }
        if let Some(m) = &h.metadata {
            w.push(m.title.len() as u8);
            w.extend_from_slice(m.title.as_bytes());
            w.extend_from_slice(&(m.caption.len() as u16).to_le_bytes());
            w.extend_from_slice(m.caption.as_bytes());
        }
        debug_assert_eq!(w.len(), header_len);
        w.extend_from_slice(&self.payload);
        let crc = crc32fast::hash(&w);
        w.extend_from_slice(&crc.to_le_bytes());
        Ok(w)
    }

    /// Parses and validates a whole `.lvc` file. The payload is not entropy-decoded
    /// here; call [`Bitstream::symbols`] for that.
    pub fn read(bytes: &[u8]) -> Result<Self, FormatError> {
        let got = bytes.len();
        let need = |needed: usize| if got < needed { Err(FormatError::Truncated { needed, got }) } else { Ok(()) };
        need(4)?;
        if bytes[..4] != MAGIC {
            return Err(FormatError::BadMagic([bytes[0], bytes[1], bytes[2], bytes[3]]));
        }
        need(5)?;
        let version = bytes[4];
        if !(OLDEST_VERSION..=VERSION).contains(&version) {
            return Err(FormatError::UnsupportedVersion(version));
        }
        need(FIXED_HEADER_LEN + CHECKSUM_LEN)?;
        let (body, tail) = bytes.split_at(got - CHECKSUM_LEN);
        let stored = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        let computed = crc32fast::hash(body);
        if stored != computed {
            return Err(FormatError::Checksum { stored, computed });
        }

        let mut r = Reader { buf: body, pos: 5 };
        let flags = r.u8()?;
        if flags & !(if version == 1 { KNOWN_FLAGS_V1 } else { KNOWN_FLAGS }) != 0 {
            return Err(FormatError::UnknownFlags(flags));
        }
        if flags & FLAG_RESIDUAL != 0 && flags & FLAG_SKETCH == 0 {
            return Err(out_of_range("flags", flags, "FLAG_RESIDUAL only with FLAG_SKETCH"));
        }
        let header_len = r.u16()?;
        let model_sha256: [u8; 32] = r.take(32)?.try_into().expect("32 bytes");
        let (width, height, frames) = (r.u16()?, r.u16()?, r.u16()?);
        let fps = Fps { num: r.u16()?, den: r.u16()? };
        let (steps, rank, targets, prior_kind) = (r.u8()?, r.u8()?, r.u8()?, r.u8()?);
        let shift = r.f32()?;
        let seed = r.u32()?;
        let hash_seed = r.u32()?;
        let k = r.u32()?;
        let quant_step = r.f32()?;
        let prior_scale = r.f32()?;
        let (prior_min, prior_max) = (r.u16()? as i16, r.u16()? as i16);
        let payload_len = r.u32()?;

        let targets = LoraTargets::from_id(targets).ok_or_else(|| out_of_range("lora_targets", targets, "0"))?;
        let kind = PriorKind::from_id(prior_kind).ok_or_else(|| out_of_range("prior_kind", prior_kind, "0 or 1"))?;
        let mut header = Header {
            model_sha256,
            width,
            height,
            frames,
            fps,
            sampler: Sampler { steps, shift, seed },
            lora: Lora { rank, targets, hash_seed, k },
            quant_step,
            prior: Prior { kind, scale: prior_scale, min: prior_min, max: prior_max },
            sketch: None,
            scaling: None,
            metadata: None,
        };
        // Checked before the optional sections are sized from `steps`.
        header.check()?;

        if flags & FLAG_SKETCH != 0 {
            let [cell_log2, keyframes, q_luma, q_chroma, start, scale_luma, scale_chroma] = r.array()?;
            let transform = if version >= 3 {
                let [tilt, decay_luma, decay_chroma] = r.array()?;
                let levels = if version >= 5 { r.u8()? } else { 0 };
                if version >= 5 && !(1..=sketch::wavelet::MAX_LEVELS).contains(&levels) {
                    return Err(out_of_range("sketch levels", levels, "1..=8 from version 5"));
                }
                Some(sketch::Transform { tilt, decay: [decay_luma, decay_chroma], levels, adaptive: version >= 6, wide: version >= 9 })
            } else {
                None
            };
            let sharpen = if version >= 7 { r.u8()? } else { 0 };
            if (version == 7 && sharpen == 0) || sharpen > crate::sharpen::MAX {
                return Err(out_of_range("sketch sharpen", sharpen, "1..=64 in version 7, 0..=64 from 8"));
            }
            let len = usize::from(r.u16()?);
            let mut s = Sketch { params: SketchParams { cell_log2, keyframes, q_luma, q_chroma }, start, scale: [scale_luma, scale_chroma], transform, motion: None, residual: flags & FLAG_RESIDUAL != 0, sharpen, payload: Vec::new() };
            // The fields and the length are checked before the payload is copied.
            let g = sketch::Geometry::new(usize::from(width), usize::from(height), usize::from(frames), &s.params)?;
            if len > sketch::MAX_PAYLOAD || len % 4 != 0 {
                return Err(out_of_range("sketch payload_len", len, "a multiple of 4, at most 32768"));
            }
            s.payload = r.take(len)?.to_vec();
            if version >= 4 {
                let [block_log2, scale] = r.array()?;
                let len = usize::from(r.u16()?);
                if len > sketch::MAX_PAYLOAD || len % 4 != 0 {
                    return Err(out_of_range("motion payload_len", len, "a multiple of 4, at most 32768"));
                }
                if version >= 5 && block_log2 == 0 {
                    // No motion: the other fields are zero too.
                    if scale != 0 || len != 0 {
                        return Err(out_of_range("motion scale and payload_len", u64::from(scale) + len as u64, "0 without motion"));
                    }
                } else {
                    let payload = r.take(len)?.to_vec();
                    // Versions 8 and 9: a phase for each frame between keyframes (at most 1023).
                    let between = if version >= 8 { g.frames.saturating_sub(g.keyframes) } else { 0 };
                    let phases = r.take(between)?.iter().map(|&p| p as i8).collect();
                    s.motion = Some(sketch::Motion { block_log2, scale, payload, phases });
                }
            }
            if version == 8 && !s.phased() {
                return Err(out_of_range("motion phases", 0u8, "present in version 8 (motion between keyframes)"));
            }
            sketch::check(&s, &g)?;
            header.sketch = Some(s);
        }
        if flags & FLAG_SCALING != 0 {
            header.scaling = Some(read_scaling(&mut r, steps)?);
            header.check()?;
        }
        if flags & FLAG_METADATA != 0 {
            let title_len = usize::from(r.u8()?);
            let title = utf8(r.take(title_len)?, "title")?;
            let caption_len = usize::from(r.u16()?);
            if caption_len > MAX_CAPTION {
                return Err(out_of_range("caption length", caption_len, "at most 4096 bytes"));
            }
            let caption = utf8(r.take(caption_len)?, "caption")?;
            header.metadata = Some(Metadata { title, caption });
        }
        header.check()?;
        if usize::from(header_len) != r.pos {
            return Err(FormatError::HeaderLength { stored: header_len, actual: r.pos });
        }
        if payload_len > MAX_PAYLOAD || payload_len % 4 != 0 {
            return Err(out_of_range("payload_len", payload_len, "a multiple of 4, at most 16 MiB"));
        }
        let payload = r.take(payload_len as usize)?.to_vec();
        if r.pos != body.len() {
            return Err(FormatError::TrailingBytes(body.len() - r.pos));
        }
        Ok(Self { version, header, payload })
    }
}

fn read_scaling(r: &mut Reader<'_>, steps: u8) -> Result<Scaling, FormatError> {
    let m_log2 = r.u8()?;
    let eta = r.f32()?;
    if !(1..=MAX_M_LOG2).contains(&m_log2) {
        return Err(out_of_range("m_log2", m_log2, "1..=16"));
    }
    let mask = r.take(usize::from(steps).div_ceil(8))?;
    let scaled: Vec<u8> = (0..steps).filter(|&s| mask[usize::from(s) / 8] >> (s % 8) & 1 == 1).collect();
    if steps % 8 != 0 && mask[mask.len() - 1] >> (steps % 8) != 0 {
        return Err(FormatError::NonCanonical("scaling step mask"));
    }
    let bits = scaled.len() * usize::from(m_log2);
    let packed = r.take(bits.div_ceil(8))?;
    let bit = |i: usize| u16::from(packed[i / 8] >> (i % 8) & 1);
    if bits % 8 != 0 && packed[packed.len() - 1] >> (bits % 8) != 0 {
        return Err(FormatError::NonCanonical("scaling choices"));
    }
    let m = usize::from(m_log2);
    let steps = scaled
        .iter()
        .enumerate()
        .map(|(j, &step)| ScaledStep { step, choice: (0..m).map(|b| bit(j * m + b) << b).sum() })
        .collect();
    Ok(Scaling { m_log2, eta, steps })
}

fn utf8(bytes: &[u8], field: &'static str) -> Result<String, FormatError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| FormatError::InvalidUtf8(field))
}

/// A bounds-checked little-endian cursor.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or(FormatError::Truncated { needed: self.pos.saturating_add(n) + CHECKSUM_LEN, got: self.buf.len() + CHECKSUM_LEN })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }

    fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, FormatError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn f32(&mut self) -> Result<f32, FormatError> {
        Ok(f32::from_le_bytes(self.array()?))
    }
}
