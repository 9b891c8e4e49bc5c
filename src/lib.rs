//! Shared pieces of the `dce-pipeline` examples, end-to-end tests and benchmarks.
//!
//! The method itself lives in the library crates under `crates/`; this root package only composes them.
//! It is not published.
#![deny(missing_docs)]

pub mod cohort;
pub mod demo_case;
pub mod evaluate;
pub mod pipeline;
pub mod plots;

pub use medmetrics;
pub use mednext;
pub use nnunet_preproc;
pub use radiomics;
pub use snn;
pub use upkern;
