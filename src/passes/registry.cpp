// The pass registry, built from passes.def.
#include "bitsmith/passes/registry.h"

#include <algorithm>

#include "passes/pass_impl.h"

namespace bitsmith {
namespace passes_detail {
#define BS_PASS(name, Class, summary)                                                                   \
  std::unique_ptr<Pass> create_##Class(std::string_view, const nlohmann::json&, const std::string&,     \
                                       std::vector<std::string>&);                                      \
  std::vector<OptionInfo> options_of_##Class();
#include "passes/passes.def"
#undef BS_PASS
}  // namespace passes_detail

const std::vector<PassInfo>& pass_registry() {
  static const std::vector<PassInfo> registry = {
#define BS_PASS(name, Class, summary) \
  {name, summary, &passes_detail::options_of_##Class, &passes_detail::create_##Class},
#include "passes/passes.def"
#undef BS_PASS
  };
  return registry;
}

const PassInfo* find_pass(std::string_view name) {
  for (const PassInfo& p : pass_registry())
    if (p.name == name) return &p;
  return nullptr;
}

std::vector<std::string> pass_names() {
  std::vector<std::string> names;
  for (const PassInfo& p : pass_registry()) names.emplace_back(p.name);
  return names;
}

std::unique_ptr<Pass> create_pass(std::string_view name, const nlohmann::json& options, const std::string& pointer,
                                  const std::string& name_pointer, std::vector<std::string>& errors) {
  const PassInfo* info = find_pass(name);
  if (!info) {
    errors.push_back((name_pointer.empty() ? std::string("pass") : name_pointer) + ": unknown pass \"" +
                     std::string(name) + "\"" + did_you_mean(name, pass_names()) +
                     " (known: " + bracket_list(pass_names()) + ")");
    return nullptr;
  }
  return info->create(info->name, options, pointer, errors);
}

Expected<std::unique_ptr<Pass>> create_pass(std::string_view name, const nlohmann::json& options,
                                            const std::string& pointer) {
  std::vector<std::string> errors;
  std::unique_ptr<Pass> pass = create_pass(name, options, pointer, "", errors);
  if (!pass) return errors_to_status(errors);
  return pass;
}

std::string describe_passes() {
  size_t width = 0;
  for (const PassInfo& p : pass_registry()) width = std::max(width, p.name.size());
  std::string out;
  for (const PassInfo& p : pass_registry())
    out += "  " + std::string(p.name) + std::string(width - p.name.size() + 2, ' ') + std::string(p.summary) + "\n";
  return out;
}

std::string describe_pass(const PassInfo& info) {
  std::string out = std::string(info.name) + ": " + std::string(info.summary) + "\n";
  const std::vector<OptionInfo> options = info.options();
  if (options.empty()) return out + "\nOptions: none\n";
  out += "\nOptions (JSON keys of \"options\" in a pipeline step):\n";
  for (const OptionInfo& o : options) {
    out += "  " + o.name + " (" + o.type_name() + ", default " + o.default_value.dump() + ")";
    const std::string c = o.constraint();
    if (!c.empty()) out += " " + c;
    out += "\n      " + o.doc + "\n";
  }
  return out;
}

nlohmann::json pass_info_json(const PassInfo& info) {
  nlohmann::json options = nlohmann::json::array();
  for (const OptionInfo& o : info.options()) {
    nlohmann::json j = {{"name", o.name}, {"type", o.type_name()}, {"default", o.default_value}, {"doc", o.doc}};
    const bool is_int = o.kind == OptionKind::kInt;
    if (o.min) j["min"] = is_int ? nlohmann::json(static_cast<int64_t>(*o.min)) : nlohmann::json(*o.min);
    if (o.max) j["max"] = is_int ? nlohmann::json(static_cast<int64_t>(*o.max)) : nlohmann::json(*o.max);
    if (!o.allowed.empty()) j["allowed"] = o.allowed;
    options.push_back(std::move(j));
  }
  return {{"name", info.name}, {"summary", info.summary}, {"options", options}};
}

}  // namespace bitsmith
