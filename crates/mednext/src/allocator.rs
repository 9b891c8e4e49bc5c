//! Process-wide memory-allocator setting for programs that train or run MedNeXt on the CPU.
//!
//! glibc's `malloc` serves every request of 32 MiB or more (`DEFAULT_MMAP_THRESHOLD_MAX` on 64-bit; the
//! dynamic threshold never rises above it) with a fresh `mmap` and returns it to the kernel on `free`. A
//! MedNeXt tensor at full resolution is exactly that large (1 × 32 channels × 64³ f32 = 32 MiB), and candle
//! allocates a new tensor for every op output and every gradient sum, so each one is mapped, page-faulted
//! and zeroed page by page by the kernel, then unmapped again: 15–20 % of a CPU training step of MedNeXt-M
//! at 64³ went to page faults (`perf`, `docs/benchmarks.md` "mednext"). With [`retain_freed_memory`] the
//! freed blocks stay in the process and are reused.
//!
//! Reference: glibc manual, "Malloc Tunable Parameters" (`M_MMAP_MAX`, `M_TRIM_THRESHOLD`); `mallopt(3)`.

/// Keeps memory freed by the process for reuse instead of returning it to the kernel: `mallopt(M_MMAP_MAX,
/// 0)` (large blocks come from the heap, not from a fresh `mmap`) and `mallopt(M_TRIM_THRESHOLD, 2³¹ − 1)`
/// (the heap is not trimmed). The same as running with `MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2147483647`.
///
/// Call it once at the start of `main`, before other threads allocate. It changes the allocator of the
/// whole process — a choice for an application, not for a library, which is why nothing in this crate calls
/// it. Peak memory stays about the same (MedNeXt-M k3 training step at 64³: 1.54 GB instead of 1.49 GB);
/// the time of that step drops by ≈ 15 %.
///
/// Returns `true` when the settings were applied (Linux with glibc); elsewhere it does nothing and returns
/// `false`.
pub fn retain_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only changes glibc's allocator parameters; both values are in their valid
        // ranges (0 disables mmap-served allocations, any non-negative int is a valid trim threshold).
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, 0) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn applies_on_glibc() {
        assert!(super::retain_freed_memory());
        // Large allocations still work and are usable after the switch.
        let v = vec![1.0_f32; 10 << 20];
        assert_eq!(v.iter().sum::<f32>(), (10 << 20) as f32);
    }
}
