#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace tf {

void RmsNorm(const float* x, const float* weight, float eps, int64_t rows, int64_t n, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* o = out + r * n;
    double sum_sq = 0.0;
    for (int64_t i = 0; i < n; ++i) sum_sq += static_cast<double>(xr[i]) * xr[i];
    const float scale = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(n) + eps));
    for (int64_t i = 0; i < n; ++i) o[i] = xr[i] * scale * weight[i];
  }
}

void SiluMul(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void AddInPlace(const float* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void Softmax(float* x, int64_t n) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) max = std::max(max, x[i]);
  if (!std::isfinite(max)) {  // all -inf: define as uniform zeros
    for (int64_t i = 0; i < n; ++i) x[i] = 0.0f;
    return;
  }
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

namespace {

// YaRN: blend of interpolated and extrapolated angle for dimension pair i.
float YarnRamp(float low, float high, int i0) {
  const float y = (static_cast<float>(i0) / 2 - low) / std::max(0.001f, high - low);
  return 1.0f - std::min(1.0f, std::max(0.0f, y));
}

// The dimension at which the rotation completes n_rot turns over the
// original context.
float YarnCorrDim(int n_dims, int n_ctx_orig, float n_rot, float base) {
  return n_dims * std::log(n_ctx_orig / (n_rot * 2 * static_cast<float>(M_PI))) / (2 * std::log(base));
}

}  // namespace

void ApplyRope(const RopeParams& p, int64_t position, int n_heads, int head_dim, int head_stride, float* x) {
  const int n_rot = p.rotary_dims;
  const float theta_scale = std::pow(p.freq_base, -2.0f / n_rot);
  float corr_low = 0.0f, corr_high = 0.0f;
  if (p.ext_factor != 0.0f) {
    corr_low = std::max(0.0f, std::floor(YarnCorrDim(n_rot, p.original_context, p.beta_fast, p.freq_base)));
    corr_high = std::min(static_cast<float>(n_rot - 1),
                         std::ceil(YarnCorrDim(n_rot, p.original_context, p.beta_slow, p.freq_base)));
  }
  // cos/sin per rotated pair, shared by all heads.
  thread_local std::vector<float> cos_sin;
  cos_sin.resize(static_cast<size_t>(n_rot));
  float* cs = cos_sin.data();
  float theta_extrap = static_cast<float>(position);
  for (int i0 = 0; i0 < n_rot; i0 += 2) {
    const float theta_interp = p.freq_scale * theta_extrap;
    float theta = theta_interp;
    float mscale = p.attn_factor;
    if (p.ext_factor != 0.0f) {
      const float ramp_mix = YarnRamp(corr_low, corr_high, i0) * p.ext_factor;
      theta = theta_interp * (1 - ramp_mix) + theta_extrap * ramp_mix;
      mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
    }
    cs[i0] = std::cos(theta) * mscale;
    cs[i0 + 1] = std::sin(theta) * mscale;
    theta_extrap *= theta_scale;
  }
  for (int h = 0; h < n_heads; ++h) {
    float* v = x + static_cast<int64_t>(h) * head_stride;
    for (int i0 = 0; i0 < n_rot; i0 += 2) {
      const float c = cs[i0], s = cs[i0 + 1];
      const int a = p.style == RopeStyle::kAdjacentPairs ? i0 : i0 / 2;
      const int b = p.style == RopeStyle::kAdjacentPairs ? i0 + 1 : i0 / 2 + n_rot / 2;
      const float x0 = v[a], x1 = v[b];
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
    }
  }
  (void)head_dim;
}

}  // namespace tf
