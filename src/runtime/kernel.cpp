#include "bitsmith/runtime/kernel.h"

namespace bitsmith {

const Tensor* KernelInfo::constant_input(size_t i) const {
  if (i >= node.inputs.size() || node.inputs[i].empty()) return nullptr;
  return graph.find_initializer(node.inputs[i]);
}

Status KernelContext::error(const std::string& msg) const {
  return invalid_model(node.describe() + ": " + msg);
}

Status KernelContext::unsupported_error(const std::string& msg) const {
  return unsupported(node.describe() + ": " + msg);
}

}  // namespace bitsmith
