//! Report figures.
