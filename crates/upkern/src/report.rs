//! What an UpKern transfer did to each tensor (the Rust counterpart of the per-key messages printed by
//! MIC-DKFZ/MedNeXt `nnunet_mednext/run/load_weights.py::upkern_load_weights`).

use std::fmt;

/// The outcome of [`crate::upkern`]: which keys were resized and which were copied bit-exactly.
///
/// Both lists are in key order; every key of the target model appears in exactly one of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpKernReport {
    /// `(key, source shape, target shape)` of every tensor whose spatial dims were resized.
    pub resized: Vec<(String, Vec<usize>, Vec<usize>)>,
    /// Keys copied unchanged (same shape in source and target).
    pub copied: Vec<String>,
}

impl UpKernReport {
    /// The number of tensors in the transferred state dict (`resized + copied`).
    #[must_use]
    pub fn total(&self) -> usize {
        self.resized.len() + self.copied.len()
    }

    /// The keys of the resized tensors, in key order.
    #[must_use]
    pub fn resized_keys(&self) -> Vec<&str> {
        self.resized.iter().map(|(k, _, _)| k.as_str()).collect()
    }
}

impl fmt::Display for UpKernReport {
    /// A summary line followed by one line per resized key: `key: [s..] -> [t..]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "UpKern: {} tensors, {} resized, {} copied unchanged",
            self.total(),
            self.resized.len(),
            self.copied.len()
        )?;
        for (key, from, to) in &self.resized {
            writeln!(f, "  {key}: {from:?} -> {to:?}")?;
        }
        Ok(())
    }
}
