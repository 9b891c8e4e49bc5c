//! The paper's whole method as resumable stages (see `examples/pipeline.rs`).

pub mod files;
