// Helpers for implementing passes (internal to src/passes).
//
// A pass class C (one file, src/passes/<name>.cpp) provides:
//   struct Options { ... defaults next to the fields ... };
//   static const OptionTable<Options>& option_table();
//   C(std::string_view name, Options options);
//   optional: static void validate(const Options&, const std::string& pointer,
//                                  std::vector<std::string>& errors);   // cross-field checks
// and the file ends with BS_DEFINE_PASS(C), which defines the two functions passes.def's row
// refers to (create_C, options_of_C).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bitsmith/passes/options.h"
#include "bitsmith/passes/pass.h"

namespace bitsmith::passes_detail {

template <class C>
std::unique_ptr<Pass> make_pass(std::string_view name, const nlohmann::json& options, const std::string& pointer,
                                std::vector<std::string>& errors) {
  typename C::Options o;
  const size_t before = errors.size();
  C::option_table().parse(options.is_null() ? nlohmann::json::object() : options, pointer, o, errors);
  if constexpr (requires { C::validate(o, pointer, errors); }) {
    if (errors.size() == before) C::validate(o, pointer, errors);
  }
  if (errors.size() != before) return nullptr;
  return std::make_unique<C>(name, std::move(o));
}

}  // namespace bitsmith::passes_detail

#define BS_DEFINE_PASS(Class)                                                                           \
  namespace bitsmith::passes_detail {                                                                   \
  std::unique_ptr<Pass> create_##Class(std::string_view name, const nlohmann::json& options,            \
                                       const std::string& pointer, std::vector<std::string>& errors) {  \
    return make_pass<Class>(name, options, pointer, errors);                                            \
  }                                                                                                     \
  std::vector<OptionInfo> options_of_##Class() { return Class::option_table().infos(); }               \
  }
