//! The per-epoch training history and its CSV log (`training_log.csv`).
//!
//! ```text
//! epoch,train_loss,val_loss,pseudo_dice_1,…,pseudo_dice_K,mean_fg_dice,ema_dice,lr,seconds
//! ```
//! One row per finished epoch; an empty cell is a NaN pseudo Dice (class absent from prediction and target
//! in every validation batch). The history also travels inside every checkpoint, so the log is rewritten
//! from it (atomically) after each epoch and a resumed run continues it without duplicate rows.
//!
//! Reference: nnU-Net v2.8.1 `nnunetv2/training/logging/nnunet_logger.py` (`train_losses`, `val_losses`,
//! `dice_per_class_or_region`, `mean_fg_dice`, `ema_fg_dice`, `lrs`, epoch times).

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// What one epoch produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// The epoch (0-based).
    pub epoch: usize,
    /// Mean training loss over the epoch's iterations.
    pub train_loss: f64,
    /// Mean validation loss over the validation batches (`None` without validation).
    pub val_loss: Option<f64>,
    /// Pseudo Dice `2TP/(2TP + FP + FN)` per foreground class (`None` = NaN: no voxel of the class).
    pub pseudo_dice: Vec<Option<f64>>,
    /// nanmean of `pseudo_dice` (`None` when every class is NaN or there was no validation).
    pub mean_fg_dice: Option<f64>,
    /// The EMA of `mean_fg_dice` after this epoch.
    pub ema_dice: Option<f64>,
    /// The learning rate used during the epoch.
    pub lr: f64,
    /// Wall time of the epoch (training + validation) in seconds.
    pub seconds: f64,
}

fn cell(v: Option<f64>) -> String {
    v.map(|x| format!("{x}")).unwrap_or_default()
}

/// The CSV text of `history` (module docs); `n_fg_classes` fixes the number of pseudo-Dice columns.
#[must_use]
pub fn history_csv(history: &[EpochRecord], n_fg_classes: usize) -> String {
    let mut out = String::from("epoch,train_loss,val_loss");
    for c in 1..=n_fg_classes {
        let _ = write!(out, ",pseudo_dice_{c}");
    }
    out.push_str(",mean_fg_dice,ema_dice,lr,seconds\n");
    for r in history {
        let _ = write!(out, "{},{},{}", r.epoch, r.train_loss, cell(r.val_loss));
        for c in 0..n_fg_classes {
            let _ = write!(out, ",{}", cell(r.pseudo_dice.get(c).copied().flatten()));
        }
        let _ = writeln!(
            out,
            ",{},{},{},{:.3}",
            cell(r.mean_fg_dice),
            cell(r.ema_dice),
            r.lr,
            r.seconds
        );
    }
    out
}

/// Writes [`history_csv`] to `path` atomically.
///
/// # Errors
/// [`crate::Error::Io`] naming the file.
pub fn write_history_csv(
    path: impl AsRef<Path>,
    history: &[EpochRecord],
    n_fg_classes: usize,
) -> Result<()> {
    crate::train::checkpoint_io::write_bytes_atomically(
        path.as_ref(),
        history_csv(history, n_fg_classes).as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows() {
        let h = vec![EpochRecord {
            epoch: 0,
            train_loss: -0.5,
            val_loss: Some(-0.25),
            pseudo_dice: vec![Some(0.75), None],
            mean_fg_dice: Some(0.75),
            ema_dice: Some(0.75),
            lr: 1e-3,
            seconds: 1.5,
        }];
        assert_eq!(
            history_csv(&h, 2),
            "epoch,train_loss,val_loss,pseudo_dice_1,pseudo_dice_2,mean_fg_dice,ema_dice,lr,seconds\n\
             0,-0.5,-0.25,0.75,,0.75,0.75,0.001,1.500\n"
        );
    }
}
