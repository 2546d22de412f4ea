#include "gguf/gguf_file.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "base/checked_math.h"
#include "gguf/byte_reader.h"
#include "gguf/gguf_value_io.h"

namespace tf {
namespace {

// Smallest tensor info record: empty name (8), n_dims (4), one dim (8),
// type (4), offset (8).
constexpr uint64_t kMinTensorInfoBytes = 32;
// Smallest metadata record: empty key (8), type (4), one-byte value.
constexpr uint64_t kMinKeyValueBytes = 13;

}  // namespace

StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  auto mapped = MappedFile::Open(path);
  if (!mapped.ok()) return mapped.status();
  auto file = std::unique_ptr<GgufFile>(new GgufFile());
  file->mapped_ = std::move(mapped).value();
  file->bytes_ = file->mapped_->bytes();
  file->path_ = path;
  auto parsed = ParseInto(std::move(file));
  if (!parsed.ok()) return parsed.status().WithContext(path);
  return parsed;
}

StatusOr<std::unique_ptr<GgufFile>> GgufFile::Parse(std::span<const uint8_t> bytes) {
  auto file = std::unique_ptr<GgufFile>(new GgufFile());
  file->bytes_ = bytes;
  file->path_ = "<memory>";
  return ParseInto(std::move(file));
}

StatusOr<std::unique_ptr<GgufFile>> GgufFile::ParseInto(std::unique_ptr<GgufFile> file) {
  ByteReader reader(file->bytes_);
  uint64_t tensor_count = 0, kv_count = 0;
  TF_RETURN_IF_ERROR(file->ParseHeader(&reader, &tensor_count, &kv_count));
  TF_RETURN_IF_ERROR(file->ParseMetadata(&reader, kv_count));
  TF_RETURN_IF_ERROR(file->ReadAlignment());
  TF_RETURN_IF_ERROR(file->ParseTensorInfos(&reader, tensor_count));
  auto data_offset = CheckedAlignUp(reader.offset(), file->alignment_);
  if (!data_offset || (tensor_count > 0 && *data_offset > file->bytes_.size())) {
    return DataLossError(fmt::format("data section would start at byte {} (aligned to {}), past end of file ({})",
                                     reader.offset(), file->alignment_, file->bytes_.size()));
  }
  file->data_offset_ = std::min<uint64_t>(*data_offset, file->bytes_.size());
  TF_RETURN_IF_ERROR(file->ValidateTensorExtents());
  return file;
}

Status GgufFile::ParseHeader(ByteReader* reader, uint64_t* tensor_count, uint64_t* kv_count) {
  uint32_t magic = 0;
  TF_RETURN_IF_ERROR(reader->Read(&magic, "magic"));
  if (magic != kGgufMagic) {
    return DataLossError(fmt::format("magic at byte 0: expected \"GGUF\", file has 0x{:08x}", magic));
  }
  TF_RETURN_IF_ERROR(reader->Read(&version_, "version"));
  if (version_ == 1) {
    return UnimplementedError("version at byte 4: GGUF v1 is not supported (re-convert the model)");
  }
  if (version_ != 2 && version_ != 3) {
    // A big-endian file reads as 0x02000000 / 0x03000000 here.
    return DataLossError(fmt::format("version at byte 4: expected 2 or 3, file has {}{}", version_,
                                     (version_ & 0xFFFF) == 0 ? " (big-endian file?)" : ""));
  }
  TF_RETURN_IF_ERROR(reader->Read(tensor_count, "tensor count"));
  TF_RETURN_IF_ERROR(reader->Read(kv_count, "metadata count"));
  if (*kv_count > reader->remaining() / kMinKeyValueBytes) {
    return DataLossError(fmt::format("metadata count at byte 16: {} entries cannot fit in the {} bytes left",
                                     *kv_count, reader->remaining()));
  }
  if (*tensor_count > reader->remaining() / kMinTensorInfoBytes) {
    return DataLossError(fmt::format("tensor count at byte 8: {} tensors cannot fit in the {} bytes left",
                                     *tensor_count, reader->remaining()));
  }
  return Status::Ok();
}

Status GgufFile::ParseMetadata(ByteReader* reader, uint64_t kv_count) {
  metadata_.reserve(kv_count);
  for (uint64_t i = 0; i < kv_count; ++i) {
    const size_t start = reader->offset();
    GgufKeyValue kv;
    TF_RETURN_IF_ERROR(reader->ReadString(&kv.key, fmt::format("key of metadata entry {}", i)));
    if (metadata_index_.count(kv.key) != 0) {
      return DataLossError(fmt::format("metadata entry {} at byte {}: duplicate key '{}'", i, start, kv.key));
    }
    uint32_t type_id = 0;
    TF_RETURN_IF_ERROR(reader->Read(&type_id, fmt::format("type of key '{}'", kv.key)));
    TF_RETURN_IF_ERROR(ReadGgufValue(reader, type_id, kv.key, &kv.value));
    metadata_index_.emplace(kv.key, metadata_.size());
    metadata_.push_back(std::move(kv));
  }
  return Status::Ok();
}

Status GgufFile::ReadAlignment() {
  const GgufValue* value = Find("general.alignment");
  if (value == nullptr) return Status::Ok();
  if (value->type() != GgufType::kUint32) {
    return DataLossError(fmt::format("key 'general.alignment': expected u32, file has {}",
                                     GgufTypeName(value->type())));
  }
  const uint32_t alignment = std::get<uint32_t>(value->storage());
  if (!IsPowerOfTwo(alignment)) {
    return DataLossError(fmt::format("key 'general.alignment': {} is not a power of two", alignment));
  }
  alignment_ = alignment;
  return Status::Ok();
}

Status GgufFile::ParseTensorInfos(ByteReader* reader, uint64_t tensor_count) {
  tensors_.reserve(tensor_count);
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo info;
    info.info_offset = reader->offset();
    TF_RETURN_IF_ERROR(ParseTensorInfo(reader, &info));
    if (tensor_index_.count(info.name) != 0) {
      return DataLossError(fmt::format("tensor info at byte {}: duplicate tensor name '{}'",
                                       info.info_offset, info.name));
    }
    tensor_index_.emplace(info.name, tensors_.size());
    tensors_.push_back(std::move(info));
  }
  return Status::Ok();
}

Status GgufFile::ParseTensorInfo(ByteReader* reader, GgufTensorInfo* info) {
  const size_t start = info->info_offset;
  TF_RETURN_IF_ERROR(reader->ReadString(&info->name, fmt::format("name of tensor info at byte {}", start)));
  const std::string where = fmt::format("tensor '{}' (info at byte {})", info->name, start);
  uint32_t n_dims = 0;
  TF_RETURN_IF_ERROR(reader->Read(&n_dims, where + " n_dims"));
  if (n_dims == 0 || n_dims > kGgufMaxDims) {
    return DataLossError(fmt::format("{}: n_dims is {}, must be 1..{}", where, n_dims, kGgufMaxDims));
  }
  info->n_dims = static_cast<int>(n_dims);
  uint64_t num_elements = 1;
  for (uint32_t d = 0; d < n_dims; ++d) {
    uint64_t dim = 0;
    TF_RETURN_IF_ERROR(reader->Read(&dim, fmt::format("{} dim {}", where, d)));
    if (dim == 0 || dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return DataLossError(fmt::format("{}: dim {} is {}, must be 1..2^63-1", where, d, dim));
    }
    auto product = CheckedMul(num_elements, dim);
    if (!product || *product > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return DataLossError(fmt::format("{}: element count overflows at dim {} ({})", where, d, dim));
    }
    num_elements = *product;
    info->ne[d] = static_cast<int64_t>(dim);
  }
  uint32_t type_id = 0;
  TF_RETURN_IF_ERROR(reader->Read(&type_id, where + " type"));
  auto traits = GetDTypeTraits(type_id);
  if (!traits) return DataLossError(fmt::format("{}: unknown tensor type {}", where, type_id));
  info->type = static_cast<DType>(type_id);
  if (info->ne[0] % traits->block_size != 0) {
    return DataLossError(fmt::format("{}: row length {} is not a multiple of the {} block size {}",
                                     where, info->ne[0], traits->name, traits->block_size));
  }
  auto nbytes = CheckedMul(num_elements / traits->block_size, traits->type_size);
  if (!nbytes) return DataLossError(fmt::format("{}: byte size overflows", where));
  info->nbytes = *nbytes;
  TF_RETURN_IF_ERROR(reader->Read(&info->offset, where + " offset"));
  return Status::Ok();
}

Status GgufFile::ValidateTensorExtents() {
  const uint64_t data_size = bytes_.size() - data_offset_;
  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const GgufTensorInfo& t : tensors_) {
    const std::string where = fmt::format("tensor '{}' (info at byte {})", t.name, t.info_offset);
    if (t.offset % alignment_ != 0) {
      return DataLossError(fmt::format("{}: offset {} is not a multiple of the alignment {}", where,
                                       t.offset, alignment_));
    }
    auto end = CheckedAdd(t.offset, t.nbytes);
    if (!end || *end > data_size) {
      return DataLossError(fmt::format("{}: offset {} + {} bytes is past end of file ({} data bytes from byte {})",
                                       where, t.offset, t.nbytes, data_size, data_offset_));
    }
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensorInfo& prev = *by_offset[i - 1];
    const GgufTensorInfo& next = *by_offset[i];
    if (prev.offset + prev.nbytes > next.offset) {
      return DataLossError(fmt::format("tensor '{}' (offset {}, {} bytes) overlaps tensor '{}' (offset {})",
                                       prev.name, prev.offset, prev.nbytes, next.name, next.offset));
    }
  }
  return Status::Ok();
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = metadata_index_.find(std::string(key));
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].value;
}

namespace {
// Integer widths and float widths are interchangeable for overrides.
enum class ValueKind { kInt, kFloat, kBool, kString, kArray };
ValueKind KindOf(GgufType t) {
  switch (t) {
    case GgufType::kFloat32:
    case GgufType::kFloat64: return ValueKind::kFloat;
    case GgufType::kBool: return ValueKind::kBool;
    case GgufType::kString: return ValueKind::kString;
    case GgufType::kArray: return ValueKind::kArray;
    default: return ValueKind::kInt;
  }
}
}  // namespace

Status GgufFile::SetMetadata(GgufKeyValue kv) {
  if (kv.key == "general.alignment") {
    return InvalidArgumentError("key 'general.alignment' cannot be overridden: the file's layout depends on it");
  }
  auto it = metadata_index_.find(kv.key);
  if (it == metadata_index_.end()) {
    metadata_index_.emplace(kv.key, metadata_.size());
    metadata_.push_back(std::move(kv));
    return Status::Ok();
  }
  GgufValue& current = metadata_[it->second].value;
  if (KindOf(current.type()) == ValueKind::kArray || KindOf(current.type()) != KindOf(kv.value.type())) {
    return InvalidArgumentError(fmt::format("key '{}': the file stores {}, the override is {}", kv.key,
                                            GgufTypeName(current.type()), GgufTypeName(kv.value.type())));
  }
  current = std::move(kv.value);
  return Status::Ok();
}

namespace {
Status WrongType(std::string_view key, std::string_view expected, const GgufValue& v) {
  return InvalidArgumentError(fmt::format("key '{}': expected {}, file has {}", key, expected,
                                          GgufTypeName(v.type())));
}
Status Missing(std::string_view key) {
  return NotFoundError(fmt::format("key '{}' is missing", key));
}
}  // namespace

StatusOr<int64_t> GgufFile::GetInt(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(key);
  auto i = v->AsInt();
  if (!i) return WrongType(key, "an integer", *v);
  return *i;
}

StatusOr<double> GgufFile::GetFloat(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(key);
  auto f = v->AsFloat();
  if (!f) return WrongType(key, "a number", *v);
  return *f;
}

StatusOr<bool> GgufFile::GetBool(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(key);
  auto b = v->AsBool();
  if (!b) return WrongType(key, "bool", *v);
  return *b;
}

StatusOr<std::string> GgufFile::GetString(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(key);
  const std::string* s = v->AsString();
  if (s == nullptr) return WrongType(key, "string", *v);
  return *s;
}

StatusOr<const GgufArray*> GgufFile::GetArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(key);
  const GgufArray* a = v->AsArray();
  if (a == nullptr) return WrongType(key, "array", *v);
  return a;
}

StatusOr<int64_t> GgufFile::GetIntOr(std::string_view key, int64_t fallback) const {
  if (Find(key) == nullptr) return fallback;
  return GetInt(key);
}

StatusOr<double> GgufFile::GetFloatOr(std::string_view key, double fallback) const {
  if (Find(key) == nullptr) return fallback;
  return GetFloat(key);
}

StatusOr<bool> GgufFile::GetBoolOr(std::string_view key, bool fallback) const {
  if (Find(key) == nullptr) return fallback;
  return GetBool(key);
}

StatusOr<std::string> GgufFile::GetStringOr(std::string_view key, std::string fallback) const {
  if (Find(key) == nullptr) return fallback;
  return GetString(key);
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

void GgufFile::ReleasePages(const TensorView& view) const {
  if (mapped_ != nullptr) mapped_->ReleasePages(view.data, view.nbytes);
}

TensorView GgufFile::View(const GgufTensorInfo& info) const {
  TensorView v;
  v.name = info.name;
  v.type = info.type;
  v.n_dims = info.n_dims;
  v.ne = info.ne;
  v.data = bytes_.data() + data_offset_ + info.offset;
  v.nbytes = info.nbytes;
  return v;
}

std::optional<TensorView> GgufFile::FindView(std::string_view name) const {
  const GgufTensorInfo* info = FindTensor(name);
  if (info == nullptr) return std::nullopt;
  return View(*info);
}

}  // namespace tf
