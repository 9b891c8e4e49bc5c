//! Feature classes, their feature names in PyRadiomics' output order, and the [`Features`] result.
//!
//! Reference: PyRadiomics 3.1.0 `radiomics/base.py` (`getFeatureNames`: the `get<Name>FeatureValue` methods
//! sorted by method name, `_is_deprecated` flags) and `radiomics/featureextractor.py` (keys
//! `<imageType>_<class>_<Feature>`, shape first, then the classes in their enabled order).

/// A PyRadiomics feature class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FeatureClass {
    /// `shape`: 3-D shape (14 features + 3 deprecated).
    Shape,
    /// `shape2D`: 2-D shape (9 features + SphericalDisproportion; with `force2D` on single-slice ROIs).
    Shape2D,
    /// `firstorder`: intensity statistics (18 + StandardDeviation).
    FirstOrder,
    /// `glcm`: gray level co-occurrence matrix (24).
    Glcm,
    /// `gldm`: gray level dependence matrix (14).
    Gldm,
    /// `glrlm`: gray level run length matrix (16).
    Glrlm,
    /// `glszm`: gray level size zone matrix (16).
    Glszm,
    /// `ngtdm`: neighbouring gray tone difference matrix (5).
    Ngtdm,
}

impl FeatureClass {
    /// The classes of `RadiomicsFeatureExtractor()` in output order (no shape2D).
    pub const DEFAULT_CLASSES: [FeatureClass; 7] = [
        FeatureClass::Shape,
        FeatureClass::FirstOrder,
        FeatureClass::Glcm,
        FeatureClass::Gldm,
        FeatureClass::Glrlm,
        FeatureClass::Glszm,
        FeatureClass::Ngtdm,
    ];

    /// PyRadiomics' module name (`"shape"`, `"firstorder"`, `"glcm"`, …).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Shape => "shape",
            Self::Shape2D => "shape2D",
            Self::FirstOrder => "firstorder",
            Self::Glcm => "glcm",
            Self::Gldm => "gldm",
            Self::Glrlm => "glrlm",
            Self::Glszm => "glszm",
            Self::Ngtdm => "ngtdm",
        }
    }

    /// Parses PyRadiomics' module name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Shape,
            Self::Shape2D,
            Self::FirstOrder,
            Self::Glcm,
            Self::Gldm,
            Self::Glrlm,
            Self::Glszm,
            Self::Ngtdm,
        ]
        .into_iter()
        .find(|c| c.name() == name)
    }

    /// Every feature of the class, deprecated ones included, in PyRadiomics' order (sorted by method name).
    #[must_use]
    pub fn all_features(self) -> &'static [&'static str] {
        match self {
            Self::Shape => &SHAPE_ALL,
            Self::Shape2D => &SHAPE2D_ALL,
            Self::FirstOrder => &FIRSTORDER_ALL,
            Self::Glcm => &GLCM_ALL,
            Self::Gldm => &GLDM_ALL,
            Self::Glrlm => &GLRLM_ALL,
            Self::Glszm => &GLSZM_ALL,
            Self::Ngtdm => &NGTDM_ALL,
        }
    }

    /// Whether `feature` is deprecated (enabled only when named explicitly).
    #[must_use]
    pub fn is_deprecated(self, feature: &str) -> bool {
        DEPRECATED.iter().any(|&(c, f)| c == self && f == feature)
    }

    /// Whether a deprecated `feature` raises `DeprecationWarning` in PyRadiomics and so never produces a value
    /// (GLCM Dissimilarity, Homogeneity1, Homogeneity2, SumVariance; GLDM DependencePercentage,
    /// GrayLevelNonUniformityNormalized).
    #[must_use]
    pub fn never_has_value(self, feature: &str) -> bool {
        matches!(
            (self, feature),
            (
                Self::Glcm,
                "Dissimilarity" | "Homogeneity1" | "Homogeneity2" | "SumVariance"
            ) | (
                Self::Gldm,
                "DependencePercentage" | "GrayLevelNonUniformityNormalized"
            )
        )
    }

    /// The non-deprecated features, in output order (what an empty `featureClass` entry enables).
    #[must_use]
    pub fn default_features(self) -> Vec<&'static str> {
        self.all_features()
            .iter()
            .copied()
            .filter(|f| !self.is_deprecated(f))
            .collect()
    }
}

const DEPRECATED: [(FeatureClass, &str); 11] = [
    (FeatureClass::Shape, "Compactness1"),
    (FeatureClass::Shape, "Compactness2"),
    (FeatureClass::Shape, "SphericalDisproportion"),
    (FeatureClass::Shape2D, "SphericalDisproportion"),
    (FeatureClass::FirstOrder, "StandardDeviation"),
    (FeatureClass::Glcm, "Dissimilarity"),
    (FeatureClass::Glcm, "Homogeneity1"),
    (FeatureClass::Glcm, "Homogeneity2"),
    (FeatureClass::Glcm, "SumVariance"),
    (FeatureClass::Gldm, "DependencePercentage"),
    (FeatureClass::Gldm, "GrayLevelNonUniformityNormalized"),
];

const SHAPE_ALL: [&str; 17] = [
    "Compactness1",
    "Compactness2",
    "Elongation",
    "Flatness",
    "LeastAxisLength",
    "MajorAxisLength",
    "Maximum2DDiameterColumn",
    "Maximum2DDiameterRow",
    "Maximum2DDiameterSlice",
    "Maximum3DDiameter",
    "MeshVolume",
    "MinorAxisLength",
    "SphericalDisproportion",
    "Sphericity",
    "SurfaceArea",
    "SurfaceVolumeRatio",
    "VoxelVolume",
];

const SHAPE2D_ALL: [&str; 10] = [
    "Elongation",
    "MajorAxisLength",
    "MaximumDiameter",
    "MeshSurface",
    "MinorAxisLength",
    "Perimeter",
    "PerimeterSurfaceRatio",
    "PixelSurface",
    "SphericalDisproportion",
    "Sphericity",
];

const FIRSTORDER_ALL: [&str; 19] = [
    "10Percentile",
    "90Percentile",
    "Energy",
    "Entropy",
    "InterquartileRange",
    "Kurtosis",
    "Maximum",
    "MeanAbsoluteDeviation",
    "Mean",
    "Median",
    "Minimum",
    "Range",
    "RobustMeanAbsoluteDeviation",
    "RootMeanSquared",
    "Skewness",
    "StandardDeviation",
    "TotalEnergy",
    "Uniformity",
    "Variance",
];

const GLCM_ALL: [&str; 28] = [
    "Autocorrelation",
    "ClusterProminence",
    "ClusterShade",
    "ClusterTendency",
    "Contrast",
    "Correlation",
    "DifferenceAverage",
    "DifferenceEntropy",
    "DifferenceVariance",
    "Dissimilarity",
    "Homogeneity1",
    "Homogeneity2",
    "Id",
    "Idm",
    "Idmn",
    "Idn",
    "Imc1",
    "Imc2",
    "InverseVariance",
    "JointAverage",
    "JointEnergy",
    "JointEntropy",
    "MCC",
    "MaximumProbability",
    "SumAverage",
    "SumEntropy",
    "SumSquares",
    "SumVariance",
];

const GLDM_ALL: [&str; 16] = [
    "DependenceEntropy",
    "DependenceNonUniformity",
    "DependenceNonUniformityNormalized",
    "DependencePercentage",
    "DependenceVariance",
    "GrayLevelNonUniformity",
    "GrayLevelNonUniformityNormalized",
    "GrayLevelVariance",
    "HighGrayLevelEmphasis",
    "LargeDependenceEmphasis",
    "LargeDependenceHighGrayLevelEmphasis",
    "LargeDependenceLowGrayLevelEmphasis",
    "LowGrayLevelEmphasis",
    "SmallDependenceEmphasis",
    "SmallDependenceHighGrayLevelEmphasis",
    "SmallDependenceLowGrayLevelEmphasis",
];

const GLRLM_ALL: [&str; 16] = [
    "GrayLevelNonUniformity",
    "GrayLevelNonUniformityNormalized",
    "GrayLevelVariance",
    "HighGrayLevelRunEmphasis",
    "LongRunEmphasis",
    "LongRunHighGrayLevelEmphasis",
    "LongRunLowGrayLevelEmphasis",
    "LowGrayLevelRunEmphasis",
    "RunEntropy",
    "RunLengthNonUniformity",
    "RunLengthNonUniformityNormalized",
    "RunPercentage",
    "RunVariance",
    "ShortRunEmphasis",
    "ShortRunHighGrayLevelEmphasis",
    "ShortRunLowGrayLevelEmphasis",
];

const GLSZM_ALL: [&str; 16] = [
    "GrayLevelNonUniformity",
    "GrayLevelNonUniformityNormalized",
    "GrayLevelVariance",
    "HighGrayLevelZoneEmphasis",
    "LargeAreaEmphasis",
    "LargeAreaHighGrayLevelEmphasis",
    "LargeAreaLowGrayLevelEmphasis",
    "LowGrayLevelZoneEmphasis",
    "SizeZoneNonUniformity",
    "SizeZoneNonUniformityNormalized",
    "SmallAreaEmphasis",
    "SmallAreaHighGrayLevelEmphasis",
    "SmallAreaLowGrayLevelEmphasis",
    "ZoneEntropy",
    "ZonePercentage",
    "ZoneVariance",
];

const NGTDM_ALL: [&str; 5] = [
    "Busyness",
    "Coarseness",
    "Complexity",
    "Contrast",
    "Strength",
];

/// Extracted features: ordered `(name, value)` pairs, names `<imagetype>_<class>_<Feature>` (e.g.
/// `original_glcm_Contrast`, `square_firstorder_Mean`) in PyRadiomics' output order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    entries: Vec<(String, f64)>,
}

impl Features {
    /// An empty result.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `name → value` (keeps insertion order).
    pub fn push(&mut self, name: impl Into<String>, value: f64) {
        self.entries.push((name.into(), value));
    }

    /// The value of `name`, if present.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<f64> {
        self.entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, v)| v)
    }

    /// Number of features.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no features.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Iterates `(name, value)` in output order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), *v))
    }

    /// The names in output order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }
}

impl IntoIterator for Features {
    type Item = (String, f64);
    type IntoIter = std::vec::IntoIter<(String, f64)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl Extend<(String, f64)> for Features {
    fn extend<I: IntoIterator<Item = (String, f64)>>(&mut self, iter: I) {
        self.entries.extend(iter);
    }
}
