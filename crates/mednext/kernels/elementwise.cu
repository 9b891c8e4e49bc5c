// Element-wise kernels (f32, contiguous) of mednext's CUDA path: exact GELU and its gradient, fused bias +
// GELU and its gradient, per-channel bias add, stride-2 subsampling and zero insertion.
//
// Reference semantics: PyTorch `nn.GELU()` (approximate = 'none'; `aten/src/ATen/native/cuda/
// ActivationGeluKernel.cu` uses the same erf form), `Conv3d(·, ·, 1, stride = 2)` = x[:, :, ::2, ::2, ::2]
// and `ConvTranspose3d(·, ·, 1, stride = 2)` = zero insertion (`reference/mednext.md` §2–5). The CPU kernels
// these must equal are `crates/mednext/src/ops/gelu.rs` and `channel.rs`.
//
//   gelu(x)  = x Φ(x),  Φ(x) = ½ (1 + erf(x / √2))
//   gelu'(x) = Φ(x) + x φ(x),  φ(x) = exp(−x²/2) / √(2π)
//   bias_gelu(x, b)[n,c,v] = gelu(x[n,c,v] + b[c]);  its gradient ȳ · gelu'(x + b[c])
//   add_bias:     y[n,c,v] = x[n,c,v] + b[c]
//   subsample2:   y[nc,i,j,l] = x[nc,2i,2j,2l]
//   zero_insert2: y[nc,d,h,w] = x[nc,d/2,h/2,w/2] when d, h, w are even (and inside x), else 0
//
// Every kernel is a grid-stride loop over `n` output elements; `plane` = D·H·W, channel = (i / plane) % C.

#include <stdint.h>

#define GRID_STRIDE(i, n)                                                                      \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                  \
         i += (size_t)gridDim.x * blockDim.x)

__device__ __forceinline__ float phi_cdf(float x) { return 0.5f * (1.0f + erff(x * 0.70710678118654752f)); }

__device__ __forceinline__ float gelu_f(float x) { return x * phi_cdf(x); }

__device__ __forceinline__ float gelu_grad_f(float x)
{
    const float pdf = expf(-0.5f * x * x) * 0.39894228040143268f;
    return phi_cdf(x) + x * pdf;
}

extern "C" __global__ void mednext_gelu_fwd(const float* __restrict__ x, float* __restrict__ y, size_t n)
{
    GRID_STRIDE(i, n) y[i] = gelu_f(__ldg(x + i));
}

extern "C" __global__ void mednext_gelu_bwd(
    const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ dx, size_t n)
{
    GRID_STRIDE(i, n) dx[i] = __ldg(dy + i) * gelu_grad_f(__ldg(x + i));
}

extern "C" __global__ void mednext_bias_gelu_fwd(
    const float* __restrict__ x, const float* __restrict__ b, float* __restrict__ y, int C, size_t plane,
    size_t n)
{
    GRID_STRIDE(i, n) y[i] = gelu_f(__ldg(x + i) + b[(i / plane) % C]);
}

extern "C" __global__ void mednext_bias_gelu_bwd(
    const float* __restrict__ x, const float* __restrict__ b, const float* __restrict__ dy,
    float* __restrict__ dx, int C, size_t plane, size_t n)
{
    GRID_STRIDE(i, n) dx[i] = __ldg(dy + i) * gelu_grad_f(__ldg(x + i) + b[(i / plane) % C]);
}

extern "C" __global__ void mednext_add_bias(
    const float* __restrict__ x, const float* __restrict__ b, float* __restrict__ y, int C, size_t plane,
    size_t n)
{
    GRID_STRIDE(i, n) y[i] = __ldg(x + i) + b[(i / plane) % C];
}

// x: (NC, sD, sH, sW), y: (NC, dD, dH, dW) with dD = ⌈sD/2⌉ etc.
extern "C" __global__ void mednext_subsample2(
    const float* __restrict__ x, float* __restrict__ y, int sD, int sH, int sW, int dD, int dH, int dW,
    size_t n)
{
    GRID_STRIDE(i, n)
    {
        const int w = (int)(i % dW), h = (int)((i / dW) % dH), d = (int)((i / ((size_t)dW * dH)) % dD);
        const size_t nc = i / ((size_t)dW * dH * dD);
        y[i] = __ldg(x + ((nc * sD + 2 * d) * sH + 2 * h) * sW + 2 * w);
    }
}

// x: (NC, sD, sH, sW), y: (NC, dD, dH, dW) with dD = 2·sD − 1 (or 2·sD: the adjoint of subsample2 on an
// even axis).
extern "C" __global__ void mednext_zero_insert2(
    const float* __restrict__ x, float* __restrict__ y, int sD, int sH, int sW, int dD, int dH, int dW,
    size_t n)
{
    GRID_STRIDE(i, n)
    {
        const int w = (int)(i % dW), h = (int)((i / dW) % dH), d = (int)((i / ((size_t)dW * dH)) % dD);
        const size_t nc = i / ((size_t)dW * dH * dD);
        float v = 0.0f;
        if (((d | h | w) & 1) == 0 && d / 2 < sD && h / 2 < sH && w / 2 < sW)
            v = __ldg(x + ((nc * sD + d / 2) * sH + h / 2) * sW + w / 2);
        y[i] = v;
    }
}
