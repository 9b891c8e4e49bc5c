//! The crate's error type (one `thiserror` enum, grouped by topic, every variant naming what it is about).
//!
//! Reference: the errors PyRadiomics 3.1.0 raises in `radiomics/imageoperations.py` (`checkMask`, `getMask`,
//! `getBinEdges`) and `radiomics/featureextractor.py` (settings, image types), turned into typed variants.

/// Errors of this crate; every variant names the file, key or value it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // -- I/O and parsing --
    /// An operating-system I/O error on `path`.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A params file (YAML or JSON) could not be parsed.
    #[error("params file {source_name}: {reason}")]
    ParamsFile {
        /// The file name (or `<string>`).
        source_name: String,
        /// What is wrong.
        reason: String,
    },

    // -- settings --
    /// A configuration value is out of its valid range; the message names the key.
    #[error("invalid parameter `{key}`: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        key: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// Keys that PyRadiomics' params schema does not know.
    #[error("unknown key(s) in section `{section}`: {keys:?}")]
    UnknownKeys {
        /// `setting`, `featureClass`, `imageType` or the top level.
        section: String,
        /// The unknown keys.
        keys: Vec<String>,
    },
    /// A feature class or feature name that does not exist.
    #[error("unknown feature `{feature}` in class `{class}`")]
    UnknownFeature {
        /// The feature class (`glcm`, …).
        class: String,
        /// The feature name.
        feature: String,
    },
    /// An image type (filter) other than `Original`.
    #[error("image type `{0}` is not supported (Original, Square, SquareRoot, Logarithm, Exponential, Gradient, Wavelet are)")]
    UnsupportedImageType(String),
    /// A setting that is valid in PyRadiomics but not implemented here.
    #[error("setting `{0}` is not supported yet")]
    Unsupported(&'static str),

    // -- image and mask checks (PyRadiomics `checkMask` / `getMask`) --
    /// Image and mask shapes differ (PyRadiomics: "Image/Mask geometry mismatch").
    #[error("image/mask geometry mismatch: image shape {image:?}, mask shape {mask:?}")]
    GeometryMismatch {
        /// The image's shape `(z, y, x)`.
        image: [usize; 3],
        /// The mask's shape `(z, y, x)`.
        mask: [usize; 3],
    },
    /// The spacing is not finite and positive.
    #[error("invalid spacing {0:?} (mm, must be finite and > 0)")]
    InvalidSpacing([f64; 3]),
    /// The label does not occur in the mask.
    #[error("label {label} not present in the mask")]
    LabelNotPresent {
        /// The requested label.
        label: u32,
    },
    /// The ROI spans fewer dimensions than `minimumROIDimensions`.
    #[error("ROI spans {found} dimension(s) with size > 1, minimumROIDimensions is {required}")]
    RoiTooFewDimensions {
        /// Axes whose bounding-box size is > 1.
        found: usize,
        /// The setting.
        required: usize,
    },
    /// The ROI has fewer voxels than `minimumROISize`.
    #[error("ROI has {found} voxel(s), minimumROISize is {required}")]
    RoiTooSmall {
        /// ROI voxels.
        found: usize,
        /// The setting.
        required: usize,
    },
    /// A non-finite image value inside the ROI.
    #[error("non-finite image value {value} inside the ROI at (z, y, x) = {index:?}")]
    NonFiniteInRoi {
        /// The value.
        value: f64,
        /// Its array index.
        index: [usize; 3],
    },
    /// Discretisation would produce more gray levels than can be handled.
    #[error(
        "discretisation produces {0} bins (too many; check binWidth against the intensity range)"
    )]
    TooManyBins(f64),
    /// A feature class failed.
    #[error("feature class `{class}`: {reason}")]
    FeatureClass {
        /// The class.
        class: &'static str,
        /// What went wrong.
        reason: String,
    },

    // -- texture classes (GLCM, GLRLM, GLSZM, GLDM, NGTDM) --
    /// The discretised image holds a gray level above `Ng` (PyRadiomics' C kernels: "index out of range").
    #[error("{class}: gray level {level} at (z, y, x) = {index:?} exceeds Ng = {ng}")]
    GrayLevelOutOfRange {
        /// The feature class.
        class: &'static str,
        /// The offending level.
        level: u32,
        /// The maximum gray level given.
        ng: u32,
        /// Its array index in the cropped volume.
        index: [usize; 3],
    },
    /// The ROI of the discretised volume (levels > 0) is empty.
    #[error("{class}: the ROI is empty (no level > 0)")]
    EmptyTextureRoi {
        /// The feature class.
        class: &'static str,
    },
    /// No neighbour offset fits the cropped array (PyRadiomics: "Error getting angle count"), e.g. a 1×1×1 ROI.
    #[error("{class}: no neighbour offset fits the ROI bounding box {shape:?} (distances {distances:?}, force2D axis {force_2d_axis:?})")]
    NoAngles {
        /// The feature class.
        class: &'static str,
        /// The shape `(z, y, x)` of the cropped array.
        shape: [usize; 3],
        /// The distances asked for.
        distances: Vec<usize>,
        /// The axis excluded by `force2D`.
        force_2d_axis: Option<usize>,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
