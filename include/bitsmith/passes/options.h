// Typed pass options: each pass declares a plain `Options` struct whose defaults sit next to its
// fields, plus ONE description table (OptionTable) binding each JSON key to a field with its
// type, allowed values or range, and doc. From that table come:
//  - strict parsing of a JSON object into the struct: unknown keys, wrong JSON types,
//    out-of-range numbers and values not in the allowed list are errors; every error is
//    collected (not just the first) and each names its JSON pointer, e.g.
//      /pipeline/2/options/epsilon: 1.5 is out of range [0, 1]
//      /pipeline/2/options/max_bytes: unknown option "max_bytes"; did you mean "max_output_bytes"?
//        (known options: [fold_shapes, keep_ops, max_output_bytes])
//  - the canonical JSON of a struct, every field present (for --print-recipe and reports);
//  - the rows `bitsmith passes NAME` prints (OptionInfo), defaults taken from `T{}`.
// Options may be grouped: group("weights", &Options::weights, doc, weights_table) binds the JSON
// key "weights" to an object parsed by another table into a member struct. Errors inside a group
// name the pointer into it (/options/weights/dtype), canonical JSON nests the group's object, and
// the rows list the group's options as "weights.dtype" (defaults from T{}.weights).
// No string flags ("0"/"1"): a bool is a JSON bool, an integer a JSON integer.
//
// Example:
//   struct Options { int64_t max_bytes = 64 << 20; bool fold_shapes = true; };
//   static const OptionTable<Options>& table() {
//     static const OptionTable<Options> t = OptionTable<Options>()
//         .integer("max_bytes", &Options::max_bytes, "Largest folded output, in bytes", 0, int64_t{1} << 40)
//         .flag("fold_shapes", &Options::fold_shapes, "Fold Shape of values with static dims");
//     return t;
//   }
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "bitsmith/core/status.h"

namespace bitsmith {

enum class OptionKind { kBool, kInt, kFloat, kString, kEnum, kStringList, kEnumList };

// One row of an option table: what `bitsmith passes NAME` prints.
struct OptionInfo {
  std::string name;                  // JSON key, snake_case
  OptionKind kind = OptionKind::kBool;
  nlohmann::json default_value;      // canonical JSON of the default (from T{})
  std::optional<double> min, max;    // kInt / kFloat: inclusive bounds, when bounded (ints: exact below 2^53)
  std::vector<std::string> allowed;  // kEnum / kEnumList: the allowed values, in table order
  std::string doc;
  bool nullable = false;             // JSON null is accepted too (an unset std::optional field)

  // "bool", "int", "float", "string", "enum", "list<string>", "list<enum>".
  std::string type_name() const;
  // "[0, 1099511627776]", "one of [a, b]", "each one of [a, b]", or "" when unconstrained.
  std::string constraint() const;
};

// ---- JSON pointers and messages, shared by options, scopes, pipelines and recipes ----

// `base` + "/" + key with RFC 6901 escaping ("~" -> "~0", "/" -> "~1").
std::string json_pointer_append(const std::string& base, std::string_view key);
std::string json_pointer_append(const std::string& base, size_t index);

// Edit distance counting insertions, deletions, substitutions and swaps of two adjacent
// characters as 1 each (optimal string alignment), so "fats" is 1 away from "fast".
size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `word` when it is a plausible typo (distance <= max(1, size/3),
// case-insensitive equality counts as distance 0), else "". Ties: first in `candidates`.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);
// "; did you mean \"x\"?" or "" (ready to append to a message).
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

// A short text of a JSON value for messages (strings quoted, long values cut to ~40 chars).
std::string json_brief(const nlohmann::json& value);
// "[a, b, c]"
std::string bracket_list(const std::vector<std::string>& items);

// One Status (kInvalidArgument) holding every error, one per line; OK when `errors` is empty.
Status errors_to_status(const std::vector<std::string>& errors);

namespace options_detail {
// Appends an error unless `value` is a JSON value acceptable for `info` (type, range, allowed).
// Returns true when the value may be assigned.
bool check_value(const OptionInfo& info, const nlohmann::json& value, const std::string& pointer,
                 std::vector<std::string>& errors);
// Appends an error when `j` is not an object, and one per key not in `known`
// (`what` names the object's kind in messages: "option", "scope key", ...).
// Returns false when `j` is not an object.
bool check_object_keys(const nlohmann::json& j, const std::vector<std::string>& known, const std::string& pointer,
                       const char* what, std::vector<std::string>& errors);
}  // namespace options_detail

// The description table of an Options struct T. Build it once (a function-local static).
template <class T>
class OptionTable {
 public:
  // `what` names a key in messages: "unknown option \"x\"".
  explicit OptionTable(const char* what = "option") : what_(what) {}

  OptionTable& flag(std::string name, bool T::*field, std::string doc) {
    OptionInfo info{std::move(name), OptionKind::kBool, {}, {}, {}, {}, std::move(doc), false};
    return add(std::move(info), [field](const nlohmann::json& j, T& t) { t.*field = j.get<bool>(); },
               [field](const T& t) { return nlohmann::json(t.*field); });
  }

  // An integer field of any integral type N; [min, max] inclusive (defaults: N's range).
  template <class N>
  OptionTable& integer(std::string name, N T::*field, std::string doc, int64_t min = kIntMin<N>,
                       int64_t max = kIntMax<N>) {
    static_assert(std::is_integral_v<N> && !std::is_same_v<N, bool>);
    OptionInfo info{std::move(name), OptionKind::kInt, {}, {}, {}, {}, std::move(doc), false};
    // int64's own bounds are left open (a JSON integer outside int64 is refused anyway).
    if (min > std::numeric_limits<int64_t>::min()) info.min = static_cast<double>(min);
    if (max < std::numeric_limits<int64_t>::max()) info.max = static_cast<double>(max);
    return add(std::move(info), [field](const nlohmann::json& j, T& t) { t.*field = static_cast<N>(j.get<int64_t>()); },
               [field](const T& t) { return nlohmann::json(static_cast<int64_t>(t.*field)); });
  }

  // A float or double field; [min, max] inclusive. JSON integers are accepted (2 means 2.0).
  template <class N>
  OptionTable& real(std::string name, N T::*field, std::string doc,
                    double min = -std::numeric_limits<double>::infinity(),
                    double max = std::numeric_limits<double>::infinity()) {
    static_assert(std::is_floating_point_v<N>);
    OptionInfo info{std::move(name), OptionKind::kFloat, {}, {}, {}, {}, std::move(doc), false};
    if (std::isfinite(min)) info.min = min;
    if (std::isfinite(max)) info.max = max;
    return add(std::move(info), [field](const nlohmann::json& j, T& t) { t.*field = static_cast<N>(j.get<double>()); },
               [field](const T& t) { return nlohmann::json(static_cast<double>(t.*field)); });
  }

  // An optional integer: JSON null (the default when T{} leaves it unset) or an integer in
  // [min, max]; canonical JSON writes null when unset.
  template <class N>
  OptionTable& optional_integer(std::string name, std::optional<N> T::*field, std::string doc,
                                int64_t min = kIntMin<N>, int64_t max = kIntMax<N>) {
    static_assert(std::is_integral_v<N> && !std::is_same_v<N, bool>);
    OptionInfo info{std::move(name), OptionKind::kInt, {}, {}, {}, {}, std::move(doc), true};
    if (min > std::numeric_limits<int64_t>::min()) info.min = static_cast<double>(min);
    if (max < std::numeric_limits<int64_t>::max()) info.max = static_cast<double>(max);
    return add(
        std::move(info),
        [field](const nlohmann::json& j, T& t) {
          if (j.is_null()) t.*field = std::nullopt;
          else t.*field = static_cast<N>(j.get<int64_t>());
        },
        [field](const T& t) { return (t.*field) ? nlohmann::json(static_cast<int64_t>(*(t.*field))) : nlohmann::json(); });
  }

  // An optional float: JSON null (unset) or a number in [min, max]; canonical JSON writes null
  // when unset.
  template <class N>
  OptionTable& optional_real(std::string name, std::optional<N> T::*field, std::string doc,
                             double min = -std::numeric_limits<double>::infinity(),
                             double max = std::numeric_limits<double>::infinity()) {
    static_assert(std::is_floating_point_v<N>);
    OptionInfo info{std::move(name), OptionKind::kFloat, {}, {}, {}, {}, std::move(doc), true};
    if (std::isfinite(min)) info.min = min;
    if (std::isfinite(max)) info.max = max;
    return add(
        std::move(info),
        [field](const nlohmann::json& j, T& t) {
          if (j.is_null()) t.*field = std::nullopt;
          else t.*field = static_cast<N>(j.get<double>());
        },
        [field](const T& t) { return (t.*field) ? nlohmann::json(static_cast<double>(*(t.*field))) : nlohmann::json(); });
  }

  // A nested group: JSON key `name` holds an object that `sub` parses into the member struct
  // t.*field (strictly, like the top level; keys left out keep their current values). `sub` is
  // copied. The group's rows in infos() are named "<name>.<option>", defaults from T{}.*field.
  template <class S>
  OptionTable& group(std::string name, S T::*field, std::string doc, const OptionTable<S>& sub) {
    Field f;
    f.info = OptionInfo{name, OptionKind::kString, {}, {}, {}, {}, std::move(doc), false};
    f.info.default_value = sub.to_json(T{}.*field);
    const nlohmann::json defaults = f.info.default_value;
    for (OptionInfo row : sub.infos()) {
      // Defaults of the enclosing struct may differ from S{}'s ("a.b" may itself be nested).
      row.default_value = defaults.at(nlohmann::json::json_pointer("/" + replace_dots(row.name)));
      row.name = name + "." + row.name;
      f.group_rows.push_back(std::move(row));
    }
    f.parse_group = [field, sub](const nlohmann::json& j, const std::string& pointer, T& t,
                                 std::vector<std::string>& errors) { sub.parse(j, pointer, t.*field, errors); };
    f.get = [field, sub](const T& t) { return sub.to_json(t.*field); };
    fields_.push_back(std::move(f));
    return *this;
  }

  // A free-form string field.
  OptionTable& string(std::string name, std::string T::*field, std::string doc) {
    OptionInfo info{std::move(name), OptionKind::kString, {}, {}, {}, {}, std::move(doc), false};
    return add(std::move(info), [field](const nlohmann::json& j, T& t) { t.*field = j.get<std::string>(); },
               [field](const T& t) { return nlohmann::json(t.*field); });
  }

  // A C++ enum field spelled as one of `values` in JSON (in the order given).
  template <class E>
  OptionTable& enumeration(std::string name, E T::*field, std::string doc,
                           std::vector<std::pair<std::string, E>> values) {
    OptionInfo info{std::move(name), OptionKind::kEnum, {}, {}, {}, {}, std::move(doc), false};
    for (const auto& v : values) info.allowed.push_back(v.first);
    auto set = [field, values](const nlohmann::json& j, T& t) {
      for (const auto& v : values)
        if (v.first == j.get<std::string>()) t.*field = v.second;
    };
    auto get = [field, values](const T& t) {
      for (const auto& v : values)
        if (v.second == t.*field) return nlohmann::json(v.first);
      return nlohmann::json(nullptr);  // a value the table does not list: a bug in the pass
    };
    return add(std::move(info), std::move(set), std::move(get));
  }

  // A list of strings; when `allowed` is non-empty every element must be one of them.
  OptionTable& string_list(std::string name, std::vector<std::string> T::*field, std::string doc,
                           std::vector<std::string> allowed = {}) {
    const OptionKind kind = allowed.empty() ? OptionKind::kStringList : OptionKind::kEnumList;
    OptionInfo info{std::move(name), kind, {}, {}, {}, std::move(allowed), std::move(doc), false};
    return add(std::move(info),
               [field](const nlohmann::json& j, T& t) { t.*field = j.get<std::vector<std::string>>(); },
               [field](const T& t) { return nlohmann::json(t.*field); });
  }

  // Parses the JSON object `j` (found at `pointer`) into `out`; keys absent from `j` keep out's
  // current values (the defaults when `out` is fresh). Appends one message per problem.
  void parse(const nlohmann::json& j, const std::string& pointer, T& out, std::vector<std::string>& errors) const {
    if (!options_detail::check_object_keys(j, names(), pointer, what_, errors)) return;
    for (const Field& f : fields_) {
      auto it = j.find(f.info.name);
      if (it == j.end()) continue;
      if (f.parse_group) {
        f.parse_group(*it, json_pointer_append(pointer, f.info.name), out, errors);
        continue;
      }
      if (options_detail::check_value(f.info, *it, json_pointer_append(pointer, f.info.name), errors)) f.set(*it, out);
    }
  }
  // The same, every error in one kInvalidArgument Status (one per line).
  Status parse(const nlohmann::json& j, const std::string& pointer, T& out) const {
    std::vector<std::string> errors;
    parse(j, pointer, out, errors);
    return errors_to_status(errors);
  }

  // Canonical JSON: an object holding every field (keys sorted, as nlohmann::json stores them).
  nlohmann::json to_json(const T& value) const {
    nlohmann::json j = nlohmann::json::object();
    for (const Field& f : fields_) j[f.info.name] = f.get(value);
    return j;
  }

  // The rows, defaults filled in from T{}; a group contributes its rows ("weights.dtype").
  std::vector<OptionInfo> infos() const {
    std::vector<OptionInfo> out;
    for (const Field& f : fields_) {
      if (f.parse_group) out.insert(out.end(), f.group_rows.begin(), f.group_rows.end());
      else out.push_back(f.info);
    }
    return out;
  }
  // Top-level JSON keys (a group counts once, by its name).
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const Field& f : fields_) out.push_back(f.info.name);
    return out;
  }

 private:
  template <class N>
  static constexpr int64_t kIntMin = std::is_signed_v<N> ? static_cast<int64_t>(std::numeric_limits<N>::min()) : 0;
  template <class N>
  static constexpr int64_t kIntMax = sizeof(N) >= sizeof(int64_t) ? std::numeric_limits<int64_t>::max()
                                                                  : static_cast<int64_t>(std::numeric_limits<N>::max());

  struct Field {
    OptionInfo info;
    std::function<void(const nlohmann::json&, T&)> set;  // called only after check_value() passed
    std::function<nlohmann::json(const T&)> get;
    // Groups only: parses the group's object (found at the pointer given), and its rows.
    std::function<void(const nlohmann::json&, const std::string&, T&, std::vector<std::string>&)> parse_group;
    std::vector<OptionInfo> group_rows;
  };

  // "a.b" -> "a/b" (a JSON pointer body into nested canonical JSON).
  static std::string replace_dots(std::string s) {
    for (char& c : s)
      if (c == '.') c = '/';
    return s;
  }

  OptionTable& add(OptionInfo info, std::function<void(const nlohmann::json&, T&)> set,
                   std::function<nlohmann::json(const T&)> get) {
    info.default_value = get(T{});
    fields_.push_back(Field{std::move(info), std::move(set), std::move(get), {}, {}});
    return *this;
  }

  const char* what_;
  std::vector<Field> fields_;
};

}  // namespace bitsmith
