// Number formatting and tolerant JSON access for the report renderers (see render_internal.h).
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "report/render_internal.h"

namespace bitsmith::report_detail {
namespace {

const nlohmann::json& null_json() {
  static const nlohmann::json kNull;
  return kNull;
}

std::string printf_str(const char* fmt, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, x);
  return buf;
}

std::string printf_str(const char* fmt, int decimals, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, decimals, x);
  return buf;
}

bool usable(std::optional<double> x) { return x.has_value() && std::isfinite(*x); }

}  // namespace

const nlohmann::json& member(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return null_json();
  auto it = j.find(key);
  return it == j.end() ? null_json() : *it;
}

std::optional<double> number(const nlohmann::json& j, const char* key) {
  const nlohmann::json& v = member(j, key);
  if (!v.is_number()) return std::nullopt;
  const double d = v.get<double>();
  // An in-memory report may hold inf/NaN (JSON text cannot): treated as absent, which also keeps
  // the chart sorts' comparisons a strict weak order.
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

std::string text(const nlohmann::json& j, const char* key) {
  const nlohmann::json& v = member(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

const nlohmann::json& array(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  const nlohmann::json& v = member(j, key);
  return v.is_array() ? v : kEmpty;
}

bool present(const nlohmann::json& j, const char* key) { return !member(j, key).is_null(); }

std::string fmt_fixed(std::optional<double> x, int decimals) {
  if (!usable(x)) return kDash;
  return printf_str("%.*f", decimals, *x);
}

std::string fmt_sig3(std::optional<double> x) {
  if (!usable(x)) return kDash;
  const double a = std::fabs(*x);
  if (a == 0) return "0";
  if (a < 1e-3 || a >= 1e9) return printf_str("%.2e", *x);
  const int magnitude = static_cast<int>(std::floor(std::log10(a)));
  return fmt_fixed(x, magnitude >= 2 ? 0 : 2 - magnitude);
}

std::string fmt_ms(std::optional<double> ms) { return usable(ms) ? fmt_sig3(ms) + " ms" : kDash; }

std::string fmt_bytes(std::optional<double> bytes) {
  if (!usable(bytes)) return kDash;
  const double b = *bytes;
  if (std::fabs(b) < 1000) return printf_str("%.0f B", b);
  static constexpr const char* kUnits[] = {"kB", "MB", "GB", "TB"};
  double v = b / 1000;
  int u = 0;
  while (std::fabs(v) >= 1000 && u < 3) {
    v /= 1000;
    ++u;
  }
  return fmt_sig3(v) + " " + kUnits[u];
}

std::string fmt_bytes_exact(std::optional<double> bytes) {
  if (!usable(bytes)) return kDash;
  if (std::fabs(*bytes) < 1000) return fmt_bytes(bytes);
  return fmt_bytes(bytes) + printf_str(" (%.0f B)", *bytes);
}

std::string fmt_pct(std::optional<double> fraction) {
  return usable(fraction) ? printf_str("%.2f%%", *fraction * 100) : kDash;
}

std::string fmt_pt(std::optional<double> delta_pt) {
  if (!usable(delta_pt)) return kDash;
  // Changes that round to zero print as "+0.00 pt", never "-0.00 pt".
  return printf_str("%+.2f pt", std::fabs(*delta_pt) < 0.005 ? 0.0 : *delta_pt);
}

std::string fmt_db(std::optional<double> db) { return usable(db) ? printf_str("%.1f dB", *db) : kDash; }

std::string fmt_cos(std::optional<double> c) { return fmt_fixed(c, 6); }

std::string fmt_size_ratio(std::optional<double> r) {
  if (!usable(r) || *r <= 0) return kDash;
  if (*r >= 1) return printf_str("%.2fx smaller", *r);
  return printf_str("%.2fx larger", 1 / *r);
}

std::string fmt_speed_ratio(std::optional<double> r) {
  if (!usable(r) || *r <= 0) return kDash;
  const std::string base = printf_str("%.2fx", *r);
  if (*r <= 1) return base + printf_str(" (%.2fx faster)", 1 / *r);
  return base + printf_str(" (%.2fx slower)", *r);
}

std::string fmt_value(const nlohmann::json& v) {
  if (v.is_number_integer()) return v.dump();
  if (v.is_number()) return printf_str("%.4g", v.get<double>());
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_string()) return v.get<std::string>();
  return kDash;
}

std::string sanitize_utf8(const std::string& s) {
  static constexpr const char* kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\n') out += kReplacement;
      else if (c == 0x7F) out += kReplacement;
      else out += static_cast<char>(c);
      ++i;
      continue;
    }
    // Multi-byte sequence: lead byte gives the length; reject overlongs, surrogates, > U+10FFFF.
    size_t len = 0;
    uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) len = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, cp = c & 0x07;
    bool ok = len != 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      ok = (cc & 0xC0) == 0x80;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (ok) ok = !(len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) && !(len == 4 && (cp < 0x10000 || cp > 0x10FFFF));
    if (!ok) {
      out += kReplacement;
      ++i;
      continue;
    }
    out.append(s, i, len);
    i += len;
  }
  return out;
}

std::string truncate_front(const std::string& s, size_t max_chars) {
  // Count code points from the end; continuation bytes are 10xxxxxx.
  size_t chars = 0, cut = s.size();
  while (cut > 0) {
    size_t start = cut - 1;
    while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    if (chars + 1 > max_chars - 1 && start > 0) return "\xE2\x80\xA6" + s.substr(cut);  // "…"
    ++chars;
    cut = start;
  }
  return s;
}

std::string html_escape(const std::string& raw) {
  const std::string s = sanitize_utf8(raw);
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace bitsmith::report_detail
