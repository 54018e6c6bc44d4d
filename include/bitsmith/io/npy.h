// NumPy .npy and .npz files: the interchange format for calibration data, evaluation data,
// labels and outputs.
//
// .npy versions 1.0, 2.0 and 3.0 are read; 1.0 is written (2.0 when the header needs it).
// Numeric dtypes and bool, little-endian or byte-order-free ('|', '<'; big-endian '>' is
// converted); C order only (fortran_order True is refused with a clear error).
// .npz: a zip of .npy members (stored or deflated); written stored (no compression), as
// numpy.savez does. Member names drop the ".npy" suffix, as numpy does.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/core/tensor.h"

namespace bitsmith {

// Errors (kDataError / kUnsupported) name the file: truncated data, a header longer than the
// file, shapes whose data would not fit in the bytes present (checked before any allocation),
// fortran_order True, unsupported dtypes. The result may be a view into the memory-mapped file.
// The tensor's name is the file name without folder and ".npy".
Expected<Tensor> read_npy(const std::string& path);
Status write_npy(const Tensor& tensor, const std::string& path);  // atomic

// In-memory forms (for npz members and tests). `display_name` prefixes error messages.
// parse_npy copies the payload; the tensor's name is left empty.
Expected<Tensor> parse_npy(const std::byte* data, size_t nbytes, const std::string& display_name);
// Like parse_npy, but returns a view into `owner` (which must contain [data, data + nbytes)) when
// the payload needs no byte swap and is aligned to the element size; otherwise a copy.
Expected<Tensor> parse_npy_view(const std::byte* data, size_t nbytes, const std::string& display_name,
                                const std::shared_ptr<Storage>& owner);
// The whole file image; empty when !npy_supports(tensor.dtype()).
std::string serialize_npy(const Tensor& tensor);
// Just the magic, version and padded header (the data, tensor.bytes(), follows it); empty when
// !npy_supports(tensor.dtype()).
std::string npy_header(const Tensor& tensor);
// True for the dtypes .npy can hold: f16, f32, f64, i8..i64, u8..u64, bool, c64, c128.
bool npy_supports(DType dtype);

// Members in file order; each tensor's name is the member name without ".npy". Zip64 records
// and data descriptors (as numpy.savez / savez_compressed write them) are understood; CRCs are
// checked; a deflated member's claimed size is bounded by the maximum deflate ratio before
// anything is allocated. Folder entries ("name/") are skipped; any other member must be a .npy.
Expected<std::vector<Tensor>> read_npz(const std::string& path);
// Member names are the tensor names + ".npy" ("arr_<i>" for an unnamed tensor i, as
// numpy.savez names positional arrays); duplicate names are an error. Zip64 records are written
// only when a size or offset needs them. Timestamps are fixed (1980-01-01), so equal tensors give
// equal bytes.
Status write_npz(const std::vector<Tensor>& tensors, const std::string& path);  // atomic

// Reads a .npy file, or one member of a .npz written as "file.npz:member" (the only member when
// the .npz holds exactly one).
Expected<Tensor> read_array(const std::string& path_or_member);

}  // namespace bitsmith
