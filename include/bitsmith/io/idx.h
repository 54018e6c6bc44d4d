// IDX files (the MNIST format), plain or gzip-compressed (detected by content, not by name).
//
// Layout, all big-endian:
//   bytes 0-1: 0x00 0x00
//   byte  2:   element type: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64
//   byte  3:   number of dimensions n
//   n x u32:   the dimensions
//   data:      prod(dims) elements, row-major, big-endian
// MNIST: images magic 0x00000803 ([N, 28, 28] u8), labels 0x00000801 ([N] u8, values 0..9).
#pragma once

#include <string>

#include "bitsmith/core/status.h"
#include "bitsmith/core/tensor.h"

namespace bitsmith {

// Reads the whole file into a tensor of the IDX shape and element type (u8 for MNIST), values
// converted to native byte order. The tensor's name is empty.
// Errors (kIoError / kDataError / kUnsupported) name the file: missing file, bad magic, unknown
// element type, truncated or corrupt data, trailing bytes after the data, and dimensions whose
// data could not fit in the file (checked before anything is allocated; for gzip the bound is
// the maximum deflate ratio).
Expected<Tensor> read_idx(const std::string& path);

}  // namespace bitsmith
