//! Explicit conventions for undefined metric values (empty masks, zero divisions).
//!
//! The libraries disagree on what an empty mask gives (`/work/shared/reference/metrics.md` §1 and §3):
//!
//! ```text
//!                      both empty            exactly one empty
//! nnU-Net Dice         NaN                   0
//! MONAI HD95           NaN                   NaN (HD max: inf)
//! DeepMind HD          inf                   inf
//! MAMA-MIA             Dice 0, HD95 0        Dice 0, HD95 inf (NormHD 1)
//! ```
//!
//! so every function whose value can be undefined takes the convention as an argument; a NaN is only ever
//! returned when the caller asked for [`EmptyPolicy::Nan`].

use crate::error::{Error, Result};

/// What an undefined value (a zero denominator, an empty surface) becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EmptyPolicy {
    /// Return [`Error::Undefined`] (the default: undefined values are never silent).
    #[default]
    Error,
    /// Return `NaN` (nnU-Net, MONAI, medpy, DeepMind Dice).
    Nan,
    /// Return `0` (MAMA-MIA Dice; MAMA-MIA HD95 when both masks are empty).
    Zero,
    /// Return `1` (MONAI `ignore_empty=False` Dice when both masks are empty).
    One,
    /// Return `+inf` (DeepMind distances; MAMA-MIA HD95 when one mask is empty).
    Inf,
}

impl EmptyPolicy {
    /// The value this policy gives, or [`Error::Undefined`] naming `metric` and `reason`.
    ///
    /// # Errors
    /// [`Error::Undefined`] for [`EmptyPolicy::Error`].
    pub fn resolve(self, metric: &'static str, reason: &'static str) -> Result<f64> {
        match self {
            EmptyPolicy::Error => Err(Error::Undefined { metric, reason }),
            EmptyPolicy::Nan => Ok(f64::NAN),
            EmptyPolicy::Zero => Ok(0.0),
            EmptyPolicy::One => Ok(1.0),
            EmptyPolicy::Inf => Ok(f64::INFINITY),
        }
    }
}

/// The conventions of a distance metric for empty surfaces: one policy for "both empty", one for "exactly
/// one empty".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EmptyRule {
    /// Both masks (surfaces) are empty.
    pub both: EmptyPolicy,
    /// Exactly one mask (surface) is empty.
    pub one: EmptyPolicy,
}

impl EmptyRule {
    /// Errors in both cases (the default).
    pub const ERROR: EmptyRule = EmptyRule {
        both: EmptyPolicy::Error,
        one: EmptyPolicy::Error,
    };
    /// MONAI 1.6 percentile Hausdorff / ASSD: NaN in both cases.
    pub const MONAI: EmptyRule = EmptyRule {
        both: EmptyPolicy::Nan,
        one: EmptyPolicy::Nan,
    };
    /// MAMA-MIA HD95: 0 when both are empty, `inf` when exactly one is (NormHD then 0 and 1).
    pub const MAMA_MIA: EmptyRule = EmptyRule {
        both: EmptyPolicy::Zero,
        one: EmptyPolicy::Inf,
    };
    /// DeepMind surface-distance: `inf` in both cases.
    pub const DEEPMIND: EmptyRule = EmptyRule {
        both: EmptyPolicy::Inf,
        one: EmptyPolicy::Inf,
    };

    /// DeepMind surface Dice / surface overlap: NaN when both are empty (0/0), 0 when exactly one is.
    pub const DEEPMIND_NSD: EmptyRule = EmptyRule {
        both: EmptyPolicy::Nan,
        one: EmptyPolicy::Zero,
    };

    /// A rule from its two policies.
    #[must_use]
    pub const fn new(both: EmptyPolicy, one: EmptyPolicy) -> Self {
        EmptyRule { both, one }
    }

    /// The value for surfaces with `n_a` and `n_b` elements when at least one is empty; `None` when both are
    /// non-empty (the metric is defined).
    ///
    /// # Errors
    /// [`Error::Undefined`] when the applicable policy is [`EmptyPolicy::Error`].
    pub fn check(self, metric: &'static str, n_a: usize, n_b: usize) -> Result<Option<f64>> {
        match (n_a == 0, n_b == 0) {
            (true, true) => self.both.resolve(metric, "both masks are empty").map(Some),
            (true, false) | (false, true) => self
                .one
                .resolve(metric, "exactly one mask is empty")
                .map(Some),
            (false, false) => Ok(None),
        }
    }
}
