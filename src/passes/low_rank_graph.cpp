// low-rank: weight layouts <-> the matrix M, and the two nodes that replace a layer (see
// low_rank_impl.h for M of each op).
#include <algorithm>

#include "passes/low_rank_impl.h"

namespace bitsmith::low_rank_detail {

namespace {

// Flat index into the weight's storage of M[row, col].
int64_t weight_index(const Layer& l, int64_t row, int64_t col) {
  if (l.op == "Conv") {  // row = c * kh + i, col = o * kw + j; W[o, c, i, j]
    const int64_t c = row / l.kh, i = row % l.kh, o = col / l.kw, j = col % l.kw;
    return ((o * l.in_ch + c) * l.kh + i) * l.kw + j;
  }
  return l.trans_b ? col * l.m + row : row * l.n + col;
}

Tensor f32_tensor(const std::vector<double>& v, Shape shape, std::string name) {
  Tensor t(DType::kF32, std::move(shape), std::move(name));
  float* out = t.mutable_data<float>();
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i]);
  return t;
}

void set_attr(Node& node, Attribute a) {
  if (Attribute* old = node.find_attr(a.name)) *old = std::move(a);
  else node.attributes.push_back(std::move(a));
}

void erase_attr(Node& node, const std::string& name) {
  std::erase_if(node.attributes, [&](const Attribute& a) { return a.name == name; });
}

// Conv attributes of one factor: kernel (kh, kw), the vertical or horizontal half of the
// original strides / dilations / pads.
void set_conv_attrs(Node& node, const Layer& l, bool vertical) {
  const int axis = vertical ? 0 : 1;
  std::vector<int64_t> strides{1, 1}, dilations{1, 1}, pads{0, 0, 0, 0};
  strides[axis] = l.strides[axis];
  dilations[axis] = l.dilations[axis];
  pads[axis] = l.pads[axis];
  pads[axis + 2] = l.pads[axis + 2];
  erase_attr(node, "auto_pad");
  set_attr(node, Attribute::make_ints("kernel_shape", vertical ? std::vector<int64_t>{l.kh, 1}
                                                               : std::vector<int64_t>{1, l.kw}));
  set_attr(node, Attribute::make_ints("strides", strides));
  set_attr(node, Attribute::make_ints("dilations", dilations));
  set_attr(node, Attribute::make_ints("pads", pads));
}

}  // namespace

std::vector<double> weight_matrix(const Tensor& w, const Layer& l) {
  std::vector<double> mat(static_cast<size_t>(l.m * l.n));
  const float* src = w.data<float>();
  for (int64_t r = 0; r < l.m; ++r)
    for (int64_t c = 0; c < l.n; ++c) mat[r * l.n + c] = l.alpha * static_cast<double>(src[weight_index(l, r, c)]);
  return mat;
}

Tensor tensor_from_matrix(const std::vector<double>& mat, const Tensor& like, const Layer& l) {
  Tensor t(DType::kF32, like.shape(), like.name());
  float* dst = t.mutable_data<float>();
  for (int64_t r = 0; r < l.m; ++r)
    for (int64_t c = 0; c < l.n; ++c) dst[weight_index(l, r, c)] = static_cast<float>(mat[r * l.n + c] / l.alpha);
  return t;
}

Replacement replace_with_factors(Graph& g, const Layer& l, const Factors& f, passes_detail::NameAllocator& names) {
  const Node node = g.nodes[l.index];
  const int64_t r = f.rank;
  const std::string base = node.name.empty() ? l.weight : node.name;
  Replacement rep;
  rep.a_name = names.make(l.weight + "_lowrank_a");
  rep.b_name = names.make(l.weight + "_lowrank_b");
  const std::string mid = names.make(node.outputs[0] + "_lowrank");
  Tensor a, b;
  Node first, second = node;
  first.domain = node.domain;
  first.inputs = {node.inputs[0], rep.a_name};
  first.outputs = {mid};
  first.name = names.make(base + "_lowrank_a");
  second.name = names.make(base + "_lowrank_b");
  second.inputs[0] = mid;
  second.inputs[1] = rep.b_name;
  if (l.op == "Conv") {
    // A [(c, i), k] -> W1[k, c, i, 0]; B [k, (o, j)] -> W2[o, k, 0, j].
    std::vector<double> w1(static_cast<size_t>(r * l.m)), w2(static_cast<size_t>(l.n * r));
    for (int64_t row = 0; row < l.m; ++row)
      for (int64_t k = 0; k < r; ++k) w1[k * l.m + row] = f.a[row * r + k];
    for (int64_t k = 0; k < r; ++k)
      for (int64_t o = 0; o < l.out_ch; ++o)
        for (int64_t j = 0; j < l.kw; ++j) w2[(o * r + k) * l.kw + j] = f.b[k * l.n + o * l.kw + j];
    a = f32_tensor(w1, {r, l.in_ch, l.kh, 1}, rep.a_name);
    b = f32_tensor(w2, {l.out_ch, r, 1, l.kw}, rep.b_name);
    first.op_type = "Conv";
    set_conv_attrs(first, l, true);
    set_conv_attrs(second, l, false);
    erase_attr(second, "group");
  } else {
    a = f32_tensor(f.a, {l.m, r}, rep.a_name);
    b = f32_tensor(f.b, {r, l.n}, rep.b_name);
    first.op_type = "MatMul";
    if (l.op == "Gemm") {  // alpha is in the factors; B is stored [r, N]
      erase_attr(second, "alpha");
      erase_attr(second, "transB");
    }
  }
  rep.bytes = static_cast<int64_t>(a.nbytes() + b.nbytes());
  passes_detail::set_initializer(g, std::move(a));
  passes_detail::set_initializer(g, std::move(b));
  g.nodes[l.index] = std::move(second);
  g.nodes.insert(g.nodes.begin() + static_cast<std::ptrdiff_t>(l.index), std::move(first));
  return rep;
}

}  // namespace bitsmith::low_rank_detail
