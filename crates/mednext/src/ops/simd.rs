//! Run-time instruction-set dispatch for the hot loops of the 3-D ops (no `target-cpu=native`): a kernel
//! body is an `#[inline(always)]` function generic over a multiply-add flavour and a lane count; it is
//! compiled for AVX-512F + FMA, AVX2 + FMA and the baseline, and the best version the CPU supports is called.
//!
//! Design after `reference/rust-notes.md` §3 (register-blocked direct loops, `#[target_feature]` variants
//! chosen with `is_x86_feature_detected!`). The FMA builds contract `a·b + c` into one rounding, so they
//! differ from the baseline build by at most one rounding per tap (≈ 1e-7 relative).

/// A scalar multiply-add `a·b + c`, fused or not.
pub(crate) trait MulAdd {
    /// `a·b + c`.
    fn mul_add(a: f32, b: f32, c: f32) -> f32;
}

/// Fused multiply-add (one rounding); only used in functions compiled with the `fma` target feature, where
/// `f32::mul_add` lowers to `vfmadd` (elsewhere it would be a slow libm call).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fused;

impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

/// Separate multiply and add (two roundings), for CPUs without FMA.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plain;

impl MulAdd for Plain {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// Defines `fn $name(args)` that calls `$imp::<M, LANES>(args)` compiled for AVX-512F + FMA (`LANES` = 16),
/// AVX2 + FMA (8) when the CPU has them (checked at run time, cached by std), else the baseline (4, no FMA).
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? => $imp:ident;) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                fn avx512($($arg: $ty),*) $(-> $ret)? {
                    $imp::<$crate::ops::simd::Fused, 16>($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $imp::<$crate::ops::simd::Fused, 8>($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the running CPU supports AVX-512F, AVX2 and FMA (checked just above).
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the running CPU supports AVX2 and FMA (checked just above).
                    return unsafe { avx2($($arg),*) };
                }
            }
            $imp::<$crate::ops::simd::Plain, 4>($($arg),*)
        }
    };
}

pub(crate) use multiversion;
