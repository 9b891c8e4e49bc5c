//! Learning-rate schedules per epoch: constant, nnU-Net's polynomial decay and torch's cosine annealing.
//!
//! References (read, not copied): MIC-DKFZ/nnUNet v1.7.1 `nnunet/training/learning_rate/poly_lr.py` and
//! `nnUNetTrainerV2.maybe_update_lr` (the MedNeXt trainers); nnU-Net v2.8.1
//! `nnunetv2/training/lr_scheduler/polylr.py` (`PolyLRScheduler`); pytorch/pytorch
//! `torch/optim/lr_scheduler.py` (`CosineAnnealingLR._get_closed_form_lr`).

/// A learning-rate schedule: the rate used during epoch `epoch` (0-based) of `max_epochs`.
///
/// Both nnU-Net versions use the rate `lr(e)` during epoch `e`: v1 (MedNeXt) sets `lr(e + 1)` at the end of
/// epoch `e` (`maybe_update_lr(epoch + 1)`; epoch 0 runs at the initial rate), v2's `PolyLRScheduler.step()`
/// sets `lr(e)` at the start of epoch `e`. Call `optimizer.set_learning_rate(schedule.lr(initial, e, max))`
/// before the first iteration of each epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LrSchedule {
    /// `lr = initial`.
    Constant,
    /// nnU-Net's poly decay.
    ///
    /// ```text
    /// lr = initial · (1 − epoch / max_epochs)^exponent      (exponent 0.9 in nnU-Net)
    /// ```
    ///
    /// Epochs at or beyond `max_epochs` give 0 (nnU-Net would compute a NaN there).
    Poly {
        /// The exponent (0.9).
        exponent: f64,
    },
    /// torch's `CosineAnnealingLR(T_max = max_epochs, eta_min = min_lr)` in closed form.
    ///
    /// ```text
    /// lr = min_lr + (initial − min_lr) · (1 + cos(π · epoch / max_epochs)) / 2
    /// ```
    ///
    /// Like torch's closed form it is periodic beyond `max_epochs`.
    Cosine {
        /// The final rate η_min.
        min_lr: f64,
    },
}

impl LrSchedule {
    /// nnU-Net's poly schedule with exponent 0.9.
    #[must_use]
    pub fn poly() -> Self {
        Self::Poly { exponent: 0.9 }
    }

    /// The learning rate during `epoch` (0-based); `max_epochs = 0` gives `initial`.
    #[must_use]
    pub fn lr(&self, initial: f64, epoch: usize, max_epochs: usize) -> f64 {
        if max_epochs == 0 {
            return initial;
        }
        let frac = epoch as f64 / max_epochs as f64;
        match *self {
            Self::Constant => initial,
            Self::Poly { exponent } => {
                if epoch >= max_epochs {
                    0.0
                } else {
                    initial * (1.0 - frac).powf(exponent)
                }
            }
            Self::Cosine { min_lr } => {
                min_lr + (initial - min_lr) * (1.0 + (std::f64::consts::PI * frac).cos()) / 2.0
            }
        }
    }
}
