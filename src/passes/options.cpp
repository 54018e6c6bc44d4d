// Non-template parts of the option tables: JSON pointers, did-you-mean, value checks.
#include "bitsmith/passes/options.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace bitsmith {

std::string OptionInfo::type_name() const {
  if (nullable) {
    OptionInfo plain = *this;
    plain.nullable = false;
    return plain.type_name() + " or null";
  }
  switch (kind) {
    case OptionKind::kBool: return "bool";
    case OptionKind::kInt: return "int";
    case OptionKind::kFloat: return "float";
    case OptionKind::kString: return "string";
    case OptionKind::kEnum: return "enum";
    case OptionKind::kStringList: return "list<string>";
    case OptionKind::kEnumList: return "list<enum>";
  }
  return "?";
}

namespace {

std::string number_text(double v, OptionKind kind) {
  if (kind == OptionKind::kInt) return std::to_string(static_cast<int64_t>(v));
  std::ostringstream os;
  os << v;
  return os.str();
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string OptionInfo::constraint() const {
  switch (kind) {
    case OptionKind::kInt:
    case OptionKind::kFloat:
      if (!min && !max) return "";
      return "[" + (min ? number_text(*min, kind) : "-inf") + ", " + (max ? number_text(*max, kind) : "inf") + "]";
    case OptionKind::kEnum: return "one of " + bracket_list(allowed);
    case OptionKind::kEnumList: return "each one of " + bracket_list(allowed);
    default: return "";
  }
}

std::string json_pointer_append(const std::string& base, std::string_view key) {
  std::string out = base + "/";
  for (char c : key) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::string json_pointer_append(const std::string& base, size_t index) {
  return base + "/" + std::to_string(index);
}

size_t edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment: three rows of the Damerau-Levenshtein table.
  std::vector<size_t> prev2(b.size() + 1), prev(b.size() + 1), row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      row[j] = std::min({prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) row[j] = std::min(row[j], prev2[j - 2] + 1);
    }
    std::swap(prev2, prev);
    std::swap(prev, row);
  }
  return prev[b.size()];
}

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string w = lower(word);
  const size_t limit = std::max<size_t>(1, word.size() / 3);
  std::string best;
  size_t best_distance = limit + 1;
  for (const std::string& c : candidates) {
    const size_t d = edit_distance(w, lower(c));
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string m = closest_match(word, candidates);
  return m.empty() ? "" : "; did you mean \"" + m + "\"?";
}

std::string json_brief(const nlohmann::json& value) {
  std::string s = value.dump();
  constexpr size_t kMax = 40;
  if (s.size() > kMax) s = s.substr(0, kMax - 3) + "...";
  return s;
}

std::string bracket_list(const std::vector<std::string>& items) {
  std::string s = "[";
  for (size_t i = 0; i < items.size(); ++i) s += (i ? ", " : "") + items[i];
  return s + "]";
}

Status errors_to_status(const std::vector<std::string>& errors) {
  if (errors.empty()) return Status::ok();
  std::string msg;
  for (const std::string& e : errors) msg += (msg.empty() ? "" : "\n") + e;
  return invalid_argument(msg);
}

namespace options_detail {
namespace {

const char* json_type_name(const nlohmann::json& v) {
  if (v.is_boolean()) return "a bool";
  if (v.is_number_integer()) return "an integer";
  if (v.is_number_float()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}

bool check_number(const OptionInfo& info, const nlohmann::json& v, const std::string& ptr,
                  std::vector<std::string>& errors) {
  const bool want_int = info.kind == OptionKind::kInt;
  if (want_int ? !v.is_number_integer() : !v.is_number()) {
    errors.push_back(ptr + ": expected " + (want_int ? "an integer" : "a number") + ", got " + json_type_name(v) + " " +
                     json_brief(v));
    return false;
  }
  // Unsigned JSON integers beyond int64 are out of any int option's range.
  if (want_int && v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    errors.push_back(ptr + ": " + json_brief(v) + " is out of range " + info.constraint());
    return false;
  }
  const double d = v.get<double>();
  const bool low = info.min && (want_int ? v.get<int64_t>() < static_cast<int64_t>(*info.min) : d < *info.min);
  const bool high = info.max && (want_int ? v.get<int64_t>() > static_cast<int64_t>(*info.max) : d > *info.max);
  if (low || high || std::isnan(d)) {
    errors.push_back(ptr + ": " + json_brief(v) + " is out of range " + info.constraint());
    return false;
  }
  return true;
}

bool check_enum_value(const std::vector<std::string>& allowed, const nlohmann::json& v, const std::string& ptr,
                      std::vector<std::string>& errors) {
  if (!v.is_string()) {
    errors.push_back(ptr + ": expected a string, got " + std::string(json_type_name(v)) + " " + json_brief(v));
    return false;
  }
  const std::string s = v.get<std::string>();
  if (allowed.empty() || std::find(allowed.begin(), allowed.end(), s) != allowed.end()) return true;
  errors.push_back(ptr + ": " + json_brief(v) + " is not one of " + bracket_list(allowed) + did_you_mean(s, allowed));
  return false;
}

}  // namespace

bool check_value(const OptionInfo& info, const nlohmann::json& value, const std::string& pointer,
                 std::vector<std::string>& errors) {
  if (info.nullable && value.is_null()) return true;
  switch (info.kind) {
    case OptionKind::kBool:
      if (value.is_boolean()) return true;
      errors.push_back(pointer + ": expected a bool (true or false), got " + json_type_name(value) + " " +
                       json_brief(value));
      return false;
    case OptionKind::kInt:
    case OptionKind::kFloat: return check_number(info, value, pointer, errors);
    case OptionKind::kString: return check_enum_value({}, value, pointer, errors);
    case OptionKind::kEnum: return check_enum_value(info.allowed, value, pointer, errors);
    case OptionKind::kStringList:
    case OptionKind::kEnumList: {
      if (!value.is_array()) {
        errors.push_back(pointer + ": expected an array of strings, got " + json_type_name(value) + " " +
                         json_brief(value));
        return false;
      }
      bool ok = true;
      for (size_t i = 0; i < value.size(); ++i)
        ok = check_enum_value(info.allowed, value[i], json_pointer_append(pointer, i), errors) && ok;
      return ok;
    }
  }
  return false;
}

bool check_object_keys(const nlohmann::json& j, const std::vector<std::string>& known, const std::string& pointer,
                       const char* what, std::vector<std::string>& errors) {
  if (!j.is_object()) {
    errors.push_back((pointer.empty() ? std::string("(top level)") : pointer) + ": expected an object, got " +
                     json_type_name(j) + " " + json_brief(j));
    return false;
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) != known.end()) continue;
    std::string msg = json_pointer_append(pointer, it.key()) + ": unknown " + what + " \"" + it.key() + "\"" +
                      did_you_mean(it.key(), known);
    msg += known.empty() ? " (there are none)" : " (known: " + bracket_list(known) + ")";
    errors.push_back(std::move(msg));
  }
  return true;
}

}  // namespace options_detail
}  // namespace bitsmith
