//! # snn
//!
//! Self-normalizing network (Klambauer et al., "Self-Normalizing Neural Networks", NeurIPS 2017) on candle,
//! with the feature pipeline, calibration and model bundle used for pCR classification in Musah, "Large
//! Kernel MedNeXt for Breast Tumor Segmentation and Self-Normalizing Network for pCR Classification in MRI"
//! (seed code toufiqmusah/caladan-mama-mia @ `06e60fb`, `pcr-classification/pcr_classifier.py`).
//!
//! | part | items | reference |
//! | --- | --- | --- |
//! | network | [`Snn`], [`snn`], [`new_trainable`], [`selu`], [`AlphaDropout`] | Klambauer 2017; PyTorch `SELU`, `AlphaDropout` |
//! | training | [`train`], [`bce_with_logits`], [`TrainConfig`] | PyTorch `BCEWithLogitsLoss`, AdamW |
//! | calibration | [`fit_temperature`], [`select_threshold`] | Guo et al. 2017; MAMA-MIA Task 2 |
//! | features | [`FeatureTable`], [`Standardizer`], [`correlation_filter`], [`stratified_kfold`], [`LogisticRegression`], [`sequential_feature_selection`], [`select_features`] | scikit-learn `StandardScaler`, `StratifiedKFold`, `LogisticRegression`, `SequentialFeatureSelector` |
//! | persistence | [`ModelBundle`] | safetensors + JSON |
//! | evaluation | [`pcr_report`], [`write_reliability_png`] | `medmetrics` (scikit-learn metrics, MAMA-MIA Task 2 scoring) |
//!
//! Features: `cuda` compiles candle's CUDA backend in (choose the device in the binary).
//!
//! NaN/Inf policy: non-finite feature values are rejected with [`Error::NonFinite`] naming the case and the
//! feature; nothing is imputed.
//!
//! # Example
//!
//! ```rust
//! use snn::{select_threshold, fit_temperature, sigmoid};
//! let logits = [-4.0, -3.0, -1.0, 0.5, 2.0, 3.0, -0.2, 4.0];
//! let y = [0u8, 0, 1, 0, 1, 1, 0, 1];
//! let t = fit_temperature(&logits, &y).unwrap();
//! assert!(t > 0.0);
//! let probs: Vec<f64> = logits.iter().map(|&z| sigmoid(z / t)).collect();
//! let th = select_threshold(&probs, &y).unwrap();
//! assert_eq!(th.balanced_accuracy, 0.875); // cut between 0.5 (a negative) and 2.0
//! ```
#![deny(missing_docs)]

mod error;
// -- modules (keep one `mod`/`pub mod` per line) --
mod bundle;
mod calibrate;
mod config;
mod features;
mod model;
mod plot;
mod report;
mod train;

pub use error::{Error, Result};
// -- re-exports (keep one `pub use` per line) --
pub use bundle::{ModelBundle, Predictions, BUNDLE_FORMAT_VERSION, METADATA_FILE, WEIGHTS_FILE};
pub use calibrate::{
    apply_temperature, fit_temperature, nll, select_threshold, sigmoid, Threshold,
    TEMPERATURE_RANGE,
};
pub use config::{EarlyStopping, Init, PosWeight, SnnConfig, TrainConfig};
pub use features::correlation::{
    abs_correlation, correlation_filter, CorrelationRule, DEFAULT_CORRELATION_THRESHOLD,
};
pub use features::kfold::{stratified_fold_ids, stratified_kfold, Fold, Shuffle};
pub use features::logistic::{LogisticModel, LogisticRegression};
pub use features::pipeline::{select_features, FeatureSelection, PipelineConfig};
pub use features::scale::Standardizer;
pub use features::sfs::{
    sequential_feature_selection, Direction, Estimator, Scoring, Selection, SfsConfig,
};
pub use features::snn_estimator::SnnEstimator;
pub use features::table::FeatureTable;
pub use model::{
    alpha_dropout_affine, layer_names, layer_shapes, new_trainable, selu, snn, AlphaDropout, Snn,
    SELU_ALPHA, SELU_LAMBDA,
};
pub use plot::{write_reliability_png, CURVE_COLOURS, PLOT_SIZE};
pub use report::{pcr_report, PcrReport, ECE_BINS};
pub use train::{
    bce_with_logits, check_finite, check_training_data, predict_logits, sorted_vars, train,
    TrainHistory, Trained,
};
