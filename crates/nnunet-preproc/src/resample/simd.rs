//! Run-time instruction-set dispatch for the hot loops (no `target-cpu=native` needed): a function body is
//! compiled three times (AVX-512F, AVX2, baseline) and the best version the CPU supports is called.
//!
//! Only the vector width changes: Rust never contracts `a * b + c` into an FMA, so all three versions give
//! bit-identical results.

/// Defines `fn $name(args)` that calls the `#[inline(always)]` function `$imp` compiled for AVX-512F or AVX2
/// when the CPU has them (checked at run time, cached by std), else the baseline build.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) => $imp:path;) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                fn avx512($($arg: $ty),*) {
                    $imp($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) {
                    $imp($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the running CPU supports AVX-512F (checked just above).
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the running CPU supports AVX2 (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $imp($($arg),*)
        }
    };
}

pub(crate) use multiversion;
