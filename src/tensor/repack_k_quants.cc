#include "tensor/repack_k_quants.h"

#include <cstring>
#include <type_traits>

#include "base/check.h"
#include "tensor/packed_blocks.h"
#include "tensor/quant_blocks.h"

namespace tf {
namespace {

// The 6-bit levels (0..63) of a Q6_K block in weight order, and back.
void Q6_KLevels(const BlockQ6_K& b, uint8_t* levels) {
  for (int half = 0; half < 2; ++half) {
    const uint8_t* ql = b.ql + 64 * half;
    const uint8_t* qh = b.qh + 32 * half;
    uint8_t* q = levels + 128 * half;
    for (int l = 0; l < 32; ++l) {
      q[l] = static_cast<uint8_t>((ql[l] & 0x0F) | ((qh[l] & 3) << 4));
      q[l + 32] = static_cast<uint8_t>((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4));
      q[l + 64] = static_cast<uint8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
      q[l + 96] = static_cast<uint8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
    }
  }
}

void SetQ6_KLevels(const uint8_t* levels, BlockQ6_K* b) {
  for (int half = 0; half < 2; ++half) {
    uint8_t* ql = b->ql + 64 * half;
    uint8_t* qh = b->qh + 32 * half;
    const uint8_t* q = levels + 128 * half;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((q[l] & 0x0F) | ((q[l + 64] & 0x0F) << 4));
      ql[l + 32] = static_cast<uint8_t>((q[l + 32] & 0x0F) | ((q[l + 96] & 0x0F) << 4));
      qh[l] = static_cast<uint8_t>((q[l] >> 4) | ((q[l + 32] >> 4) << 2) | ((q[l + 64] >> 4) << 4) |
                                   ((q[l + 96] >> 4) << 6));
    }
  }
}

// Moves one super-block column of an 8-row group between the file layout
// (rows row_bytes apart) and BlockQ6_Kx8 (packed_blocks.h has the map).
void ConvertQ6_KBlock(uint8_t* rows, size_t row_bytes, BlockQ6_Kx8* packed, bool to_packed) {
  for (int r = 0; r < kPackRows; ++r) {
    auto* file = reinterpret_cast<BlockQ6_K*>(rows + r * row_bytes);
    uint8_t levels[kQK_K];
    if (to_packed) {
      Q6_KLevels(*file, levels);
      packed->d[r] = file->d;
    } else {
      file->d = packed->d[r];
    }
    for (int k = 0; k < kQK_K; ++k) {
      BlockQ6_Kx8::Group& group = packed->groups[k / 32];
      const int h = (k % 32) / 16, j = (k % 16) / 4, b = k % 4;
      uint8_t& low = group.ql[32 * j + 4 * r + b];
      uint8_t& high = group.qh[32 * h + 4 * r + b];
      if (to_packed) {
        const int nibble_shift = 4 * h, field_shift = 2 * j;
        low = static_cast<uint8_t>((low & ~(0x0F << nibble_shift)) | ((levels[k] & 0x0F) << nibble_shift));
        high = static_cast<uint8_t>((high & ~(3 << field_shift)) | ((levels[k] >> 4) << field_shift));
      } else {
        levels[k] = static_cast<uint8_t>(((low >> (4 * h)) & 0x0F) | (((high >> (2 * j)) & 3) << 4));
      }
    }
    for (int sub = 0; sub < kQK_K / 16; ++sub) {
      int8_t& scale = packed->scales[16 * (sub / 2) + 2 * r + sub % 2];
      if (to_packed) {
        scale = file->scales[sub];
      } else {
        file->scales[sub] = scale;
      }
    }
    if (!to_packed) SetQ6_KLevels(levels, file);
  }
}

// A Q4_K/Q5_K block's levels (0..15 or 0..31) in weight order, its 6-bit
// scales and mins per sub-block, and back.
struct K45Values {
  uint8_t levels[kQK_K];
  uint8_t scales[8], mins[8];
};

template <typename Block>
K45Values K45Of(const Block& b) {
  K45Values v;
  for (int sub = 0; sub < 8; ++sub) {
    UnpackKScaleMin(sub, b.scales, &v.scales[sub], &v.mins[sub]);
    for (int l = 0; l < 32; ++l) {
      int level = (b.qs[32 * (sub / 2) + l] >> (4 * (sub % 2))) & 0x0F;
      if constexpr (std::is_same_v<Block, BlockQ5_K>) level |= ((b.qh[l] >> sub) & 1) << 4;
      v.levels[32 * sub + l] = static_cast<uint8_t>(level);
    }
  }
  return v;
}

template <typename Block>
void SetK45(const K45Values& v, Block* b) {
  PackKScaleMin(v.scales, v.mins, b->scales);
  std::memset(b->qs, 0, sizeof(b->qs));
  if constexpr (std::is_same_v<Block, BlockQ5_K>) std::memset(b->qh, 0, sizeof(b->qh));
  for (int sub = 0; sub < 8; ++sub) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t level = v.levels[32 * sub + l];
      b->qs[32 * (sub / 2) + l] |= static_cast<uint8_t>((level & 0x0F) << (4 * (sub % 2)));
      if constexpr (std::is_same_v<Block, BlockQ5_K>) b->qh[l] |= static_cast<uint8_t>((level >> 4) << sub);
    }
  }
}

// Sets (to_packed) or reads value v (packed_blocks.h: 16g + 2r + m) of a KScaleMinx8.
void KScaleMinValue(KScaleMinx8* s, int v, uint8_t* value, bool to_packed) {
  uint8_t& lo = s->lo[v % 64];
  uint8_t& hi = s->hi[v % 32];
  const int nibble_shift = 4 * (v / 64), field_shift = 2 * (v / 32);
  if (to_packed) {
    lo = static_cast<uint8_t>((lo & ~(0x0F << nibble_shift)) | ((*value & 0x0F) << nibble_shift));
    hi = static_cast<uint8_t>((hi & ~(3 << field_shift)) | ((*value >> 4) << field_shift));
  } else {
    *value = static_cast<uint8_t>(((lo >> nibble_shift) & 0x0F) | (((hi >> field_shift) & 3) << 4));
  }
}

// Level k of row r in a packed Q4_K/Q5_K block column (set or read).
template <typename Packed>
void K45Level(Packed* p, int r, int k, uint8_t* level, bool to_packed) {
  const int g = k / 32, h = (k % 32) / 16, j = (k % 16) / 4, lane = 4 * r + k % 4;
  constexpr bool kHigh = std::is_same_v<Packed, BlockQ5_Kx8>;
  uint8_t* qs;
  if constexpr (kHigh) {
    qs = p->groups[g].qs;
  } else {
    qs = p->qs[g];
  }
  uint8_t& low = qs[32 * j + lane];
  const int nibble_shift = 4 * h;
  if (to_packed) {
    low = static_cast<uint8_t>((low & ~(0x0F << nibble_shift)) | ((*level & 0x0F) << nibble_shift));
    if constexpr (kHigh) {
      const int bit = j + 4 * h;
      uint8_t& high = p->groups[g].qh[lane];
      high = static_cast<uint8_t>((high & ~(1 << bit)) | (((*level >> 4) & 1) << bit));
    }
  } else {
    *level = static_cast<uint8_t>((low >> nibble_shift) & 0x0F);
    if constexpr (kHigh) *level |= static_cast<uint8_t>(((p->groups[g].qh[lane] >> (j + 4 * h)) & 1) << 4);
  }
}

template <typename Block, typename Packed>
void ConvertK45Block(uint8_t* rows, size_t row_bytes, Packed* packed, bool to_packed) {
  for (int r = 0; r < kPackRows; ++r) {
    auto* file = reinterpret_cast<Block*>(rows + r * row_bytes);
    K45Values v;
    if (to_packed) {
      v = K45Of(*file);
      packed->d[r] = file->d;
      packed->dmin[r] = file->dmin;
    } else {
      file->d = packed->d[r];
      file->dmin = packed->dmin[r];
    }
    for (int k = 0; k < kQK_K; ++k) K45Level(packed, r, k, &v.levels[k], to_packed);
    for (int g = 0; g < 8; ++g) {
      KScaleMinValue(&packed->scales, 16 * g + 2 * r, &v.scales[g], to_packed);
      KScaleMinValue(&packed->scales, 16 * g + 2 * r + 1, &v.mins[g], to_packed);
    }
    if (!to_packed) SetK45(v, file);
  }
}

template <typename Block, typename Packed>
void ConvertBlocks(uint8_t* rows, int64_t k, int64_t n_rows, uint8_t* packed, bool to_packed,
                   void (*convert)(uint8_t*, size_t, Packed*, bool)) {
  const int64_t n_blocks = k / kQK_K;
  const size_t row_bytes = sizeof(Block) * static_cast<size_t>(n_blocks);
  if (to_packed) std::memset(packed, 0, row_bytes * static_cast<size_t>(n_rows));
  for (int64_t r0 = 0; r0 < n_rows; r0 += kPackRows) {
    uint8_t* group_rows = rows + static_cast<size_t>(r0) * row_bytes;
    auto* group_packed = reinterpret_cast<Packed*>(packed + static_cast<size_t>(r0) * row_bytes);
    for (int64_t b = 0; b < n_blocks; ++b) convert(group_rows + b * sizeof(Block), row_bytes, group_packed + b, to_packed);
  }
}

}  // namespace

void ConvertKQuantRows(DType type, uint8_t* rows, int64_t k, int64_t n_rows, uint8_t* packed, bool to_packed) {
  TF_CHECK(k % kQK_K == 0 && n_rows % kPackRows == 0) << "cannot pack [" << n_rows << " x " << k << "]";
  switch (type) {
    case DType::kQ4_K:
      ConvertBlocks<BlockQ4_K, BlockQ4_Kx8>(rows, k, n_rows, packed, to_packed, ConvertK45Block<BlockQ4_K, BlockQ4_Kx8>);
      return;
    case DType::kQ5_K:
      ConvertBlocks<BlockQ5_K, BlockQ5_Kx8>(rows, k, n_rows, packed, to_packed, ConvertK45Block<BlockQ5_K, BlockQ5_Kx8>);
      return;
    case DType::kQ6_K:
      ConvertBlocks<BlockQ6_K, BlockQ6_Kx8>(rows, k, n_rows, packed, to_packed, ConvertQ6_KBlock);
      return;
    default:
      TF_CHECK(false) << "no packed K-quant layout for " << DTypeName(type);
  }
}

}  // namespace tf
