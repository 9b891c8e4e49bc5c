//! Dispatch to the texture classes (GLCM, GLDM, GLRLM, GLSZM, NGTDM) on the discretised, cropped image.
//!
//! Reference: PyRadiomics 3.1.0 `radiomics/{glcm,gldm,glrlm,glszm,ngtdm}.py`; the classes live in their
//! own modules with one interface: `X_features(levels, ng, params, enabled)` → `(name, value)` pairs.

use ndarray::ArrayView3;

use crate::error::{Error, Result};
use crate::features::FeatureClass;
use crate::settings::TextureParams;
use crate::{glcm, gldm, glrlm, glszm, ngtdm};

/// Features of a texture `class` for the enabled names (PyRadiomics names without prefix).
pub(crate) fn texture_features(
    class: FeatureClass,
    levels: ArrayView3<u32>,
    ng: u32,
    params: &TextureParams,
    enabled: &[&str],
) -> Result<Vec<(&'static str, f64)>> {
    match class {
        FeatureClass::Glcm => glcm::glcm_features(levels, ng, params, enabled),
        FeatureClass::Gldm => gldm::gldm_features(levels, ng, params, enabled),
        FeatureClass::Glrlm => glrlm::glrlm_features(levels, ng, params, enabled),
        FeatureClass::Glszm => glszm::glszm_features(levels, ng, params, enabled),
        FeatureClass::Ngtdm => ngtdm::ngtdm_features(levels, ng, params, enabled),
        other => Err(Error::FeatureClass {
            class: other.name(),
            reason: "not a texture class".into(),
        }),
    }
}
