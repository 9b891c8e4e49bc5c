//! The challenge's menopausal-status subgroups, derived from the free-text `menopause` column.
//!
//! The two scoring scripts clean the text differently (both first replace a missing value by `"unknown"`):
//!
//! ```text
//! Task 1 (case-sensitive, in this order):  "peri" in s → "pre";  then "post" in s → "post";  then "pre" in s → "pre"
//! Task 2:  s = lower(s);  ("peri" in s or "pre" in s) → "pre";  else "post" in s → "post";  else s
//! ```
//!
//! Anything no rule matched stays its own group (Task 1 keeps the original text, Task 2 the lower-cased
//! text), e.g. `"unknown"`.
//!
//! Reference: LidiaGarrucho/MAMA-MIA `src/challenge/scoring_task1.py` and `src/challenge/scoring_task2.py`
//! (`fairness_varibles_df['menopausal_status']` cleaning); `/work/shared/reference/mamamia.md` §2.4.

/// Which scoring script's cleaning rule to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MenopauseRule {
    /// `scoring_task1.py` (segmentation): case-sensitive, `peri` → pre, then `post`, then `pre`.
    #[default]
    Task1,
    /// `scoring_task2.py` (pCR): lower-cased, `peri` or `pre` → pre, else `post`.
    Task2,
}

/// A menopausal-status subgroup.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MenopauseGroup {
    /// Pre- (or peri-) menopausal: the label `"pre"`.
    Pre,
    /// Post-menopausal: the label `"post"`.
    Post,
    /// Missing text (or the text `unknown`): the label `"unknown"`.
    Unknown,
    /// Text that no rule matched, kept as the script keeps it (its own subgroup).
    Other(String),
}

impl MenopauseGroup {
    /// The group label the scoring scripts use.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            MenopauseGroup::Pre => "pre",
            MenopauseGroup::Post => "post",
            MenopauseGroup::Unknown => "unknown",
            MenopauseGroup::Other(s) => s,
        }
    }
}

/// The subgroup of a `menopause` text (`None` = missing) under `rule`; see the module docs for the rules.
///
/// # Examples
/// ```
/// use nnunet_preproc::mamamia::{menopause_group, MenopauseGroup, MenopauseRule};
/// let t = Some("peri (6-12 months since LMP)");
/// assert_eq!(menopause_group(t, MenopauseRule::Task1), MenopauseGroup::Pre);
/// assert_eq!(menopause_group(Some("Post"), MenopauseRule::Task1), MenopauseGroup::Other("Post".into()));
/// assert_eq!(menopause_group(Some("Post"), MenopauseRule::Task2), MenopauseGroup::Post);
/// assert_eq!(menopause_group(None, MenopauseRule::Task2), MenopauseGroup::Unknown);
/// ```
#[must_use]
pub fn menopause_group(text: Option<&str>, rule: MenopauseRule) -> MenopauseGroup {
    let s = text.unwrap_or("unknown");
    let label = match rule {
        MenopauseRule::Task1 => {
            if s.contains("peri") {
                "pre".to_string()
            } else if s.contains("post") {
                "post".to_string()
            } else if s.contains("pre") {
                "pre".to_string()
            } else {
                s.to_string()
            }
        }
        MenopauseRule::Task2 => {
            let s = s.to_lowercase();
            if s.contains("peri") || s.contains("pre") {
                "pre".to_string()
            } else if s.contains("post") {
                "post".to_string()
            } else {
                s
            }
        }
    };
    match label.as_str() {
        "pre" => MenopauseGroup::Pre,
        "post" => MenopauseGroup::Post,
        "unknown" => MenopauseGroup::Unknown,
        _ => MenopauseGroup::Other(label),
    }
}
