// PassRegistry (from passes.def) and PassManager (pipeline JSON, verify between passes, records).
#include "bitsmith/passes/manager.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "bitsmith/passes/registry.h"
#include "passes/pass_test_util.h"
#include "support/graph_builder.h"

namespace bitsmith {
namespace {

using nlohmann::json;
using test::GraphBuilder;

Model relu_model() {
  GraphBuilder b;
  b.input("x", DType::kF32, {2}).node("Relu", {"x"}, {"y"}, {}, "relu").output("y", DType::kF32, {2});
  return b.model();
}

// A pass for tests: does what `behaviour` says and draws 3 numbers from the RNG into a counter.
class TestPass final : public Pass {
 public:
  enum class Behaviour { kNothing, kBreakIr, kFail };
  TestPass(std::string name, Behaviour b) : name_(std::move(name)), behaviour_(b) {}
  std::string_view name() const override { return name_; }
  json options_json() const override { return json::object(); }
  Status run(Model& model, PassContext& ctx) override {
    ctx.record().count("draw", static_cast<int64_t>(ctx.rng()() >> 2));
    if (behaviour_ == Behaviour::kBreakIr) model.graph.nodes[0].inputs[0] = "nowhere";
    if (behaviour_ == Behaviour::kFail) return invalid_model("node 'relu' (Relu): cannot handle it");
    return Status::ok();
  }

 private:
  std::string name_;
  Behaviour behaviour_;
};

TEST(PassRegistry, MatchesPassesDef) {
  // The registry must hold exactly the rows of passes.def, in order.
  std::ifstream def(test::repo_path("src/passes/passes.def"));
  ASSERT_TRUE(def) << "cannot read passes.def";
  // Rows start a line with BS_PASS("name", ...). (No std::regex: GCC 12 warns inside it under
  // the sanitizers, and warnings are errors.)
  const std::string prefix = "BS_PASS(\"";
  std::vector<std::string> names;
  for (std::string line; std::getline(def, line);)
    if (line.rfind(prefix, 0) == 0)
      names.push_back(line.substr(prefix.size(), line.find('"', prefix.size()) - prefix.size()));
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(pass_names(), names);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
}

TEST(PassRegistry, EveryPassCreatesWithDefaultsAndDescribesItself) {
  for (const PassInfo& info : pass_registry()) {
    SCOPED_TRACE(std::string(info.name));
    EXPECT_FALSE(info.summary.empty());
    auto pass = create_pass(info.name);
    ASSERT_TRUE(pass.is_ok()) << pass.status().message();
    EXPECT_EQ((*pass)->name(), info.name);
    // Canonical options = the table's defaults, every key present.
    const json opts = (*pass)->options_json();
    const std::vector<OptionInfo> rows = info.options();
    // Grouped options (OptionTable::group) nest: row "weights.dtype" is opts["weights"]["dtype"].
    const auto leaves = [](const json& j, const auto& self) -> size_t {
      size_t n = 0;
      for (const json& v : j) n += v.is_object() ? self(v, self) : 1;
      return n;
    };
    const auto at = [&opts](std::string dotted) {
      for (char& c : dotted)
        if (c == '.') c = '/';
      return opts.at(json::json_pointer("/" + dotted));
    };
    EXPECT_EQ(leaves(opts, leaves), rows.size());
    const std::string text = describe_pass(info);
    for (const OptionInfo& o : rows) {
      EXPECT_EQ(at(o.name), o.default_value) << o.name;
      EXPECT_NE(text.find("  " + o.name + " (" + o.type_name()), std::string::npos) << text;
      EXPECT_FALSE(o.doc.empty()) << o.name;
    }
    // Passing the canonical options back is accepted and changes nothing.
    auto again = create_pass(info.name, opts);
    ASSERT_TRUE(again.is_ok()) << again.status().message();
    EXPECT_EQ((*again)->options_json(), opts);
    EXPECT_NE(describe_passes().find(std::string(info.name)), std::string::npos);
  }
}

TEST(PassRegistry, UnknownNameSuggests) {
  auto pass = create_pass("fold-batchnrom");
  ASSERT_FALSE(pass.is_ok());
  EXPECT_EQ(pass.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(pass.status().message().find("unknown pass \"fold-batchnrom\"; did you mean \"fold-batchnorm\"?"),
            std::string::npos)
      << pass.status().message();
}

TEST(PassManager, FromJsonCollectsEveryError) {
  const json pipeline = json::parse(R"([
    {"pass": "fold-constant"},
    {"pass": "fold-constants", "options": {"max_output_bytes": -1, "fold_shape": true}},
    {"pass": "fold-batchnorm", "scope": {"include": {"ops": "Conv"}}, "optoins": {}},
    {"options": {}},
    "fold-batchnorm"
  ])");
  auto pm = PassManager::from_json(pipeline, "/pipeline");
  ASSERT_FALSE(pm.is_ok());
  const std::string msg = pm.status().message();
  const char* expected[] = {
      "/pipeline/0/pass: unknown pass \"fold-constant\"; did you mean \"fold-constants\"?",
      "/pipeline/1/options/max_output_bytes: -1 is out of range [0, 1099511627776]",
      "/pipeline/1/options/fold_shape: unknown option \"fold_shape\"; did you mean \"fold_shapes\"?",
      "/pipeline/2/optoins: unknown step key \"optoins\"; did you mean \"options\"?",
      "/pipeline/2/scope/include/ops: expected an array of strings",
      "/pipeline/3/pass: expected the pass name (a string), but the key is missing",
      "/pipeline/4: expected an object, got a string \"fold-batchnorm\"",
  };
  for (const char* e : expected) EXPECT_NE(msg.find(e), std::string::npos) << "missing: " << e << "\nin:\n" << msg;
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 6) << msg;
  EXPECT_FALSE(PassManager::from_json(json::object(), "/pipeline").is_ok());
}

TEST(PassManager, CanonicalPipelineRoundTrips) {
  auto pm = PassManager::from_json(json::parse(R"([
    {"pass": "fold-batchnorm", "scope": {"exclude": {"names": ["/head/*"]}}},
    {"pass": "fold-constants", "options": {"max_output_bytes": 1024}}])"));
  ASSERT_TRUE(pm.is_ok()) << pm.status().message();
  const json canon = pm->to_json();
  ASSERT_EQ(canon.size(), 2u);
  EXPECT_EQ(canon[1]["options"]["max_output_bytes"], 1024);
  EXPECT_EQ(canon[1]["options"]["fold_shapes"], true);  // default filled in
  EXPECT_EQ(canon[0]["scope"]["exclude"]["names"], json::array({"/head/*"}));
  auto again = PassManager::from_json(canon);
  ASSERT_TRUE(again.is_ok()) << again.status().message();
  EXPECT_EQ(again->to_json(), canon);
}

TEST(PassManager, VerifiesAfterEachPassAndNamesTheCulprit) {
  Model m = relu_model();
  PassManager pm;
  pm.add(std::make_unique<TestPass>("fine", TestPass::Behaviour::kNothing));
  pm.add(std::make_unique<TestPass>("break-ir", TestPass::Behaviour::kBreakIr));
  pm.add(std::make_unique<TestPass>("never-runs", TestPass::Behaviour::kNothing));
  const Status s = pm.run(m);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(s.message().rfind("pipeline step 1 (break-ir): left an invalid graph: ", 0), 0u) << s.message();
  ASSERT_EQ(pm.records().size(), 2u);
  EXPECT_EQ(pm.records()[1].pass, "break-ir");
}

TEST(PassManager, PassErrorsKeepTheirCodeAndGainContext) {
  Model m = relu_model();
  PassManager pm;
  pm.add(std::make_unique<TestPass>("failing", TestPass::Behaviour::kFail));
  const Status s = pm.run(m);
  EXPECT_EQ(s.code(), StatusCode::kInvalidModel);
  EXPECT_EQ(s.message(), "pipeline step 0 (failing): node 'relu' (Relu): cannot handle it");
}

TEST(PassManager, RecordsTimingScopeAndNotes) {
  Model m = relu_model();
  PassManager pm;
  Scope scope;
  scope.include.names = {"rleu"};
  pm.add(std::make_unique<TestPass>("a", TestPass::Behaviour::kNothing), scope);
  ASSERT_TRUE(pm.run(m).is_ok());
  ASSERT_EQ(pm.records().size(), 1u);
  const PassRecord& r = pm.records()[0];
  EXPECT_GE(r.wall_ms, 0.0);
  EXPECT_EQ(r.scope, scope.to_json());
  EXPECT_EQ(r.notes, (std::vector<std::string>{"include.names: \"rleu\" matches no node"}));
  const json j = pm.records_json();
  EXPECT_EQ(j["passes"][0]["pass"], "a");
  EXPECT_TRUE(j["passes"][0]["counters"].contains("draw"));
}

TEST(PassManager, RandomDrawsDependOnSeedAndStepOnly) {
  auto draws = [](uint64_t seed, std::vector<std::string> names) {
    Model m = relu_model();
    PassManager pm;
    for (const std::string& n : names) pm.add(std::make_unique<TestPass>(n, TestPass::Behaviour::kNothing));
    PassManagerOptions o;
    o.seed = seed;
    EXPECT_TRUE(pm.run(m, o).is_ok());
    std::vector<int64_t> out;
    for (const PassRecord& r : pm.records()) out.push_back(r.counter("draw"));
    return out;
  };
  const auto a = draws(7, {"p", "q"});
  EXPECT_EQ(a, draws(7, {"p", "q"}));           // deterministic
  EXPECT_NE(a, draws(8, {"p", "q"}));           // the seed matters
  EXPECT_NE(a[0], a[1]);                        // so does the step/name
  EXPECT_EQ(draws(7, {"p"})[0], a[0]);          // later passes do not change earlier draws
}

TEST(PassManager, AddByNameReportsOptionErrors) {
  PassManager pm;
  EXPECT_TRUE(pm.add("fold-constants", json{{"max_output_bytes", 1}}).is_ok());
  const Status s = pm.add("fold-constants", json{{"max_output_bytes", "1"}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(pm.size(), 1u);
}

}  // namespace
}  // namespace bitsmith
