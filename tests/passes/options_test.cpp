// OptionTable: strict parsing (every error, with JSON pointers and did-you-mean), canonical JSON.
#include "bitsmith/passes/options.h"

#include <gtest/gtest.h>

#include <optional>

namespace bitsmith {
namespace {

using nlohmann::json;

enum class Mode { kFast, kExact };

struct DemoOptions {
  bool enabled = true;
  int64_t max_bytes = 1024;
  int32_t small = 3;
  double epsilon = 0.5;
  float ratio = 0.25f;
  std::string tag = "x";
  Mode mode = Mode::kExact;
  std::vector<std::string> ops = {"Conv"};
  std::vector<std::string> free = {};
};

const OptionTable<DemoOptions>& table() {
  static const OptionTable<DemoOptions> t =
      OptionTable<DemoOptions>()
          .flag("enabled", &DemoOptions::enabled, "on/off")
          .integer("max_bytes", &DemoOptions::max_bytes, "bytes", 0, 4096)
          .integer("small", &DemoOptions::small, "an int32")
          .real("epsilon", &DemoOptions::epsilon, "eps", 0.0, 1.0)
          .real("ratio", &DemoOptions::ratio, "unbounded float")
          .string("tag", &DemoOptions::tag, "free text")
          .enumeration("mode", &DemoOptions::mode, "how", {{"fast", Mode::kFast}, {"exact", Mode::kExact}})
          .string_list("ops", &DemoOptions::ops, "ops", {"Conv", "Gemm", "MatMul"})
          .string_list("free", &DemoOptions::free, "anything");
  return t;
}

std::vector<std::string> errors_of(const json& j, DemoOptions& out, const std::string& ptr = "/p/0/options") {
  std::vector<std::string> errors;
  table().parse(j, ptr, out, errors);
  return errors;
}

TEST(PassOptions, EmptyObjectKeepsDefaults) {
  DemoOptions o;
  EXPECT_TRUE(errors_of(json::object(), o).empty());
  EXPECT_EQ(table().to_json(o), table().to_json(DemoOptions{}));
}

TEST(PassOptions, ParsesEveryKind) {
  DemoOptions o;
  const json j = {{"enabled", false}, {"max_bytes", 4096}, {"small", -7}, {"epsilon", 1},  {"ratio", -2.5},
                  {"tag", "hello"},   {"mode", "fast"},    {"ops", {"Gemm", "MatMul"}}, {"free", {"a", "b"}}};
  ASSERT_TRUE(errors_of(j, o).empty());
  EXPECT_FALSE(o.enabled);
  EXPECT_EQ(o.max_bytes, 4096);
  EXPECT_EQ(o.small, -7);
  EXPECT_EQ(o.epsilon, 1.0);
  EXPECT_EQ(o.ratio, -2.5f);
  EXPECT_EQ(o.tag, "hello");
  EXPECT_EQ(o.mode, Mode::kFast);
  EXPECT_EQ(o.ops, (std::vector<std::string>{"Gemm", "MatMul"}));
  EXPECT_EQ(o.free, (std::vector<std::string>{"a", "b"}));
  // Canonical JSON round-trips: parsing it gives the same struct, hence the same JSON.
  DemoOptions again;
  ASSERT_TRUE(errors_of(table().to_json(o), again).empty());
  EXPECT_EQ(table().to_json(again), table().to_json(o));
  EXPECT_EQ(table().to_json(o), j);
}

TEST(PassOptions, CanonicalJsonHasEveryDefault) {
  const json j = table().to_json(DemoOptions{});
  EXPECT_EQ(j.size(), table().names().size());
  for (const OptionInfo& info : table().infos()) {
    ASSERT_TRUE(j.contains(info.name)) << info.name;
    EXPECT_EQ(j[info.name], info.default_value) << info.name;
  }
  EXPECT_EQ(j["mode"], "exact");
}

TEST(PassOptions, CollectsEveryErrorWithPointers) {
  DemoOptions o;
  const json j = {{"enabled", "1"},  {"max_bytes", 4097}, {"epsilon", -0.1}, {"mode", "fats"},
                  {"ops", {"Conv", "Gem", 3}}, {"small", 1.5}, {"max_byte", 1}};
  const std::vector<std::string> e = errors_of(j, o);
  auto has = [&](const std::string& needle) {
    for (const std::string& s : e)
      if (s.find(needle) != std::string::npos) return true;
    return false;
  };
  EXPECT_EQ(e.size(), 8u) << errors_to_status(e).message();
  EXPECT_TRUE(has("/p/0/options/enabled: expected a bool (true or false), got a string \"1\""));
  EXPECT_TRUE(has("/p/0/options/max_bytes: 4097 is out of range [0, 4096]"));
  EXPECT_TRUE(has("/p/0/options/epsilon: -0.1 is out of range [0, 1]"));
  EXPECT_TRUE(has("/p/0/options/mode: \"fats\" is not one of [fast, exact]; did you mean \"fast\"?"));
  EXPECT_TRUE(has("/p/0/options/ops/1: \"Gem\" is not one of [Conv, Gemm, MatMul]; did you mean \"Gemm\"?"));
  EXPECT_TRUE(has("/p/0/options/ops/2: expected a string, got an integer 3"));
  EXPECT_TRUE(has("/p/0/options/small: expected an integer, got a number 1.5"));
  EXPECT_TRUE(has("/p/0/options/max_byte: unknown option \"max_byte\"; did you mean \"max_bytes\"?"));
  // Nothing invalid was assigned.
  EXPECT_EQ(table().to_json(o), table().to_json(DemoOptions{}));
}

TEST(PassOptions, IntegerRangeFollowsTheFieldType) {
  DemoOptions o;
  auto e = errors_of({{"small", int64_t{1} << 40}}, o);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("out of range [-2147483648, 2147483647]"), std::string::npos) << e[0];
  e = errors_of(json::parse(R"({"max_bytes": 18446744073709551615})"), o);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("out of range"), std::string::npos) << e[0];
}

TEST(PassOptions, NotAnObject) {
  DemoOptions o;
  const auto e = errors_of(json::array({1}), o);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], "/p/0/options: expected an object, got an array [1]");
}

TEST(PassOptions, StatusHoldsOneErrorPerLine) {
  DemoOptions o;
  const Status s = table().parse(json{{"a", 1}, {"b", 2}}, "", o);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(std::count(s.message().begin(), s.message().end(), '\n'), 1) << s.message();
  EXPECT_EQ(s.exit_code(), 1);
}

TEST(PassOptions, InfoRows) {
  const auto infos = table().infos();
  ASSERT_EQ(infos.size(), 9u);
  EXPECT_EQ(infos[1].type_name(), "int");
  EXPECT_EQ(infos[1].constraint(), "[0, 4096]");
  EXPECT_EQ(infos[1].default_value, 1024);
  EXPECT_EQ(infos[4].constraint(), "");
  EXPECT_EQ(infos[6].type_name(), "enum");
  EXPECT_EQ(infos[6].constraint(), "one of [fast, exact]");
  EXPECT_EQ(infos[7].type_name(), "list<enum>");
  EXPECT_EQ(infos[8].type_name(), "list<string>");
}

// RFC 6901 section 3: "~" is written "~0" and "/" is written "~1".
TEST(PassOptions, JsonPointerEscaping) {
  EXPECT_EQ(json_pointer_append("/a", "m~n"), "/a/m~0n");
  EXPECT_EQ(json_pointer_append("", "a/b"), "/a~1b");
  EXPECT_EQ(json_pointer_append("/pipeline", size_t{2}), "/pipeline/2");
  // nlohmann's own pointer resolves what we build.
  const json doc = {{"a/b", {{"m~n", 7}}}};
  EXPECT_EQ(doc.at(json::json_pointer(json_pointer_append(json_pointer_append("", "a/b"), "m~n"))), 7);
}

// Reference distances: kitten -> sitting needs 3 edits (k->s, e->i, +g), flaw -> lawn 2
// (-f, +n), ca -> abc 3 (optimal string alignment may not edit a swapped pair again).
TEST(PassOptions, EditDistanceAndSuggestions) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("flaw", "lawn"), 2u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("same", "same"), 0u);
  EXPECT_EQ(edit_distance("fats", "fast"), 1u);
  EXPECT_EQ(edit_distance("ca", "abc"), 3u);
  const std::vector<std::string> names = {"fold-batchnorm", "fold-constants"};
  EXPECT_EQ(closest_match("fold-batchnrom", names), "fold-batchnorm");
  EXPECT_EQ(closest_match("FOLD-CONSTANTS", names), "fold-constants");
  EXPECT_EQ(closest_match("quantize", names), "");
  EXPECT_EQ(did_you_mean("fold-constant", names), "; did you mean \"fold-constants\"?");
}


// ---- nested groups and nullable integers ----

struct InnerOptions {
  std::string kind = "a";
  int64_t size = 32;
  std::optional<int64_t> axis;
};
struct OuterOptions {
  InnerOptions inner = {"b", 64, std::nullopt};  // defaults differ from InnerOptions{}
  bool flag = false;
};

const OptionTable<InnerOptions>& inner_table() {
  static const OptionTable<InnerOptions> t =
      OptionTable<InnerOptions>()
          .string("kind", &InnerOptions::kind, "a kind")
          .integer("size", &InnerOptions::size, "a size", 16, 256)
          .optional_integer("axis", &InnerOptions::axis, "an axis or null", -4, 3);
  return t;
}
const OptionTable<OuterOptions>& outer_table() {
  static const OptionTable<OuterOptions> t = OptionTable<OuterOptions>()
                                                 .group("inner", &OuterOptions::inner, "the group", inner_table())
                                                 .flag("flag", &OuterOptions::flag, "a flag");
  return t;
}

TEST(PassOptions, GroupParsesIntoMemberStruct) {
  OuterOptions o;
  std::vector<std::string> errors;
  outer_table().parse(json{{"inner", {{"size", 128}, {"axis", -1}}}, {"flag", true}}, "/p", o, errors);
  ASSERT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(o.inner.size, 128);
  EXPECT_EQ(o.inner.kind, "b");  // absent keys keep the enclosing struct's default
  ASSERT_TRUE(o.inner.axis.has_value());
  EXPECT_EQ(*o.inner.axis, -1);
  EXPECT_TRUE(o.flag);
  // Canonical JSON nests the group and writes null for an unset optional.
  const json canonical = outer_table().to_json(OuterOptions{});
  EXPECT_EQ(canonical, (json{{"inner", {{"kind", "b"}, {"size", 64}, {"axis", nullptr}}}, {"flag", false}}));
  OuterOptions again;
  errors.clear();
  outer_table().parse(outer_table().to_json(o), "", again, errors);
  ASSERT_TRUE(errors.empty());
  EXPECT_EQ(outer_table().to_json(again), outer_table().to_json(o));
  // null resets an optional.
  outer_table().parse(json{{"inner", {{"axis", nullptr}}}}, "", again, errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_FALSE(again.inner.axis.has_value());
}

TEST(PassOptions, GroupErrorsNamePointersInsideTheGroup) {
  OuterOptions o;
  std::vector<std::string> errors;
  outer_table().parse(json{{"inner", {{"sise", 8}, {"size", 8}, {"axis", "x"}}}, {"flga", true}}, "/pipeline/1/options",
                      o, errors);
  ASSERT_EQ(errors.size(), 4u);
  const std::string all = errors[0] + "\n" + errors[1] + "\n" + errors[2] + "\n" + errors[3];
  EXPECT_NE(all.find("/pipeline/1/options/inner/sise: unknown option \"sise\"; did you mean \"size\"?"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("/pipeline/1/options/inner/size: 8 is out of range [16, 256]"), std::string::npos) << all;
  EXPECT_NE(all.find("/pipeline/1/options/inner/axis: expected an integer"), std::string::npos) << all;
  EXPECT_NE(all.find("/pipeline/1/options/flga: unknown option \"flga\"; did you mean \"flag\"?"), std::string::npos)
      << all;
  errors.clear();
  outer_table().parse(json{{"inner", 3}}, "/o", o, errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("/o/inner: expected an object"), std::string::npos) << errors[0];
}

TEST(PassOptions, GroupRowsAreDottedWithEnclosingDefaults) {
  const std::vector<OptionInfo> rows = outer_table().infos();
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].name, "inner.kind");
  EXPECT_EQ(rows[0].default_value, "b");
  EXPECT_EQ(rows[1].name, "inner.size");
  EXPECT_EQ(rows[1].default_value, 64);
  EXPECT_EQ(rows[1].constraint(), "[16, 256]");
  EXPECT_EQ(rows[2].name, "inner.axis");
  EXPECT_TRUE(rows[2].default_value.is_null());
  EXPECT_EQ(rows[2].type_name(), "int or null");
  EXPECT_EQ(rows[3].name, "flag");
  EXPECT_EQ(outer_table().names(), (std::vector<std::string>{"inner", "flag"}));
}

}  // namespace
}  // namespace bitsmith
