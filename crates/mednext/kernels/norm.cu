// Per-channel GroupNorm (num_groups = C) forward/backward and per-channel sums (f32 data, f64 statistics)
// for mednext's CUDA path.
//
// Reference semantics: PyTorch `GroupNorm(C, C, eps)` = `F.group_norm` (MedNeXt block norm,
// `reference/mednext.md` §2: per (n, c) mean and biased variance over D·H·W). Design reference (read, not
// copied): PyTorch `aten/src/ATen/native/cuda/group_norm_kernel.cu` (block reductions per group, then an
// element-wise apply). The CPU kernels these must equal are `crates/mednext/src/ops/norm.rs` and
// `channel.rs` (`channel_sum`).
//
//   μ = mean_v x,  σ² = max(mean_v x² − μ², 0),  r = 1/√(σ² + ε)
//   y = x · (γ r) + (β − μ γ r)
//   backward coefficients per (n, c), with M = plane size:
//     A = γ r,  B = −A r Σȳx̂ / M,  C' = −A Σȳ / M,  Σȳx̂ = r (Σȳx − μ Σȳ)
//     x̄ = A ȳ + B (x − μ) + C'
//   channel_sum: s[c] = Σ_{n,v} x[n,c,v]
//
// Reductions are deterministic: pass 1 writes per-(plane, chunk) f64 partial sums (block tree reduction),
// pass 2 adds the chunks of one plane in a fixed order.

#include <stdint.h>

#define RED_THREADS 256

// Tree-reduces `v` over the block (RED_THREADS threads); the result is valid in thread 0.
__device__ double block_sum(double v, double* scratch)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = 0.0;
    if (warp == 0) {
        v = lane < RED_THREADS / 32 ? scratch[lane] : 0.0;
        for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    }
    return v;
}

// Pass 1: grid = (chunks, planes), block = RED_THREADS. Plane `pl` is x[pl·plane .. (pl+1)·plane]; chunk `ch`
// covers [ch·len, min((ch+1)·len, plane)) with len = ⌈plane / chunks⌉. Writes four f64 sums per
// (plane, chunk) to part[(pl·chunks + ch)·4 + j]: Σx, Σx², and, when `dy` is not null, Σȳ, Σȳx (else 0).
extern "C" __global__ void mednext_plane_sums(
    const float* __restrict__ x, const float* __restrict__ dy, int has_dy, size_t plane, int chunks,
    double* __restrict__ part)
{
    __shared__ double scratch[RED_THREADS / 32];
    const size_t pl = blockIdx.y;
    const int ch = blockIdx.x;
    const size_t len = (plane + chunks - 1) / chunks;
    const size_t lo = min((size_t)ch * len, plane), hi = min(lo + len, plane);
    const float* xp = x + pl * plane;
    const float* gp = has_dy ? dy + pl * plane : nullptr;
    double s = 0.0, q = 0.0, sd = 0.0, sdx = 0.0;
    for (size_t i = lo + threadIdx.x; i < hi; i += RED_THREADS) {
        const double v = (double)__ldg(xp + i);
        s += v;
        q += v * v;
        if (has_dy) {
            const double g = (double)__ldg(gp + i);
            sd += g;
            sdx += g * v;
        }
    }
    double* out = part + ((size_t)pl * chunks + ch) * 4;
    s = block_sum(s, scratch);
    if (threadIdx.x == 0) out[0] = s;
    q = block_sum(q, scratch);
    if (threadIdx.x == 0) out[1] = q;
    sd = block_sum(sd, scratch);
    if (threadIdx.x == 0) out[2] = sd;
    sdx = block_sum(sdx, scratch);
    if (threadIdx.x == 0) out[3] = sdx;
}

// Adds the chunks of plane `pl`: sums[j] = Σ_ch part[(pl·chunks + ch)·4 + j].
__device__ void plane_totals(const double* part, size_t pl, int chunks, double sums[4])
{
    for (int j = 0; j < 4; ++j) sums[j] = 0.0;
    for (int ch = 0; ch < chunks; ++ch)
        for (int j = 0; j < 4; ++j) sums[j] += part[((size_t)pl * chunks + ch) * 4 + j];
}

// Pass 2 of the forward: one thread per plane (n, c); stats[pl·2] = (μ, r) in f64.
extern "C" __global__ void mednext_gn_stats(
    const double* __restrict__ part, int chunks, int planes, size_t plane, double eps,
    double* __restrict__ stats)
{
    const int pl = blockIdx.x * blockDim.x + threadIdx.x;
    if (pl >= planes) return;
    double t[4];
    plane_totals(part, pl, chunks, t);
    const double m = plane > 0 ? (double)plane : 1.0;
    const double mean = t[0] / m;
    const double var = fmax(t[1] / m - mean * mean, 0.0);
    stats[2 * pl] = mean;
    stats[2 * pl + 1] = 1.0 / sqrt(var + eps);
}

// Forward apply: grid = (blocks over the plane, planes). y = x · scale + shift with
// scale = (f32)(γ[c] r), shift = (f32)(β[c] − μ γ[c] r) (the CPU kernel's rounding).
extern "C" __global__ void mednext_gn_apply(
    const float* __restrict__ x, const double* __restrict__ stats, const float* __restrict__ gamma,
    const float* __restrict__ beta, float* __restrict__ y, int C, size_t plane)
{
    const size_t pl = blockIdx.y;
    const int c = (int)(pl % C);
    const double sc = stats[2 * pl + 1] * (double)gamma[c];
    const float scale = (float)sc;
    const float shift = (float)((double)beta[c] - stats[2 * pl] * sc);
    const float* xp = x + pl * plane;
    float* yp = y + pl * plane;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < plane;
         i += (size_t)gridDim.x * blockDim.x)
        yp[i] = fmaf(__ldg(xp + i), scale, shift);
}

// Backward pass 2: one thread per plane; coef[pl·6 ..] = [A, B, μ, C', Σȳ, Σȳx̂] (f32), as the CPU op.
extern "C" __global__ void mednext_gn_bwd_coef(
    const double* __restrict__ part, int chunks, int planes, size_t plane, double eps,
    const float* __restrict__ gamma, int C, float* __restrict__ coef)
{
    const int pl = blockIdx.x * blockDim.x + threadIdx.x;
    if (pl >= planes) return;
    double t[4];
    plane_totals(part, pl, chunks, t);
    const double m = plane > 0 ? (double)plane : 1.0;
    const double mean = t[0] / m;
    const double var = fmax(t[1] / m - mean * mean, 0.0);
    const double r = 1.0 / sqrt(var + eps);
    const double sdy = t[2];
    const double sdy_xhat = (t[3] - mean * sdy) * r;
    const double a = (double)gamma[pl % C] * r;
    float* o = coef + (size_t)pl * 6;
    o[0] = (float)a;
    o[1] = (float)(-a * r * sdy_xhat / m);
    o[2] = (float)mean;
    o[3] = (float)(-a * sdy / m);
    o[4] = (float)sdy;
    o[5] = (float)sdy_xhat;
}

// Backward apply: grid = (blocks over the plane, planes); x̄ = A ȳ + B (x − μ) + C'.
extern "C" __global__ void mednext_gn_bwd_input(
    const float* __restrict__ x, const float* __restrict__ dy, const float* __restrict__ coef,
    float* __restrict__ dx, size_t plane)
{
    const size_t pl = blockIdx.y;
    const float a = coef[pl * 6], b = coef[pl * 6 + 1], mean = coef[pl * 6 + 2], c0 = coef[pl * 6 + 3];
    const size_t base = pl * plane;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < plane;
         i += (size_t)gridDim.x * blockDim.x)
        dx[base + i] = a * __ldg(dy + base + i) + b * (__ldg(x + base + i) - mean) + c0;
}

// channel_sum pass 2: one thread per channel; out[c] = (f32) Σ_n Σ_ch part[((n·C + c)·chunks + ch)·4].
extern "C" __global__ void mednext_channel_sum_final(
    const double* __restrict__ part, int chunks, int N, int C, float* __restrict__ out)
{
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    double s = 0.0;
    for (int n = 0; n < N; ++n) {
        double sn = 0.0;
        for (int ch = 0; ch < chunks; ++ch) sn += part[(((size_t)n * C + c) * chunks + ch) * 4];
        s += sn;
    }
    out[c] = (float)s;
}
