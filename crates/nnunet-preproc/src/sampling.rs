//! Training-data sampling as nnU-Net does it: cross-validation splits, case choice, foreground oversampling,
//! the enlarged loader patch, patch bounds and crop-with-padding, all driven by seeded ChaCha RNGs.
//!
//! ```text
//! split:        KFold(5, shuffle) of the sorted ids: fold f validates on the f-th contiguous chunk of a seeded
//!               permutation (the first n mod 5 chunks hold ⌊n/5⌋ + 1 ids); train and val listed sorted
//! case choice:  choice(ids, B, replace = True)
//! oversample:   sample j is forced-foreground  ⇔  j ≥ round_half_even(B · (1 − p)),  p = 0.33
//! loader patch: P' = ⌊max(|R_x(α)·P|, |R_y(α)·P|, |R_z(α)·P|, P) / min(scale)⌋   (α ≤ 90°, per axis separately)
//! need_to_pad:  n_a = P'_a − P_a, enlarged to P'_a − s_a when s_a + n_a < P'_a
//! bounds:       lb_a ∈ [−n_a // 2,  s_a + n_a // 2 + n_a mod 2 − P'_a]   uniform, inclusive (random patches)
//! forced fg:    class c ~ U(classes with locations), voxel v ~ U(locations[c]),
//!               lb_a = max(−n_a // 2, v_a − P'_a // 2)   (no upper clamp; the overhang is padded)
//! crop:         data outside the image = 0, seg outside = −1
//! ```
//!
//! **Deviation**: scikit-learn's `KFold(random_state=12345)` draws its permutation from numpy's MT19937, which is
//! not reproduced; [`generate_crossval_split`] uses a seeded ChaCha8 Fisher–Yates shuffle with the same chunking.
//! To train on a real nnU-Net split, read its `splits_final.json` with [`read_splits_json`] (same format).
//! Likewise every random draw here comes from ChaCha8 ([`sample_rng`]), never numpy's stream.
//!
//! References (read, not copied): nnU-Net v2.8.1 `nnunetv2/utilities/crossval_split.py`,
//! `nnunetv2/training/nnUNetTrainer/nnUNetTrainer.py` (`do_split`, `get_tr_and_val_datasets`),
//! `nnunetv2/training/dataloading/data_loader.py` (`get_do_oversample`, `get_bbox`, `generate_train_batch`),
//! `nnunetv2/training/data_augmentation/compute_initial_patch_size.py` (`get_patch_size`), `acvl_utils`
//! `crop_and_pad_nd`; batchgenerators `augmentations/utils.py` (`rotate_coords_3d`); scikit-learn `KFold`.

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::{s, Array3, Array4, ArrayView3, ArrayView4};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::cache::{MappedCase, PreprocessedCache};
use crate::error::{Error, Result};
use crate::preprocessor::CaseProperties;

// ---- splits ----------------------------------------------------------------------------------------------

/// One fold of `splits_final.json`: `{"train": [...], "val": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoldSplit {
    /// Training case ids.
    pub train: Vec<String>,
    /// Validation case ids.
    pub val: Vec<String>,
}

/// Which fold to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// Fold `k` of the split file; `k ≥` the number of folds gets a seeded random 80:20 split.
    Index(usize),
    /// nnU-Net's fold "all": train and validate on every case.
    All,
}

/// nnU-Net's k-fold split (module docs; seed 12345 and 5 folds in nnU-Net) of the **sorted** ids.
///
/// # Errors
/// [`Error::InvalidParameter`] if `n_folds < 2` or there are fewer ids than folds.
pub fn generate_crossval_split(
    case_ids: &[String],
    n_folds: usize,
    seed: u64,
) -> Result<Vec<FoldSplit>> {
    if n_folds < 2 || case_ids.len() < n_folds {
        return Err(Error::InvalidParameter {
            key: "n_folds",
            reason: format!(
                "need 2 ≤ n_folds ≤ #cases, got {n_folds} folds for {} cases",
                case_ids.len()
            ),
        });
    }
    let mut sorted = case_ids.to_vec();
    sorted.sort();
    let n = sorted.len();
    let mut perm: Vec<usize> = (0..n).collect();
    perm.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut start = 0;
    let mut out = Vec::with_capacity(n_folds);
    for f in 0..n_folds {
        let len = n / n_folds + usize::from(f < n % n_folds);
        let mut is_val = vec![false; n];
        perm[start..start + len]
            .iter()
            .for_each(|&i| is_val[i] = true);
        start += len;
        let (val, train): (Vec<_>, Vec<_>) = (0..n).partition(|&i| is_val[i]);
        out.push(FoldSplit {
            train: train.into_iter().map(|i| sorted[i].clone()).collect(),
            val: val.into_iter().map(|i| sorted[i].clone()).collect(),
        });
    }
    Ok(out)
}

/// Reads nnU-Net's `splits_final.json` (a list of `{"train", "val"}`).
///
/// # Errors
/// [`Error::Io`] or [`Error::Json`] naming the file.
pub fn read_splits_json(path: impl AsRef<Path>) -> Result<Vec<FoldSplit>> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Json {
        path: path.to_path_buf(),
        source: e,
    })
}

/// Writes `splits_final.json` in nnU-Net's format (atomically).
///
/// # Errors
/// [`Error::Io`] or [`Error::Json`] naming the file.
pub fn write_splits_json(path: impl AsRef<Path>, splits: &[FoldSplit]) -> Result<()> {
    crate::cache::write_json_atomically(path.as_ref(), splits)
}

/// The `(train, val)` ids of a fold: [`Fold::All`] → every id twice; an index past the split list → a seeded
/// random 80:20 split of the sorted ids (nnU-Net: `RandomState(12345 + fold)`; here ChaCha8 seeded with
/// `seed + fold`, train = ⌊0.8·n⌋ ids, both lists sorted).
#[must_use]
pub fn fold_cases(splits: &[FoldSplit], fold: Fold, all_ids: &[String], seed: u64) -> FoldSplit {
    let mut sorted = all_ids.to_vec();
    sorted.sort();
    match fold {
        Fold::All => FoldSplit {
            train: sorted.clone(),
            val: sorted,
        },
        Fold::Index(k) if k < splits.len() => splits[k].clone(),
        Fold::Index(k) => {
            let mut perm: Vec<usize> = (0..sorted.len()).collect();
            perm.shuffle(&mut ChaCha8Rng::seed_from_u64(seed.wrapping_add(k as u64)));
            let n_train = (sorted.len() as f64 * 0.8) as usize;
            let mut tr: Vec<usize> = perm[..n_train].to_vec();
            let mut va: Vec<usize> = perm[n_train..].to_vec();
            tr.sort_unstable();
            va.sort_unstable();
            FoldSplit {
                train: tr.into_iter().map(|i| sorted[i].clone()).collect(),
                val: va.into_iter().map(|i| sorted[i].clone()).collect(),
            }
        }
    }
}

// ---- RNG ---------------------------------------------------------------------------------------------------

/// The RNG of one sample: ChaCha8 keyed by `(seed, batch, sample)`; `sample = u64::MAX` is the batch-level stream
/// (case choice). Batch content therefore depends only on the seed and the batch index, not on worker count or
/// scheduling.
#[must_use]
pub fn sample_rng(seed: u64, batch: u64, sample: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&batch.to_le_bytes());
    key[16..24].copy_from_slice(&sample.to_le_bytes());
    key[24..].copy_from_slice(b"nnUNetDA");
    ChaCha8Rng::from_seed(key)
}

// ---- loader patch and bounds -----------------------------------------------------------------------------

/// nnU-Net's `get_patch_size`: the loader patch that leaves room for rotation by up to `max_rotation` (radians,
/// per axis `[x, y, z]` of batchgenerators = array axes 0, 1, 2; capped at 90°) and down-scaling to
/// `min_scale` (formula in the module docs). nnU-Net passes 30° for all axes and `min_scale` 0.85.
///
/// # Examples
/// ```
/// use nnunet_preproc::loader_patch_size;
/// let a = 30f64.to_radians();
/// assert_eq!(loader_patch_size([96, 160, 160], [a; 3], 0.85), [191, 257, 219]);
/// assert_eq!(loader_patch_size([128, 128, 128], [a; 3], 0.85), [205, 205, 205]);
/// ```
#[must_use]
pub fn loader_patch_size(
    final_patch: [usize; 3],
    max_rotation: [f64; 3],
    min_scale: f64,
) -> [usize; 3] {
    let c = final_patch.map(|v| v as f64);
    let rot = max_rotation.map(|a| a.abs().min(std::f64::consts::FRAC_PI_2));
    // Row vector times the rotation matrix (batchgenerators `rotate_coords_3d`).
    let rx = |a: f64| {
        [
            c[0],
            c[1] * a.cos() + c[2] * a.sin(),
            -c[1] * a.sin() + c[2] * a.cos(),
        ]
    };
    let ry = |a: f64| {
        [
            c[0] * a.cos() - c[2] * a.sin(),
            c[1],
            c[0] * a.sin() + c[2] * a.cos(),
        ]
    };
    let rz = |a: f64| {
        [
            c[0] * a.cos() + c[1] * a.sin(),
            -c[0] * a.sin() + c[1] * a.cos(),
            c[2],
        ]
    };
    let mut m = c;
    for v in [rx(rot[0]), ry(rot[1]), rz(rot[2])] {
        for a in 0..3 {
            m[a] = m[a].max(v[a].abs());
        }
    }
    m.map(|v| (v / min_scale) as usize)
}

/// Lower corner of a patch of size `patch` (the loader patch) in a case of spatial `shape` (module docs):
/// random when `force_fg` is false or no class has locations, otherwise centred on a random stored foreground
/// voxel. `final_patch` sets nnU-Net's `need_to_pad = patch − final_patch`.
pub fn patch_lower_bound<R: Rng + ?Sized>(
    shape: [usize; 3],
    patch: [usize; 3],
    final_patch: [usize; 3],
    force_fg: bool,
    class_locations: &BTreeMap<i16, Vec<[usize; 3]>>,
    rng: &mut R,
) -> [isize; 3] {
    let need: [isize; 3] = std::array::from_fn(|a| {
        let n = patch[a] as isize - final_patch[a] as isize;
        if n + (shape[a] as isize) < patch[a] as isize {
            patch[a] as isize - shape[a] as isize
        } else {
            n
        }
    });
    let lbs: [isize; 3] = std::array::from_fn(|a| -need[a].div_euclid(2));
    let ubs: [isize; 3] = std::array::from_fn(|a| {
        shape[a] as isize + need[a].div_euclid(2) + need[a].rem_euclid(2) - patch[a] as isize
    });
    if force_fg {
        let eligible: Vec<&Vec<[usize; 3]>> =
            class_locations.values().filter(|v| !v.is_empty()).collect();
        if !eligible.is_empty() {
            let class = eligible[rng.gen_range(0..eligible.len())];
            let v = class[rng.gen_range(0..class.len())];
            return std::array::from_fn(|a| lbs[a].max(v[a] as isize - (patch[a] / 2) as isize));
        }
    }
    std::array::from_fn(|a| rng.gen_range(lbs[a]..=ubs[a].max(lbs[a])))
}

/// Crops `(C, z, y, x)` data at `lb` with size `size`, padding out-of-image voxels with `pad`
/// (`acvl_utils.crop_and_pad_nd`).
#[must_use]
pub fn crop_and_pad_data(
    data: ArrayView4<'_, f32>,
    lb: [isize; 3],
    size: [usize; 3],
    pad: f32,
) -> Array4<f32> {
    let c = data.shape()[0];
    let mut out = Array4::from_elem((c, size[0], size[1], size[2]), pad);
    let sh = [data.shape()[1], data.shape()[2], data.shape()[3]];
    if let Some([r0, r1, r2, o0, o1, o2]) = overlap(sh, lb, size) {
        out.slice_mut(s![.., o0, o1, o2])
            .assign(&data.slice(s![.., r0, r1, r2]));
    }
    out
}

/// [`crop_and_pad_data`] for a label map (nnU-Net pads with −1).
#[must_use]
pub fn crop_and_pad_seg(
    seg: ArrayView3<'_, i16>,
    lb: [isize; 3],
    size: [usize; 3],
    pad: i16,
) -> Array3<i16> {
    let mut out = Array3::from_elem((size[0], size[1], size[2]), pad);
    let sh = [seg.shape()[0], seg.shape()[1], seg.shape()[2]];
    if let Some([r0, r1, r2, o0, o1, o2]) = overlap(sh, lb, size) {
        out.slice_mut(s![o0, o1, o2])
            .assign(&seg.slice(s![r0, r1, r2]));
    }
    out
}

type R = std::ops::Range<usize>;

fn overlap(shape: [usize; 3], lb: [isize; 3], size: [usize; 3]) -> Option<[R; 6]> {
    let mut src: [R; 3] = [0..0, 0..0, 0..0];
    let mut dst: [R; 3] = [0..0, 0..0, 0..0];
    for a in 0..3 {
        let lo = lb[a].max(0);
        let hi = (lb[a] + size[a] as isize).min(shape[a] as isize);
        if hi <= lo {
            return None;
        }
        src[a] = lo as usize..hi as usize;
        dst[a] = (lo - lb[a]) as usize..(hi - lb[a]) as usize;
    }
    let [a, b, c] = src;
    let [d, e, f] = dst;
    Some([a, b, c, d, e, f])
}

// ---- training cases and the sampler ------------------------------------------------------------------------

/// A case the sampler can draw patches from: data `(C, z, y, x)`, seg `(z, y, x)` with −1 outside the crop, and
/// the stored foreground locations.
pub trait TrainingCase: Send + Sync {
    /// The case id.
    fn id(&self) -> &str;
    /// The data, `(C, z, y, x)`.
    fn data(&self) -> ArrayView4<'_, f32>;
    /// The segmentation, `(z, y, x)`.
    fn seg(&self) -> ArrayView3<'_, i16>;
    /// Sampled voxel locations per foreground label.
    fn class_locations(&self) -> &BTreeMap<i16, Vec<[usize; 3]>>;
}

/// A case of a [`PreprocessedCache`], memory-mapped (patch reads touch only the pages they need).
#[derive(Debug)]
pub struct CachedCase {
    id: String,
    mapped: MappedCase,
    class_locations: BTreeMap<i16, Vec<[usize; 3]>>,
}

impl CachedCase {
    /// Maps `case` and reads its properties.
    ///
    /// # Errors
    /// The cache's errors; [`Error::Cache`] if the case has no segmentation or data and seg disagree in shape.
    pub fn open(cache: &PreprocessedCache, case: &str) -> Result<Self> {
        let mapped = cache.map_case(case)?;
        let props: CaseProperties = cache.read_properties(case)?;
        let Some(seg) = mapped.seg() else {
            return Err(Error::Cache {
                path: cache.seg_path(case),
                reason: "training needs a segmentation".into(),
            });
        };
        if seg.shape() != &mapped.data().shape()[1..] {
            return Err(Error::Cache {
                path: cache.seg_path(case),
                reason: format!(
                    "seg shape {:?} vs data shape {:?}",
                    seg.shape(),
                    mapped.data().shape()
                ),
            });
        }
        Ok(CachedCase {
            id: case.to_string(),
            mapped,
            class_locations: props.class_locations,
        })
    }
}

impl TrainingCase for CachedCase {
    fn id(&self) -> &str {
        &self.id
    }
    fn data(&self) -> ArrayView4<'_, f32> {
        self.mapped.data()
    }
    fn seg(&self) -> ArrayView3<'_, i16> {
        self.mapped.seg().expect("checked in CachedCase::open")
    }
    fn class_locations(&self) -> &BTreeMap<i16, Vec<[usize; 3]>> {
        &self.class_locations
    }
}

/// An in-memory training case (tests, small data sets).
#[derive(Debug, Clone)]
pub struct InMemoryCase {
    /// The case id.
    pub id: String,
    /// `(C, z, y, x)`.
    pub data: Array4<f32>,
    /// `(z, y, x)`.
    pub seg: Array3<i16>,
    /// Foreground locations per label.
    pub class_locations: BTreeMap<i16, Vec<[usize; 3]>>,
}

impl TrainingCase for InMemoryCase {
    fn id(&self) -> &str {
        &self.id
    }
    fn data(&self) -> ArrayView4<'_, f32> {
        self.data.view()
    }
    fn seg(&self) -> ArrayView3<'_, i16> {
        self.seg.view()
    }
    fn class_locations(&self) -> &BTreeMap<i16, Vec<[usize; 3]>> {
        &self.class_locations
    }
}

/// How forced-foreground samples are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Oversampling {
    /// nnU-Net's default: sample `j` is forced iff `j ≥ round(B·(1 − p))`.
    #[default]
    LastOfBatch,
    /// The probabilistic variant: forced iff `U(0, 1) < p`.
    Probabilistic,
}

/// Sampler settings (`Default`: nnU-Net's 3-D full-res values for patch 128³, batch 2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplerConfig {
    /// The network's (final) patch size.
    pub patch_size: [usize; 3],
    /// The loaded patch (≥ `patch_size`; [`loader_patch_size`] when spatial augmentation follows).
    pub loader_patch_size: [usize; 3],
    /// Samples per batch.
    pub batch_size: usize,
    /// `oversample_foreground_percent` (0.33).
    pub oversample_foreground: f64,
    /// The oversampling rule.
    pub oversampling: Oversampling,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        let final_patch = [128; 3];
        SamplerConfig {
            patch_size: final_patch,
            loader_patch_size: loader_patch_size(final_patch, [30f64.to_radians(); 3], 0.85),
            batch_size: 2,
            oversample_foreground: 0.33,
            oversampling: Oversampling::LastOfBatch,
        }
    }
}

impl SamplerConfig {
    /// Whether sample `j` of a batch is forced-foreground under [`Oversampling::LastOfBatch`].
    #[must_use]
    pub fn forced_foreground(&self, j: usize) -> bool {
        j as f64 >= (self.batch_size as f64 * (1.0 - self.oversample_foreground)).round_ties_even()
    }
}

/// One drawn patch before augmentation.
#[derive(Debug, Clone)]
pub struct SampledPatch {
    /// Index of the case in the sampler's list.
    pub case: usize,
    /// Lower corner of the loaded patch in the case (may be negative).
    pub lower_bound: [isize; 3],
    /// Whether it was forced to contain foreground.
    pub forced_foreground: bool,
    /// `(C, loader patch)` data, padded with 0.
    pub data: Array4<f32>,
    /// Loader-patch seg, padded with −1.
    pub seg: Array3<i16>,
}

/// Draws nnU-Net training patches from a list of cases.
pub struct PatchSampler {
    cases: Vec<Box<dyn TrainingCase>>,
    config: SamplerConfig,
}

impl std::fmt::Debug for PatchSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatchSampler")
            .field(
                "cases",
                &self.cases.iter().map(|c| c.id()).collect::<Vec<_>>(),
            )
            .field("config", &self.config)
            .finish()
    }
}

impl PatchSampler {
    /// A sampler over `cases`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for no cases, batch size 0, a loader patch smaller than the patch, or an
    /// oversampling fraction outside `[0, 1]`; [`Error::ShapeMismatch`] if a case's data and seg disagree.
    pub fn new(cases: Vec<Box<dyn TrainingCase>>, config: SamplerConfig) -> Result<Self> {
        let bad = |key, reason: String| Err(Error::InvalidParameter { key, reason });
        if cases.is_empty() {
            return bad("cases", "the sampler needs at least one case".into());
        }
        if config.batch_size == 0 {
            return bad("batch_size", "must be ≥ 1".into());
        }
        if (0..3).any(|a| {
            config.loader_patch_size[a] < config.patch_size[a] || config.patch_size[a] == 0
        }) {
            return bad(
                "loader_patch_size",
                format!(
                    "{:?} must be ≥ patch {:?} ≥ 1",
                    config.loader_patch_size, config.patch_size
                ),
            );
        }
        if !(0.0..=1.0).contains(&config.oversample_foreground) {
            return bad(
                "oversample_foreground",
                format!("{} ∉ [0, 1]", config.oversample_foreground),
            );
        }
        for c in &cases {
            if c.seg().shape() != &c.data().shape()[1..] {
                return Err(Error::ShapeMismatch {
                    context: format!("case {}: seg vs data", c.id()),
                    found: c.seg().shape().to_vec(),
                    expected: c.data().shape()[1..].to_vec(),
                });
            }
        }
        Ok(PatchSampler { cases, config })
    }

    /// Opens every listed case of a cache as [`CachedCase`].
    ///
    /// # Errors
    /// As [`CachedCase::open`] and [`PatchSampler::new`].
    pub fn from_cache(
        cache: &PreprocessedCache,
        case_ids: &[String],
        config: SamplerConfig,
    ) -> Result<Self> {
        let cases = case_ids
            .iter()
            .map(|id| CachedCase::open(cache, id).map(|c| Box::new(c) as Box<dyn TrainingCase>))
            .collect::<Result<Vec<_>>>()?;
        Self::new(cases, config)
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SamplerConfig {
        &self.config
    }

    /// The cases.
    #[must_use]
    pub fn cases(&self) -> &[Box<dyn TrainingCase>] {
        &self.cases
    }

    /// The case indices of batch `batch` (`choice(n, B, replace=True)` from the batch-level stream).
    #[must_use]
    pub fn batch_cases(&self, seed: u64, batch: u64) -> Vec<usize> {
        let mut rng = sample_rng(seed, batch, u64::MAX);
        (0..self.config.batch_size)
            .map(|_| rng.gen_range(0..self.cases.len()))
            .collect()
    }

    /// Draws sample `j` of batch `batch` for case `case` with `rng` (bounds, crop, padding).
    pub fn sample<Rn: Rng + ?Sized>(&self, case: usize, j: usize, rng: &mut Rn) -> SampledPatch {
        let c = &self.cases[case];
        let forced = match self.config.oversampling {
            Oversampling::LastOfBatch => self.config.forced_foreground(j),
            Oversampling::Probabilistic => rng.gen::<f64>() < self.config.oversample_foreground,
        };
        let data = c.data();
        let shape = [data.shape()[1], data.shape()[2], data.shape()[3]];
        let size = self.config.loader_patch_size;
        let lb = patch_lower_bound(
            shape,
            size,
            self.config.patch_size,
            forced,
            c.class_locations(),
            rng,
        );
        SampledPatch {
            case,
            lower_bound: lb,
            forced_foreground: forced,
            data: crop_and_pad_data(data, lb, size, 0.0),
            seg: crop_and_pad_seg(c.seg(), lb, size, -1),
        }
    }
}
