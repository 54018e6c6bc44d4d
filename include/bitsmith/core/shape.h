// Concrete tensor shapes (all dims known, >= 0) and helpers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bitsmith {

using Shape = std::vector<int64_t>;

// Product of dims (1 for a scalar). Returns -1 if any dim is negative or the product
// overflows int64 (callers treat that as a malformed shape).
int64_t shape_numel(const Shape& shape);

// "[2, 3, 4]"
std::string shape_str(const Shape& shape);

// Row-major strides in elements.
std::vector<int64_t> shape_strides(const Shape& shape);

}  // namespace bitsmith
