//! The feature pipeline, reusable without the network: table, standardisation, correlation filter,
//! stratified folds, logistic regression and sequential selection.

pub(crate) mod correlation;
pub(crate) mod kfold;
pub(crate) mod logistic;
pub(crate) mod pipeline;
pub(crate) mod scale;
pub(crate) mod sfs;
pub(crate) mod snn_estimator;
pub(crate) mod table;
