// Elementwise and row-wise float32 operations of the transformer layers.
// Shapes are [rows][n] row-major unless noted. They are cheap next to the
// matmuls (O(n) per token), so they stay scalar and leave vectorizing to the
// compiler.
#pragma once

#include <cstdint>

namespace tf {

// out[r] = x[r] / rms(x[r]) * weight, rms = sqrt(mean(x^2) + eps).
void RmsNorm(const float* x, const float* weight, float eps, int64_t rows, int64_t n, float* out);

// out[i] = silu(gate[i]) * up[i]; silu(g) = g / (1 + e^-g). In place allowed.
// The scalar reference of KernelTable::silu_mul, which the engine calls.
void SiluMul(const float* gate, const float* up, int64_t n, float* out);

// y[i] += x[i]
void AddInPlace(const float* x, int64_t n, float* y);

// In-place softmax over n values; returns nothing, handles -inf entries.
void Softmax(float* x, int64_t n);

enum class RopeStyle {
  kAdjacentPairs,  // (x0,x1), (x2,x3), ...: llama-style GGUF weights
  kHalves,         // (x_i, x_{i+d/2}): NEOX style (qwen2, deepseek)
};

struct RopeParams {
  RopeStyle style = RopeStyle::kAdjacentPairs;
  int rotary_dims = 0;       // first rotary_dims of each head rotate
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;   // linear scaling: position * freq_scale
  // YaRN (deepseek2 files): ramp between interpolation and extrapolation.
  float ext_factor = 0.0f;
  float attn_factor = 1.0f;  // multiplies cos/sin (YaRN magnitude correction)
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
  int original_context = 0;
};

// Rotates `n_heads` heads of `head_dim` values for one token at `position`.
// x: [n_heads][head_stride] with head_stride >= head_dim.
void ApplyRope(const RopeParams& p, int64_t position, int n_heads, int head_dim, int head_stride,
               float* x);

}  // namespace tf
