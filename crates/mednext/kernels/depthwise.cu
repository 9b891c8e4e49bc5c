// Depthwise 3-D convolution kernels (f32, NCDHW, contiguous) for mednext's CUDA path.
//
// Reference semantics: PyTorch `Conv3d(C, C, k, stride, padding = k/2, groups = C)` and its transpose
// (`ConvTranspose3d(..., groups = C)`), MIC-DKFZ/MedNeXt `mednextv1/blocks.py`; `reference/mednext.md` §2–4.
// Design reference (read, not copied): PyTorch `aten/src/ATen/native/cuda/DepthwiseConv3d.cu`
// (one thread per output element, a weight-gradient block reduction per channel).
// The CPU kernels these must equal are `crates/mednext/src/ops/depthwise.rs`.
//
//   forward:      y[n,c,o]  = b[c] + Σ_{t ∈ [0,k)³} w[c,t] · x[n,c,o·s + t − p]          (zero outside x)
//   input grad:   x̄[n,c,i]  = b[c] + Σ_{t : s | (i + p − t)} w[c,t] · ȳ[n,c,(i + p − t)/s] (= ConvTranspose3d)
//   weight grad:  w̄[c,t]    = Σ_{n,o} ȳ[n,c,o] · x[n,c,o·s + t − p]
//   p = k/2 (k odd), s ∈ {1, 2}; all index arithmetic per axis (d, h, w).
//
// The input gradient doubles as the transposed convolution's forward, and the forward as the transposed
// convolution's input gradient (with the roles of the two spatial sizes swapped).

#include <stdint.h>

// --------------------------------------------------------------------------------------------------------
// Forward: shared-memory tiled. One block computes a (TD, TH, TW) output tile of one (n, c) plane; the
// block is (TW, TH) threads, each thread loops over the TD output depths. The input halo of the tile,
// ((TD−1)s + k) × ((TH−1)s + k) × ((TW−1)s + k) floats, and the channel's k³ weights are staged in dynamic
// shared memory (zero padding is written there, so the inner loop has no bounds checks).
// With `flip` = 1 the weights are read reversed (w[c, k³−1−t]): at stride 1 that is the input gradient,
// x̄[i] = Σ_t w[t] ȳ[i + p − t] = Σ_u w[k³−1−u] ȳ[i − p + u], so it gets the same tiled kernel.
//
// grid = (tiles_w · tiles_h, tiles_d, N·C); shared bytes = 4·(k³ + halo).
extern "C" __global__ void mednext_dw_fwd(
    const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ b, int has_bias,
    float* __restrict__ y, int C, int D, int H, int W, int Do, int Ho, int Wo, int k, int s, int TD,
    int tiles_w, int flip)
{
    extern __shared__ float smem[];
    const int TW = blockDim.x, TH = blockDim.y;
    const int nthreads = TW * TH;
    const int tid = threadIdx.y * TW + threadIdx.x;
    const int nc = blockIdx.z;
    const int c = nc % C;
    const int tile_w = blockIdx.x % tiles_w, tile_h = blockIdx.x / tiles_w, tile_d = blockIdx.y;
    const int od0 = tile_d * TD, oh0 = tile_h * TH, ow0 = tile_w * TW;
    const int p = k / 2, k3 = k * k * k;
    const int HD = (TD - 1) * s + k, HH = (TH - 1) * s + k, HW = (TW - 1) * s + k;
    float* ws = smem;
    float* hs = smem + k3;

    const float* wc = w + (size_t)c * k3;
    for (int i = tid; i < k3; i += nthreads) ws[i] = wc[flip ? k3 - 1 - i : i];
    const float* xp = x + (size_t)nc * D * H * W;
    const int id0 = od0 * s - p, ih0 = oh0 * s - p, iw0 = ow0 * s - p;
    const int halo = HD * HH * HW;
    for (int i = tid; i < halo; i += nthreads) {
        const int hw = i % HW, hh = (i / HW) % HH, hd = i / (HW * HH);
        const int id = id0 + hd, ih = ih0 + hh, iw = iw0 + hw;
        float v = 0.0f;
        if (id >= 0 && id < D && ih >= 0 && ih < H && iw >= 0 && iw < W)
            v = __ldg(xp + ((size_t)id * H + ih) * W + iw);
        hs[i] = v;
    }
    __syncthreads();

    const int ow = ow0 + threadIdx.x, oh = oh0 + threadIdx.y;
    if (ow >= Wo || oh >= Ho) return;
    const float bias = has_bias ? b[c] : 0.0f;
    float* yp = y + (size_t)nc * Do * Ho * Wo;
    for (int dz = 0; dz < TD; ++dz) {
        const int od = od0 + dz;
        if (od >= Do) break;
        float acc = bias;
        const float* base = hs + ((dz * s) * HH + threadIdx.y * s) * HW + threadIdx.x * s;
        const float* wt = ws;
        for (int td = 0; td < k; ++td) {
            for (int th = 0; th < k; ++th) {
                const float* row = base + (td * HH + th) * HW;
                for (int tw = 0; tw < k; ++tw) acc = fmaf(*wt++, row[tw], acc);
            }
        }
        yp[((size_t)od * Ho + oh) * Wo + ow] = acc;
    }
}

// --------------------------------------------------------------------------------------------------------
// Input gradient / transposed forward at stride 2 (stride 1 uses `mednext_dw_fwd` with `flip`): one thread
// per x̄ element (grid-stride), gathering from ȳ through the
// cache (`__ldg`). Along each axis only taps t ≡ (i + p) (mod s) contribute, so the tap loops start at that
// residue and step by s (for s = 2 that skips 7/8 of the k³ taps).
//
// gy: (N, C, Dy, Hy, Wy); gx: (N, C, D, H, W); total = N·C·D·H·W.
extern "C" __global__ void mednext_dw_input_grad(
    const float* __restrict__ gy, const float* __restrict__ w, const float* __restrict__ b, int has_bias,
    float* __restrict__ gx, int C, int Dy, int Hy, int Wy, int D, int H, int W, int k, int s,
    size_t total)
{
    const int p = k / 2, k3 = k * k * k;
    for (size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (size_t)gridDim.x * blockDim.x) {
        const int iw = (int)(idx % W);
        const int ih = (int)((idx / W) % H);
        const int id = (int)((idx / ((size_t)W * H)) % D);
        const size_t nc = idx / ((size_t)W * H * D);
        const int c = (int)(nc % C);
        const float* wc = w + (size_t)c * k3;
        const float* g = gy + nc * Dy * Hy * Wy;
        float acc = has_bias ? b[c] : 0.0f;
        // first tap of the right residue on each axis: (i + p − t) ≡ 0 (mod s)
        const int td0 = (id + p) % s, th0 = (ih + p) % s, tw0 = (iw + p) % s;
        for (int td = td0; td < k; td += s) {
            const int od = (id + p - td) / s;
            if (id + p - td < 0 || od >= Dy) continue;
            for (int th = th0; th < k; th += s) {
                const int oh = (ih + p - th) / s;
                if (ih + p - th < 0 || oh >= Hy) continue;
                const float* grow = g + ((size_t)od * Hy + oh) * Wy;
                const float* wrow = wc + (td * k + th) * k;
                for (int tw = tw0; tw < k; tw += s) {
                    const int ow = (iw + p - tw) / s;
                    if (iw + p - tw < 0 || ow >= Wy) continue;
                    acc = fmaf(wrow[tw], __ldg(grow + ow), acc);
                }
            }
        }
        gx[idx] = acc;
    }
}

// --------------------------------------------------------------------------------------------------------
// Weight gradient, pass 1: grid = (blocks_per_c, C), block = 256 threads. Block `bx` of channel c walks
// the tiles j ≡ bx (mod blocks_per_c) of the N · tiles_d · tiles_h · tiles_w output tiles of that channel;
// per tile it stages ȳ (TD × TH × TW, zero outside) and the x halo in shared memory, then thread `tid`
// accumulates the taps tid, tid + 256, tid + 512 (k ≤ 9) over the tile in f32 and adds the tile's sum to
// an f64 running total. The totals are written to part[(c · blocks_per_c + bx) · k³ + t].
// Pass 2 (`mednext_dw_weight_grad_reduce`) sums them over bx in a fixed order: deterministic, no atomics.
#define WG_THREADS 256
#define WG_MAX_TAPS 3

extern "C" __global__ void mednext_dw_weight_grad_partial(
    const float* __restrict__ x, const float* __restrict__ gy, double* __restrict__ part, int N, int C,
    int D, int H, int W, int Do, int Ho, int Wo, int k, int s, int TD, int TH, int TW, int blocks_per_c)
{
    extern __shared__ float smem[];
    const int tid = threadIdx.x;
    const int c = blockIdx.y, bx = blockIdx.x;
    const int p = k / 2, k3 = k * k * k;
    const int HD = (TD - 1) * s + k, HH = (TH - 1) * s + k, HW = (TW - 1) * s + k;
    const int tile = TD * TH * TW, halo = HD * HH * HW;
    float* gs = smem;
    float* hs = smem + tile;
    const int tiles_d = (Do + TD - 1) / TD, tiles_h = (Ho + TH - 1) / TH, tiles_w = (Wo + TW - 1) / TW;
    const long long tiles_per_plane = (long long)tiles_d * tiles_h * tiles_w;
    const long long ntiles = tiles_per_plane * N;

    int off[WG_MAX_TAPS];
    double tot[WG_MAX_TAPS];
    for (int j = 0; j < WG_MAX_TAPS; ++j) {
        const int t = tid + j * WG_THREADS;
        const int tw = t % k, th = (t / k) % k, td = t / (k * k);
        off[j] = (td * HH + th) * HW + tw;
        tot[j] = 0.0;
    }

    for (long long j = bx; j < ntiles; j += blocks_per_c) {
        const int n = (int)(j / tiles_per_plane);
        const long long r = j % tiles_per_plane;
        const int tw_i = (int)(r % tiles_w), th_i = (int)((r / tiles_w) % tiles_h),
                  td_i = (int)(r / ((long long)tiles_w * tiles_h));
        const int od0 = td_i * TD, oh0 = th_i * TH, ow0 = tw_i * TW;
        const size_t nc = (size_t)n * C + c;
        const float* gp = gy + nc * Do * Ho * Wo;
        const float* xp = x + nc * D * H * W;
        __syncthreads();  // the previous tile's readers are done
        for (int i = tid; i < tile; i += WG_THREADS) {
            const int a = i % TW, bb = (i / TW) % TH, cc = i / (TW * TH);
            const int od = od0 + cc, oh = oh0 + bb, ow = ow0 + a;
            gs[i] = (od < Do && oh < Ho && ow < Wo) ? __ldg(gp + ((size_t)od * Ho + oh) * Wo + ow) : 0.0f;
        }
        const int id0 = od0 * s - p, ih0 = oh0 * s - p, iw0 = ow0 * s - p;
        for (int i = tid; i < halo; i += WG_THREADS) {
            const int hw = i % HW, hh = (i / HW) % HH, hd = i / (HW * HH);
            const int id = id0 + hd, ih = ih0 + hh, iw = iw0 + hw;
            hs[i] = (id >= 0 && id < D && ih >= 0 && ih < H && iw >= 0 && iw < W)
                        ? __ldg(xp + ((size_t)id * H + ih) * W + iw)
                        : 0.0f;
        }
        __syncthreads();
        float acc[WG_MAX_TAPS];
        for (int jj = 0; jj < WG_MAX_TAPS; ++jj) acc[jj] = 0.0f;
        for (int cc = 0; cc < TD; ++cc) {
            for (int bb = 0; bb < TH; ++bb) {
                const float* grow = gs + (cc * TH + bb) * TW;
                const float* hrow = hs + ((cc * s) * HH + bb * s) * HW;
                for (int a = 0; a < TW; ++a) {
                    const float g = grow[a];
#pragma unroll
                    for (int jj = 0; jj < WG_MAX_TAPS; ++jj) {
                        if (tid + jj * WG_THREADS < k3) acc[jj] = fmaf(g, hrow[a * s + off[jj]], acc[jj]);
                    }
                }
            }
        }
        for (int jj = 0; jj < WG_MAX_TAPS; ++jj) tot[jj] += (double)acc[jj];
    }
    double* out = part + ((size_t)c * blocks_per_c + bx) * k3;
    for (int jj = 0; jj < WG_MAX_TAPS; ++jj) {
        const int t = tid + jj * WG_THREADS;
        if (t < k3) out[t] = tot[jj];
    }
}

// Weight gradient, pass 2: one thread per (c, t): gw[c·k³ + t] = Σ_bx part[(c·blocks_per_c + bx)·k³ + t].
extern "C" __global__ void mednext_dw_weight_grad_reduce(
    const double* __restrict__ part, float* __restrict__ gw, int C, int k3, int blocks_per_c)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= C * k3) return;
    const int c = i / k3, t = i % k3;
    double sum = 0.0;
    for (int bx = 0; bx < blocks_per_c; ++bx) sum += part[((size_t)c * blocks_per_c + bx) * k3 + t];
    gw[i] = (float)sum;
}
