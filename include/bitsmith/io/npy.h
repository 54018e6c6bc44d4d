// NumPy .npy and .npz files: the interchange format for calibration data, evaluation data,
// labels and outputs.
//
// .npy versions 1.0, 2.0 and 3.0 are read; 1.0 is written (2.0 when the header needs it).
// Numeric dtypes and bool, little-endian or byte-order-free ('|', '<'; big-endian '>' is
// converted); C order only (fortran_order True is refused with a clear error).
// .npz: a zip of .npy members (stored or deflated); written stored (no compression), as
// numpy.savez does. Member names drop the ".npy" suffix, as numpy does.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/core/tensor.h"

namespace bitsmith {

Expected<Tensor> read_npy(const std::string& path);
Status write_npy(const Tensor& tensor, const std::string& path);  // atomic

// In-memory forms (for npz members and tests). `display_name` prefixes error messages.
Expected<Tensor> parse_npy(const std::byte* data, size_t nbytes, const std::string& display_name);
std::string serialize_npy(const Tensor& tensor);

// Members in file order; each tensor's name is the member name without ".npy".
Expected<std::vector<Tensor>> read_npz(const std::string& path);
Status write_npz(const std::vector<Tensor>& tensors, const std::string& path);  // atomic

// Reads a .npy file, or one member of a .npz written as "file.npz:member" (the only member when
// the .npz holds exactly one).
Expected<Tensor> read_array(const std::string& path_or_member);

}  // namespace bitsmith
