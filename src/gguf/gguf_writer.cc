#include "gguf/gguf_writer.h"

#include <cstring>

#include <fmt/format.h>

#include "base/atomic_file.h"
#include "base/checked_math.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_value_io.h"

namespace tf {

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {
  TF_CHECK(IsPowerOfTwo(alignment)) << "alignment " << alignment;
  if (alignment != kGgufDefaultAlignment) SetU32("general.alignment", alignment);
}

void GgufWriter::Set(const std::string& key, GgufValue value) {
  for (auto& kv : metadata_) {
    if (kv.first == key) {
      kv.second = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(key, std::move(value));
}

void GgufWriter::Remove(const std::string& key) {
  std::erase_if(metadata_, [&](const auto& kv) { return kv.first == key; });
}

Status GgufWriter::AddTensor(const std::string& name, DType type, const std::vector<int64_t>& ne,
                             TensorFiller fill) {
  if (ne.empty() || ne.size() > kGgufMaxDims) {
    return InvalidArgumentError(fmt::format("tensor {}: {} dims, must be 1..4", name, ne.size()));
  }
  for (const auto& t : tensors_) {
    if (t.name == name) return InvalidArgumentError(fmt::format("tensor {}: added twice", name));
  }
  uint64_t rows = 1;
  for (size_t d = 0; d < ne.size(); ++d) {
    if (ne[d] <= 0) return InvalidArgumentError(fmt::format("tensor {}: dim {} is {}", name, d, ne[d]));
    if (d > 0) rows *= static_cast<uint64_t>(ne[d]);
  }
  auto row_bytes = RowBytes(type, ne[0]);
  if (!row_bytes) {
    return InvalidArgumentError(fmt::format("tensor {}: row length {} is not a multiple of the {} block size",
                                            name, ne[0], DTypeName(type)));
  }
  PendingTensor t{name, type, ne, *row_bytes * rows, 0, std::move(fill)};
  t.offset = *CheckedAlignUp(data_bytes_, alignment_);
  data_bytes_ = t.offset + t.nbytes;
  tensors_.push_back(std::move(t));
  return Status::Ok();
}

Status GgufWriter::AddTensorData(const std::string& name, DType type, const std::vector<int64_t>& ne,
                                 std::span<const uint8_t> data) {
  return AddTensor(name, type, ne, [data, name](std::span<uint8_t> out) {
    if (out.size() != data.size()) {
      return InvalidArgumentError(fmt::format("tensor {}: {} bytes of data for a {} byte tensor",
                                              name, data.size(), out.size()));
    }
    std::memcpy(out.data(), data.data(), data.size());
    return Status::Ok();
  });
}

std::string GgufWriter::EncodeHeader() const {
  std::string out;
  AppendLittleEndian<uint32_t>(kGgufMagic, &out);
  AppendLittleEndian<uint32_t>(3, &out);
  AppendLittleEndian<uint64_t>(tensors_.size(), &out);
  AppendLittleEndian<uint64_t>(metadata_.size(), &out);
  for (const auto& [key, value] : metadata_) {
    AppendGgufString(key, &out);
    AppendLittleEndian<uint32_t>(static_cast<uint32_t>(value.type()), &out);
    AppendGgufValue(value, &out);
  }
  for (const PendingTensor& t : tensors_) {
    AppendGgufString(t.name, &out);
    AppendLittleEndian<uint32_t>(static_cast<uint32_t>(t.ne.size()), &out);
    for (int64_t d : t.ne) AppendLittleEndian<uint64_t>(static_cast<uint64_t>(d), &out);
    AppendLittleEndian<uint32_t>(static_cast<uint32_t>(t.type), &out);
    AppendLittleEndian<uint64_t>(t.offset, &out);
  }
  out.resize(*CheckedAlignUp(out.size(), alignment_), '\0');
  return out;
}

Status GgufWriter::WriteTo(const std::function<Status(std::string_view)>& sink) const {
  TF_RETURN_IF_ERROR(sink(EncodeHeader()));
  uint64_t written = 0;
  std::vector<uint8_t> buffer;
  for (const PendingTensor& t : tensors_) {
    if (t.offset > written) {
      TF_RETURN_IF_ERROR(sink(std::string(t.offset - written, '\0')));
    }
    buffer.assign(t.nbytes, 0);
    TF_RETURN_IF_ERROR(t.fill(std::span<uint8_t>(buffer)).WithContext("tensor " + t.name));
    TF_RETURN_IF_ERROR(sink(std::string_view(reinterpret_cast<const char*>(buffer.data()), buffer.size())));
    written = t.offset + t.nbytes;
  }
  // Pad the last tensor too: ggml sizes the data section as the sum of
  // aligned tensor sizes.
  const uint64_t end = *CheckedAlignUp(written, alignment_);
  if (end > written) TF_RETURN_IF_ERROR(sink(std::string(end - written, '\0')));
  return Status::Ok();
}

StatusOr<std::string> GgufWriter::WriteToString() const {
  std::string out;
  TF_RETURN_IF_ERROR(WriteTo([&out](std::string_view chunk) {
    out.append(chunk);
    return Status::Ok();
  }));
  return out;
}

Status GgufWriter::WriteFile(const std::string& path) const {
  return WriteFileAtomically(path, [this](const ByteSink& sink) { return WriteTo(sink); });
}

}  // namespace tf
