//! Initial weights for a training run from an earlier model: stage 2 of the paper (a k5 MedNeXt initialised
//! from a trained k3 one with UpKern) or a plain warm start with equal shapes.
//!
//! ```text
//! source = model tensors of a trainer checkpoint, or any weights file (safetensors / .pth / .model;
//!          MONAI names renamed to original ones)
//! Exact:  every tensor of the target configuration taken verbatim (shapes must agree; strict key check)
//! UpKern: upkern(source, target shapes): conv kernels of another spatial size resized trilinearly
//!         (align_corners = False), everything else copied
//! ```
//!
//! References: MIC-DKFZ/MedNeXt @ `0b78ed8` `nnunet_mednext/run/load_weights.py`
//! (`upkern_load_weights`, `load_pretrained_weights_resampling`); `/work/shared/reference/mednext.md` §12
//! (the k5 run starts from the k3 `model_best` of the same fold, with a fresh optimiser).

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::DType;
use candle_nn::VarMap;

use crate::config::MedNextConfig;
use crate::error::{Error, Result};
use crate::train::checkpoint_io::{read_checkpoint, METADATA_KEY};
use crate::weights::{
    check_state_dict, monai_to_original, read_weights, state_dict_shapes, KeyNaming, NamedTensors,
    DUMMY_TENSOR,
};

/// How the source weights map onto the new network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitMode {
    /// Shapes must agree; tensors are copied.
    #[default]
    Exact,
    /// UpKern: kernels of another size are resampled (k3 → k5 …).
    UpKern,
}

/// Reads the model tensors of `path` (a trainer checkpoint or any weights file) with original key names.
///
/// # Errors
/// [`Error::Io`], [`Error::Checkpoint`] or [`Error::CheckpointMetadata`] naming the file.
pub fn read_model_tensors(path: impl AsRef<Path>) -> Result<NamedTensors> {
    let path = path.as_ref();
    if is_trainer_checkpoint(path) {
        return Ok(read_checkpoint(path)?.model);
    }
    let tensors = read_weights(path)?;
    match KeyNaming::detect(&tensors) {
        KeyNaming::Original => Ok(tensors),
        KeyNaming::Monai => monai_to_original(tensors),
    }
}

fn is_trainer_checkpoint(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    safetensors::SafeTensors::read_metadata(&bytes)
        .ok()
        .and_then(|(_, m)| m.metadata().as_ref().map(|m| m.contains_key(METADATA_KEY)))
        .unwrap_or(false)
}

/// The initial state dict of `target` from `source` (module docs).
///
/// # Errors
/// [`Error::MissingTensor`] / [`Error::ShapeMismatch`] / [`Error::UnexpectedTensor`] ([`InitMode::Exact`]);
/// [`Error::Checkpoint`] from UpKern (a missing key or an incompatible shape).
pub fn initial_weights(
    source: &NamedTensors,
    target: &MedNextConfig,
    mode: InitMode,
) -> Result<NamedTensors> {
    let mut source = source.clone();
    if !source.contains_key(DUMMY_TENSOR) {
        source.insert(
            DUMMY_TENSOR.to_string(),
            candle_core::Tensor::ones(1, DType::F32, &candle_core::Device::Cpu)?,
        );
    }
    match mode {
        InitMode::Exact => {
            check_state_dict(target, &source)?;
            Ok(source)
        }
        InitMode::UpKern => {
            let shapes: BTreeMap<String, Vec<usize>> =
                state_dict_shapes(target)?.into_iter().collect();
            let (out, _report) = upkern::upkern(&source, &shapes)?;
            check_state_dict(target, &out)?;
            Ok(out)
        }
    }
}

/// Overwrites the variables of `varmap` (a network built by [`crate::new_trainable`]) with `tensors`
/// (original keys; every variable must be present with its shape).
///
/// # Errors
/// [`Error::MissingTensor`] or [`Error::ShapeMismatch`] naming the key; [`Error::Candle`].
pub fn load_into_varmap(varmap: &VarMap, tensors: &NamedTensors) -> Result<()> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| Error::Unsupported("VarMap lock poisoned".into()))?;
    for (name, var) in data.iter() {
        let t = tensors.get(name).ok_or_else(|| Error::MissingTensor {
            key: name.clone(),
            expected: var.dims().to_vec(),
        })?;
        if t.dims() != var.dims() {
            return Err(Error::ShapeMismatch {
                key: name.clone(),
                expected: var.dims().to_vec(),
                found: t.dims().to_vec(),
            });
        }
        var.set(&t.to_dtype(var.dtype())?.to_device(var.device())?)?;
    }
    Ok(())
}
