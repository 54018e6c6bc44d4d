#include "bitsmith/runtime/kernel_registry.h"

#include <set>

#include "runtime/kernels/kernels.h"

namespace bitsmith {

const std::vector<KernelEntry>& kernel_table() {
  static const std::vector<KernelEntry> table = {
#define BS_KERNEL(domain, op, since, until, factory) {domain, op, since, until, &kernels::factory},
#include "runtime/kernels/kernels.def"
#undef BS_KERNEL
  };
  return table;
}

const KernelEntry* find_kernel(const std::string& domain, const std::string& op_type, int64_t opset) {
  const std::string d = domain == "ai.onnx" ? "" : domain;
  for (const KernelEntry& e : kernel_table())
    if (d == e.domain && op_type == e.op_type && opset >= e.since_opset && opset <= e.until_opset)
      return &e;
  return nullptr;
}

std::vector<std::string> supported_op_types() {
  std::set<std::string> ops;
  for (const KernelEntry& e : kernel_table())
    if (std::string(e.domain).empty()) ops.insert(e.op_type);
  return {ops.begin(), ops.end()};
}

}  // namespace bitsmith
