//! Segmentation losses exactly as the reference trainers compute them: nnU-Net's soft Dice + cross-entropy
//! (`DC_and_CE_loss` with `MemoryEfficientSoftDiceLoss`) and MONAI's softmax focal loss, alone or combined
//! the way the seed's focal trainer intends (`focal + 0.75·(Dice + CE)`).
//!
//! References (read, not copied):
//! - MIC-DKFZ/nnUNet v2.8.1 `nnunetv2/training/loss/dice.py` (`MemoryEfficientSoftDiceLoss`),
//!   `compound_losses.py` (`DC_and_CE_loss`), `robust_ce_loss.py` (`RobustCrossEntropyLoss`);
//!   nnU-Net v1 / MedNeXt `nnunet/training/loss_functions/dice_loss.py` (`SoftDiceLoss`, `DC_and_CE_loss`).
//! - Project-MONAI/MONAI `monai/losses/focal_loss.py` (`FocalLoss(to_onehot_y=True, use_softmax=True)`,
//!   `softmax_focal_loss`).
//! - MAMA-MIA seed `nnUNetTrainerV2_SegLoss_Focal` (focal + 0.75·DC_and_CE with Dice smooth 1e-4; upstream it
//!   never defines its focal term, see `/work/shared/reference/mamamia.md` §3.1).
//!
//! Shapes follow nnU-Net: logits `(B, K, *spatial)` (any number of spatial axes, `(B, K, z, y, x)` for
//! MedNeXt), targets the label map `(B, 1, *spatial)` or `(B, *spatial)`. Targets may be `u8`, `u32`, `i64`,
//! `f32` or `f64` tensors holding integer labels in `0..K` (nnU-Net keeps them as float); any other value
//! (negative, ≥ K) is an error. All arithmetic is f32 on the logits' device; the results are scalar tensors
//! that backpropagate into the logits.

use candle_core::{bail, DType, Result, Tensor};

/// Settings of nnU-Net's Dice + cross-entropy loss.
///
/// ```text
/// p = softmax(logits, axis 1),  y = one_hot(target)
/// per (b, k):   I = Σ p·y,  P = Σ p,  G = Σ y          (sums over the spatial axes)
/// batch_dice:   I, P, G summed over b as well
/// dc_k = (2·I + smooth) / max(G + P + smooth, 1e-8)     (classes k ≥ 1 unless do_bg)
/// loss = weight_ce · CE − weight_dice · mean(dc)
/// ```
///
/// `Default` is nnU-Net v2's `3d_fullres` trainer loss: sample Dice (`batch_dice = false`), smooth 1e-5,
/// background excluded, both weights 1. nnU-Net v1 (the MedNeXt trainers) divides by
/// `2tp + fp + fn + smooth + 1e-8` instead of clamping at 1e-8; `2tp + fp + fn = G + P`, so the two differ by 1e-8 in the
/// denominator, below f32 resolution for any denominator above ~0.1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiceCeConfig {
    /// Sum I, P and G over the batch before the ratio (nnU-Net's `batch_dice`).
    pub batch_dice: bool,
    /// Smoothing added to numerator and denominator (nnU-Net: 1e-5; the seed's focal trainer: 1e-4).
    pub smooth: f64,
    /// Include the background class (channel 0) in the Dice mean (nnU-Net: `false`).
    pub do_bg: bool,
    /// Weight of the cross-entropy term (nnU-Net: 1).
    pub weight_ce: f64,
    /// Weight of the (negative) Dice term (nnU-Net: 1).
    pub weight_dice: f64,
}

impl Default for DiceCeConfig {
    fn default() -> Self {
        Self {
            batch_dice: false,
            smooth: 1e-5,
            do_bg: false,
            weight_ce: 1.0,
            weight_dice: 1.0,
        }
    }
}

/// Settings of MONAI's softmax focal loss (`FocalLoss(to_onehot_y=True, use_softmax=True,
/// include_background=True, reduction="mean")`).
///
/// ```text
/// log p = log_softmax(logits, axis 1),  p_t = p of the target class
/// a_k   = 1 − alpha for k = 0, alpha for k ≥ 1       (1 for every class if alpha is None)
/// FL    = Σ_voxels −a_t · (1 − p_t)^gamma · log p_t / (B · K · N_voxels)
/// ```
///
/// MONAI averages over all `B·K·N` one-hot elements (the zero entries included), hence the `1/K`. The softmax
/// form is the one that fits a softmax segmentation network trained with softmax Dice + CE (the paper's focal
/// variant of MedNeXt); the sigmoid form treats channels as independent binary problems.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FocalConfig {
    /// Focusing exponent γ (MONAI's and the paper's default: 2).
    pub gamma: f64,
    /// MONAI's scalar `alpha`: weight of the foreground classes, `1 − alpha` for the background;
    /// `None` weights every class by 1.
    pub alpha: Option<f64>,
    /// Weight of the focal term when it is combined with other terms (1 by default).
    pub weight: f64,
}

impl Default for FocalConfig {
    fn default() -> Self {
        Self {
            gamma: 2.0,
            alpha: None,
            weight: 1.0,
        }
    }
}

/// A segmentation loss on one network output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SegLoss {
    /// nnU-Net's Dice + cross-entropy.
    DiceCe(DiceCeConfig),
    /// `focal.weight · FL + dice_ce_weight · (Dice + CE)` — the seed's focal trainer
    /// (`nnUNetTrainerV2_SegLoss_Focal`: focal + 0.75·DC_and_CE).
    DiceCeFocal {
        /// The Dice + CE part.
        dice_ce: DiceCeConfig,
        /// The focal part (its `weight` scales the focal term).
        focal: FocalConfig,
        /// Weight of the Dice + CE part (the seed: 0.75).
        dice_ce_weight: f64,
    },
}

impl SegLoss {
    /// nnU-Net's default Dice + CE ([`DiceCeConfig::default`]).
    #[must_use]
    pub fn dice_ce() -> Self {
        Self::DiceCe(DiceCeConfig::default())
    }

    /// The seed's focal variant: `FL(γ 2, α 0.75) + 0.75·(Dice(smooth 1e-4) + CE)`.
    ///
    /// The seed trainer announces `alpha 0.75, gamma 2, smooth 1e-4` but never builds its focal term; we take
    /// MONAI's softmax focal loss with those values (`alpha` = foreground weight, MONAI's convention).
    #[must_use]
    pub fn dice_ce_focal() -> Self {
        Self::DiceCeFocal {
            dice_ce: DiceCeConfig {
                smooth: 1e-4,
                ..DiceCeConfig::default()
            },
            focal: FocalConfig {
                alpha: Some(0.75),
                ..FocalConfig::default()
            },
            dice_ce_weight: 0.75,
        }
    }

    /// The loss of one output as a differentiable scalar tensor.
    ///
    /// # Errors
    /// Shapes that do not match (see the module docs), labels outside `0..K`, an unsupported target dtype,
    /// or a candle error.
    pub fn loss(&self, logits: &Tensor, target: &Tensor) -> Result<Tensor> {
        let prep = Prepared::new(logits, target)?;
        match self {
            Self::DiceCe(cfg) => dice_ce_prepared(&prep, cfg),
            Self::DiceCeFocal {
                dice_ce,
                focal,
                dice_ce_weight,
            } => {
                let fl = (focal_prepared(&prep, focal)? * focal.weight)?;
                if *dice_ce_weight == 0.0 {
                    return Ok(fl);
                }
                fl + (dice_ce_prepared(&prep, dice_ce)? * *dice_ce_weight)?
            }
        }
    }
}

/// nnU-Net's soft Dice term `−mean(dc)` (see [`DiceCeConfig`]; only `batch_dice`, `smooth`, `do_bg` are used).
///
/// # Errors
/// As [`SegLoss::loss`]; also `do_bg = false` with a single class.
pub fn soft_dice(logits: &Tensor, target: &Tensor, cfg: &DiceCeConfig) -> Result<Tensor> {
    soft_dice_prepared(&Prepared::new(logits, target)?, cfg)
}

/// Cross-entropy of the logits against the label map, averaged over all voxels of the batch
/// (`torch.nn.CrossEntropyLoss()`):
///
/// ```text
/// CE = −(1 / (B·N)) Σ_b Σ_voxels log_softmax(logits)[b, target, voxel]
/// ```
///
/// # Errors
/// As [`SegLoss::loss`].
pub fn cross_entropy(logits: &Tensor, target: &Tensor) -> Result<Tensor> {
    cross_entropy_prepared(&Prepared::new(logits, target)?)
}

/// MONAI's softmax focal loss (see [`FocalConfig`]; `weight` is not applied here).
///
/// # Errors
/// As [`SegLoss::loss`].
pub fn focal(logits: &Tensor, target: &Tensor, cfg: &FocalConfig) -> Result<Tensor> {
    focal_prepared(&Prepared::new(logits, target)?, cfg)
}

/// The log-softmax and the one-hot target, computed once per output and shared by the terms.
struct Prepared {
    /// `log_softmax(logits, 1)`, shape `(B, K, *spatial)`, f32.
    log_p: Tensor,
    /// One-hot target, same shape, f32, no gradient.
    one_hot: Tensor,
}

impl Prepared {
    fn new(logits: &Tensor, target: &Tensor) -> Result<Self> {
        let dims = logits.dims();
        if dims.len() < 3 {
            bail!("loss: logits must be (B, K, *spatial), got shape {dims:?}");
        }
        let k = dims[1];
        let t = target.dims();
        let target = if t.len() == dims.len() && t[1] == 1 && t[0] == dims[0] && t[2..] == dims[2..]
        {
            target.clone()
        } else if t.len() + 1 == dims.len() && t[0] == dims[0] && t[1..] == dims[2..] {
            target.unsqueeze(1)?
        } else {
            bail!(
                "loss: target of shape {t:?} does not match logits {dims:?} \
                 (expected (B, 1, *spatial) or (B, *spatial))"
            );
        };
        let target = match target.dtype() {
            DType::U8 | DType::U32 | DType::I64 | DType::F32 | DType::F64 => {
                target.to_dtype(DType::F32)?
            }
            other => {
                bail!("loss: target dtype {other:?} is not supported (u8, u32, i64, f32, f64)")
            }
        }
        .detach();
        let lo = target.min_all()?.to_scalar::<f32>()?;
        let hi = target.max_all()?.to_scalar::<f32>()?;
        if !(lo >= 0.0 && hi < k as f32) {
            bail!("loss: target labels must lie in 0..{k}, found range [{lo}, {hi}]");
        }
        let classes = Tensor::arange(0u32, k as u32, logits.device())?
            .to_dtype(DType::F32)?
            .reshape(class_shape(dims.len(), k))?;
        let one_hot = target
            .broadcast_eq(&classes)?
            .to_dtype(DType::F32)?
            .detach();
        let log_p = candle_nn::ops::log_softmax(&logits.to_dtype(DType::F32)?, 1)?;
        Ok(Self { log_p, one_hot })
    }

    fn batch(&self) -> usize {
        self.log_p.dims()[0]
    }

    fn classes(&self) -> usize {
        self.log_p.dims()[1]
    }

    /// Number of voxels per sample and class.
    fn voxels(&self) -> usize {
        self.log_p.dims()[2..].iter().product()
    }
}

/// Sums over the spatial axes, one axis at a time from the last, giving `(B, K)` (or `(B, 1)`).
///
/// Reducing axis by axis keeps the f32 partial sums short (`nx`, then `ny`, then `nz` terms) instead of one
/// running sum over all voxels, which keeps the loss within ~1e-7 of PyTorch's pairwise sums.
fn sum_spatial(t: &Tensor) -> Result<Tensor> {
    let mut t = t.clone();
    for axis in (2..t.rank()).rev() {
        t = t.sum(axis)?;
    }
    Ok(t)
}

/// `(1, K, 1, …, 1)` for a rank-`rank` tensor.
fn class_shape(rank: usize, k: usize) -> Vec<usize> {
    let mut s = vec![1; rank];
    s[1] = k;
    s
}

fn cross_entropy_prepared(prep: &Prepared) -> Result<Tensor> {
    let n = (prep.batch() * prep.voxels()) as f64;
    let picked = sum_spatial(&(&prep.log_p * &prep.one_hot)?)?.sum_all()?;
    picked.affine(-1.0 / n, 0.0)
}

fn soft_dice_prepared(prep: &Prepared, cfg: &DiceCeConfig) -> Result<Tensor> {
    let k = prep.classes();
    let (p, y) = if cfg.do_bg {
        (prep.log_p.exp()?, prep.one_hot.clone())
    } else {
        if k < 2 {
            bail!("soft Dice: do_bg = false needs at least 2 classes, logits have {k}");
        }
        (
            prep.log_p.narrow(1, 1, k - 1)?.exp()?,
            prep.one_hot.narrow(1, 1, k - 1)?,
        )
    };
    // (B, K') sums over the spatial axes.
    let mut intersect = sum_spatial(&(&p * &y)?)?;
    let mut sum_pred = sum_spatial(&p)?;
    let mut sum_gt = sum_spatial(&y)?;
    if cfg.batch_dice {
        intersect = intersect.sum(0)?;
        sum_pred = sum_pred.sum(0)?;
        sum_gt = sum_gt.sum(0)?;
    }
    let num = intersect.affine(2.0, cfg.smooth)?;
    let den = (sum_gt + sum_pred)?
        .affine(1.0, cfg.smooth)?
        .maximum(1e-8)?;
    let dc = (num / den)?;
    dc.mean_all()?.neg()
}

fn dice_ce_prepared(prep: &Prepared, cfg: &DiceCeConfig) -> Result<Tensor> {
    let mut total: Option<Tensor> = None;
    if cfg.weight_dice != 0.0 {
        total = Some((soft_dice_prepared(prep, cfg)? * cfg.weight_dice)?);
    }
    if cfg.weight_ce != 0.0 {
        let ce = (cross_entropy_prepared(prep)? * cfg.weight_ce)?;
        total = Some(match total {
            Some(t) => (ce + t)?,
            None => ce,
        });
    }
    match total {
        Some(t) => Ok(t),
        None => Tensor::new(0f32, prep.log_p.device()),
    }
}

fn focal_prepared(prep: &Prepared, cfg: &FocalConfig) -> Result<Tensor> {
    let k = prep.classes();
    // log p_t per voxel, (B, 1, *spatial).
    let log_pt = (&prep.log_p * &prep.one_hot)?.sum_keepdim(1)?;
    let one_minus = log_pt.exp()?.affine(-1.0, 1.0)?;
    let modulator = if cfg.gamma == 0.0 {
        one_minus.ones_like()?
    } else if cfg.gamma == 1.0 {
        one_minus
    } else if cfg.gamma == 2.0 {
        one_minus.sqr()?
    } else {
        one_minus.powf(cfg.gamma)?
    };
    let mut per_voxel = (modulator * log_pt)?;
    if let Some(alpha) = cfg.alpha {
        let mut fac = vec![alpha as f32; k];
        fac[0] = (1.0 - alpha) as f32;
        let fac = Tensor::from_vec(fac, class_shape(prep.log_p.rank(), k), prep.log_p.device())?;
        let alpha_t = prep.one_hot.broadcast_mul(&fac)?.sum_keepdim(1)?;
        per_voxel = (per_voxel * alpha_t)?;
    }
    let n = (prep.batch() * k * prep.voxels()) as f64;
    sum_spatial(&per_voxel)?.sum_all()?.affine(-1.0 / n, 0.0)
}
