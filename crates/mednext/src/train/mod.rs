//! Training MedNeXt the way the reference trainers do: nnU-Net's Dice + cross-entropy loss (and a focal
//! variant) with deep supervision, AdamW / SGD-Nesterov with poly or cosine schedules and gradient clipping,
//! and a resumable training loop with atomic checkpoints.
//!
//! References: MIC-DKFZ/nnUNet (`nnunetv2/training/loss/compound_losses.py`, `dice.py`,
//! `deep_supervision.py`, `nnUNetTrainer.py`); MIC-DKFZ/MedNeXt (`nnUNetTrainerV2_Optim_and_LR`).

// -- modules (keep one `mod`/`pub mod` per line) --
pub mod batch_source;
pub mod checkpoint_io;
pub mod clip;
pub mod config;
pub mod deep_supervision;
pub mod history;
pub mod init;
pub mod loss;
pub mod optim;
pub mod run_dir;
pub mod schedule;
pub mod trainer;
pub mod validation;

// -- re-exports (keep one `pub use` per line) --
#[cfg(feature = "nnunet")]
pub use batch_source::{batch_to_tensors, nnunet_sources, NnunetBatches};
pub use batch_source::{BatchSource, FixedBatches, TrainBatch};
pub use checkpoint_io::export_model_weights;
pub use checkpoint_io::{
    read_checkpoint, read_training_state, write_checkpoint, Checkpoint, TrainingState,
};
pub use clip::clip_grad_norm;
pub use config::DiceReduction;
pub use config::{
    AugmentationKind, LossKind, OptimizerKind, RunConfig, ScheduleKind, TrainerConfig,
};
pub use deep_supervision::deep_supervision_weights_v2;
pub use deep_supervision::{deep_supervision_loss, deep_supervision_weights};
pub use history::{write_history_csv, EpochRecord};
pub use init::{initial_weights, load_into_varmap, read_model_tensors, InitMode};
pub use loss::{cross_entropy, focal, soft_dice, DiceCeConfig, FocalConfig, SegLoss};
pub use optim::{AdamW, AdamWConfig, Sgd, SgdConfig, TrainOptimizer};
pub use run_dir::{CheckpointKind, FoldId, RunDir};
pub use schedule::LrSchedule;
pub use trainer::{FitOutcome, Silent, TrainObserver, Trainer};
pub use validation::{ema_update, OnlineDice};
