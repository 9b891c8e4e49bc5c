//! Training MedNeXt the way the reference trainers do: nnU-Net's Dice + cross-entropy loss (and a focal
//! variant) with deep supervision, AdamW / SGD-Nesterov with poly or cosine schedules and gradient clipping,
//! and a resumable training loop with atomic checkpoints.
//!
//! References: MIC-DKFZ/nnUNet (`nnunetv2/training/loss/compound_losses.py`, `dice.py`,
//! `deep_supervision.py`, `nnUNetTrainer.py`); MIC-DKFZ/MedNeXt (`nnUNetTrainerV2_Optim_and_LR`).

// -- modules (keep one `mod`/`pub mod` per line) --

// -- re-exports (keep one `pub use` per line) --
