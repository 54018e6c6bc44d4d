// Data sets for compress / quantize / analyze: .npy rows for a model's single input.
#pragma once

#include <cstdint>
#include <string>

#include "bitsmith/core/status.h"
#include "bitsmith/core/tensor.h"
#include "bitsmith/ir/graph.h"
#include "bitsmith/passes/pass.h"

namespace bitsmith {

// Reads `path` (.npy, rows along dim 0) and checks it against the model's single runtime input:
// same dtype and rank, equal static dims after dim 0, at least one row. `what` names the data in
// errors ("--calib", "/evaluation/data"). Errors: kInvalidArgument when the model has other than
// one input, kIoError/kDataError for the file.
Expected<Tensor> load_input_rows(const std::string& path, const Model& model, const std::string& what);

// Calibration batches of `batch` rows for input `input_name`: all rows of `rows`, or `samples`
// of them (0: all) picked with `seed` and kept in file order. Deterministic.
CalibrationData calibration_batches(const Tensor& rows, const std::string& input_name, int64_t samples, uint64_t seed,
                                    int64_t batch);

}  // namespace bitsmith
