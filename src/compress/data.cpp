// .npy input rows and calibration batches (compress/data.h).
#include "bitsmith/compress/data.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include "bitsmith/io/npy.h"

namespace bitsmith {

Expected<Tensor> load_input_rows(const std::string& path, const Model& model, const std::string& what) {
  std::vector<const ValueInfo*> inputs = model.graph.runtime_inputs();
  if (inputs.size() != 1)
    return invalid_argument(what + " " + path + ": the model has " + std::to_string(inputs.size()) +
                            " inputs; data files feed models with exactly one");
  BS_ASSIGN_OR_RETURN(Tensor data, read_npy(path));
  const ValueInfo& in = *inputs[0];
  if (data.dtype() != in.type.elem_type)
    return data_error(what + " " + path + ": dtype " + std::string(dtype_name(data.dtype())) + ", input '" + in.name +
                      "' is " + std::string(dtype_name(in.type.elem_type)));
  if (data.rank() == 0 || (in.type.has_shape && static_cast<size_t>(data.rank()) != in.type.dims.size()))
    return data_error(what + " " + path + ": shape " + shape_str(data.shape()) + " does not match input '" + in.name +
                      "' of rank " + std::to_string(in.type.dims.size()) + " (rows along dim 0)");
  for (size_t d = 1; in.type.has_shape && d < in.type.dims.size(); ++d)
    if (in.type.dims[d].has_value() && in.type.dims[d].value != data.dim(static_cast<int>(d)))
      return data_error(what + " " + path + ": shape " + shape_str(data.shape()) + ", input '" + in.name +
                        "' needs dim " + std::to_string(d) + " = " + std::to_string(in.type.dims[d].value));
  if (data.dim(0) == 0) return data_error(what + " " + path + ": the data set is empty (0 rows)");
  return data;
}

CalibrationData calibration_batches(const Tensor& rows, const std::string& input_name, int64_t samples, uint64_t seed,
                                    int64_t batch) {
  const int64_t n = rows.dim(0);
  std::vector<int64_t> pick(static_cast<size_t>(n));
  std::iota(pick.begin(), pick.end(), 0);
  if (samples > 0 && samples < n) {
    std::mt19937_64 rng(seed);
    std::shuffle(pick.begin(), pick.end(), rng);
    pick.resize(static_cast<size_t>(samples));
    std::sort(pick.begin(), pick.end());
  }
  const size_t row_bytes = rows.nbytes() / static_cast<size_t>(n);
  const size_t per_batch = static_cast<size_t>(std::max<int64_t>(1, batch));
  return [rows, pick, input_name, row_bytes, per_batch](const BatchVisitor& visit) -> Status {
    for (size_t first = 0; first < pick.size(); first += per_batch) {
      const size_t count = std::min(per_batch, pick.size() - first);
      Shape shape = rows.shape();
      shape[0] = static_cast<int64_t>(count);
      Tensor b(rows.dtype(), shape);
      for (size_t r = 0; r < count; ++r)
        std::copy_n(rows.bytes() + pick[first + r] * row_bytes, row_bytes, b.mutable_bytes() + r * row_bytes);
      BS_TRY(visit({{input_name, b}}));
    }
    return Status::ok();
  };
}

}  // namespace bitsmith
