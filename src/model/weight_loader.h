// Fetches model tensors from a GGUF file by name with their expected shape,
// and says exactly what is wrong when a tensor is missing, misshapen or of a
// type tokenfab cannot compute with. Matrices stay views into the mmap;
// small vectors (norms, biases) of a non-F32 type are converted into owned
// float32 copies.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernels/kernel_table.h"
#include "tensor/tensor_view.h"

namespace tf {

class GgufFile;

class WeightLoader {
 public:
  WeightLoader(const GgufFile& file, const KernelTable& kernels) : file_(file), kernels_(kernels) {}

  // A weight for MatMul: shape `ne` (GGUF order, 2 or 3 dims), a type the
  // kernels support.
  StatusOr<TensorView> Matrix(const std::string& name, std::vector<int64_t> ne);
  // nullopt when absent; an error when present but wrong.
  StatusOr<std::optional<TensorView>> OptionalMatrix(const std::string& name, std::vector<int64_t> ne);
  // A table read row by row (embeddings): any dequantizable type.
  StatusOr<TensorView> Table(const std::string& name, std::vector<int64_t> ne);
  // A float32 vector of n elements (converted if stored otherwise).
  StatusOr<const float*> Vector(const std::string& name, int64_t n);
  StatusOr<const float*> OptionalVector(const std::string& name, int64_t n);

  bool Has(const std::string& name) const;
  // Bytes of every tensor fetched so far (the model's weight footprint).
  size_t bytes_used() const { return bytes_used_; }

 private:
  StatusOr<TensorView> Fetch(const std::string& name, const std::vector<int64_t>& ne);
  const GgufFile& file_;
  const KernelTable& kernels_;
  std::deque<std::vector<float>> owned_;  // deque: pointers stay valid
  size_t bytes_used_ = 0;
};

}  // namespace tf
