//! Reading and writing named tensors: safetensors files and PyTorch checkpoints.
//!
//! Formats (reference: `reference/mednext.md` §11; MIC-DKFZ/nnUNet v1 `network_trainer.py::save_checkpoint`,
//! nnU-Net v2 `nnUNetTrainer.save_checkpoint`; PyTorch `torch.save` zip serialisation):
//!
//! | format | recognised by | tensors taken from |
//! | --- | --- | --- |
//! | safetensors | 8-byte little-endian header length followed by `{` | the whole file |
//! | PyTorch state dict (`.pth`, `.pt`) | zip file whose pickled top-level dict holds tensors | the top-level dict |
//! | nnU-Net v1 / MedNeXt `.model` | top-level dict with key `state_dict` | `obj["state_dict"]` |
//! | nnU-Net v2 `checkpoint_*.pth` | top-level dict with key `network_weights` | `obj["network_weights"]` |
//!
//! The format is detected from the file's content, never from its extension. Tensor data are decoded with
//! `candle_core::pickle` (which only reads a *top-level* key and silently yields nothing for a nested one,
//! hence the explicit inspection of the top-level object here). Key prefixes `module.` (DDP) and
//! `_orig_mod.` (torch.compile) are stripped, repeatedly, from the front of every key.

use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use candle_core::pickle::{Object, Stack};
use candle_core::{DType, Device, Tensor};
use safetensors::tensor::Dtype as StDtype;

use crate::error::{Error, Result};

/// Named tensors of one model in key order: a PyTorch `state_dict` on candle's CPU device.
pub type NamedTensors = BTreeMap<String, Tensor>;

/// The prefixes stripped from the front of every key (DDP wrappers and `torch.compile`).
const STRIPPED_PREFIXES: [&str; 2] = ["module.", "_orig_mod."];

/// The on-disk layout of a checkpoint, as detected by [`read_checkpoint_with_format`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CheckpointFormat {
    /// A safetensors file.
    Safetensors,
    /// A `torch.save`d plain state dict (`.pth`/`.pt`).
    StateDict,
    /// An nnU-Net v1 / MedNeXt `.model` checkpoint: the weights live under `"state_dict"`.
    NnUnetV1,
    /// An nnU-Net v2 `checkpoint_*.pth`: the weights live under `"network_weights"`.
    NnUnetV2,
}

impl CheckpointFormat {
    /// The top-level dictionary key the weights are stored under (`None` = the top-level object itself).
    #[must_use]
    pub fn weights_key(self) -> Option<&'static str> {
        match self {
            Self::NnUnetV1 => Some("state_dict"),
            Self::NnUnetV2 => Some("network_weights"),
            Self::Safetensors | Self::StateDict => None,
        }
    }
}

impl std::fmt::Display for CheckpointFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Safetensors => "safetensors",
            Self::StateDict => "PyTorch state dict",
            Self::NnUnetV1 => "nnU-Net v1 checkpoint (state_dict)",
            Self::NnUnetV2 => "nnU-Net v2 checkpoint (network_weights)",
        })
    }
}

/// Reads every tensor of a checkpoint (format auto-detected, see the module docs) onto the CPU.
///
/// Keys keep their original names minus any leading `module.` / `_orig_mod.`; dtypes are kept as stored.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be read; [`Error::NotACheckpoint`] for any other content;
/// [`Error::LegacyTorchFormat`] for a pre-1.6 `torch.save` file; [`Error::Corrupt`] for a truncated or
/// undecodable file; [`Error::NoTensors`] when no tensor is found (naming the locations tried and the
/// file's top-level keys); [`Error::DuplicateKey`] when prefix stripping makes two keys collide.
pub fn read_checkpoint(path: impl AsRef<Path>) -> Result<NamedTensors> {
    read_checkpoint_with_format(path).map(|(tensors, _)| tensors)
}

/// [`read_checkpoint`], also returning the detected [`CheckpointFormat`].
///
/// # Errors
///
/// As [`read_checkpoint`].
pub fn read_checkpoint_with_format(
    path: impl AsRef<Path>,
) -> Result<(NamedTensors, CheckpointFormat)> {
    let path = path.as_ref();
    let head = read_head(path)?;
    let (raw, format) = if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        read_torch_zip(path)?
    } else if head.first() == Some(&0x80) {
        return Err(Error::LegacyTorchFormat { path: path.into() });
    } else if looks_like_safetensors(&head) {
        (read_safetensors(path)?, CheckpointFormat::Safetensors)
    } else {
        return Err(Error::NotACheckpoint {
            path: path.into(),
            reason: format!(
                "unrecognised leading bytes {:02x?}",
                &head[..head.len().min(8)]
            ),
        });
    };
    let tensors = strip_prefixes(path, raw)?;
    if tensors.is_empty() {
        return Err(Error::NoTensors {
            path: path.into(),
            tried: vec![format.weights_key().unwrap_or("<top level>").to_owned()],
            top_level_keys: Vec::new(),
        });
    }
    Ok((tensors, format))
}

/// Writes named tensors to a safetensors file, atomically (a temporary file in the same folder, then a
/// rename), so that an interrupted run never leaves a half-written file under `path`.
///
/// Tensors are stored C-contiguous with their own dtype, in key order, without metadata.
///
/// # Errors
///
/// [`Error::Io`] if the temporary file cannot be created or renamed; [`Error::Write`] if serialisation
/// fails; [`Error::Candle`] if a tensor cannot be copied to host memory.
pub fn write_safetensors(path: impl AsRef<Path>, tensors: &NamedTensors) -> Result<()> {
    let path = path.as_ref();
    let mut host = Vec::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        if !matches!(
            tensor.dtype(),
            DType::U8
                | DType::U32
                | DType::I64
                | DType::F16
                | DType::BF16
                | DType::F32
                | DType::F64
        ) {
            return Err(Error::Write {
                path: path.into(),
                reason: format!(
                    "tensor `{name}`: dtype {:?} is not supported",
                    tensor.dtype()
                ),
            });
        }
        // On the CPU and contiguous, so that safetensors' byte view cannot fail.
        host.push((name.as_str(), tensor.to_device(&Device::Cpu)?.contiguous()?));
    }
    let tmp = temporary_sibling(path);
    let written = safetensors::serialize_to_file(host, None, &tmp).map_err(|e| Error::Write {
        path: path.into(),
        reason: e.to_string(),
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        Error::Io {
            path: path.into(),
            source,
        }
    })
}

// ---- detection ----------------------------------------------------------------------------------------

/// The first (up to) 16 bytes of the file.
fn read_head(path: &Path) -> Result<Vec<u8>> {
    let io = |source| Error::Io {
        path: path.into(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut head = Vec::with_capacity(16);
    file.by_ref().take(16).read_to_end(&mut head).map_err(io)?;
    Ok(head)
}

/// A safetensors file starts with a little-endian u64 header length followed by the JSON header.
fn looks_like_safetensors(head: &[u8]) -> bool {
    head.len() > 8 && head[8] == b'{'
}

// ---- safetensors --------------------------------------------------------------------------------------

fn read_safetensors(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let data = std::fs::read(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    let corrupt = |reason: String| Error::Corrupt {
        path: path.into(),
        reason,
    };
    let st = safetensors::SafeTensors::deserialize(&data).map_err(|e| corrupt(e.to_string()))?;
    st.tensors()
        .into_iter()
        .map(|(name, view)| {
            let dtype = candle_dtype(view.dtype()).ok_or_else(|| {
                corrupt(format!(
                    "tensor `{name}`: unsupported dtype {:?}",
                    view.dtype()
                ))
            })?;
            let tensor = Tensor::from_raw_buffer(view.data(), dtype, view.shape(), &Device::Cpu)
                .map_err(|e| corrupt(format!("tensor `{name}`: {e}")))?;
            Ok((name, tensor))
        })
        .collect()
}

/// The candle dtype of a safetensors dtype (the ones a model checkpoint plausibly holds).
fn candle_dtype(dtype: StDtype) -> Option<DType> {
    Some(match dtype {
        StDtype::U8 => DType::U8,
        StDtype::U32 => DType::U32,
        StDtype::I64 => DType::I64,
        StDtype::F16 => DType::F16,
        StDtype::BF16 => DType::BF16,
        StDtype::F32 => DType::F32,
        StDtype::F64 => DType::F64,
        _ => return None,
    })
}

// ---- PyTorch zip checkpoints --------------------------------------------------------------------------

/// Reads a `torch.save` zip file: inspects the pickled top-level object to find where the weights are,
/// then decodes them with `candle_core::pickle`.
fn read_torch_zip(path: &Path) -> Result<(Vec<(String, Tensor)>, CheckpointFormat)> {
    let corrupt = |reason: String| Error::Corrupt {
        path: path.into(),
        reason,
    };
    let (top, dir) = top_level_object(path)?;
    let Object::Dict(entries) = top else {
        return Err(Error::NoTensors {
            path: path.into(),
            tried: vec!["<top level>".into()],
            top_level_keys: Vec::new(),
        });
    };
    let n_top_tensors = entries
        .iter()
        .filter(|(k, v)| matches!(v.clone().into_tensor_info(k.clone(), &dir), Ok(Some(_))))
        .count();
    let mut keys: Vec<String> = entries
        .iter()
        .filter_map(|(k, _)| match k {
            Object::Unicode(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    keys.sort();
    let format = if n_top_tensors > 0 {
        CheckpointFormat::StateDict
    } else if keys.iter().any(|k| k == "state_dict") {
        CheckpointFormat::NnUnetV1
    } else if keys.iter().any(|k| k == "network_weights") {
        CheckpointFormat::NnUnetV2
    } else {
        return Err(Error::NoTensors {
            path: path.into(),
            tried: vec![
                "<top level>".into(),
                "state_dict".into(),
                "network_weights".into(),
            ],
            top_level_keys: keys,
        });
    };
    let tensors = candle_core::pickle::read_all_with_key(path, format.weights_key())
        .map_err(|e| corrupt(format!("decoding the {format}: {e}")))?;
    if tensors.is_empty() {
        return Err(Error::NoTensors {
            path: path.into(),
            tried: vec![format.weights_key().unwrap_or("<top level>").to_owned()],
            top_level_keys: keys,
        });
    }
    Ok((tensors, format))
}

/// The unpickled top-level object of the zip's `data.pkl` and the folder its storages live in.
fn top_level_object(path: &Path) -> Result<(Object, PathBuf)> {
    let corrupt = |reason: String| Error::Corrupt {
        path: path.into(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    let mut zip =
        zip::ZipArchive::new(BufReader::new(file)).map_err(|e| corrupt(format!("zip: {e}")))?;
    let pkl = zip
        .file_names()
        .filter_map(|name| name.ok().map(std::borrow::Cow::into_owned))
        .find(|name| name.ends_with("data.pkl"))
        .ok_or_else(|| Error::NotACheckpoint {
            path: path.into(),
            reason: "zip file without a `data.pkl` entry".into(),
        })?;
    let dir = PathBuf::from(pkl.trim_end_matches(".pkl"));
    let entry = zip
        .by_name(&pkl)
        .map_err(|e| corrupt(format!("zip entry {pkl}: {e}")))?;
    let mut reader = BufReader::new(entry);
    let mut stack = Stack::empty();
    stack
        .read_loop(&mut reader)
        .map_err(|e| corrupt(format!("unpickling {pkl}: {e}")))?;
    let top = stack
        .finalize()
        .map_err(|e| corrupt(format!("unpickling {pkl}: {e}")))?;
    Ok((top, dir))
}

// ---- keys ---------------------------------------------------------------------------------------------

/// Strips `module.` / `_orig_mod.` from the front of every key and sorts the tensors by key.
fn strip_prefixes(path: &Path, raw: Vec<(String, Tensor)>) -> Result<NamedTensors> {
    let mut out = NamedTensors::new();
    for (key, tensor) in raw {
        let mut name = key.as_str();
        while let Some(rest) = STRIPPED_PREFIXES.iter().find_map(|p| name.strip_prefix(p)) {
            name = rest;
        }
        if out.insert(name.to_owned(), tensor).is_some() {
            return Err(Error::DuplicateKey {
                path: path.into(),
                key: name.to_owned(),
            });
        }
    }
    Ok(out)
}

/// `dir/.name.tmp-<pid>` next to `path`.
fn temporary_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}
