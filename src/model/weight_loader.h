// Fetches model tensors from a GGUF file by name with their expected shape,
// and says exactly what is wrong when a tensor is missing, misshapen or of a
// type tokenfab cannot compute with. Matrices stay views into the mmap;
// where the kernels have a packed layout for their type, a packed copy is
// made in the model's arena (and the file's pages are released, so memory
// holds one copy). Small vectors (norms, biases) of a non-F32 type are
// converted into float32 copies in the arena.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "kernels/kernel_table.h"
#include "model/weight_arena.h"
#include "tensor/tensor_view.h"

namespace tf {

class GgufFile;

class WeightLoader {
 public:
  // `arena` (owned by the model) receives every copy the loader makes;
  // `pool` does the repacking (memory-bound work for every core).
  WeightLoader(const GgufFile& file, const KernelTable& kernels, WeightArena* arena, ThreadPool* pool,
               bool pack_weights = true)
      : file_(file), kernels_(kernels), arena_(arena), pool_(pool), pack_weights_(pack_weights) {}

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
  // Elements of the matrices fetched so far (Matrix/OptionalMatrix only).
  int64_t matrix_elements() const { return matrix_elements_; }

 private:
  StatusOr<TensorView> Fetch(const std::string& name, const std::vector<int64_t>& ne);
  Status Pack(TensorView* view);
  const GgufFile& file_;
  const KernelTable& kernels_;
  WeightArena* arena_;
  ThreadPool* pool_;
  bool pack_weights_;
  size_t bytes_used_ = 0;
  int64_t matrix_elements_ = 0;
};

}  // namespace tf
