//! Weights I/O: strict loading of original-named state dicts (safetensors, PyTorch `.pth`, nnU-Net `.model`
//! / `checkpoint_*.pth`), MONAI key renaming, saving, the expected key/shape listing and a seeded
//! `VarMap`-backed constructor for training.
//!
//! References: MIC-DKFZ/MedNeXt @ `0b78ed8` (`MedNextV1.py` registration order, `dummy_tensor`);
//! Project-MONAI/MONAI 1.6.1 `monai/networks/nets/mednext.py` (module names `enc_stages`, `down_blocks`,
//! `up_blocks`, `dec_stages`, `out_blocks`; down blocks use `exp_r[s]` instead of `exp_r[s+1]`); PyTorch
//! default initialisation (`torch/nn/modules/conv.py::_ConvNdBase.reset_parameters`). Checkpoint parsing is
//! delegated to the `upkern` crate.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::MedNextConfig;
use crate::error::{Error, Result};
use crate::model::{mednext, MedNext};

/// Named tensors in key order (the same type as `upkern::NamedTensors`).
pub type NamedTensors = BTreeMap<String, Tensor>;

/// The key of the original's checkpointing workaround parameter (`[1.0]`, never used by the maths).
pub const DUMMY_TENSOR: &str = "dummy_tensor";

/// How the keys of a state dict are spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyNaming {
    /// The original repository's names (`enc_block_0.0.conv1.weight`, `up_3.*`, `out_4.*`, `dummy_tensor`).
    Original,
    /// MONAI's names (`enc_stages.0.0.*`, `down_blocks.s`, `up_blocks.{3−s}`, `dec_stages.{3−s}`,
    /// `out_blocks.{4−i}`, `global_resp_gamma/beta`, no `dummy_tensor`).
    Monai,
}

impl KeyNaming {
    /// MONAI when any key starts with a MONAI-only module name, otherwise original.
    #[must_use]
    pub fn detect(tensors: &NamedTensors) -> Self {
        const MONAI: [&str; 5] = [
            "enc_stages.",
            "down_blocks.",
            "up_blocks.",
            "dec_stages.",
            "out_blocks.",
        ];
        if tensors
            .keys()
            .any(|k| MONAI.iter().any(|p| k.starts_with(p)))
        {
            KeyNaming::Monai
        } else {
            KeyNaming::Original
        }
    }
}

/// Renames one MONAI key to the original name (keys without a MONAI module prefix are returned unchanged).
///
/// ```text
/// enc_stages.s.j.*  -> enc_block_s.j.*        down_blocks.s.*   -> down_s.*
/// up_blocks.t.*     -> up_{3−t}.*             dec_stages.t.j.*  -> dec_block_{3−t}.j.*
/// out_blocks.t.*    -> out_{4−t}.*            *.global_resp_{gamma,beta} -> *.grn_{gamma,beta}
/// ```
#[must_use]
pub fn monai_key_to_original(key: &str) -> String {
    let (head, rest) = match key.split_once('.') {
        Some(p) => p,
        None => return key.to_string(),
    };
    let rest = rest
        .replace("global_resp_gamma", "grn_gamma")
        .replace("global_resp_beta", "grn_beta");
    let flip = |rest: &str, n: usize| -> Option<(usize, String)> {
        let (idx, tail) = rest.split_once('.')?;
        let t: usize = idx.parse().ok()?;
        (t <= n).then(|| (n - t, tail.to_string()))
    };
    let mapped = match head {
        "enc_stages" => rest
            .split_once('.')
            .map(|(s, tail)| format!("enc_block_{s}.{tail}")),
        "down_blocks" => rest
            .split_once('.')
            .map(|(s, tail)| format!("down_{s}.{tail}")),
        "up_blocks" => flip(&rest, 3).map(|(s, tail)| format!("up_{s}.{tail}")),
        "dec_stages" => flip(&rest, 3).map(|(s, tail)| format!("dec_block_{s}.{tail}")),
        "out_blocks" => flip(&rest, 4).map(|(i, tail)| format!("out_{i}.{tail}")),
        _ => Some(format!("{head}.{rest}")),
    };
    mapped.unwrap_or_else(|| key.to_string())
}

/// Renames one original key to MONAI's name (inverse of [`monai_key_to_original`]; `dummy_tensor` has no
/// MONAI name and maps to `None`).
#[must_use]
pub fn original_key_to_monai(key: &str) -> Option<String> {
    if key == DUMMY_TENSOR {
        return None;
    }
    let (head, tail) = key.split_once('.')?;
    let tail = tail
        .replace("grn_gamma", "global_resp_gamma")
        .replace("grn_beta", "global_resp_beta");
    let level = |prefix: &str| {
        head.strip_prefix(prefix)
            .and_then(|s| s.parse::<usize>().ok())
    };
    let name = if let Some(s) = level("enc_block_") {
        format!("enc_stages.{s}.{tail}")
    } else if let Some(s) = level("down_") {
        format!("down_blocks.{s}.{tail}")
    } else if let Some(s) = level("up_").filter(|&s| s <= 3) {
        format!("up_blocks.{}.{tail}", 3 - s)
    } else if let Some(s) = level("dec_block_").filter(|&s| s <= 3) {
        format!("dec_stages.{}.{tail}", 3 - s)
    } else if let Some(i) = level("out_").filter(|&i| (1..=4).contains(&i)) {
        format!("out_blocks.{}.{tail}", 4 - i)
    } else {
        format!("{head}.{tail}")
    };
    Some(name)
}

/// A `VarBuilder` backend that records every requested key, shape and initialisation and hands out
/// allocation-free broadcast zeros: it enumerates a configuration's state dict without building it.
struct Recorder {
    seen: Arc<Mutex<Vec<Requested>>>,
}

/// One tensor requested from a [`Recorder`]: key, shape, initialisation.
type Requested = (String, Vec<usize>, Init);

impl SimpleBackend for Recorder {
    fn get(
        &self,
        s: Shape,
        name: &str,
        h: Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push((name.to_string(), s.dims().to_vec(), h));
        }
        Tensor::zeros((), dtype, dev)?.broadcast_as(s)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> candle_core::Result<Tensor> {
        candle_core::bail!("shape recorder: `{name}` requested without a shape")
    }

    fn contains_tensor(&self, _: &str) -> bool {
        true
    }
}

fn record(cfg: &MedNextConfig) -> Result<Vec<Requested>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let backend: Box<dyn SimpleBackend> = Box::new(Recorder {
        seen: Arc::clone(&seen),
    });
    let vb = VarBuilder::from_backend(backend, DType::F32, Device::Cpu);
    mednext(cfg, vb)?;
    let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
    Ok(seen)
}

/// Every key of the original state dict of `cfg` with its shape, in registration order starting with
/// `dummy_tensor` (e.g. 365 entries for MedNeXt-M with deep supervision). Builds nothing.
///
/// # Errors
/// [`Error::InvalidParameter`] from [`MedNextConfig::check`].
pub fn state_dict_shapes(cfg: &MedNextConfig) -> Result<Vec<(String, Vec<usize>)>> {
    Ok(record(cfg)?.into_iter().map(|(k, s, _)| (k, s)).collect())
}

/// Number of parameter values of `cfg`, `dummy_tensor` included (PyTorch's
/// `sum(p.numel() for p in model.parameters())`; e.g. 17,550,955 for M k3, in 3, 2 classes, DS).
///
/// # Errors
/// As [`state_dict_shapes`].
pub fn parameter_count(cfg: &MedNextConfig) -> Result<usize> {
    Ok(state_dict_shapes(cfg)?
        .iter()
        .map(|(_, s)| s.iter().product::<usize>())
        .sum())
}

/// Reads the tensors of a weights file onto the CPU: safetensors, a PyTorch state dict, an nnU-Net v1
/// `.model` (`state_dict`) or an nnU-Net v2 checkpoint (`network_weights`); the format is detected from the
/// content and `module.` / `_orig_mod.` prefixes are stripped (via `upkern::read_checkpoint`).
///
/// # Errors
/// [`Error::Checkpoint`] naming the file and the reason.
pub fn read_weights(path: impl AsRef<Path>) -> Result<NamedTensors> {
    Ok(upkern::read_checkpoint(path)?)
}

/// Renames a MONAI-named state dict to original names and adds `dummy_tensor` (`[1.0]`).
///
/// # Errors
/// [`Error::UnexpectedTensor`] when two MONAI keys map to one original key.
pub fn monai_to_original(tensors: NamedTensors) -> Result<NamedTensors> {
    let mut out = NamedTensors::new();
    for (k, t) in tensors {
        let name = monai_key_to_original(&k);
        if let Some(prev) = out.insert(name.clone(), t) {
            return Err(Error::UnexpectedTensor {
                key: format!("{k} (duplicates `{name}`)"),
                shape: prev.dims().to_vec(),
            });
        }
    }
    if !out.contains_key(DUMMY_TENSOR) {
        out.insert(
            DUMMY_TENSOR.to_string(),
            Tensor::ones(1, DType::F32, &Device::Cpu)?,
        );
    }
    Ok(out)
}

/// Renames an original state dict of `cfg` to MONAI's names (dropping `dummy_tensor`).
///
/// MONAI's down block `s` uses the expansion ratio of its own level, `exp_r[s]`, where the original uses
/// `exp_r[s+1]`; the export is refused when they differ (B, M and L presets), because MONAI's network would
/// have other shapes.
///
/// # Errors
/// [`Error::MonaiIncompatible`] for such a configuration, or when `cfg` uses separate encoder/decoder kernel
/// sizes, `do_res != do_res_up_down`, or a non-group norm (MONAI has no such options).
pub fn original_to_monai(cfg: &MedNextConfig, tensors: &NamedTensors) -> Result<NamedTensors> {
    check_monai_compatible(cfg)?;
    Ok(tensors
        .iter()
        .filter_map(|(k, t)| original_key_to_monai(k).map(|m| (m, t.clone())))
        .collect())
}

/// Whether MONAI's `MedNeXt` has exactly the original's tensors for `cfg` (see [`original_to_monai`]).
///
/// # Errors
/// [`Error::MonaiIncompatible`] explaining the first difference.
pub fn check_monai_compatible(cfg: &MedNextConfig) -> Result<()> {
    cfg.check()?;
    for s in 0..4 {
        let (own, next) = (cfg.exp_ratio(s)?, cfg.exp_ratio(s + 1)?);
        if own != next {
            return Err(Error::MonaiIncompatible(format!(
                "down_{s} uses exp_r[{}] = {next} in the original but exp_r[{s}] = {own} in MONAI, so original \
                 weights of this configuration (e.g. the B/M/L presets) cannot be expressed with MONAI's \
                 MedNeXt, and MONAI weights do not fit it",
                s + 1
            )));
        }
    }
    if cfg.do_res != cfg.do_res_up_down {
        return Err(Error::MonaiIncompatible(
            "MONAI has one flag for block and up/down residuals; do_res != do_res_up_down".into(),
        ));
    }
    if cfg.norm_type != crate::config::NormType::Group {
        return Err(Error::MonaiIncompatible(
            "MONAI's layer norm differs from the original's".into(),
        ));
    }
    Ok(())
}

/// Compares `tensors` (original names) with the state dict of `cfg`: every required key present with the
/// right shape and no extra key; `dummy_tensor` is optional.
///
/// # Errors
/// [`Error::MissingTensor`], [`Error::UnexpectedTensor`] or [`Error::ShapeMismatch`] for the first offending
/// key (missing keys first, in registration order).
pub fn check_state_dict(cfg: &MedNextConfig, tensors: &NamedTensors) -> Result<()> {
    let expected = state_dict_shapes(cfg)?;
    for (key, shape) in &expected {
        match tensors.get(key) {
            None if key == DUMMY_TENSOR => {}
            None => {
                return Err(Error::MissingTensor {
                    key: key.clone(),
                    expected: shape.clone(),
                })
            }
            Some(t) if t.dims() != shape.as_slice() => {
                return Err(Error::ShapeMismatch {
                    key: key.clone(),
                    expected: shape.clone(),
                    found: t.dims().to_vec(),
                })
            }
            Some(_) => {}
        }
    }
    let known: std::collections::HashSet<&str> = expected.iter().map(|(k, _)| k.as_str()).collect();
    if let Some((k, t)) = tensors.iter().find(|(k, _)| !known.contains(k.as_str())) {
        return Err(Error::UnexpectedTensor {
            key: k.clone(),
            shape: t.dims().to_vec(),
        });
    }
    Ok(())
}

impl MedNext {
    /// Builds the network of `cfg` from a state dict, strictly: see [`check_state_dict`]. MONAI names are
    /// renamed first when `naming` is [`KeyNaming::Monai`]; a missing `dummy_tensor` is created as `[1.0]`.
    /// Tensors are converted to f32 on `device`.
    ///
    /// # Errors
    /// The typed key errors of [`check_state_dict`]; for MONAI weights whose shapes differ only in the down
    /// blocks, [`Error::MonaiIncompatible`]; [`Error::Candle`] when a dtype conversion or copy fails.
    pub fn from_named_tensors(
        cfg: &MedNextConfig,
        tensors: NamedTensors,
        naming: KeyNaming,
        device: &Device,
    ) -> Result<Self> {
        let mut tensors = match naming {
            KeyNaming::Original => tensors,
            KeyNaming::Monai => monai_to_original(tensors)?,
        };
        if let Err(e) = check_state_dict(cfg, &tensors) {
            return Err(match (&e, naming) {
                (Error::ShapeMismatch { key, .. }, KeyNaming::Monai)
                    if key.starts_with("down_") =>
                {
                    match check_monai_compatible(cfg) {
                        Err(m) => Error::MonaiIncompatible(format!("{e}: {m}")),
                        Ok(()) => e,
                    }
                }
                _ => e,
            });
        }
        if !tensors.contains_key(DUMMY_TENSOR) {
            tensors.insert(
                DUMMY_TENSOR.to_string(),
                Tensor::ones(1, DType::F32, device)?,
            );
        }
        let map = tensors
            .into_iter()
            .map(|(k, t)| Ok((k, t.to_dtype(DType::F32)?.to_device(device)?)))
            .collect::<candle_core::Result<_>>()?;
        mednext(cfg, VarBuilder::from_tensors(map, DType::F32, device))
    }

    /// Reads a weights file ([`read_weights`]; key naming detected by [`KeyNaming::detect`]) and builds the
    /// network of `cfg` from it ([`Self::from_named_tensors`]).
    ///
    /// # Errors
    /// As [`read_weights`] and [`Self::from_named_tensors`].
    pub fn from_file(cfg: &MedNextConfig, path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let tensors = read_weights(path)?;
        let naming = KeyNaming::detect(&tensors);
        Self::from_named_tensors(cfg, tensors, naming, device)
    }

    /// The state dict with original names (`dummy_tensor` included), detached and on the CPU.
    ///
    /// # Errors
    /// [`Error::Candle`] when a tensor cannot be copied to the CPU.
    pub fn state_dict(&self) -> Result<NamedTensors> {
        self.named_tensors()
            .into_iter()
            .map(|(k, t)| Ok((k, t.detach().to_device(&Device::Cpu)?)))
            .collect()
    }

    /// Writes the state dict ([`Self::state_dict`]) to a safetensors file (atomically), with the given
    /// key naming.
    ///
    /// # Errors
    /// [`Error::MonaiIncompatible`] (see [`original_to_monai`]); [`Error::Checkpoint`] when writing fails.
    pub fn save_safetensors(&self, path: impl AsRef<Path>, naming: KeyNaming) -> Result<()> {
        let sd = self.state_dict()?;
        let sd = match naming {
            KeyNaming::Original => sd,
            KeyNaming::Monai => original_to_monai(self.config(), &sd)?,
        };
        Ok(upkern::write_safetensors(path, &sd)?)
    }
}

/// A freshly initialised network whose parameters live in a [`VarMap`] (for training), seeded and
/// deterministic.
///
/// ```text
/// conv weights and biases ~ U(−1/√fan_in, 1/√fan_in)   (PyTorch defaults; fan_in = weight.dim(1)·k³)
/// norm weight 1, norm bias 0, grn 0, dummy_tensor 1
/// values drawn from ChaCha8(seed) in registration order
/// ```
///
/// # Errors
/// [`Error::InvalidParameter`] from [`MedNextConfig::check`]; [`Error::Candle`] on allocation failure.
pub fn new_trainable(cfg: &MedNextConfig, seed: u64, device: &Device) -> Result<(MedNext, VarMap)> {
    let varmap = VarMap::new();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    {
        let mut data = varmap
            .data()
            .lock()
            .map_err(|_| Error::Unsupported("VarMap lock poisoned".into()))?;
        for (name, shape, init) in record(cfg)? {
            let n: usize = shape.iter().product();
            let values: Vec<f32> = match init {
                Init::Const(v) => vec![v as f32; n],
                Init::Uniform { lo, up } => (0..n).map(|_| rng.gen_range(lo..up) as f32).collect(),
                other => {
                    return Err(Error::Unsupported(format!(
                        "initialisation {other:?} for `{name}`"
                    )));
                }
            };
            let t = Tensor::from_vec(values, shape, device)?;
            data.insert(name, Var::from_tensor(&t)?);
        }
    }
    let model = mednext(cfg, VarBuilder::from_varmap(&varmap, DType::F32, device))?;
    Ok((model, varmap))
}

/// The variables of `varmap` sorted by name (a deterministic order for optimisers; `VarMap::all_vars` is
/// in hash order).
#[must_use]
pub fn sorted_vars(varmap: &VarMap) -> Vec<Var> {
    let data = match varmap.data().lock() {
        Ok(d) => d,
        Err(p) => p.into_inner(),
    };
    let mut named: Vec<(&String, &Var)> = data.iter().collect();
    named.sort_by(|a, b| a.0.cmp(b.0));
    named.into_iter().map(|(_, v)| v.clone()).collect()
}
