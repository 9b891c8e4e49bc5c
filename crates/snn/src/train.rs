//! Training the network: binary cross-entropy with logits, AdamW, seeded shuffling, optional early stopping.
//!
//! Loss: PyTorch `torch.nn.BCEWithLogitsLoss(pos_weight=…)`; optimiser: candle-nn `AdamW` (PyTorch's
//! decoupled formula); settings of the seed code toufiqmusah/caladan-mama-mia @ `06e60fb`
//! `pcr-classification/pcr_classifier.py` (lr 1e-3, weight decay 1e-5, batch 32).

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, ModuleT, Optimizer, ParamsAdamW, VarMap};
use ndarray::ArrayView2;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::{PosWeight, SnnConfig, TrainConfig};
use crate::model::{new_trainable, Snn};
use crate::{Error, Result};

/// Mean binary cross-entropy with logits and a positive-class weight `w` (numerically stable form).
///
/// ```text
/// ℓ(z, y) = (1 − y)·z + (1 + (w − 1)·y)·( log(1 + exp(−|z|)) + max(−z, 0) )
/// loss    = mean over the batch          (w = 1: max(z, 0) − z·y + log(1 + exp(−|z|)))
/// ```
///
/// # Errors
/// Propagates candle errors (shape mismatch of `logits` and `targets`).
pub fn bce_with_logits(
    logits: &Tensor,
    targets: &Tensor,
    pos_weight: f64,
) -> candle_core::Result<Tensor> {
    let softplus_neg = ((logits.abs()?.neg()?.exp()? + 1.0)?.log()? + logits.neg()?.relu()?)?;
    let one_minus_y = targets.affine(-1.0, 1.0)?;
    let weight = targets.affine(pos_weight - 1.0, 1.0)?;
    ((one_minus_y * logits)? + (weight * softplus_neg)?)?.mean_all()
}

/// Per-epoch losses of a training run.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrainHistory {
    /// Mean training loss of each epoch (dropout active).
    pub train_loss: Vec<f64>,
    /// Validation loss of each epoch (empty without early stopping).
    pub val_loss: Vec<f64>,
    /// The epoch (0-based) whose weights were kept.
    pub best_epoch: usize,
}

/// A trained network with its parameters and loss history.
pub struct Trained {
    /// The network (evaluation: [`candle_nn::ModuleT::forward_t`] with `train = false`).
    pub model: Snn,
    /// Its parameters (save with [`crate::ModelBundle`]).
    pub varmap: VarMap,
    /// Loss history.
    pub history: TrainHistory,
}

impl std::fmt::Debug for Trained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trained")
            .field("model", &self.model)
            .field("history", &self.history)
            .finish_non_exhaustive()
    }
}

/// Checks `x`/`y`: equal lengths, finite values, labels in {0, 1}, both classes present.
///
/// # Errors
/// [`Error::Shape`], [`Error::NonFinite`] (the case is the row number), [`Error::SingleClass`].
pub fn check_training_data(x: ArrayView2<f64>, y: &[u8]) -> Result<()> {
    if x.nrows() != y.len() {
        return Err(Error::Shape {
            what: "labels vs feature rows",
            expected: vec![x.nrows()],
            got: vec![y.len()],
        });
    }
    check_finite(x)?;
    if let Some((row, &v)) = y.iter().enumerate().find(|(_, &v)| v > 1) {
        return Err(Error::InvalidLabel {
            row,
            value: f64::from(v),
        });
    }
    let n_pos = y.iter().filter(|&&v| v == 1).count();
    if n_pos == 0 || n_pos == y.len() {
        return Err(Error::SingleClass {
            class: u8::from(n_pos > 0),
            n: y.len(),
        });
    }
    Ok(())
}

/// Rejects NaN/Inf feature values, naming the row and column index.
///
/// # Errors
/// [`Error::NonFinite`].
pub fn check_finite(x: ArrayView2<f64>) -> Result<()> {
    for ((r, c), &v) in x.indexed_iter() {
        if !v.is_finite() {
            return Err(Error::NonFinite {
                case: format!("row {r}"),
                feature: format!("column {c}"),
                value: v,
            });
        }
    }
    Ok(())
}

/// Trains a fresh network on standardised features `x` `(n, input_dim)` and labels `y ∈ {0, 1}`.
///
/// Per epoch the training rows are shuffled with `ChaCha8(seed + 2)` and visited in mini-batches (the last
/// one smaller); one AdamW step per batch on [`bce_with_logits`]. With [`crate::EarlyStopping`] a stratified
/// `validation_fraction` of the rows (drawn with `ChaCha8(seed + 3)`) is held out, the validation loss is
/// computed in evaluation mode after every epoch, training stops after `patience` epochs without
/// improvement and the best epoch's weights are restored. Deterministic for a seed on the CPU.
///
/// # Errors
/// Those of [`check_training_data`], [`TrainConfig::check`], [`SnnConfig::check`], a `model.input_dim`
/// different from `x.ncols()` ([`Error::Shape`]), candle errors.
pub fn train(
    x: ArrayView2<f64>,
    y: &[u8],
    model: &SnnConfig,
    cfg: &TrainConfig,
    device: &Device,
) -> Result<Trained> {
    cfg.check()?;
    model.check()?;
    check_training_data(x, y)?;
    if x.ncols() != model.input_dim {
        return Err(Error::Shape {
            what: "feature columns vs input_dim",
            expected: vec![model.input_dim],
            got: vec![x.ncols()],
        });
    }
    let (train_idx, val_idx) = match cfg.early_stopping {
        Some(es) => stratified_holdout(y, es.validation_fraction, cfg.seed.wrapping_add(3)),
        None => ((0..y.len()).collect(), Vec::new()),
    };
    let y_train: Vec<u8> = train_idx.iter().map(|&i| y[i]).collect();
    if y_train.iter().all(|&v| v == y_train[0]) {
        return Err(Error::SingleClass {
            class: y_train[0],
            n: y_train.len(),
        });
    }
    let pos_weight = match cfg.pos_weight {
        PosWeight::None => 1.0,
        PosWeight::Value(w) => w,
        PosWeight::Balanced => {
            let n_pos = y_train.iter().filter(|&&v| v == 1).count() as f64;
            (y_train.len() as f64 - n_pos) / n_pos
        }
    };
    let dtype = DType::F32;
    let (net, varmap) = new_trainable(model, cfg.seed, dtype, device)?;
    let vars = sorted_vars(&varmap);
    let mut opt = AdamW::new(
        vars.iter().map(|(_, v)| v.clone()).collect(),
        ParamsAdamW {
            lr: cfg.learning_rate,
            weight_decay: cfg.weight_decay,
            ..ParamsAdamW::default()
        },
    )?;
    let xs = rows_tensor(x, &train_idx, dtype, device)?;
    let ys = Tensor::from_iter(y_train.iter().map(|&v| f32::from(v)), device)?;
    let val = if val_idx.is_empty() {
        None
    } else {
        let yv = Tensor::from_iter(val_idx.iter().map(|&i| f32::from(y[i])), device)?;
        Some((rows_tensor(x, &val_idx, dtype, device)?, yv))
    };
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed.wrapping_add(2));
    let mut order: Vec<u32> = (0..train_idx.len() as u32).collect();
    let mut history = TrainHistory::default();
    let mut best: Option<(f64, Vec<Tensor>)> = None;
    let mut since_best = 0;
    for epoch in 0..cfg.epochs {
        order.shuffle(&mut rng);
        let mut total = 0.0;
        for batch in order.chunks(cfg.batch_size) {
            let idx = Tensor::from_slice(batch, batch.len(), device)?;
            let logits = net.forward_t(&xs.index_select(&idx, 0)?, true)?;
            let loss = bce_with_logits(&logits, &ys.index_select(&idx, 0)?, pos_weight)?;
            opt.backward_step(&loss)?;
            total += f64::from(loss.to_scalar::<f32>()?) * batch.len() as f64;
        }
        history.train_loss.push(total / order.len() as f64);
        history.best_epoch = epoch;
        if let (Some((xv, yv)), Some(es)) = (&val, cfg.early_stopping) {
            let l = f64::from(
                bce_with_logits(&net.forward_t(xv, false)?, yv, pos_weight)?.to_scalar::<f32>()?,
            );
            history.val_loss.push(l);
            if best.as_ref().is_none_or(|(b, _)| l < *b) {
                best = Some((
                    l,
                    vars.iter()
                        .map(|(_, v)| v.as_tensor().copy())
                        .collect::<candle_core::Result<_>>()?,
                ));
                since_best = 0;
            } else {
                since_best += 1;
                if since_best >= es.patience {
                    break;
                }
            }
        }
    }
    if let Some((_, tensors)) = best {
        for ((_, var), t) in vars.iter().zip(tensors) {
            var.set(&t)?;
        }
        history.best_epoch = history
            .val_loss
            .iter()
            .enumerate()
            .fold(
                (0, f64::INFINITY),
                |acc, (i, &l)| if l < acc.1 { (i, l) } else { acc },
            )
            .0;
    }
    Ok(Trained {
        model: net,
        varmap,
        history,
    })
}

/// Logits of `x` in evaluation mode, as `f64`.
///
/// # Errors
/// [`check_finite`]'s error; candle errors (wrong column count).
pub fn predict_logits(model: &Snn, x: ArrayView2<f64>, device: &Device) -> Result<Vec<f64>> {
    check_finite(x)?;
    if x.ncols() != model.config().input_dim {
        return Err(Error::Shape {
            what: "feature columns vs input_dim",
            expected: vec![model.config().input_dim],
            got: vec![x.ncols()],
        });
    }
    let all: Vec<usize> = (0..x.nrows()).collect();
    let xs = rows_tensor(x, &all, DType::F32, device)?;
    let z = model
        .forward_t(&xs, false)?
        .to_dtype(DType::F64)?
        .to_vec1::<f64>()?;
    Ok(z)
}

/// The parameters of `varmap` sorted by name (deterministic optimiser order).
#[must_use]
pub fn sorted_vars(varmap: &VarMap) -> Vec<(String, Var)> {
    let data = varmap
        .data()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut vars: Vec<(String, Var)> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

fn rows_tensor(
    x: ArrayView2<f64>,
    rows: &[usize],
    dtype: DType,
    device: &Device,
) -> Result<Tensor> {
    let data: Vec<f32> = rows
        .iter()
        .flat_map(|&r| x.row(r).to_vec())
        .map(|v| v as f32)
        .collect();
    Ok(Tensor::from_vec(data, (rows.len(), x.ncols()), device)?.to_dtype(dtype)?)
}

/// Stratified random hold-out: per class, `round(fraction·count)` (at least 1 when the class has ≥ 2
/// samples) shuffled indices go to validation. Returns `(train, validation)`, each sorted.
fn stratified_holdout(y: &[u8], fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for class in [0u8, 1] {
        let mut idx: Vec<usize> = (0..y.len()).filter(|&i| y[i] == class).collect();
        idx.shuffle(&mut rng);
        let mut k = (fraction * idx.len() as f64).round() as usize;
        if k == 0 && idx.len() >= 2 {
            k = 1;
        }
        val.extend_from_slice(&idx[..k]);
        train.extend_from_slice(&idx[k..]);
    }
    train.sort_unstable();
    val.sort_unstable();
    (train, val)
}
