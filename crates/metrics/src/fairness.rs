//! Subgroup binning and the MAMA-MIA fairness and ranking scores of Task 1 (segmentation) and Task 2 (pCR).
//!
//! Subgroup variables (both tasks):
//!
//! ```text
//! age               pd.cut(bins=[0, 40, 50, 60, 70, 100], right-closed): (0,40] "0-40", (40,50] "41-50",
//!                   (50,60] "51-60", (60,70] "61-70", (70,100] "71+"; missing → no group
//! menopausal status labels from the scorers' text cleaning ("pre", "post", "unknown", …), computed by the
//!                   caller (e.g. nnunet_preproc::mamamia::menopause_group); missing → no group
//! breast density    ACR "a", "b", "c", "d"; missing → no group
//! ```
//!
//! Task 1 (`scoring_task1.py`):
//!
//! ```text
//! perf    = 0.5 · (mean DSC + (1 − mean NormHD))
//! fair_v  = 1 − 0.5 · ( (max_g − min_g) mean(DSC | g) + (max_g − min_g) mean(NormHD | g) )
//! fairness = mean over v ∈ {age, menopausal status, breast density} of fair_v
//! ranking = 0.5 · perf + 0.5 · fairness
//! ```
//!
//! Task 2 (`scoring_task2.py`):
//!
//! ```text
//! BA      = balanced_accuracy(pcr with missing → 0, binary prediction)
//! per group g: TPR_g = TP/(TP+FN) (0 without positives), FPR_g = FP/(FP+TN) (0 without negatives);
//!              a group whose truths and predictions together hold one class only: TPR_g = FPR_g = 0
//! D_v     = (max TPR − min TPR) + (max FPR − min FPR)
//! D       = clip(mean_v D_v, 0, 1);  fairness = 1 − D;  ranking = 0.5 · BA + 0.5 · (1 − D)
//! ```
//!
//! Intended semantics where the templates misbehave (`mamamia.md` §2.5): only observed groups count (pandas
//! `observed=True`); a missing pCR truth is 0 in the groups too (the template's `astype(int)` would fail);
//! a variable without any observed group counts as no disparity (fair_v = 1, D_v = 0), like one with a single
//! group, and is reported with zero groups (the template's `max([])` would fail).
//!
//! References: LidiaGarrucho/MAMA-MIA `src/challenge/scoring_task1.py`, `scoring_task2.py` (commit
//! `3b40cf6`); `/work/shared/reference/mamamia.md` §2.2–§2.5.

use std::collections::BTreeMap;

use crate::classification::{balanced_accuracy, roc_auc, Adjusted, BinaryConfusion};
use crate::error::{Error, Result};
use crate::policy::EmptyPolicy;

/// A subgroup variable of the challenge's fairness analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SubgroupVariable {
    /// Age bins.
    Age,
    /// Menopausal status.
    MenopausalStatus,
    /// ACR breast density.
    BreastDensity,
}

impl SubgroupVariable {
    /// The three variables in the scorers' order.
    pub const ALL: [SubgroupVariable; 3] = [
        SubgroupVariable::Age,
        SubgroupVariable::MenopausalStatus,
        SubgroupVariable::BreastDensity,
    ];

    /// The scorers' column name (`age`, `menopausal_status`, `breast_density`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            SubgroupVariable::Age => "age",
            SubgroupVariable::MenopausalStatus => "menopausal_status",
            SubgroupVariable::BreastDensity => "breast_density",
        }
    }
}

/// The challenge's age bins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AgeGroup {
    /// `(0, 40]`, label `0-40`.
    UpTo40,
    /// `(40, 50]`, label `41-50`.
    From41To50,
    /// `(50, 60]`, label `51-60`.
    From51To60,
    /// `(60, 70]`, label `61-70`.
    From61To70,
    /// `(70, 100]`, label `71+`.
    From71,
}

impl AgeGroup {
    /// The scorers' label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            AgeGroup::UpTo40 => "0-40",
            AgeGroup::From41To50 => "41-50",
            AgeGroup::From51To60 => "51-60",
            AgeGroup::From61To70 => "61-70",
            AgeGroup::From71 => "71+",
        }
    }

    /// The bin of an age in years (`pd.cut(bins=[0, 40, 50, 60, 70, 100])`, right-closed).
    ///
    /// # Errors
    /// [`Error::UnknownSubgroup`] for an age outside `(0, 100]` or NaN (pandas would silently drop it).
    ///
    /// # Examples
    /// ```
    /// use medmetrics::AgeGroup;
    /// assert_eq!(AgeGroup::from_age(40.0).unwrap(), AgeGroup::UpTo40);
    /// assert_eq!(AgeGroup::from_age(40.5).unwrap().label(), "41-50");
    /// assert!(AgeGroup::from_age(0.0).is_err());
    /// ```
    pub fn from_age(age: f64) -> Result<Self> {
        let group = match age {
            a if a > 0.0 && a <= 40.0 => AgeGroup::UpTo40,
            a if a > 40.0 && a <= 50.0 => AgeGroup::From41To50,
            a if a > 50.0 && a <= 60.0 => AgeGroup::From51To60,
            a if a > 60.0 && a <= 70.0 => AgeGroup::From61To70,
            a if a > 70.0 && a <= 100.0 => AgeGroup::From71,
            _ => {
                return Err(Error::UnknownSubgroup {
                    variable: "age",
                    value: age.to_string(),
                    case: None,
                })
            }
        };
        Ok(group)
    }
}

/// ACR breast density.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BreastDensity {
    /// Almost entirely fatty.
    A,
    /// Scattered fibroglandular density.
    B,
    /// Heterogeneously dense.
    C,
    /// Extremely dense.
    D,
}

impl BreastDensity {
    /// The label (`a`…`d`).
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            BreastDensity::A => "a",
            BreastDensity::B => "b",
            BreastDensity::C => "c",
            BreastDensity::D => "d",
        }
    }

    /// Parses `a`–`d` (case-insensitive, surrounding white space ignored).
    ///
    /// # Errors
    /// [`Error::UnknownSubgroup`] for any other text.
    pub fn parse(text: &str) -> Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "a" => Ok(BreastDensity::A),
            "b" => Ok(BreastDensity::B),
            "c" => Ok(BreastDensity::C),
            "d" => Ok(BreastDensity::D),
            _ => Err(Error::UnknownSubgroup {
                variable: "breast_density",
                value: text.to_string(),
                case: None,
            }),
        }
    }
}

/// A case's subgroup labels (`None` = missing: the case is in no group of that variable).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subgroups {
    /// Age-bin label ([`AgeGroup::label`]).
    pub age: Option<String>,
    /// Menopausal-status label.
    pub menopausal_status: Option<String>,
    /// Breast-density label ([`BreastDensity::label`]).
    pub breast_density: Option<String>,
}

impl Subgroups {
    /// The label of `variable`.
    #[must_use]
    pub fn get(&self, variable: SubgroupVariable) -> Option<&str> {
        match variable {
            SubgroupVariable::Age => self.age.as_deref(),
            SubgroupVariable::MenopausalStatus => self.menopausal_status.as_deref(),
            SubgroupVariable::BreastDensity => self.breast_density.as_deref(),
        }
    }
}

/// Case indices per observed group label of `variable`, labels sorted.
fn group_indices<'a, I>(labels: I) -> BTreeMap<String, Vec<usize>>
where
    I: Iterator<Item = Option<&'a str>>,
{
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, l) in labels.enumerate() {
        if let Some(l) = l {
            groups.entry(l.to_string()).or_default().push(i);
        }
    }
    groups
}

#[allow(clippy::cast_precision_loss)]
fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    s / n as f64
}

fn spread(v: impl Iterator<Item = f64>) -> f64 {
    let (lo, hi) = v.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    if lo.is_finite() {
        hi - lo
    } else {
        0.0
    }
}

/// One case of Task 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Task1Case {
    /// Dice (MAMA-MIA convention).
    pub dice: f64,
    /// NormHD.
    pub norm_hd: f64,
    /// Subgroup labels.
    pub subgroups: Subgroups,
}

/// Mean scores of one subgroup (Task 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Task1Group {
    /// Group label.
    pub label: String,
    /// Cases in the group.
    pub n: usize,
    /// Mean Dice.
    pub mean_dice: f64,
    /// Mean NormHD.
    pub mean_norm_hd: f64,
}

/// Disparities and fairness of one variable (Task 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Task1Variable {
    /// The variable.
    pub variable: SubgroupVariable,
    /// Observed groups, labels sorted.
    pub groups: Vec<Task1Group>,
    /// `max − min` of the group mean Dice.
    pub dice_gap: f64,
    /// `max − min` of the group mean NormHD.
    pub norm_hd_gap: f64,
    /// `1 − 0.5·(dice_gap + norm_hd_gap)`.
    pub fairness: f64,
}

/// The Task 1 score.
#[derive(Debug, Clone, PartialEq)]
pub struct Task1Score {
    /// Mean Dice over cases.
    pub mean_dice: f64,
    /// Mean NormHD over cases.
    pub mean_norm_hd: f64,
    /// `0.5·(mean Dice + 1 − mean NormHD)`.
    pub performance: f64,
    /// Mean of the three variables' fairness.
    pub fairness: f64,
    /// `0.5·performance + 0.5·fairness`.
    pub ranking: f64,
    /// Per-variable tables.
    pub variables: Vec<Task1Variable>,
}

/// The Task 1 performance, fairness and ranking scores (see the module docs).
///
/// # Errors
/// [`Error::EmptyInput`] without cases; [`Error::NonFinite`] for a NaN/inf Dice or NormHD.
pub fn task1_score(cases: &[Task1Case]) -> Result<Task1Score> {
    if cases.is_empty() {
        return Err(Error::EmptyInput {
            what: "Task 1 cases",
        });
    }
    for (i, c) in cases.iter().enumerate() {
        for (what, v) in [("dice", c.dice), ("norm_hd", c.norm_hd)] {
            if !v.is_finite() {
                return Err(Error::NonFinite {
                    what,
                    index: i,
                    value: v,
                });
            }
        }
    }
    let mean_dice = mean(cases.iter().map(|c| c.dice));
    let mean_norm_hd = mean(cases.iter().map(|c| c.norm_hd));
    let performance = 0.5 * (mean_dice + (1.0 - mean_norm_hd));
    let variables: Vec<Task1Variable> = SubgroupVariable::ALL
        .iter()
        .map(|&variable| {
            let groups: Vec<Task1Group> =
                group_indices(cases.iter().map(|c| c.subgroups.get(variable)))
                    .into_iter()
                    .map(|(label, idx)| Task1Group {
                        label,
                        n: idx.len(),
                        mean_dice: mean(idx.iter().map(|&i| cases[i].dice)),
                        mean_norm_hd: mean(idx.iter().map(|&i| cases[i].norm_hd)),
                    })
                    .collect();
            let dice_gap = spread(groups.iter().map(|g| g.mean_dice));
            let norm_hd_gap = spread(groups.iter().map(|g| g.mean_norm_hd));
            Task1Variable {
                variable,
                groups,
                dice_gap,
                norm_hd_gap,
                fairness: 1.0 - 0.5 * (dice_gap + norm_hd_gap),
            }
        })
        .collect();
    let fairness = mean(variables.iter().map(|v| v.fairness));
    Ok(Task1Score {
        mean_dice,
        mean_norm_hd,
        performance,
        fairness,
        ranking: 0.5 * performance + 0.5 * fairness,
        variables,
    })
}

/// One case of Task 2.
#[derive(Debug, Clone, PartialEq)]
pub struct Task2Case {
    /// Ground-truth pCR (0/1; `None` = missing, scored as 0 like the template's `fillna(0)`).
    pub pcr: Option<u8>,
    /// Binary prediction (the scored `pcr` column).
    pub prediction: u8,
    /// Predicted probability (only used for the per-group AUC).
    pub score: Option<f64>,
    /// Subgroup labels.
    pub subgroups: Subgroups,
}

/// Rates of one subgroup (Task 2).
#[derive(Debug, Clone, PartialEq)]
pub struct Task2Group {
    /// Group label.
    pub label: String,
    /// Cases in the group.
    pub n: usize,
    /// Confusion counts.
    pub confusion: BinaryConfusion,
    /// TPR under the scorer's rules.
    pub tpr: f64,
    /// FPR under the scorer's rules.
    pub fpr: f64,
    /// Balanced accuracy within the group (scikit-learn semantics).
    pub balanced_accuracy: f64,
    /// ROC AUC of the scores within the group; `None` with a single class or missing scores.
    pub auc: Option<f64>,
}

/// Equalised-odds disparity of one variable (Task 2).
#[derive(Debug, Clone, PartialEq)]
pub struct Task2Variable {
    /// The variable.
    pub variable: SubgroupVariable,
    /// Observed groups, labels sorted.
    pub groups: Vec<Task2Group>,
    /// `max − min` TPR.
    pub tpr_gap: f64,
    /// `max − min` FPR.
    pub fpr_gap: f64,
    /// `tpr_gap + fpr_gap`, in `[0, 2]`.
    pub disparity: f64,
}

/// The Task 2 score.
#[derive(Debug, Clone, PartialEq)]
pub struct Task2Score {
    /// Balanced accuracy over all cases.
    pub balanced_accuracy: f64,
    /// `clip(mean_v D_v, 0, 1)`.
    pub disparity: f64,
    /// `1 − disparity`.
    pub fairness: f64,
    /// `0.5·BA + 0.5·fairness`.
    pub ranking: f64,
    /// Per-variable tables.
    pub variables: Vec<Task2Variable>,
}

/// The Task 2 balanced accuracy, equalised-odds fairness and ranking scores (see the module docs).
///
/// # Errors
/// [`Error::EmptyInput`] without cases; [`Error::NonBinary`] for a pCR or prediction other than 0/1;
/// [`Error::NonFinite`] for a NaN/inf score.
pub fn task2_score(cases: &[Task2Case]) -> Result<Task2Score> {
    if cases.is_empty() {
        return Err(Error::EmptyInput {
            what: "Task 2 cases",
        });
    }
    let y: Vec<u8> = cases.iter().map(|c| c.pcr.unwrap_or(0)).collect();
    let yp: Vec<u8> = cases.iter().map(|c| c.prediction).collect();
    crate::classification::check_binary("pcr", &y)?;
    crate::classification::check_binary("prediction", &yp)?;
    for (i, c) in cases.iter().enumerate() {
        if let Some(s) = c.score.filter(|s| !s.is_finite()) {
            return Err(Error::NonFinite {
                what: "score",
                index: i,
                value: s,
            });
        }
    }
    let ba = balanced_accuracy(&y, &yp, Adjusted::No)?;
    let mut variables = Vec::with_capacity(3);
    for variable in SubgroupVariable::ALL {
        let mut groups = Vec::new();
        for (label, idx) in group_indices(cases.iter().map(|c| c.subgroups.get(variable))) {
            let gy: Vec<u8> = idx.iter().map(|&i| y[i]).collect();
            let gp: Vec<u8> = idx.iter().map(|&i| yp[i]).collect();
            let confusion = BinaryConfusion::new(&gy, &gp)?;
            let one_class = gy.iter().chain(&gp).all(|&v| v == gy[0]);
            let (tpr, fpr) = if one_class {
                (0.0, 0.0)
            } else {
                (
                    confusion.tpr(EmptyPolicy::Zero)?,
                    confusion.fpr(EmptyPolicy::Zero)?,
                )
            };
            let scores: Option<Vec<f64>> = idx.iter().map(|&i| cases[i].score).collect();
            let auc = match scores {
                Some(s) => {
                    let a = roc_auc(&gy, &s, EmptyPolicy::Nan)?;
                    (!a.is_nan()).then_some(a)
                }
                None => None,
            };
            groups.push(Task2Group {
                label,
                n: idx.len(),
                confusion,
                tpr,
                fpr,
                balanced_accuracy: balanced_accuracy(&gy, &gp, Adjusted::No)?,
                auc,
            });
        }
        let tpr_gap = spread(groups.iter().map(|g| g.tpr));
        let fpr_gap = spread(groups.iter().map(|g| g.fpr));
        variables.push(Task2Variable {
            variable,
            groups,
            tpr_gap,
            fpr_gap,
            disparity: tpr_gap + fpr_gap,
        });
    }
    let disparity = mean(variables.iter().map(|v| v.disparity)).clamp(0.0, 1.0);
    Ok(Task2Score {
        balanced_accuracy: ba,
        disparity,
        fairness: 1.0 - disparity,
        ranking: 0.5 * ba + 0.5 * (1.0 - disparity),
        variables,
    })
}
