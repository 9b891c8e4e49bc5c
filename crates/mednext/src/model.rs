//! The MedNeXt v1 network: stem, 4 encoder stages with stride-2 down blocks, bottleneck, 4 transposed up
//! blocks with additive skips, decoder stages and (deep-supervision) output heads.
//!
//! Reference: MIC-DKFZ/MedNeXt @ `0b78ed8`, `nnunet_mednext/network_architecture/mednextv1/MedNextV1.py`
//! (`MedNeXt.__init__`, `MedNeXt.forward`); Roy et al., "MedNeXt: Transformer-driven Scaling of ConvNets
//! for Medical Image Segmentation", MICCAI 2023 (arXiv 2303.09975), Fig. 1.

use candle_core::{Module, Tensor};
use candle_nn::{Init, VarBuilder};

use crate::block::{self, BlockConfig, DownBlock, MedNextBlock, OutBlock, Resample, Stem, UpBlock};
use crate::checkpoint;
use crate::config::{MedNextConfig, SIZE_DIVISOR};
use crate::error::{Error, Result};

/// The MedNeXt v1 network with the original's module tree and state-dict names.
///
/// ```text
/// x0 = stem(x)                                         in → C, 1×1×1
/// for s = 0..3:  skip_s = enc_block_s(x_s);  x_{s+1} = down_s(skip_s)       (2^s·C → 2^{s+1}·C, ½ size)
/// b  = bottleneck(x_4)                                  16C at 1/16
/// for s = 3..0:  d_s = dec_block_s(skip_s + up_s(d_{s+1}))     (d_4 = b)
/// outputs: [out_0(d_0), out_1(d_1), out_2(d_2), out_3(d_3), out_4(b)]   (deep supervision)
///          [out_0(d_0)]                                                   (otherwise)
/// expansion ratios: enc_block_s r[s], down_s r[s+1], bottleneck r[4], up_s and dec_block_s r[8−s]
/// ```
#[derive(Debug, Clone)]
pub struct MedNext {
    cfg: MedNextConfig,
    dummy: Tensor,
    stem: Stem,
    enc: Vec<Vec<MedNextBlock>>,
    down: Vec<DownBlock>,
    bottleneck: Vec<MedNextBlock>,
    up: Vec<UpBlock>,
    dec: Vec<Vec<MedNextBlock>>,
    /// `out_0 … out_4` (only `out_0` without deep supervision).
    out: Vec<OutBlock>,
}

fn stage(
    cfg: BlockConfig,
    count: usize,
    vb: &VarBuilder,
) -> candle_core::Result<Vec<MedNextBlock>> {
    (0..count)
        .map(|j| block::mednext_block(cfg, vb.pp(j)))
        .collect()
}

/// Builds a [`MedNext`] from `vb`, whose paths are the original state-dict keys (`stem.weight`,
/// `enc_block_0.0.conv1.weight`, …, `dummy_tensor`). With a `VarMap`-backed builder this creates the
/// parameters with PyTorch's default initialisation.
///
/// # Errors
/// [`Error::InvalidParameter`] from [`MedNextConfig::check`]; [`Error::Candle`] when `vb` lacks a tensor or
/// holds it with another shape (use [`MedNext::from_named_tensors`] for typed key errors).
///
/// # Examples
///
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use candle_nn::{VarBuilder, VarMap};
/// use mednext::{ExpRatio, MedNextConfig};
///
/// let cfg = MedNextConfig {
///     in_channels: 1, n_channels: 2, n_classes: 3, exp_r: ExpRatio::Uniform(2), kernel_size: Some(3),
///     deep_supervision: true, block_counts: vec![1; 9], ..MedNextConfig::default()
/// };
/// let varmap = VarMap::new();
/// let model = mednext::mednext(&cfg, VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu))?;
/// let x = Tensor::zeros((1, 1, 32, 16, 16), DType::F32, &Device::Cpu)?;
/// let outs = model.forward(&x)?;
/// let shapes: Vec<_> = outs.iter().map(|o| o.dims().to_vec()).collect();
/// assert_eq!(shapes[0], [1, 3, 32, 16, 16]); // full resolution first
/// assert_eq!(shapes[4], [1, 3, 2, 1, 1]); // bottleneck head at 1/16
/// assert!(model.forward(&Tensor::zeros((1, 1, 24, 16, 16), DType::F32, &Device::Cpu)?).is_err());
/// # Ok::<(), mednext::Error>(())
/// ```
pub fn mednext(cfg: &MedNextConfig, vb: VarBuilder) -> Result<MedNext> {
    cfg.check()?;
    let c = cfg.n_channels;
    let ke = cfg.encoder_kernel()?;
    let kd = cfg.decoder_kernel()?;
    let base = BlockConfig {
        in_channels: c,
        out_channels: c,
        exp_r: 1,
        kernel_size: ke,
        residual: cfg.do_res,
        norm: cfg.norm_type,
        grn: cfg.grn,
        resample: Resample::None,
    };
    let dummy = vb.get_with_hints(1, "dummy_tensor", Init::Const(1.0))?;
    let stem = block::stem(cfg.in_channels, c, vb.pp("stem"))?;
    let mut enc = Vec::with_capacity(4);
    let mut down = Vec::with_capacity(4);
    for s in 0..4 {
        let ch = c << s;
        let bc = BlockConfig {
            in_channels: ch,
            out_channels: ch,
            exp_r: cfg.exp_ratio(s)?,
            ..base
        };
        enc.push(stage(
            bc,
            cfg.block_counts[s],
            &vb.pp(format!("enc_block_{s}")),
        )?);
        let dc = BlockConfig {
            out_channels: 2 * ch,
            exp_r: cfg.exp_ratio(s + 1)?,
            residual: cfg.do_res_up_down,
            // The original passes `grn` to down_1..3 but not to down_0.
            grn: cfg.grn && s > 0,
            ..bc
        };
        down.push(block::down_block(dc, vb.pp(format!("down_{s}")))?);
    }
    let bottleneck = stage(
        BlockConfig {
            in_channels: 16 * c,
            out_channels: 16 * c,
            exp_r: cfg.exp_ratio(4)?,
            kernel_size: kd,
            ..base
        },
        cfg.block_counts[4],
        &vb.pp("bottleneck"),
    )?;
    // Registration order of the original: up_3, dec_block_3, up_2, …, dec_block_0.
    let mut up: Vec<Option<UpBlock>> = vec![None, None, None, None];
    let mut dec: Vec<Vec<MedNextBlock>> = vec![Vec::new(), Vec::new(), Vec::new(), Vec::new()];
    for s in (0..4).rev() {
        let ch = c << s;
        let r = cfg.exp_ratio(8 - s)?;
        let uc = BlockConfig {
            in_channels: 2 * ch,
            out_channels: ch,
            exp_r: r,
            kernel_size: kd,
            residual: cfg.do_res_up_down,
            ..base
        };
        up[s] = Some(block::up_block(uc, vb.pp(format!("up_{s}")))?);
        let dc = BlockConfig {
            in_channels: ch,
            out_channels: ch,
            exp_r: r,
            kernel_size: kd,
            ..base
        };
        dec[s] = stage(
            dc,
            cfg.block_counts[8 - s],
            &vb.pp(format!("dec_block_{s}")),
        )?;
    }
    let up = up.into_iter().flatten().collect();
    let heads = if cfg.deep_supervision { 5 } else { 1 };
    let out = (0..heads)
        .map(|i| block::out_block(c << i, cfg.n_classes, vb.pp(format!("out_{i}"))))
        .collect::<candle_core::Result<Vec<_>>>()?;
    Ok(MedNext {
        cfg: cfg.clone(),
        dummy,
        stem,
        enc,
        down,
        bottleneck,
        up,
        dec,
        out,
    })
}

impl MedNext {
    /// The configuration this network was built from.
    #[must_use]
    pub fn config(&self) -> &MedNextConfig {
        &self.cfg
    }

    /// Checks an input against the configuration.
    ///
    /// ```text
    /// shape (N, in_channels, D, H, W),  N ≥ 1,  D, H, W ≥ 16 and multiples of 16
    /// ```
    ///
    /// # Errors
    /// [`Error::InputShape`] describing the first violated rule.
    pub fn check_input(&self, x: &Tensor) -> Result<()> {
        let shape = x.dims().to_vec();
        let bad = |reason: String| {
            Err(Error::InputShape {
                shape: shape.clone(),
                reason,
            })
        };
        if shape.len() != 5 {
            return bad("expected a 5-D tensor (N, C, D, H, W)".into());
        }
        if shape[0] == 0 {
            return bad("empty batch".into());
        }
        if shape[1] != self.cfg.in_channels {
            return bad(format!("expected {} input channels", self.cfg.in_channels));
        }
        if let Some(axis) =
            (2..5).find(|&a| shape[a] == 0 || !shape[a].is_multiple_of(SIZE_DIVISOR))
        {
            return bad(format!(
                "spatial axis {} has size {}; every spatial size must be a positive multiple of {SIZE_DIVISOR} \
                 (4 stride-2 down blocks; up blocks always double)",
                axis - 2,
                shape[axis]
            ));
        }
        Ok(())
    }

    fn run(&self, m: &impl checkpoint::Recompute, x: &Tensor) -> candle_core::Result<Tensor> {
        if self.cfg.checkpoint_style.is_some() && !m.recomputes_internally() {
            checkpoint::recompute(m, x)
        } else {
            m.forward(x)
        }
    }

    fn run_stage(&self, blocks: &[MedNextBlock], mut x: Tensor) -> candle_core::Result<Tensor> {
        // When gradients are tracked, a stage of fused blocks runs as one op (the gradient flows between its
        // blocks in place, without a graph node per block). Without gradients, block by block: the caller
        // then frees each block's input as soon as the next block has run (the stage op would hold it).
        let fused: Option<Vec<_>> = blocks.iter().map(MedNextBlock::as_fused).collect();
        if let Some(fused) = fused.filter(|f| !f.is_empty()) {
            let tracked = x.track_op() || fused.iter().any(|f| f.dw.weight.track_op());
            if tracked {
                return crate::ops::fused_stage(&x, &fused);
            }
        }
        for b in blocks {
            x = self.run(b, &x)?;
        }
        Ok(x)
    }

    /// Encoder, bottleneck and decoder; returns `[d_0, d_1, d_2, d_3, b]` (the inputs of `out_0 … out_4`),
    /// or only `[d_0]` when `all` is false.
    fn features(&self, x: &Tensor, all: bool) -> Result<Vec<Tensor>> {
        self.check_input(x)?;
        let mut x = self.stem.forward(x)?;
        let mut skips = Vec::with_capacity(4);
        for s in 0..4 {
            let skip = self.run_stage(&self.enc[s], x)?;
            x = self.run(&self.down[s], &skip)?;
            skips.push(skip);
        }
        x = self.run_stage(&self.bottleneck, x)?;
        let mut feats = vec![None, None, None, None, None];
        if all {
            feats[4] = Some(x.clone());
        }
        for s in (0..4).rev() {
            let skip = skips
                .pop()
                .ok_or_else(|| Error::Unsupported("internal: skip stack".into()))?;
            let u = self.run(&self.up[s], &x)?;
            x = self.run_stage(&self.dec[s], (skip + u)?)?;
            if all || s == 0 {
                feats[s] = Some(x.clone());
            }
        }
        Ok(feats.into_iter().flatten().collect())
    }

    /// Runs the network: with deep supervision the logits `[out_0, out_1, out_2, out_3, out_4]` (full
    /// resolution first, `out_i` at `1/2^i`; the original returns the list in train and eval mode), otherwise
    /// `[out_0]`. Logits, no softmax.
    ///
    /// # Errors
    /// [`Error::InputShape`] (see [`Self::check_input`]); [`Error::Candle`] from the tensor ops.
    pub fn forward(&self, x: &Tensor) -> Result<Vec<Tensor>> {
        let feats = self.features(x, self.cfg.deep_supervision)?;
        feats
            .iter()
            .zip(&self.out)
            .map(|(f, head)| Ok(self.run(head, f)?))
            .collect()
    }

    /// Only the full-resolution logits `out_0` (nnU-Net inference, `do_ds = False`): skips the deep-supervision
    /// heads even when they exist.
    ///
    /// # Errors
    /// As [`Self::forward`].
    pub fn forward_logits(&self, x: &Tensor) -> Result<Tensor> {
        let feats = self.features(x, false)?;
        Ok(self.run(&self.out[0], &feats[0])?)
    }

    /// Every parameter with its original state-dict key, `dummy_tensor` included, in registration order.
    #[must_use]
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        fn push(v: &mut Vec<(String, Tensor)>, prefix: &str, items: Vec<(&'static str, &Tensor)>) {
            v.extend(
                items
                    .into_iter()
                    .map(|(k, t)| (format!("{prefix}.{k}"), t.clone())),
            );
        }
        let mut v = vec![
            ("dummy_tensor".to_string(), self.dummy.clone()),
            ("stem.weight".to_string(), self.stem.weight.clone()),
            ("stem.bias".to_string(), self.stem.bias.clone()),
        ];
        for s in 0..4 {
            for (j, b) in self.enc[s].iter().enumerate() {
                push(&mut v, &format!("enc_block_{s}.{j}"), b.named_tensors());
            }
            push(&mut v, &format!("down_{s}"), self.down[s].named_tensors());
        }
        for (j, b) in self.bottleneck.iter().enumerate() {
            push(&mut v, &format!("bottleneck.{j}"), b.named_tensors());
        }
        for s in (0..4).rev() {
            push(&mut v, &format!("up_{s}"), self.up[s].named_tensors());
            for (j, b) in self.dec[s].iter().enumerate() {
                push(&mut v, &format!("dec_block_{s}.{j}"), b.named_tensors());
            }
        }
        for (i, o) in self.out.iter().enumerate() {
            push(&mut v, &format!("out_{i}"), o.named_tensors());
        }
        v
    }

    /// Number of parameter values, `dummy_tensor` included (PyTorch's `sum(p.numel())`).
    #[must_use]
    pub fn parameter_count(&self) -> usize {
        self.named_tensors()
            .iter()
            .map(|(_, t)| t.elem_count())
            .sum()
    }
}
