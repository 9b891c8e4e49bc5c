//! MedNeXt v1 blocks: the ConvNeXt-style block, its stride-2 down and transposed up variants, and the
//! 1×1×1 output head.
//!
//! Reference: MIC-DKFZ/MedNeXt @ `0b78ed8`, `nnunet_mednext/network_architecture/mednextv1/blocks.py`
//! (`MedNeXtBlock`, `MedNeXtDownBlock`, `MedNeXtUpBlock`, `OutBlock`, `LayerNorm`); Roy et al., "MedNeXt",
//! MICCAI 2023, Fig. 1. Weight names and layouts follow the PyTorch state dict (`conv1`, `norm`, `conv2`,
//! `conv3`, `res_conv`, `grn_gamma`/`grn_beta`, `conv_out`).

use candle_core::{Module, Tensor, D};
use candle_nn::{Init, VarBuilder};

use crate::config::NormType;
use crate::ops;

/// GroupNorm / LayerNorm epsilon of the original (`nn.GroupNorm` default, `LayerNorm(eps=1e-5)`).
const NORM_EPS: f64 = 1e-5;
/// GRN denominator epsilon.
const GRN_EPS: f64 = 1e-6;

/// A conv weight (or bias) with PyTorch's default initialisation.
///
/// ```text
/// fan_in = weight.dim(1) · k³        (for ConvTranspose3d dim 1 is C_out/groups)
/// weight, bias ~ U(−1/√fan_in, 1/√fan_in)      (kaiming_uniform(a=√5) and the bias rule)
/// ```
fn conv_tensor(
    vb: &VarBuilder,
    shape: &[usize],
    fan_in: usize,
    name: &str,
) -> candle_core::Result<Tensor> {
    let bound = 1.0 / (fan_in as f64).sqrt();
    vb.get_with_hints(
        shape,
        name,
        Init::Uniform {
            lo: -bound,
            up: bound,
        },
    )
}

/// Weight `(c_out, c_in, 1,1,1)` or transposed `(c_in, c_out, 1,1,1)` and bias of a pointwise conv.
fn pointwise(
    vb: &VarBuilder,
    rows: usize,
    cols: usize,
    bias_len: usize,
) -> candle_core::Result<(Tensor, Tensor)> {
    let w = conv_tensor(vb, &[rows, cols, 1, 1, 1], cols, "weight")?;
    let b = conv_tensor(vb, &[bias_len], cols, "bias")?;
    Ok((w, b))
}

/// How the first (depthwise) convolution of a block resamples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resample {
    /// Stride-1 depthwise `Conv3d`, padding k//2 (plain block).
    None,
    /// Stride-2 depthwise `Conv3d`, padding k//2: `D → ceil(D/2)` (down block).
    Down,
    /// Stride-2 depthwise `ConvTranspose3d`, padding k//2: `D → 2D − 1` (up block, before the zero pad).
    Up,
}

/// The normalisation layer after the depthwise convolution.
#[derive(Debug, Clone)]
struct Norm {
    kind: NormType,
    weight: Tensor,
    bias: Tensor,
}

impl Norm {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self.kind {
            NormType::Group => ops::channel_group_norm(x, &self.weight, &self.bias, NORM_EPS),
            NormType::Layer => {
                // Channels-first LayerNorm: per-voxel statistics over the channel axis, biased variance.
                let c = self.weight.dim(0)?;
                let u = x.mean_keepdim(1)?;
                let d = x.broadcast_sub(&u)?;
                let s = d.sqr()?.mean_keepdim(1)?;
                let y = d.broadcast_div(&(s + NORM_EPS)?.sqrt()?)?;
                y.broadcast_mul(&self.weight.reshape((1, c, 1, 1, 1))?)?
                    .broadcast_add(&self.bias.reshape((1, c, 1, 1, 1))?)
            }
        }
    }
}

/// Global response normalisation (ConvNeXt-V2), parameters `(1, r·C, 1, 1, 1)`.
///
/// ```text
/// gx = ‖x[n,c]‖₂ over (D,H,W);   nx = gx / (mean_c gx + 1e-6);   y = γ·(x·nx) + β + x
/// ```
#[derive(Debug, Clone)]
struct Grn {
    gamma: Tensor,
    beta: Tensor,
}

impl Grn {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let gx = x
            .sqr()?
            .sum_keepdim(D::Minus1)?
            .sum_keepdim(D::Minus2)?
            .sum_keepdim(D::Minus(3))?
            .sqrt()?;
        let nx = gx.broadcast_div(&(gx.mean_keepdim(1)? + GRN_EPS)?)?;
        let scaled = x.broadcast_mul(&nx)?.broadcast_mul(&self.gamma)?;
        scaled.broadcast_add(&self.beta)? + x
    }
}

/// The MedNeXt block (`MedNeXtBlock`): depthwise conv → norm → 1×1×1 expansion → GELU (erf) → (GRN) →
/// 1×1×1 compression → (+ x).
///
/// ```text
/// y = conv3( [grn]( gelu_erf( conv2( norm( dwconv_k(x) ) ) ) ) )
/// out = x + y   if the residual is on (C_in = C_out)        else  y
/// ```
///
/// The same struct is the main path of [`DownBlock`] (stride-2 `conv1`) and [`UpBlock`] (transposed
/// `conv1`); those never use the block residual. Keys: `conv1.{weight,bias}` `(C,1,k,k,k)`,
/// `norm.{weight,bias}` `(C)`, `conv2` `(r·C, C,1,1,1)`, `conv3` `(C_out, r·C,1,1,1)`,
/// `grn_gamma`/`grn_beta` `(1, r·C,1,1,1)`.
#[derive(Debug, Clone)]
pub struct MedNextBlock {
    resample: Resample,
    conv1_w: Tensor,
    conv1_b: Tensor,
    norm: Norm,
    conv2_w: Tensor,
    conv2_b: Tensor,
    grn: Option<Grn>,
    conv3_w: Tensor,
    conv3_b: Tensor,
    residual: bool,
}

/// The hyper-parameters of one [`MedNextBlock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockConfig {
    /// Input channels `C`.
    pub in_channels: usize,
    /// Output channels of `conv3`.
    pub out_channels: usize,
    /// Expansion ratio `r` of `conv2`.
    pub exp_r: usize,
    /// Depthwise kernel size `k` (odd).
    pub kernel_size: usize,
    /// Add the input to the output (`do_res`; needs `in_channels == out_channels`).
    pub residual: bool,
    /// Normalisation layer.
    pub norm: NormType,
    /// Global response normalisation after the GELU.
    pub grn: bool,
    /// Resampling of the depthwise convolution.
    pub resample: Resample,
}

impl Default for BlockConfig {
    fn default() -> Self {
        Self {
            in_channels: 32,
            out_channels: 32,
            exp_r: 4,
            kernel_size: 7,
            residual: false,
            norm: NormType::Group,
            grn: false,
            resample: Resample::None,
        }
    }
}

/// Loads (or, with a `VarMap`-backed builder, creates) a [`MedNextBlock`] under `vb`.
///
/// # Errors
/// A candle error when a tensor is missing or mis-shaped in `vb`.
pub fn mednext_block(cfg: BlockConfig, vb: VarBuilder) -> candle_core::Result<MedNextBlock> {
    let c = cfg.in_channels;
    let k = cfg.kernel_size;
    let rc = cfg.exp_r * c;
    let conv1 = vb.pp("conv1");
    let conv1_w = conv_tensor(&conv1, &[c, 1, k, k, k], k * k * k, "weight")?;
    let conv1_b = conv_tensor(&conv1, &[c], k * k * k, "bias")?;
    let nvb = vb.pp("norm");
    let norm = Norm {
        kind: cfg.norm,
        weight: nvb.get_with_hints(c, "weight", Init::Const(1.0))?,
        bias: nvb.get_with_hints(c, "bias", Init::Const(0.0))?,
    };
    let (conv2_w, conv2_b) = pointwise(&vb.pp("conv2"), rc, c, rc)?;
    let (conv3_w, conv3_b) = pointwise(&vb.pp("conv3"), cfg.out_channels, rc, cfg.out_channels)?;
    let grn = if cfg.grn {
        Some(Grn {
            gamma: vb.get_with_hints((1, rc, 1, 1, 1), "grn_gamma", Init::Const(0.0))?,
            beta: vb.get_with_hints((1, rc, 1, 1, 1), "grn_beta", Init::Const(0.0))?,
        })
    } else {
        None
    };
    Ok(MedNextBlock {
        resample: cfg.resample,
        conv1_w,
        conv1_b,
        norm,
        conv2_w,
        conv2_b,
        grn,
        conv3_w,
        conv3_b,
        residual: cfg.residual && cfg.resample == Resample::None,
    })
}

impl MedNextBlock {
    /// The parameter tensors in state-dict order with their names relative to the block.
    #[must_use]
    pub fn named_tensors(&self) -> Vec<(&'static str, &Tensor)> {
        let mut v = vec![
            ("conv1.weight", &self.conv1_w),
            ("conv1.bias", &self.conv1_b),
            ("norm.weight", &self.norm.weight),
            ("norm.bias", &self.norm.bias),
            ("conv2.weight", &self.conv2_w),
            ("conv2.bias", &self.conv2_b),
            ("conv3.weight", &self.conv3_w),
            ("conv3.bias", &self.conv3_b),
        ];
        if let Some(g) = &self.grn {
            v.push(("grn_beta", &g.beta));
            v.push(("grn_gamma", &g.gamma));
        }
        v
    }

    /// The same block with every parameter replaced by `f(parameter)` (in [`Self::named_tensors`]
    /// order); used to detach or re-bind parameters for recomputation.
    ///
    /// # Errors
    /// Whatever `f` returns.
    pub fn map_tensors(
        &self,
        f: &mut impl FnMut(&Tensor) -> candle_core::Result<Tensor>,
    ) -> candle_core::Result<Self> {
        Ok(Self {
            resample: self.resample,
            conv1_w: f(&self.conv1_w)?,
            conv1_b: f(&self.conv1_b)?,
            norm: Norm {
                kind: self.norm.kind,
                weight: f(&self.norm.weight)?,
                bias: f(&self.norm.bias)?,
            },
            conv2_w: f(&self.conv2_w)?,
            conv2_b: f(&self.conv2_b)?,
            conv3_w: f(&self.conv3_w)?,
            conv3_b: f(&self.conv3_b)?,
            grn: match &self.grn {
                Some(g) => {
                    let beta = f(&g.beta)?;
                    let gamma = f(&g.gamma)?;
                    Some(Grn { gamma, beta })
                }
                None => None,
            },
            residual: self.residual,
        })
    }

    /// Whether the part after the depthwise convolution runs as the fused [`ops::block_tail`] (GroupNorm, no
    /// GRN, on the CPU): then the block keeps only its input and its depthwise output for the backward pass and
    /// recomputes its expanded activations itself, so block-level recomputation would only cost time.
    #[must_use]
    pub fn is_fused(&self) -> bool {
        self.norm.kind == NormType::Group && self.grn.is_none() && self.conv1_w.device().is_cpu()
    }

    /// The parameters after the depthwise convolution, as [`ops::block_tail`] takes them.
    fn fused_tail(&self) -> ops::BlockTail<'_> {
        ops::BlockTail {
            gamma: &self.norm.weight,
            beta: &self.norm.bias,
            conv2_weight: &self.conv2_w,
            conv2_bias: &self.conv2_b,
            conv3_weight: &self.conv3_w,
            conv3_bias: &self.conv3_b,
            eps: NORM_EPS,
        }
    }

    /// The block as one [`ops::fused_block`] (a fused stride-1 block), else `None`.
    pub(crate) fn as_fused(&self) -> Option<ops::FusedBlock<'_>> {
        (self.is_fused() && self.resample == Resample::None).then(|| ops::FusedBlock {
            dw: ops::DepthwiseStage {
                weight: &self.conv1_w,
                bias: &self.conv1_b,
            },
            tail: self.fused_tail(),
            residual: self.residual,
        })
    }
}

impl Module for MedNextBlock {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        if let Some(f) = self.as_fused() {
            return ops::fused_block(x, &f.dw, &f.tail, f.residual);
        }
        let y = match self.resample {
            Resample::None => ops::depthwise_conv3d(x, &self.conv1_w, Some(&self.conv1_b), 1)?,
            Resample::Down => ops::depthwise_conv3d(x, &self.conv1_w, Some(&self.conv1_b), 2)?,
            Resample::Up => {
                ops::depthwise_conv_transpose3d(x, &self.conv1_w, Some(&self.conv1_b), 2)?
            }
        };
        if self.is_fused() {
            return ops::block_tail(&y, &self.fused_tail(), self.residual.then_some(x));
        }
        let y = self.norm.forward(&y)?;
        let y = ops::conv1x1x1(&y, &self.conv2_w, None, 1)?;
        let mut y = ops::bias_gelu(&y, &self.conv2_b)?;
        if let Some(grn) = &self.grn {
            y = grn.forward(&y)?;
        }
        let y = ops::conv1x1x1(&y, &self.conv3_w, Some(&self.conv3_b), 1)?;
        if self.residual {
            x + y
        } else {
            Ok(y)
        }
    }
}

/// The down block (`MedNeXtDownBlock`): a [`MedNextBlock`] whose depthwise conv has stride 2, plus an
/// optional 1×1×1 stride-2 residual conv (`res_conv`, `do_res_up_down`).
///
/// ```text
/// out = block_s2(x) [+ res_conv_s2(x)]          D → ceil(D/2), C → 2C
/// ```
#[derive(Debug, Clone)]
pub struct DownBlock {
    main: MedNextBlock,
    res: Option<(Tensor, Tensor)>,
}

/// Loads a [`DownBlock`]: `cfg.resample` is forced to [`Resample::Down`], `residual` selects `res_conv`.
///
/// # Errors
/// A candle error when a tensor is missing or mis-shaped in `vb`.
pub fn down_block(cfg: BlockConfig, vb: VarBuilder) -> candle_core::Result<DownBlock> {
    let main = mednext_block(
        BlockConfig {
            resample: Resample::Down,
            residual: false,
            ..cfg
        },
        vb.clone(),
    )?;
    let res = if cfg.residual {
        Some(pointwise(
            &vb.pp("res_conv"),
            cfg.out_channels,
            cfg.in_channels,
            cfg.out_channels,
        )?)
    } else {
        None
    };
    Ok(DownBlock { main, res })
}

impl DownBlock {
    /// The parameter tensors in state-dict order with names relative to the block.
    #[must_use]
    pub fn named_tensors(&self) -> Vec<(&'static str, &Tensor)> {
        named_with_residual(&self.main, &self.res)
    }

    /// The same block with every parameter replaced by `f(parameter)` ([`Self::named_tensors`] order).
    ///
    /// # Errors
    /// Whatever `f` returns.
    pub fn map_tensors(
        &self,
        f: &mut impl FnMut(&Tensor) -> candle_core::Result<Tensor>,
    ) -> candle_core::Result<Self> {
        let (main, res) = map_with_residual(&self.main, &self.res, f)?;
        Ok(Self { main, res })
    }
}

impl DownBlock {
    /// Whether the main path runs fused ([`MedNextBlock::is_fused`]).
    #[must_use]
    pub fn is_fused(&self) -> bool {
        self.main.is_fused()
    }
}

impl Module for DownBlock {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = self.main.forward(x)?;
        match &self.res {
            Some((w, b)) => y + ops::conv1x1x1(x, w, Some(b), 2)?,
            None => Ok(y),
        }
    }
}

/// The up block (`MedNeXtUpBlock`): a [`MedNextBlock`] whose depthwise conv is a stride-2 transposed conv
/// (output `2D − 1`; the norm runs on that volume), an optional 1×1×1 stride-2 transposed residual conv, then
/// one zero plane prepended on every spatial axis.
///
/// ```text
/// y   = block_T(x) [+ res_convᵀ_s2(x)]             (2D−1)³, C → C/2
/// out = pad(y, (1,0) on D, H, W)                   (2D)³, plane 0 of each axis = 0
/// ```
///
/// `res_conv.weight` is stored transposed, `(C_in, C_out, 1,1,1)`.
#[derive(Debug, Clone)]
pub struct UpBlock {
    main: MedNextBlock,
    res: Option<(Tensor, Tensor)>,
}

/// Loads an [`UpBlock`]: `cfg.resample` is forced to [`Resample::Up`], `residual` selects `res_conv`.
///
/// # Errors
/// A candle error when a tensor is missing or mis-shaped in `vb`.
pub fn up_block(cfg: BlockConfig, vb: VarBuilder) -> candle_core::Result<UpBlock> {
    let main = mednext_block(
        BlockConfig {
            resample: Resample::Up,
            residual: false,
            ..cfg
        },
        vb.clone(),
    )?;
    let res = if cfg.residual {
        // ConvTranspose3d: weight (C_in, C_out, 1,1,1), fan_in from dim 1.
        Some(pointwise(
            &vb.pp("res_conv"),
            cfg.in_channels,
            cfg.out_channels,
            cfg.out_channels,
        )?)
    } else {
        None
    };
    Ok(UpBlock { main, res })
}

impl UpBlock {
    /// The parameter tensors in state-dict order with names relative to the block.
    #[must_use]
    pub fn named_tensors(&self) -> Vec<(&'static str, &Tensor)> {
        named_with_residual(&self.main, &self.res)
    }

    /// The same block with every parameter replaced by `f(parameter)` ([`Self::named_tensors`] order).
    ///
    /// # Errors
    /// Whatever `f` returns.
    pub fn map_tensors(
        &self,
        f: &mut impl FnMut(&Tensor) -> candle_core::Result<Tensor>,
    ) -> candle_core::Result<Self> {
        let (main, res) = map_with_residual(&self.main, &self.res, f)?;
        Ok(Self { main, res })
    }
}

impl UpBlock {
    /// Whether the main path runs fused ([`MedNextBlock::is_fused`]).
    #[must_use]
    pub fn is_fused(&self) -> bool {
        self.main.is_fused()
    }
}

impl Module for UpBlock {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = self.main.forward(x)?;
        // Padding is linear, so pad(y) + pad(res) = pad(y + res): pad once.
        let y = match &self.res {
            Some((w, b)) => (y + ops::conv_transpose1x1x1(x, w, Some(b), 2)?)?,
            None => y,
        };
        y.pad_with_zeros(2, 1, 0)?
            .pad_with_zeros(3, 1, 0)?
            .pad_with_zeros(4, 1, 0)
    }
}

/// The output head (`OutBlock`): `ConvTranspose3d(C, n_classes, 1)`, i.e. a 1×1×1 conv with the transposed
/// weight `(C, n_classes, 1,1,1)`; returns logits.
///
/// ```text
/// out[n,o,·] = b[o] + Σ_c W[c,o] · x[n,c,·]
/// ```
#[derive(Debug, Clone)]
pub struct OutBlock {
    weight: Tensor,
    bias: Tensor,
}

/// Loads an [`OutBlock`] (`conv_out.weight` `(in_channels, n_classes, 1,1,1)`, `conv_out.bias`).
///
/// # Errors
/// A candle error when a tensor is missing or mis-shaped in `vb`.
pub fn out_block(
    in_channels: usize,
    n_classes: usize,
    vb: VarBuilder,
) -> candle_core::Result<OutBlock> {
    let (weight, bias) = pointwise(&vb.pp("conv_out"), in_channels, n_classes, n_classes)?;
    Ok(OutBlock { weight, bias })
}

impl OutBlock {
    /// The parameter tensors in state-dict order with names relative to the block.
    #[must_use]
    pub fn named_tensors(&self) -> Vec<(&'static str, &Tensor)> {
        vec![
            ("conv_out.weight", &self.weight),
            ("conv_out.bias", &self.bias),
        ]
    }

    /// The same head with both parameters replaced by `f(parameter)`.
    ///
    /// # Errors
    /// Whatever `f` returns.
    pub fn map_tensors(
        &self,
        f: &mut impl FnMut(&Tensor) -> candle_core::Result<Tensor>,
    ) -> candle_core::Result<Self> {
        Ok(Self {
            weight: f(&self.weight)?,
            bias: f(&self.bias)?,
        })
    }
}

impl Module for OutBlock {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        ops::conv_transpose1x1x1(x, &self.weight, Some(&self.bias), 1)
    }
}

/// The stem: `Conv3d(in_channels, C, 1)` without norm or activation (`stem.weight` `(C, in, 1,1,1)`).
#[derive(Debug, Clone)]
pub(crate) struct Stem {
    pub(crate) weight: Tensor,
    pub(crate) bias: Tensor,
}

pub(crate) fn stem(
    in_channels: usize,
    channels: usize,
    vb: VarBuilder,
) -> candle_core::Result<Stem> {
    let (weight, bias) = pointwise(&vb, channels, in_channels, channels)?;
    Ok(Stem { weight, bias })
}

impl Module for Stem {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        ops::conv1x1x1(x, &self.weight, Some(&self.bias), 1)
    }
}

/// The tensors of a resampling block: the main block's, then `res_conv.weight` / `res_conv.bias` if present.
fn named_with_residual<'a>(
    main: &'a MedNextBlock,
    res: &'a Option<(Tensor, Tensor)>,
) -> Vec<(&'static str, &'a Tensor)> {
    let mut v = main.named_tensors();
    if let Some((w, b)) = res {
        v.push(("res_conv.weight", w));
        v.push(("res_conv.bias", b));
    }
    v
}

/// [`named_with_residual`]'s tensors mapped through `f`, in the same order.
fn map_with_residual(
    main: &MedNextBlock,
    res: &Option<(Tensor, Tensor)>,
    f: &mut impl FnMut(&Tensor) -> candle_core::Result<Tensor>,
) -> candle_core::Result<(MedNextBlock, Option<(Tensor, Tensor)>)> {
    let main = main.map_tensors(f)?;
    let res = match res {
        Some((w, b)) => Some((f(w)?, f(b)?)),
        None => None,
    };
    Ok((main, res))
}
