#include "gguf/gguf_value_io.h"

#include <fmt/format.h>

namespace tf {
namespace {

// Smallest number of bytes one array element of this type occupies.
size_t MinEncodedSize(GgufType type) {
  if (type == GgufType::kString) return 8;   // u64 length
  if (type == GgufType::kArray) return 12;   // u32 type + u64 count
  return GgufScalarSize(type);
}

Status ReadValueAt(ByteReader* reader, uint32_t type_id, std::string_view key, int depth,
                   GgufValue* out);

Status ReadScalar(ByteReader* reader, GgufType type, std::string_view key, GgufValue* out) {
  const std::string what = fmt::format("value of key '{}'", key);
  switch (type) {
#define TF_GGUF_SCALAR(enum_name, ctype)                  \
  case GgufType::enum_name: {                             \
    ctype v{};                                            \
    TF_RETURN_IF_ERROR(reader->Read(&v, what));           \
    *out = GgufValue(v);                                  \
    return Status::Ok();                                  \
  }
    TF_GGUF_SCALAR(kUint8, uint8_t)
    TF_GGUF_SCALAR(kInt8, int8_t)
    TF_GGUF_SCALAR(kUint16, uint16_t)
    TF_GGUF_SCALAR(kInt16, int16_t)
    TF_GGUF_SCALAR(kUint32, uint32_t)
    TF_GGUF_SCALAR(kInt32, int32_t)
    TF_GGUF_SCALAR(kFloat32, float)
    TF_GGUF_SCALAR(kUint64, uint64_t)
    TF_GGUF_SCALAR(kInt64, int64_t)
    TF_GGUF_SCALAR(kFloat64, double)
#undef TF_GGUF_SCALAR
    case GgufType::kBool: {
      uint8_t v = 0;
      TF_RETURN_IF_ERROR(reader->Read(&v, what));
      if (v > 1) {
        return DataLossError(fmt::format("{} at byte {}: bool must be 0 or 1, file has {}", what,
                                         reader->offset() - 1, v));
      }
      *out = GgufValue(v != 0);
      return Status::Ok();
    }
    default:
      return InternalError("ReadScalar on a non-scalar type");
  }
}

Status ReadArray(ByteReader* reader, std::string_view key, int depth, GgufValue* out) {
  const size_t start = reader->offset();
  if (depth >= kGgufMaxArrayNesting) {
    return DataLossError(fmt::format("key '{}' at byte {}: arrays nested deeper than {}", key,
                                     start, kGgufMaxArrayNesting));
  }
  uint32_t elem_type_id = 0;
  uint64_t count = 0;
  TF_RETURN_IF_ERROR(reader->Read(&elem_type_id, fmt::format("array type of key '{}'", key)));
  if (elem_type_id >= kNumGgufTypes) {
    return DataLossError(fmt::format("key '{}' at byte {}: unknown array element type {}", key,
                                     start, elem_type_id));
  }
  TF_RETURN_IF_ERROR(reader->Read(&count, fmt::format("array length of key '{}'", key)));
  GgufArray array;
  array.elem_type = static_cast<GgufType>(elem_type_id);
  const size_t min_size = MinEncodedSize(array.elem_type);
  if (count > reader->remaining() / min_size) {
    return DataLossError(fmt::format(
        "key '{}' at byte {}: array of {} {} elements needs at least {} bytes per element, "
        "file has {} bytes left",
        key, start + 4, count, GgufTypeName(array.elem_type), min_size, reader->remaining()));
  }
  if (IsGgufScalar(array.elem_type)) {
    std::span<const uint8_t> raw;
    TF_RETURN_IF_ERROR(reader->ReadBytes(count * min_size, &raw, fmt::format("array data of key '{}'", key)));
    array.scalars.assign(raw.begin(), raw.end());
    if (array.elem_type == GgufType::kBool) {
      for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] > 1) {
          return DataLossError(fmt::format("key '{}': bool element {} is {}, must be 0 or 1", key, i, raw[i]));
        }
      }
    }
  } else if (array.elem_type == GgufType::kString) {
    array.strings.resize(count);
    for (uint64_t i = 0; i < count; ++i) {
      TF_RETURN_IF_ERROR(reader->ReadString(&array.strings[i], fmt::format("element {} of key '{}'", i, key)));
    }
  } else {
    array.arrays.resize(count);
    for (uint64_t i = 0; i < count; ++i) {
      TF_RETURN_IF_ERROR(ReadValueAt(reader, static_cast<uint32_t>(GgufType::kArray), key, depth + 1, &array.arrays[i]));
    }
  }
  *out = GgufValue(std::move(array));
  return Status::Ok();
}

Status ReadValueAt(ByteReader* reader, uint32_t type_id, std::string_view key, int depth,
                   GgufValue* out) {
  if (type_id >= kNumGgufTypes) {
    return DataLossError(fmt::format("key '{}' at byte {}: unknown value type {}", key,
                                     reader->offset(), type_id));
  }
  const auto type = static_cast<GgufType>(type_id);
  if (type == GgufType::kString) {
    std::string s;
    TF_RETURN_IF_ERROR(reader->ReadString(&s, fmt::format("value of key '{}'", key)));
    *out = GgufValue(std::move(s));
    return Status::Ok();
  }
  if (type == GgufType::kArray) return ReadArray(reader, key, depth, out);
  return ReadScalar(reader, type, key, out);
}

}  // namespace

Status ReadGgufValue(ByteReader* reader, uint32_t type_id, std::string_view key, GgufValue* out) {
  return ReadValueAt(reader, type_id, key, 0, out);
}

void AppendGgufString(std::string_view s, std::string* out) {
  AppendLittleEndian<uint64_t>(s.size(), out);
  out->append(s);
}

void AppendGgufValue(const GgufValue& value, std::string* out) {
  std::visit(
      [out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          AppendGgufString(v, out);
        } else if constexpr (std::is_same_v<T, GgufArray>) {
          AppendLittleEndian<uint32_t>(static_cast<uint32_t>(v.elem_type), out);
          AppendLittleEndian<uint64_t>(v.size(), out);
          if (v.elem_type == GgufType::kString) {
            for (const std::string& s : v.strings) AppendGgufString(s, out);
          } else if (v.elem_type == GgufType::kArray) {
            for (const GgufValue& a : v.arrays) AppendGgufValue(a, out);
          } else {
            out->append(reinterpret_cast<const char*>(v.scalars.data()), v.scalars.size());
          }
        } else if constexpr (std::is_same_v<T, bool>) {
          AppendLittleEndian<uint8_t>(v ? 1 : 0, out);
        } else {
          AppendLittleEndian<T>(v, out);
        }
      },
      value.storage());
}

}  // namespace tf
