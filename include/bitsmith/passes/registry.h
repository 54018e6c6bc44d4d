// PassRegistry: every pass, built from the one list src/passes/passes.def
// (BS_PASS(name, Class, summary)). Create passes by name with JSON options; list them with
// their summaries and option tables (`bitsmith passes`, `bitsmith passes NAME`).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "bitsmith/core/status.h"
#include "bitsmith/passes/options.h"
#include "bitsmith/passes/pass.h"

namespace bitsmith {

// Creates a pass named `name` from JSON `options` found at `pointer`; on error appends every
// message (each naming its JSON pointer) to `errors` and returns nullptr.
using PassFactory = std::unique_ptr<Pass> (*)(std::string_view name, const nlohmann::json& options,
                                              const std::string& pointer, std::vector<std::string>& errors);

struct PassInfo {
  std::string_view name;     // kebab-case, e.g. "fold-batchnorm"
  std::string_view summary;  // one line
  std::vector<OptionInfo> (*options)();  // the option table's rows, defaults filled in
  PassFactory create;
};

// Every pass, in passes.def order.
const std::vector<PassInfo>& pass_registry();
// The entry named `name`, or nullptr.
const PassInfo* find_pass(std::string_view name);
std::vector<std::string> pass_names();

// Creates pass `name` with `options` (a JSON object; null means {}). Errors (kInvalidArgument):
// an unknown name ("<pointer>: unknown pass \"fold-bn\"; did you mean \"fold-batchnorm\"? ...")
// or every option error at once, one per line. `pointer` locates `options` in a larger document
// (e.g. "/pipeline/2/options"); "" for a bare options object.
Expected<std::unique_ptr<Pass>> create_pass(std::string_view name,
                                            const nlohmann::json& options = nlohmann::json::object(),
                                            const std::string& pointer = "");
// The same, appending errors (the unknown-name error names `name_pointer`).
std::unique_ptr<Pass> create_pass(std::string_view name, const nlohmann::json& options, const std::string& pointer,
                                  const std::string& name_pointer, std::vector<std::string>& errors);

// Text for `bitsmith passes` (one line per pass: name and summary) and `bitsmith passes NAME`
// (summary, then one block per option: name, type, default, constraint, doc).
std::string describe_passes();
std::string describe_pass(const PassInfo& info);
// JSON forms: [{"name", "summary", "options": [...]}] and one entry.
nlohmann::json pass_info_json(const PassInfo& info);

}  // namespace bitsmith
