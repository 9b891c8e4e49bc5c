//! Segmentation inference with MedNeXt (feature `nnunet`): networks as sliding-window tile predictors, fold
//! and model ensembles, loading from training runs or bare checkpoints, and whole raw cases to the MAMA-MIA
//! challenge output (`pred_segmentations/<patient_id>.nii.gz`, binary, original grid and affine).
//!
//! ```text
//! resolve_models(run | run/fold_k | weights file) → ModelSpec* → load_model → Predictor*
//! EnsemblePredictor(Predictor*) → predict_case(case, plans, breast box, InferenceConfig) → CasePrediction
//! write_case_prediction(out_dir, id, prediction)
//! ```
//!
//! References: nnU-Net v2.8.1 `nnunetv2/inference/predict_from_raw_data.py`, `export_prediction.py`;
//! nnU-Net v1 1.7.1 `nnunet/inference/predict.py`; the MAMA-MIA sample submission; see the sub-modules.
#![cfg(feature = "nnunet")]

mod case;
mod load;
mod predictor;

pub use case::{
    check_plan, mask_path, predict_case, predict_preprocessed, probability_path,
    write_case_prediction, CasePrediction, InferenceConfig, PredictionStats, Probabilities, Tta,
    PRED_SEGMENTATIONS_DIR, PROBABILITIES_DIR,
};
pub use load::{
    load_model, model_weights, pick_checkpoint, read_model_config, resolve_models,
    CheckpointChoice, ModelSpec, FOLD_PREFIX, OPTIMIZER_PREFIX, RUN_CONFIG_FILE, RUN_PLANS_FILE,
};
pub use predictor::{EnsemblePredictor, Predictor};
