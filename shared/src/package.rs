//! The `.lvm` base-model package: a safetensors file whose only `__metadata__` key,
//! `lora_video_manifest`, holds the manifest as JSON. Tensors are f32, f16 or int8; an
//! int8 tensor `W` has a companion f32 tensor `W.scale` of the same rank, broadcastable
//! to `W` along one channel axis (per-channel scales). The SHA-256 of the whole file is
//! the model's identity, named by every bitstream made with it.

use std::collections::BTreeMap;

use safetensors::tensor::{Dtype, TensorView};
use safetensors::{SafeTensorError, SafeTensors};
use sha2::{Digest, Sha256};

use crate::format::LoraTargets;

pub const FORMAT_NAME: &str = "lora-video-model";
pub const MANIFEST_KEY: &str = "lora_video_manifest";
pub const VERSION: u32 = 1;
/// Largest package a reader accepts.
pub const MAX_PACKAGE_BYTES: usize = 1 << 30;
/// Suffix of the per-channel scale tensor of an int8 tensor.
pub const SCALE_SUFFIX: &str = ".scale";

/// Latent normalisation: z_model = (z_vae - mean) / std, per latent channel.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LatentNorm {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

/// Sampler settings an encoder uses unless told otherwise.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SamplerDefaults {
    pub steps: u8,
    pub shift: f32,
}

/// Everything about the model that is not a tensor.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub name: String,
    /// The model's own configuration, read by the model code.
    pub architecture: serde_json::Value,
    /// Id of the LoRA target set, as in the bitstream's `lora_targets`.
    pub lora_targets: u8,
    pub lora_rank: u8,
    pub latent: LatentNorm,
    pub sampler: SamplerDefaults,
}

impl Manifest {
    pub fn new(name: &str, architecture: serde_json::Value, latent: LatentNorm, sampler: SamplerDefaults) -> Self {
        Self {
            format: FORMAT_NAME.into(),
            version: VERSION,
            name: name.into(),
            architecture,
            lora_targets: LoraTargets::AttentionQkvo as u8,
            lora_rank: 1,
            latent,
            sampler,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("package is {0} bytes, more than the limit of {MAX_PACKAGE_BYTES}")]
    TooLarge(usize),
    #[error("not a valid safetensors container: {0}")]
    Container(#[from] SafeTensorError),
    #[error("the package has no lora-video manifest")]
    NoManifest,
    #[error("the manifest is not valid: {0}")]
    Manifest(#[from] serde_json::Error),
    #[error("not a lora-video model package (format \"{0}\")")]
    WrongFormat(String),
    #[error("package version {0} is not supported (this reader reads version {VERSION})")]
    UnsupportedVersion(u32),
    #[error("tensor {name}: {why}")]
    BadTensor { name: String, why: String },
    #[error("the package has no tensor named {0}")]
    MissingTensor(String),
}

fn bad(name: &str, why: impl Into<String>) -> PackageError {
    PackageError::BadTensor { name: name.into(), why: why.into() }
}

/// Tensor values in their stored precision.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    F16(Vec<half::f16>),
    /// Values and per-channel scales; `scale_shape` broadcasts to the tensor's shape.
    I8 { values: Vec<i8>, scale: Vec<f32>, scale_shape: Vec<usize> },
}

/// A named tensor in a package.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: TensorData,
}

impl Tensor {
    pub fn f32(shape: &[usize], values: Vec<f32>) -> Self {
        assert_eq!(shape.iter().product::<usize>(), values.len(), "shape and values disagree");
        Self { shape: shape.to_vec(), data: TensorData::F32(values) }
    }

    pub fn f16(shape: &[usize], values: &[f32]) -> Self {
        assert_eq!(shape.iter().product::<usize>(), values.len(), "shape and values disagree");
        Self { shape: shape.to_vec(), data: TensorData::F16(values.iter().map(|&v| half::f16::from_f32(v)).collect()) }
    }

    /// Symmetric int8 quantisation with one scale per index of `axis`:
    /// scale = max|w| / 127 over the channel, q = round(w / scale).
    pub fn int8_per_channel(shape: &[usize], values: &[f32], axis: usize) -> Self {
        assert_eq!(shape.iter().product::<usize>(), values.len(), "shape and values disagree");
        assert!(axis < shape.len(), "axis out of range");
        let channels = shape[axis];
        let inner: usize = shape[axis + 1..].iter().product();
        let channel = |i: usize| (i / inner) % channels;
        let mut max = vec![0f32; channels];
        for (i, &v) in values.iter().enumerate() {
            max[channel(i)] = max[channel(i)].max(v.abs());
        }
        let scale: Vec<f32> = max.iter().map(|&m| if m > 0.0 { m / 127.0 } else { 1.0 }).collect();
        let q = values.iter().enumerate().map(|(i, &v)| (v / scale[channel(i)]).round().clamp(-127.0, 127.0) as i8);
        let mut scale_shape = vec![1; shape.len()];
        scale_shape[axis] = channels;
        Self { shape: shape.to_vec(), data: TensorData::I8 { values: q.collect(), scale, scale_shape } }
    }

    /// The values as f32: exactly what every user of the package computes with.
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            TensorData::F32(v) => v.clone(),
            TensorData::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
            TensorData::I8 { values, scale, scale_shape } => {
                let strides = broadcast_strides(&self.shape, scale_shape);
                values.iter().enumerate().map(|(i, &q)| f32::from(q) * scale[broadcast_index(i, &self.shape, &strides)]).collect()
            }
        }
    }
}

/// Strides into a broadcast tensor of `scale_shape` (0 on broadcast axes).
fn broadcast_strides(shape: &[usize], scale_shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut s = 1;
    for a in (0..shape.len()).rev() {
        if scale_shape[a] != 1 {
            strides[a] = s;
        }
        s *= scale_shape[a];
    }
    strides
}

fn broadcast_index(mut i: usize, shape: &[usize], strides: &[usize]) -> usize {
    let mut at = 0;
    for a in (0..shape.len()).rev() {
        at += (i % shape[a]) * strides[a];
        i /= shape[a];
    }
    at
}

impl TensorData {
    /// Whether every value and scale is finite; a package holds nothing else.
    pub fn is_finite(&self) -> bool {
        match self {
            TensorData::F32(v) => v.iter().all(|x| x.is_finite()),
            TensorData::F16(v) => v.iter().all(|x| x.is_finite()),
            TensorData::I8 { scale, .. } => scale.iter().all(|x| x.is_finite()),
        }
    }
}

/// A base-model package: manifest and named tensors.
#[derive(Clone, Debug, PartialEq)]
pub struct Package {
    pub manifest: Manifest,
    pub tensors: BTreeMap<String, Tensor>,
}

struct Raw {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl Package {
    pub fn new(manifest: Manifest) -> Self {
        Self { manifest, tensors: BTreeMap::new() }
    }

    pub fn insert(&mut self, name: &str, tensor: Tensor) {
        self.tensors.insert(name.into(), tensor);
    }

    pub fn tensor(&self, name: &str) -> Result<&Tensor, PackageError> {
        self.tensors.get(name).ok_or_else(|| PackageError::MissingTensor(name.into()))
    }

    /// Serialises the package. The same package always gives the same bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, PackageError> {
        let mut raws: Vec<(String, Raw)> = Vec::new();
        for (name, t) in &self.tensors {
            if name.ends_with(SCALE_SUFFIX) {
                return Err(bad(name, format!("names ending in {SCALE_SUFFIX} are reserved")));
            }
            if !t.data.is_finite() {
                return Err(bad(name, "values must be finite"));
            }
            let raw = |dtype, shape: &[usize], bytes| Raw { dtype, shape: shape.to_vec(), bytes };
            match &t.data {
                TensorData::F32(v) => raws.push((name.clone(), raw(Dtype::F32, &t.shape, le_f32(v)))),
                TensorData::F16(v) => {
                    raws.push((name.clone(), raw(Dtype::F16, &t.shape, v.iter().flat_map(|x| x.to_le_bytes()).collect())))
                }
                TensorData::I8 { values, scale, scale_shape } => {
                    raws.push((name.clone(), raw(Dtype::I8, &t.shape, values.iter().map(|&q| q as u8).collect())));
                    raws.push((format!("{name}{SCALE_SUFFIX}"), raw(Dtype::F32, scale_shape, le_f32(scale))));
                }
            }
        }
        let views = raws
            .iter()
            .map(|(n, r)| Ok((n.as_str(), TensorView::new(r.dtype, r.shape.clone(), &r.bytes)?)))
            .collect::<Result<Vec<_>, SafeTensorError>>()?;
        let manifest = serde_json::to_string(&self.manifest)?;
        // One key only: safetensors writes its metadata map in hash order.
        let meta = [(MANIFEST_KEY.to_string(), manifest)].into_iter().collect();
        Ok(safetensors::serialize(views, Some(meta))?)
    }

    /// Parses and checks a package.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PackageError> {
        if bytes.len() > MAX_PACKAGE_BYTES {
            return Err(PackageError::TooLarge(bytes.len()));
        }
        let st = SafeTensors::deserialize(bytes)?;
        let (_, meta) = SafeTensors::read_metadata(bytes)?;
        let text = meta.metadata().as_ref().and_then(|m| m.get(MANIFEST_KEY)).ok_or(PackageError::NoManifest)?;
        let manifest: Manifest = serde_json::from_str(text)?;
        if manifest.format != FORMAT_NAME {
            return Err(PackageError::WrongFormat(manifest.format));
        }
        if manifest.version != VERSION {
            return Err(PackageError::UnsupportedVersion(manifest.version));
        }
        let mut tensors = BTreeMap::new();
        for (name, view) in st.iter() {
            if name.ends_with(SCALE_SUFFIX) {
                continue;
            }
            let shape = view.shape().to_vec();
            let data = match view.dtype() {
                Dtype::F32 => TensorData::F32(f32_le(view.data())),
                Dtype::F16 => TensorData::F16(
                    view.data().chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]])).collect(),
                ),
                Dtype::I8 => {
                    let sname = format!("{name}{SCALE_SUFFIX}");
                    let sv = st.tensor(&sname).map_err(|_| bad(name, "int8 tensor without a scale tensor"))?;
                    if sv.dtype() != Dtype::F32 {
                        return Err(bad(&sname, "scale must be f32"));
                    }
                    let scale_shape = sv.shape().to_vec();
                    let broadcasts = scale_shape.len() == shape.len()
                        && scale_shape.iter().zip(&shape).all(|(&s, &d)| s == 1 || s == d)
                        && scale_shape.iter().filter(|&&s| s != 1).count() <= 1;
                    if !broadcasts {
                        return Err(bad(&sname, format!("shape {scale_shape:?} is not per-channel for {shape:?}")));
                    }
                    let scale = f32_le(sv.data());
                    TensorData::I8 { values: view.data().iter().map(|&b| b as i8).collect(), scale, scale_shape }
                }
                other => return Err(bad(name, format!("dtype {other:?} is not f32, f16 or i8"))),
            };
            if !data.is_finite() {
                return Err(bad(name, "values must be finite"));
            }
            tensors.insert(name.to_string(), Tensor { shape, data });
        }
        for name in st.names() {
            if let Some(base) = name.strip_suffix(SCALE_SUFFIX) {
                if !matches!(tensors.get(base), Some(Tensor { data: TensorData::I8 { .. }, .. })) {
                    return Err(bad(name, "scale tensor without an int8 tensor"));
                }
            }
        }
        Ok(Self { manifest, tensors })
    }
}

/// The SHA-256 of a package file: the model's identity.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn le_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Little-endian f32 values.
pub(crate) fn f32_le(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Package {
        let mut p = Package::new(Manifest::new(
            "test",
            serde_json::json!({"dim": 8, "depth": 2}),
            LatentNorm { mean: vec![0.0; 4], std: vec![1.0; 4] },
            SamplerDefaults { steps: 8, shift: 3.0 },
        ));
        let w: Vec<f32> = (0..24).map(|i| (i as f32 - 11.5) * 0.1).collect();
        p.insert("a.weight", Tensor::int8_per_channel(&[4, 6], &w, 1));
        p.insert("a.bias", Tensor::f32(&[6], vec![0.5; 6]));
        p.insert("b.norm", Tensor::f16(&[3], &[1.0, -2.0, 0.333]));
        p
    }

    #[test]
    fn round_trip_is_exact_and_reproducible() {
        let p = sample();
        let bytes = p.to_bytes().unwrap();
        assert_eq!(bytes, sample().to_bytes().unwrap());
        let back = Package::from_bytes(&bytes).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.to_bytes().unwrap(), bytes);
    }

    #[test]
    fn int8_dequantises_per_channel() {
        let w: Vec<f32> = (0..24).map(|i| (i as f32 - 11.5) * 0.1).collect();
        let t = Tensor::int8_per_channel(&[4, 6], &w, 1);
        let d = t.to_f32();
        for (i, (a, b)) in w.iter().zip(&d).enumerate() {
            let TensorData::I8 { scale, .. } = &t.data else { unreachable!() };
            assert!((a - b).abs() <= scale[i % 6] / 2.0 + 1e-6, "{i}: {a} vs {b}");
        }
        let t0 = Tensor::int8_per_channel(&[2, 3], &[1.0, 2.0, 3.0, -4.0, 0.0, 0.0], 0);
        assert_eq!(t0.to_f32()[3], -4.0);
    }

    #[test]
    fn bad_packages_are_errors() {
        assert!(matches!(Package::from_bytes(b"not a package"), Err(PackageError::Container(_))));
        let mut p = sample();
        p.manifest.version = 9;
        assert!(matches!(Package::from_bytes(&p.to_bytes().unwrap()), Err(PackageError::UnsupportedVersion(9))));
        let mut p = sample();
        p.manifest.format = "other".into();
        assert!(matches!(Package::from_bytes(&p.to_bytes().unwrap()), Err(PackageError::WrongFormat(_))));
        let views = [("x", TensorView::new(Dtype::I8, vec![2], &[1u8, 2]).unwrap())];
        let no_manifest = safetensors::serialize(views, None).unwrap();
        assert!(matches!(Package::from_bytes(&no_manifest), Err(PackageError::NoManifest)));
        let mut bytes = sample().to_bytes().unwrap();
        bytes.truncate(bytes.len() - 1);
        assert!(matches!(Package::from_bytes(&bytes), Err(PackageError::Container(_))));
        assert!(matches!(sample().tensor("nope"), Err(PackageError::MissingTensor(_))));
        let mut nan = sample();
        nan.insert("n", Tensor::f16(&[2], &[1.0, f32::NAN]));
        assert!(matches!(nan.to_bytes(), Err(PackageError::BadTensor { .. })));
    }

    /// Found by fuzzing: a NaN in an f16 tensor was accepted.
    #[test]
    fn non_finite_values_are_refused_on_read() {
        let nan_f16 = [0x00u8, 0x7e];
        let views = [("h", TensorView::new(Dtype::F16, vec![1], &nan_f16).unwrap())];
        let manifest = serde_json::to_string(&sample().manifest).unwrap();
        let meta = [(MANIFEST_KEY.to_string(), manifest)].into_iter().collect();
        let bytes = safetensors::serialize(views, Some(meta)).unwrap();
        let e = Package::from_bytes(&bytes).unwrap_err();
        assert!(e.to_string().contains("finite"), "{e}");
    }
}
