#include "model/weight_loader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "gguf/gguf_file.h"
#include "kernels/matmul.h"
#include "tensor/dequantize.h"
#include "tensor/repack.h"

namespace tf {

bool WeightLoader::Has(const std::string& name) const { return file_.FindTensor(name) != nullptr; }

StatusOr<TensorView> WeightLoader::Fetch(const std::string& name, const std::vector<int64_t>& ne) {
  const GgufTensorInfo* info = file_.FindTensor(name);
  if (info == nullptr) return NotFoundError(fmt::format("tensor {} is missing", name));
  if (info->n_dims != static_cast<int>(ne.size())) {
    // A trailing dim of 1 is the same shape ([n, 1] == [n]).
    bool same = true;
    for (size_t d = 0; d < 4; ++d) {
      const int64_t want = d < ne.size() ? ne[d] : 1;
      if (info->ne[d] != want) same = false;
    }
    if (!same) {
      return InvalidArgumentError(fmt::format("tensor {}: expected {} dims, file has {}", name, ne.size(), info->n_dims));
    }
  }
  for (size_t d = 0; d < ne.size(); ++d) {
    if (info->ne[d] != ne[d]) {
      std::vector<int64_t> got(info->ne.begin(), info->ne.begin() + info->n_dims);
      return InvalidArgumentError(fmt::format("tensor {}: expected shape [{}], file has [{}]", name,
                                              fmt::join(ne, ", "), fmt::join(got, ", ")));
    }
  }
  bytes_used_ += info->nbytes;
  return file_.View(*info);
}

StatusOr<TensorView> WeightLoader::Matrix(const std::string& name, std::vector<int64_t> ne) {
  TF_ASSIGN_OR_RETURN(TensorView view, Fetch(name, ne));
  if (!MatMulSupports(kernels_, view.type)) {
    return UnimplementedError(fmt::format("tensor {}: type {} is not supported for matrix multiplication",
                                          name, DTypeName(view.type)));
  }
  if (pack_weights_) TF_RETURN_IF_ERROR(Pack(&view));
  matrix_elements_ += view.num_elements();
  return view;
}

Status WeightLoader::Pack(TensorView* view) {
  if (kernels_.PackedGemm(view->type) == nullptr || !CanPack(view->type, view->ne[0], view->ne[1])) {
    return Status::Ok();
  }
  uint8_t* packed = arena_->NewBytes(view->nbytes);
  if (packed == nullptr) {
    return ResourceExhaustedError(fmt::format("tensor {}: cannot allocate {} bytes for its packed copy",
                                              view->name, view->nbytes));
  }
  // Groups are independent: split the rows in whole groups across threads.
  const int64_t groups = view->num_rows() / kPackedGroupRows;
  const size_t row_bytes = view->row_bytes();
  pool_->ParallelFor(groups, 16, [&](int64_t begin, int64_t end) {
    const size_t offset = static_cast<size_t>(begin * kPackedGroupRows) * row_bytes;
    PackRows(view->type, view->data + offset, view->ne[0], (end - begin) * kPackedGroupRows, packed + offset);
  });
  view->packed = packed;
  file_.ReleasePages(*view);
  return Status::Ok();
}

StatusOr<std::optional<TensorView>> WeightLoader::OptionalMatrix(const std::string& name, std::vector<int64_t> ne) {
  if (!Has(name)) return std::optional<TensorView>();
  TF_ASSIGN_OR_RETURN(TensorView view, Matrix(name, std::move(ne)));
  return std::optional<TensorView>(view);
}

StatusOr<TensorView> WeightLoader::Table(const std::string& name, std::vector<int64_t> ne) {
  TF_ASSIGN_OR_RETURN(TensorView view, Fetch(name, ne));
  if (!Traits(view.type).dequantizable) {
    return UnimplementedError(fmt::format("tensor {}: type {} is not supported", name, DTypeName(view.type)));
  }
  return view;
}

StatusOr<const float*> WeightLoader::Vector(const std::string& name, int64_t n) {
  TF_ASSIGN_OR_RETURN(TensorView view, Table(name, {n}));
  if (view.type == DType::kF32) return reinterpret_cast<const float*>(view.data);
  float* copy = arena_->NewFloats(static_cast<size_t>(n));
  DequantizeRow(view.type, view.data, copy, n);
  return copy;
}

StatusOr<const float*> WeightLoader::OptionalVector(const std::string& name, int64_t n) {
  if (!Has(name)) return static_cast<const float*>(nullptr);
  return Vector(name, n);
}

}  // namespace tf
