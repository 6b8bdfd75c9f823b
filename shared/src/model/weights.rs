//! Named, shaped f32 weights, from a PyTorch checkpoint or a `.lvm` package, and the
//! helpers that put them into burn layers with their shapes checked.

use std::collections::BTreeMap;

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{GroupNorm, GroupNormConfig, Initializer, Linear, PaddingConfig2d};
use burn::tensor::{Device, Tensor, TensorData};

use crate::package::{Package, PackageError};

#[derive(Debug, thiserror::Error)]
pub enum WeightError {
    #[error("missing weight {0}")]
    Missing(String),
    #[error("weight {name} has shape {got:?}, expected {want:?}")]
    Shape { name: String, got: Vec<usize>, want: Vec<usize> },
    #[error("{path}: {message}")]
    Checkpoint { path: String, message: String },
    #[error("{path}: SHA-256 is {got}, expected {want} (wrong or damaged file)")]
    Digest { path: String, got: String, want: String },
    #[error(transparent)]
    Package(#[from] PackageError),
}

/// Name -> (shape, values).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Weights {
    map: BTreeMap<String, (Vec<usize>, Vec<f32>)>,
}

impl Weights {
    pub fn insert(&mut self, name: impl Into<String>, shape: Vec<usize>, values: Vec<f32>) {
        assert_eq!(shape.iter().product::<usize>(), values.len(), "shape and values disagree");
        self.map.insert(name.into(), (shape, values));
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[usize], &[f32])> {
        self.map.iter().map(|(n, (s, v))| (n.as_str(), s.as_slice(), v.as_slice()))
    }

    /// The values of `name`, which must have shape `want`.
    pub fn get(&self, name: &str, want: &[usize]) -> Result<&[f32], WeightError> {
        let (shape, values) = self.map.get(name).ok_or_else(|| WeightError::Missing(name.into()))?;
        if shape != want {
            return Err(WeightError::Shape { name: name.into(), got: shape.clone(), want: want.to_vec() });
        }
        Ok(values)
    }

    pub fn tensor<const D: usize>(&self, name: &str, shape: [usize; D], device: &Device) -> Result<Tensor<D>, WeightError> {
        let values = self.get(name, &shape)?.to_vec();
        Ok(Tensor::from_data(TensorData::new(values, shape), device))
    }

    /// The tensors of a package whose names start with `prefix`, the prefix removed,
    /// dequantised exactly as every user of the package sees them.
    pub fn from_package(package: &Package, prefix: &str) -> Self {
        let mut w = Self::default();
        for (name, t) in &package.tensors {
            if let Some(rest) = name.strip_prefix(prefix) {
                w.insert(rest, t.shape.clone(), t.to_f32());
            }
        }
        w
    }

    /// The f32 or f16 tensors of a plain safetensors file (as `train/` writes them) and
    /// its metadata.
    pub fn from_safetensors(bytes: &[u8]) -> Result<(Self, BTreeMap<String, String>), WeightError> {
        use safetensors::{Dtype, SafeTensors};
        let err = |message: String| WeightError::Checkpoint { path: "safetensors".into(), message };
        let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| err(e.to_string()))?;
        let mut w = Self::default();
        for (name, view) in SafeTensors::deserialize(bytes).map_err(|e| err(e.to_string()))?.iter() {
            let values: Vec<f32> = match view.dtype() {
                Dtype::F32 => crate::package::f32_le(view.data()),
                Dtype::F16 => view.data().chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
                other => return Err(err(format!("{name}: dtype {other:?} is not f32 or f16"))),
            };
            if values.len() != view.shape().iter().product::<usize>() {
                return Err(err(format!("{name}: {} values for shape {:?}", values.len(), view.shape())));
            }
            w.insert(name, view.shape().to_vec(), values);
        }
        Ok((w, meta.metadata().iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect()))
    }

    /// Reads a PyTorch checkpoint (zip or legacy pickle) whose SHA-256 must be `sha256`.
    #[cfg(feature = "pytorch")]
    pub fn from_pth(path: &std::path::Path, sha256: &str) -> Result<Self, WeightError> {
        use pytorch_reader::{DType, PytorchReader};
        let p = path.display().to_string();
        let err = |message: String| WeightError::Checkpoint { path: p.clone(), message };
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        let got = crate::to_hex(&crate::package::sha256(&bytes));
        if got != sha256 {
            return Err(WeightError::Digest { path: p, got, want: sha256.into() });
        }
        let reader = PytorchReader::new(path).map_err(|e| err(e.to_string()))?;
        let mut w = Self::default();
        for (name, t) in reader.into_tensors() {
            let raw = t.read().map_err(|e| err(format!("{name}: {e}")))?;
            let values: Vec<f32> = match t.dtype() {
                DType::F32 => crate::package::f32_le(&raw),
                DType::F16 => raw.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
                DType::BF16 => raw.chunks_exact(2).map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
                other => return Err(err(format!("{name}: dtype {other:?} is not a float"))),
            };
            if values.len() != t.shape().iter().product::<usize>() {
                return Err(err(format!("{name}: {} values for shape {:?}", values.len(), t.shape())));
            }
            w.insert(name, t.shape().to_vec(), values);
        }
        Ok(w)
    }
}

/// A square conv with "same" padding, loaded from `{prefix}weight` and `{prefix}bias`.
pub fn conv2d(
    w: &Weights,
    prefix: &str,
    [cin, cout]: [usize; 2],
    kernel: usize,
    stride: usize,
    bias: bool,
    device: &Device,
) -> Result<Conv2d, WeightError> {
    let p = kernel / 2;
    let mut conv = Conv2dConfig::new([cin, cout], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .with_bias(bias)
        .with_initializer(Initializer::Zeros)
        .init(device);
    conv.weight = Param::from_tensor(w.tensor(&format!("{prefix}weight"), [cout, cin, kernel, kernel], device)?);
    if bias {
        conv.bias = Some(Param::from_tensor(w.tensor(&format!("{prefix}bias"), [cout], device)?));
    }
    Ok(conv)
}

/// An affine GroupNorm (eps 1e-5) loaded from `{prefix}weight` and `{prefix}bias`.
pub fn group_norm(w: &Weights, prefix: &str, groups: usize, channels: usize, device: &Device) -> Result<GroupNorm, WeightError> {
    let mut norm = GroupNormConfig::new(groups, channels).init(device);
    norm.gamma = Some(Param::from_tensor(w.tensor(&format!("{prefix}weight"), [channels], device)?));
    norm.beta = Some(Param::from_tensor(w.tensor(&format!("{prefix}bias"), [channels], device)?));
    Ok(norm)
}

/// Sets a linear layer's weight [in, out] and bias [out] from `{prefix}weight` and `{prefix}bias`.
pub fn load_linear(w: &Weights, prefix: &str, linear: &mut Linear, device: &Device) -> Result<(), WeightError> {
    let [i, o] = linear.weight.dims();
    linear.weight = Param::from_tensor(w.tensor(&format!("{prefix}weight"), [i, o], device)?);
    linear.bias = Some(Param::from_tensor(w.tensor(&format!("{prefix}bias"), [o], device)?));
    Ok(())
}

/// Adds a linear layer's weight and bias to `w` (a host read-back: native only).
pub fn save_linear(w: &mut Weights, prefix: &str, linear: &Linear) {
    let read = |t: Tensor<2>| -> (Vec<usize>, Vec<f32>) { (t.dims().to_vec(), t.into_data().convert::<f32>().try_into_vec().expect("f32 weights")) };
    let (shape, values) = read(linear.weight.val());
    w.insert(format!("{prefix}weight"), shape, values);
    let bias = linear.bias.as_ref().expect("linear layers have a bias").val();
    let n = bias.dims()[0];
    w.insert(format!("{prefix}bias"), vec![n], bias.into_data().convert::<f32>().try_into_vec().expect("f32 weights"));
}
