// The loop every instruction set's packed-GEMM kernels share: for each
// packed group of rows, tokens in tiles that reuse one unpacking of the
// group's weights, and one-token decode that streams each weight byte once
// (optionally two groups per pass, sharing each activation load). Only the
// tile bodies are ISA code; they come in a kernel-traits type:
//
//   struct Q4Kernel {                       // one per ISA and weight type
//     using Block = BlockQ4_0x8;            // the packed row layout: a block column of
//     static constexpr int kGroupRows = 8;  //   kGroupRows interleaved rows
//     static constexpr int kTileTokens = 4; // tokens per pass over a group's weights
//     static constexpr bool kDecodePairs = true;  // decode two groups per pass
//     template <int T> static void Tile(int64_t n_blocks, const Block* w, const Act* const* x,
//                                       float* y, int64_t y_stride);       // T = 1..kTileTokens
//     static void DecodePair(int64_t n_blocks, const Block* a, const Block* b, const Act* x,
//                            float* y);  // rows of a then b: y[0..2 * kGroupRows); only with kDecodePairs
//   };
//
// and optionally, with kPairTileTokens > 0 (two groups per pass for every
// token count, e.g. 16 rows in one 512-bit register):
//
//     template <int T> static void PairTile(int64_t n_blocks, const Block* a, const Block* b,
//                                           const Act* const* x, float* y, int64_t y_stride);
//                                           // T = 1..kPairTileTokens; rows of a then b
//
// A pair tile must give each row exactly what Tile gives it: which groups
// go in pairs depends on how a call's rows are chunked, and a token's result
// must not depend on that.
//
// (KernelShape below supplies the constants, and the activation block type
// the tiles read, BlockQ8S unless the layout says otherwise: `Act` in the
// signatures above.)
//
// Everything here is a template over that type, and each ISA defines its
// traits in its own namespace, so every ISA's translation unit (compiled
// with its own flags) gets its own copy and no instantiation can be shared
// across instruction sets.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "tensor/packed_blocks.h"

namespace tf::packed_gemm {

// The layout and tile constants of a kernel-traits type (constants only,
// so sharing it across ISAs shares no code): one packed block type over
// kPackRows-row groups, kTokens tokens per tile, pair decode or not.
template <typename BlockT, bool kPairs, int kTokens = 4, int kPairTokens = 0, typename ActT = BlockQ8S,
          int kBlockK = 32>
struct KernelShape {
  using Block = BlockT;
  using Act = ActT;                              // one activation block per weight block column
  static constexpr int kBlockWeights = kBlockK;  // weights of each row in one Block
  static constexpr int kGroupRows = kPackRows;
  static constexpr int kTileTokens = kTokens;
  static constexpr bool kDecodePairs = kPairs;
  static constexpr int kPairTileTokens = kPairTokens;
};

// Kernel::Tile<count> for a pass of `count` tokens (1..T).
template <typename Kernel, int T = Kernel::kTileTokens>
inline void RunTile(int count, int64_t n_blocks, const typename Kernel::Block* w, const typename Kernel::Act* const* x,
                    float* y, int64_t y_stride) {
  if (count == T) {
    Kernel::template Tile<T>(n_blocks, w, x, y, y_stride);
  } else if constexpr (T > 1) {
    RunTile<Kernel, T - 1>(count, n_blocks, w, x, y, y_stride);
  }
}

// Kernel::PairTile<count> for a pass of `count` tokens (1..T) over two groups.
template <typename Kernel, int T = Kernel::kPairTileTokens>
inline void RunPairTile(int count, int64_t n_blocks, const typename Kernel::Block* a, const typename Kernel::Block* b,
                        const typename Kernel::Act* const* x, float* y, int64_t y_stride) {
  if constexpr (T > 0) {
    if (count == T) {
      Kernel::template PairTile<T>(n_blocks, a, b, x, y, y_stride);
    } else {
      RunPairTile<Kernel, T - 1>(count, n_blocks, a, b, x, y, y_stride);
    }
  }
}

// One token against n_groups groups: pairs of groups where the kernel has
// a pair body, the odd last group (or every group) through the 1-token tile.
template <typename Kernel>
inline void Decode(int64_t n_blocks, const typename Kernel::Block* groups, int64_t n_groups,
                   const typename Kernel::Act* x, float* y, int64_t y_stride) {
  int64_t g = 0;
  if constexpr (Kernel::kDecodePairs) {
    for (; g + 2 <= n_groups; g += 2) {
      Kernel::DecodePair(n_blocks, groups + g * n_blocks, groups + (g + 1) * n_blocks, x, y + g * Kernel::kGroupRows);
    }
  }
  for (; g < n_groups; ++g) Kernel::template Tile<1>(n_blocks, groups + g * n_blocks, &x, y + g * Kernel::kGroupRows, y_stride);
}

// The PackedGemmFn contract (kernels/kernel_table.h): n_groups groups of
// kGroupRows rows of k weights starting at `w`, n_tokens activation rows (Act blocks)
// act_stride bytes apart, y[t * y_stride + kGroupRows * group + r].
template <typename Kernel>
void Gemm(int64_t k, const uint8_t* w, int64_t n_groups, const uint8_t* act, size_t act_stride, int64_t n_tokens,
          float* y, int64_t y_stride) {
  using Block = typename Kernel::Block;
  using Act = typename Kernel::Act;
  const int64_t n_blocks = k / Kernel::kBlockWeights;
  const auto* groups = reinterpret_cast<const Block*>(w);
  if (n_tokens == 1) {
    Decode<Kernel>(n_blocks, groups, n_groups, reinterpret_cast<const Act*>(act), y, y_stride);
    return;
  }
  int64_t g = 0;
  if constexpr (Kernel::kPairTileTokens > 0) {
    const Act* x[Kernel::kPairTileTokens];
    for (; g + 2 <= n_groups; g += 2) {
      for (int64_t t0 = 0; t0 < n_tokens; t0 += Kernel::kPairTileTokens) {
        const int count = static_cast<int>(std::min<int64_t>(Kernel::kPairTileTokens, n_tokens - t0));
        for (int t = 0; t < count; ++t) x[t] = reinterpret_cast<const Act*>(act + (t0 + t) * act_stride);
        RunPairTile<Kernel>(count, n_blocks, groups + g * n_blocks, groups + (g + 1) * n_blocks, x,
                            y + t0 * y_stride + g * Kernel::kGroupRows, y_stride);
      }
    }
  }
  const Act* x[Kernel::kTileTokens];
  for (; g < n_groups; ++g) {
    for (int64_t t0 = 0; t0 < n_tokens; t0 += Kernel::kTileTokens) {
      const int count = static_cast<int>(std::min<int64_t>(Kernel::kTileTokens, n_tokens - t0));
      for (int t = 0; t < count; ++t) x[t] = reinterpret_cast<const Act*>(act + (t0 + t) * act_stride);
      RunTile<Kernel>(count, n_blocks, groups + g * n_blocks, x, y + t0 * y_stride + g * Kernel::kGroupRows, y_stride);
    }
  }
}

}  // namespace tf::packed_gemm
