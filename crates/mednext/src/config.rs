//! MedNeXt v1 configuration: the original constructor's arguments as a serde struct, validation and the
//! S/B/M/L presets.
//!
//! Reference: MIC-DKFZ/MedNeXt @ `0b78ed8`,
//! `nnunet_mednext/network_architecture/mednextv1/MedNextV1.py` (`MedNeXt.__init__`) and
//! `create_mednext_v1.py` (`create_mednextv1_{small,base,medium,large}`); the nnU-Net trainers in
//! `training/network_training/MedNeXt/nnUNetTrainerV2_MedNeXt.py` build the same networks with deep
//! supervision on. Paper: Roy et al., "MedNeXt", MICCAI 2023 (arXiv 2303.09975), Table 1.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Number of stages that carry an expansion ratio / block count: 4 encoder stages, the bottleneck and
/// 4 decoder stages.
pub const NUM_STAGES: usize = 9;

/// Total down-sampling factor per spatial axis (four stride-2 down blocks).
///
/// ```text
/// every spatial size of the input must be a multiple of 2^4 = 16
/// ```
pub const SIZE_DIVISOR: usize = 16;

/// The expansion ratio `exp_r`: one integer for all 9 stages, or one per stage.
///
/// Serialised untagged, as in the original constructor: `2` or `[2,3,4,4,4,4,4,3,2]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ExpRatio {
    /// The same ratio for every stage.
    Uniform(usize),
    /// One ratio per stage, in the order enc 0‥3, bottleneck, dec 3‥0 (9 entries).
    PerStage(Vec<usize>),
}

impl ExpRatio {
    /// The ratio of stage `stage` (0‥8).
    ///
    /// ```text
    /// Uniform(r)    -> r
    /// PerStage(rs)  -> rs[stage]
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`exp_r`) when the list has no entry `stage`.
    pub fn at(&self, stage: usize) -> Result<usize> {
        match self {
            ExpRatio::Uniform(r) => Ok(*r),
            ExpRatio::PerStage(rs) => {
                rs.get(stage)
                    .copied()
                    .ok_or_else(|| Error::InvalidParameter {
                        key: "exp_r",
                        reason: format!("no entry for stage {stage} in a list of {}", rs.len()),
                    })
            }
        }
    }
}

/// The normalisation layer of every block (`norm_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NormType {
    /// `GroupNorm(C, C)` (one group per channel, statistics over D·H·W), eps 1e-5. Every preset.
    #[default]
    Group,
    /// The repository's channels-first `LayerNorm` (statistics over the channel axis per voxel), eps 1e-5.
    Layer,
}

/// Gradient checkpointing (`checkpoint_style`); numerics are unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointStyle {
    /// Recompute every block, down, up and output block during the backward pass (M and L presets).
    OutsideBlock,
}

/// Spatial dimensionality (`dim`); only the 3-D network is implemented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SpatialDims {
    /// `'3d'`: NCDHW tensors, `Conv3d`.
    #[default]
    #[serde(rename = "3d")]
    Three,
}

/// The four published model sizes (`create_mednextv1_*`, `nnUNetTrainerV2_MedNeXt_{S,B,M,L}_kernel*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Preset {
    /// MedNeXt-S: exp_r 2, 2 blocks per stage.
    S,
    /// MedNeXt-B: exp_r `[2,3,4,4,4,4,4,3,2]`, 2 blocks per stage.
    B,
    /// MedNeXt-M: exp_r as B, blocks `[3,4,4,4,4,4,4,4,3]`, checkpointing.
    M,
    /// MedNeXt-L: exp_r = blocks = `[3,4,8,8,8,8,8,4,3]`, checkpointing.
    L,
}

impl std::str::FromStr for Preset {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_uppercase().as_str() {
            "S" | "SMALL" => Ok(Preset::S),
            "B" | "BASE" => Ok(Preset::B),
            "M" | "MEDIUM" => Ok(Preset::M),
            "L" | "LARGE" => Ok(Preset::L),
            _ => Err(Error::InvalidParameter {
                key: "preset",
                reason: format!("`{s}` is not one of S, B, M, L"),
            }),
        }
    }
}

fn default_exp_r() -> ExpRatio {
    ExpRatio::Uniform(4)
}
fn default_kernel_size() -> Option<usize> {
    Some(7)
}
fn default_block_counts() -> Vec<usize> {
    vec![2; NUM_STAGES]
}

/// The arguments of the original `MedNeXt(...)` constructor (same names, same defaults, same JSON).
///
/// `in_channels`, `n_channels` and `n_classes` are required in JSON; every other field defaults to the
/// original constructor's default. [`Default`] is `in_channels = 1, n_channels = 32, n_classes = 2` with
/// those defaults. Kernel sizes:
///
/// ```text
/// kernel_size = Some(k)  ->  enc_kernel_size = dec_kernel_size = k   (overrides both)
/// encoder blocks and down blocks use enc_kernel_size;
/// bottleneck, up blocks and decoder blocks use dec_kernel_size
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MedNextConfig {
    /// Input channels (MRI phases).
    pub in_channels: usize,
    /// Channels `C` of the first stage; level `s` has `2^s·C`.
    pub n_channels: usize,
    /// Output classes (logits per class, background included).
    pub n_classes: usize,
    /// Expansion ratio(s), default 4.
    #[serde(default = "default_exp_r")]
    pub exp_r: ExpRatio,
    /// Depthwise kernel size of every block; overrides the two below when set. Default 7.
    #[serde(default = "default_kernel_size")]
    pub kernel_size: Option<usize>,
    /// Kernel size of encoder and down blocks when `kernel_size` is `None`.
    #[serde(default)]
    pub enc_kernel_size: Option<usize>,
    /// Kernel size of bottleneck, up and decoder blocks when `kernel_size` is `None`.
    #[serde(default)]
    pub dec_kernel_size: Option<usize>,
    /// Build the 4 extra heads `out_1..out_4` and return `[out_0, …, out_4]`. Default false.
    #[serde(default)]
    pub deep_supervision: bool,
    /// Residual connection in every encoder/bottleneck/decoder block. Default false.
    #[serde(default)]
    pub do_res: bool,
    /// Residual 1×1×1 (transposed) stride-2 convolution in down and up blocks. Default false.
    #[serde(default)]
    pub do_res_up_down: bool,
    /// Gradient checkpointing; `null` (default) or `"outside_block"`.
    #[serde(default)]
    pub checkpoint_style: Option<CheckpointStyle>,
    /// Blocks per stage (9 entries), default `[2; 9]`.
    #[serde(default = "default_block_counts")]
    pub block_counts: Vec<usize>,
    /// Normalisation layer, default `"group"`.
    #[serde(default)]
    pub norm_type: NormType,
    /// Spatial dimensionality, `"3d"` only.
    #[serde(default)]
    pub dim: SpatialDims,
    /// Global response normalisation after the GELU (ConvNeXt-V2). Default false.
    #[serde(default)]
    pub grn: bool,
}

impl Default for MedNextConfig {
    fn default() -> Self {
        Self {
            in_channels: 1,
            n_channels: 32,
            n_classes: 2,
            exp_r: default_exp_r(),
            kernel_size: default_kernel_size(),
            enc_kernel_size: None,
            dec_kernel_size: None,
            deep_supervision: false,
            do_res: false,
            do_res_up_down: false,
            checkpoint_style: None,
            block_counts: default_block_counts(),
            norm_type: NormType::Group,
            dim: SpatialDims::Three,
            grn: false,
        }
    }
}

impl MedNextConfig {
    /// A published preset, as `create_mednextv1_{small,base,medium,large}(in_channels, n_classes,
    /// kernel_size, ds=False)` builds it: `n_channels = 32`, `do_res = do_res_up_down = true`, group norm,
    /// no GRN, deep supervision off (the nnU-Net trainers turn it on: [`Self::with_deep_supervision`]).
    ///
    /// | preset | exp_r | block_counts | checkpoint_style |
    /// | --- | --- | --- | --- |
    /// | S | 2 | `[2; 9]` | None |
    /// | B | `[2,3,4,4,4,4,4,3,2]` | `[2; 9]` | None |
    /// | M | `[2,3,4,4,4,4,4,3,2]` | `[3,4,4,4,4,4,4,4,3]` | outside_block |
    /// | L | `[3,4,8,8,8,8,8,4,3]` | `[3,4,8,8,8,8,8,4,3]` | outside_block |
    ///
    /// # Examples
    ///
    /// ```
    /// use mednext::{MedNextConfig, Preset};
    ///
    /// // nnUNetTrainerV2_MedNeXt_M_kernel5 with 3 input phases and 2 classes.
    /// let cfg = MedNextConfig::preset(Preset::M, 3, 2, 5).with_deep_supervision(true);
    /// assert_eq!(cfg, MedNextConfig::medium(3, 2, 5).with_deep_supervision(true));
    /// assert_eq!(mednext::parameter_count(&cfg)?, 18_262_827);
    /// # Ok::<(), mednext::Error>(())
    /// ```
    #[must_use]
    pub fn preset(
        preset: Preset,
        in_channels: usize,
        n_classes: usize,
        kernel_size: usize,
    ) -> Self {
        const B_EXP: [usize; 9] = [2, 3, 4, 4, 4, 4, 4, 3, 2];
        const L_EXP: [usize; 9] = [3, 4, 8, 8, 8, 8, 8, 4, 3];
        let (exp_r, block_counts, checkpoint_style) = match preset {
            Preset::S => (ExpRatio::Uniform(2), vec![2; 9], None),
            Preset::B => (ExpRatio::PerStage(B_EXP.to_vec()), vec![2; 9], None),
            Preset::M => (
                ExpRatio::PerStage(B_EXP.to_vec()),
                vec![3, 4, 4, 4, 4, 4, 4, 4, 3],
                Some(CheckpointStyle::OutsideBlock),
            ),
            Preset::L => (
                ExpRatio::PerStage(L_EXP.to_vec()),
                L_EXP.to_vec(),
                Some(CheckpointStyle::OutsideBlock),
            ),
        };
        Self {
            in_channels,
            n_channels: 32,
            n_classes,
            exp_r,
            kernel_size: Some(kernel_size),
            deep_supervision: false,
            do_res: true,
            do_res_up_down: true,
            checkpoint_style,
            block_counts,
            ..Self::default()
        }
    }

    /// MedNeXt-S ([`Preset::S`]).
    #[must_use]
    pub fn small(in_channels: usize, n_classes: usize, kernel_size: usize) -> Self {
        Self::preset(Preset::S, in_channels, n_classes, kernel_size)
    }

    /// MedNeXt-B ([`Preset::B`]).
    #[must_use]
    pub fn base(in_channels: usize, n_classes: usize, kernel_size: usize) -> Self {
        Self::preset(Preset::B, in_channels, n_classes, kernel_size)
    }

    /// MedNeXt-M ([`Preset::M`]).
    #[must_use]
    pub fn medium(in_channels: usize, n_classes: usize, kernel_size: usize) -> Self {
        Self::preset(Preset::M, in_channels, n_classes, kernel_size)
    }

    /// MedNeXt-L ([`Preset::L`]).
    #[must_use]
    pub fn large(in_channels: usize, n_classes: usize, kernel_size: usize) -> Self {
        Self::preset(Preset::L, in_channels, n_classes, kernel_size)
    }

    /// The same configuration with deep supervision switched on or off.
    #[must_use]
    pub fn with_deep_supervision(mut self, on: bool) -> Self {
        self.deep_supervision = on;
        self
    }

    /// The same configuration with another checkpointing style (numerics unchanged).
    #[must_use]
    pub fn with_checkpoint_style(mut self, style: Option<CheckpointStyle>) -> Self {
        self.checkpoint_style = style;
        self
    }

    /// Kernel size of encoder and down blocks (`kernel_size` if set, else `enc_kernel_size`).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`enc_kernel_size`) when both are `None`.
    pub fn encoder_kernel(&self) -> Result<usize> {
        self.kernel_size
            .or(self.enc_kernel_size)
            .ok_or_else(|| Error::InvalidParameter {
                key: "enc_kernel_size",
                reason: "required when `kernel_size` is null".into(),
            })
    }

    /// Kernel size of bottleneck, up and decoder blocks (`kernel_size` if set, else `dec_kernel_size`).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`dec_kernel_size`) when both are `None`.
    pub fn decoder_kernel(&self) -> Result<usize> {
        self.kernel_size
            .or(self.dec_kernel_size)
            .ok_or_else(|| Error::InvalidParameter {
                key: "dec_kernel_size",
                reason: "required when `kernel_size` is null".into(),
            })
    }

    /// The expansion ratio of stage `stage` (0‥8): enc 0‥3 = stages 0‥3, bottleneck = 4, dec `s` = 8 − s.
    ///
    /// # Errors
    /// See [`ExpRatio::at`].
    pub fn exp_ratio(&self, stage: usize) -> Result<usize> {
        self.exp_r.at(stage)
    }

    /// Validates every field; run by the model constructors.
    ///
    /// ```text
    /// in_channels, n_channels, n_classes ≥ 1
    /// exp_r ≥ 1 (int, or a list of exactly 9)          block_counts: exactly 9 entries, each ≥ 1
    /// kernel sizes odd and ≥ 1 (padding k//2 keeps the size)
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first offending key.
    pub fn check(&self) -> Result<()> {
        fn bad(key: &'static str, reason: String) -> Result<()> {
            Err(Error::InvalidParameter { key, reason })
        }
        for (key, v) in [
            ("in_channels", self.in_channels),
            ("n_channels", self.n_channels),
            ("n_classes", self.n_classes),
        ] {
            if v == 0 {
                return bad(key, "must be at least 1".into());
            }
        }
        match &self.exp_r {
            ExpRatio::Uniform(0) => return bad("exp_r", "must be at least 1".into()),
            ExpRatio::Uniform(_) => {}
            ExpRatio::PerStage(rs) if rs.len() != NUM_STAGES => {
                return bad(
                    "exp_r",
                    format!("a list needs {NUM_STAGES} entries, got {}", rs.len()),
                )
            }
            ExpRatio::PerStage(rs) if rs.contains(&0) => {
                return bad(
                    "exp_r",
                    format!("every entry must be at least 1, got {rs:?}"),
                )
            }
            ExpRatio::PerStage(_) => {}
        }
        if self.block_counts.len() != NUM_STAGES {
            return bad(
                "block_counts",
                format!(
                    "needs {NUM_STAGES} entries, got {}",
                    self.block_counts.len()
                ),
            );
        }
        if self.block_counts.contains(&0) {
            return bad(
                "block_counts",
                format!(
                    "every entry must be at least 1, got {:?}",
                    self.block_counts
                ),
            );
        }
        for (key, k) in [
            ("kernel_size", self.kernel_size),
            ("enc_kernel_size", self.enc_kernel_size),
            ("dec_kernel_size", self.dec_kernel_size),
        ] {
            if let Some(k) = k {
                if k % 2 == 0 {
                    return bad(
                        key,
                        format!("must be odd (padding k//2 keeps the size), got {k}"),
                    );
                }
            }
        }
        self.encoder_kernel()?;
        self.decoder_kernel()?;
        Ok(())
    }

    /// Reads a JSON configuration (the constructor's keyword arguments) and checks it.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read, [`Error::Config`] when it is not a valid configuration,
    /// [`Error::InvalidParameter`] from [`Self::check`].
    pub fn from_json_file(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let cfg: Self = serde_json::from_str(&text).map_err(|source| Error::Config {
            path: path.to_path_buf(),
            source,
        })?;
        cfg.check()?;
        Ok(cfg)
    }
}
