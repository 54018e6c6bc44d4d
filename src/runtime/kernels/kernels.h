// Declarations of every kernel factory listed in kernels.def.
#pragma once

#include "bitsmith/runtime/kernel.h"

namespace bitsmith::kernels {

#define BS_KERNEL(domain, op, since, until, factory) \
  Expected<std::unique_ptr<OpKernel>> factory(const KernelInfo& info);
#include "runtime/kernels/kernels.def"
#undef BS_KERNEL

// Wraps a plain function as a factory result: `return make_fn_kernel(&relu_compute);`
inline Expected<std::unique_ptr<OpKernel>> make_fn_kernel(KernelFn fn) {
  return std::unique_ptr<OpKernel>(new FunctionKernel(fn));
}

}  // namespace bitsmith::kernels
