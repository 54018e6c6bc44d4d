// The one table of kernels: src/runtime/kernels/kernels.def lists (domain, op type, opset range,
// factory). Lookup picks the row whose [since, until] opset range contains the model's opset.
#pragma once

#include <string>
#include <vector>

#include "bitsmith/runtime/kernel.h"

namespace bitsmith {

struct KernelEntry {
  const char* domain;   // "" for ai.onnx, "com.microsoft" for ORT contrib ops
  const char* op_type;
  int since_opset;      // inclusive
  int until_opset;      // inclusive; 1000 = open-ended
  KernelFactory factory;
};

const std::vector<KernelEntry>& kernel_table();

// The entry for (domain, op_type, opset) or nullptr. "ai.onnx" is the same as "".
const KernelEntry* find_kernel(const std::string& domain, const std::string& op_type, int64_t opset);

// Op types with at least one kernel, in the default domain (for the conformance runner).
std::vector<std::string> supported_op_types();

}  // namespace bitsmith
