//! UpKern: transfer a trained state dict to a model with larger (or smaller) convolution kernels.
//!
//! Reference: Roy et al., "MedNeXt", MICCAI 2023, §2.3 (UpKern); MIC-DKFZ/MedNeXt @ `0b78ed8`
//! `nnunet_mednext/run/load_weights.py::upkern_load_weights` and `run/load_pretrained_weights.py`;
//! `reference/mednext.md` §12. The original, per key of the target model:
//!
//! ```text
//! name contains "bias", "norm" or "dummy"      → copy the source tensor verbatim
//! otherwise (a conv weight (C_out, C_in/g, k…)) → require dims 0 and 1 equal;
//!     same spatial dims                        → copy
//!     different spatial dims                   → F.interpolate(src, size=k_target, 'trilinear', align_corners=False)
//! ```
//!
//! followed by a strict `load_state_dict`. Here the same rules are applied to named tensors, with the
//! failures of that strict load (and the original's warnings for unmatched keys) turned into typed errors:
//! a key missing on either side, a rank or channel mismatch, or a shape change of a tensor the original
//! would copy verbatim. 3-D weights (rank 5) are resized trilinearly, 2-D weights (rank 4) bilinearly.

use std::collections::BTreeMap;

use crate::checkpoint::NamedTensors;
use crate::error::{Error, Result};
use crate::report::UpKernReport;
use crate::resample::resize_trailing;

/// Name fragments of the tensors the original copies without looking at their shape.
const VERBATIM_FRAGMENTS: [&str; 3] = ["bias", "norm", "dummy"];

/// Transfers `source` (a trained state dict) to a model whose tensors have `target_shapes`, resizing the
/// spatial kernel dims that differ and copying everything else bit-exactly.
///
/// ```text
/// for key in target_shapes:
///     shape equal                        → copy (same storage, bit-exact)
///     rank 5 / rank 4, dims 0, 1 equal   → resize the trailing 3 / 2 dims ([`crate::resize_kernel`])
///     anything else                      → error
/// ```
///
/// For MedNeXt k3 → k5 exactly the depthwise `*.conv1.weight` tensors of every block, down block and up
/// block change (42 of 365 tensors for MedNeXt-M); biases, norms, `dummy_tensor`, 1×1×1 convs, the stem and
/// the (transposed-layout) heads are copied.
///
/// # Errors
///
/// [`Error::MissingKey`] for a target key absent from `source`; [`Error::UnexpectedKey`] for a source key
/// the target lacks; [`Error::ShapeMismatch`] (naming the key and both shapes) when the ranks or the
/// leading (channel) dims differ, when the rank is neither 4 nor 5, or when a `bias`/`norm`/`dummy` tensor
/// changes shape; [`Error::Candle`] from tensor conversion.
pub fn upkern(
    source: &NamedTensors,
    target_shapes: &BTreeMap<String, Vec<usize>>,
) -> Result<(NamedTensors, UpKernReport)> {
    let mut out = NamedTensors::new();
    let mut report = UpKernReport::default();
    for (key, target) in target_shapes {
        let tensor = source.get(key).ok_or_else(|| Error::MissingKey {
            key: key.clone(),
            target_shape: target.clone(),
        })?;
        let src = tensor.dims();
        if src == target.as_slice() {
            out.insert(key.clone(), tensor.clone());
            report.copied.push(key.clone());
            continue;
        }
        let mismatch = |reason: &str| Error::ShapeMismatch {
            key: key.clone(),
            source_shape: src.to_vec(),
            target_shape: target.clone(),
            reason: reason.into(),
        };
        if VERBATIM_FRAGMENTS.iter().any(|f| key.contains(f)) {
            return Err(mismatch(
                "UpKern copies bias/norm/dummy tensors verbatim, so their shapes must agree",
            ));
        }
        if src.len() != target.len() {
            return Err(mismatch("ranks differ"));
        }
        if !matches!(src.len(), 4 | 5) {
            return Err(mismatch(
                "only 2-D (rank 4) and 3-D (rank 5) convolution kernels can be resized",
            ));
        }
        if src[..2] != target[..2] {
            return Err(mismatch(
                "channel dims (0, 1) differ; UpKern only changes the kernel size",
            ));
        }
        let resized = resize_trailing(tensor, &target[2..]).map_err(|e| match e {
            Error::ShapeMismatch { reason, .. } => mismatch(&reason),
            other => other,
        })?;
        out.insert(key.clone(), resized);
        report
            .resized
            .push((key.clone(), src.to_vec(), target.clone()));
    }
    if let Some((key, tensor)) = source.iter().find(|(k, _)| !target_shapes.contains_key(*k)) {
        return Err(Error::UnexpectedKey {
            key: key.clone(),
            source_shape: tensor.dims().to_vec(),
        });
    }
    Ok((out, report))
}

/// The shapes of a state dict, e.g. to build `target_shapes` from a freshly initialised model.
#[must_use]
pub fn shapes_of(tensors: &NamedTensors) -> BTreeMap<String, Vec<usize>> {
    tensors
        .iter()
        .map(|(k, t)| (k.clone(), t.dims().to_vec()))
        .collect()
}
