//! One self-contained model bundle: `model.safetensors` (weights) + `model.json` (architecture, fitted scaler,
//! selected feature names, temperature, threshold, format version), so prediction needs nothing else.
//!
//! Weight keys mirror the seed code's PyTorch state dict (`fc{i}.weight`, `fc{i}.bias`; toufiqmusah/
//! caladan-mama-mia @ `06e60fb`); the file format is Hugging Face safetensors written by candle.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use serde::{Deserialize, Serialize};

use crate::calibrate::apply_temperature;
use crate::config::SnnConfig;
use crate::features::scale::Standardizer;
use crate::features::table::FeatureTable;
use crate::model::{layer_names, layer_shapes, snn, Snn};
use crate::train::predict_logits;
use crate::{Error, Result};

/// The bundle format this build reads and writes.
pub const BUNDLE_FORMAT_VERSION: u32 = 1;
/// File name of the weights inside a bundle folder.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// File name of the metadata inside a bundle folder.
pub const METADATA_FILE: &str = "model.json";

/// The metadata of a bundle (`model.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelBundle {
    /// [`BUNDLE_FORMAT_VERSION`] at writing time.
    pub format_version: u32,
    /// The network's architecture.
    pub architecture: SnnConfig,
    /// Input feature names, in the network's column order (radiomics first, then covariates if any).
    pub feature_names: Vec<String>,
    /// The standardiser fitted on the training rows, one entry per feature name.
    pub scaler: Standardizer,
    /// Temperature `T` of `σ(z/T)`.
    pub temperature: f64,
    /// Predict pCR when the calibrated probability exceeds this.
    pub threshold: f64,
    /// Names among `feature_names` that are clinical covariates (empty by default).
    #[serde(default)]
    pub clinical_covariates: Vec<String>,
    /// Free-form training summary (metrics, settings), not needed for prediction.
    #[serde(default)]
    pub training_summary: serde_json::Value,
}

/// Predictions of a bundle on a feature table.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// Case identifiers.
    pub ids: Vec<String>,
    /// Raw logits.
    pub logits: Vec<f64>,
    /// Calibrated probabilities `σ(z/T)`.
    pub probabilities: Vec<f64>,
    /// `probability > threshold`.
    pub labels: Vec<u8>,
}

impl ModelBundle {
    /// Writes `dir/model.json` and `dir/model.safetensors` (creating `dir`).
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Json`], candle errors writing the weights.
    pub fn save(&self, dir: &Path, varmap: &VarMap) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let meta = dir.join(METADATA_FILE);
        let text = serde_json::to_string_pretty(self).map_err(|source| Error::Json {
            path: meta.clone(),
            source,
        })?;
        std::fs::write(&meta, text).map_err(|source| Error::Io {
            path: meta.clone(),
            source,
        })?;
        varmap.save(dir.join(WEIGHTS_FILE))?;
        Ok(())
    }

    /// Reads a bundle folder and builds its network on `device`.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Json`]; [`Error::IncompatibleBundle`] for another `format_version` (checked
    /// before anything else is parsed); [`Error::BundleWeights`] for a missing or misshapen tensor;
    /// [`Error::InvalidParameter`] when the scaler or names do not match the architecture.
    pub fn load(dir: &Path, device: &Device) -> Result<(Self, Snn)> {
        let meta = dir.join(METADATA_FILE);
        let text = std::fs::read_to_string(&meta).map_err(|source| Error::Io {
            path: meta.clone(),
            source,
        })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| Error::Json {
                path: meta.clone(),
                source,
            })?;
        let found = value
            .get("format_version")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if found != u64::from(BUNDLE_FORMAT_VERSION) {
            return Err(Error::IncompatibleBundle {
                path: meta,
                found: u32::try_from(found).unwrap_or(u32::MAX),
                supported: BUNDLE_FORMAT_VERSION,
            });
        }
        let bundle: Self = serde_json::from_value(value).map_err(|source| Error::Json {
            path: meta.clone(),
            source,
        })?;
        bundle.architecture.check()?;
        let d = bundle.architecture.input_dim;
        if bundle.feature_names.len() != d
            || bundle.scaler.n_features() != d
            || bundle.scaler.scales.len() != d
        {
            return Err(Error::InvalidParameter {
                key: "feature_names",
                reason: format!(
                    "{}: {} names and {} scaler entries for input_dim {d}",
                    meta.display(),
                    bundle.feature_names.len(),
                    bundle.scaler.n_features()
                ),
            });
        }
        let wpath = dir.join(WEIGHTS_FILE);
        let tensors =
            candle_core::safetensors::load(&wpath, device).map_err(|e| Error::BundleWeights {
                path: wpath.clone(),
                reason: e.to_string(),
            })?;
        check_weights(&tensors, &bundle.architecture, &wpath)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        let net = snn(&bundle.architecture, 0, vb)?;
        Ok((bundle, net))
    }

    /// Predicts `table` (columns looked up by name; extra columns ignored).
    ///
    /// # Errors
    /// [`Error::MissingFeature`] naming the first absent feature; [`Error::NonFinite`] naming case and
    /// feature; candle errors.
    pub fn predict(
        &self,
        model: &Snn,
        table: &FeatureTable,
        device: &Device,
    ) -> Result<Predictions> {
        let sel = table.select(&self.feature_names)?;
        sel.check_finite()?;
        let z = self.scaler.transform(sel.values.view())?;
        let logits = predict_logits(model, z.view(), device)?;
        let probabilities = apply_temperature(&logits, self.temperature);
        let labels = probabilities
            .iter()
            .map(|&p| u8::from(p > self.threshold))
            .collect();
        Ok(Predictions {
            ids: sel.ids,
            logits,
            probabilities,
            labels,
        })
    }
}

fn check_weights(tensors: &HashMap<String, Tensor>, cfg: &SnnConfig, path: &Path) -> Result<()> {
    for (name, (o, i)) in layer_names(cfg).into_iter().zip(layer_shapes(cfg)) {
        for (key, shape) in [
            (format!("{name}.weight"), vec![o, i]),
            (format!("{name}.bias"), vec![o]),
        ] {
            match tensors.get(&key) {
                None => {
                    return Err(Error::BundleWeights {
                        path: path.to_path_buf(),
                        reason: format!("missing tensor `{key}`"),
                    })
                }
                Some(t) if t.dims() != shape.as_slice() => {
                    return Err(Error::BundleWeights {
                        path: path.to_path_buf(),
                        reason: format!(
                            "tensor `{key}` has shape {:?}, the architecture needs {shape:?}",
                            t.dims()
                        ),
                    })
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}
