// Shape inference rules of shape-movement ops (Reshape, Transpose, Concat, Slice, Gather, Pad,
// Resize, ...). These also carry the element values of small integer tensors through, so shape
// arithmetic (Shape -> Gather -> Concat -> Reshape) resolves.
#include <algorithm>
#include <cmath>
#include <limits>

#include "bitsmith/ir/op_schema.h"
#include "ir/shape_inference_rules.h"

namespace bitsmith::shape_inference_detail {
namespace {

// Axes from the attribute (before `input_from_opset`) or from input `input_index`.
// nullopt when they come from an input whose values are not known.
std::optional<std::vector<int64_t>> axes_of(const NodeCtx& c, int64_t input_from_opset, size_t input_index,
                                            const char* attr = "axes") {
  if (c.opset() < input_from_opset) return c.node().attr_ints(attr);
  if (!c.in(input_index)) return std::vector<int64_t>{};
  if (const auto* v = int_values(c, input_index)) return *v;
  return std::nullopt;
}

Status constant(NodeCtx& c) {
  const Node& n = c.node();
  for (const Attribute& a : n.attributes) {
    if (a.name == "value" && a.t.defined()) {
      c.out(0) = val_of_tensor(a.t);
    } else if (a.name == "value_float") {
      c.out(0) = Val::of_shape(DType::kF32, {});
      c.out(0).reals = std::vector<double>{a.f};
    } else if (a.name == "value_floats") {
      c.out(0) = Val::of_shape(DType::kF32, {static_cast<int64_t>(a.floats.size())});
      if (static_cast<int64_t>(a.floats.size()) <= kMaxTrackedValues)
        c.out(0).reals = std::vector<double>(a.floats.begin(), a.floats.end());
    } else if (a.name == "value_int") {
      c.out(0) = Val::of_shape(DType::kI64, {});
      c.out(0).ints = std::vector<int64_t>{a.i};
    } else if (a.name == "value_ints") {
      c.out(0) = Val::of_shape(DType::kI64, {static_cast<int64_t>(a.ints.size())});
      if (static_cast<int64_t>(a.ints.size()) <= kMaxTrackedValues) c.out(0).ints = a.ints;
    }
  }
  return Status::ok();
}

Status shape(NodeCtx& c) {
  const Val* x = c.in(0);
  c.out(0).dtype = DType::kI64;
  if (!x || !x->has_rank) {
    c.out(0) = Val::of_rank(DType::kI64, 1);
    return Status::ok();
  }
  const int r = x->rank();
  int64_t start = c.node().attr_int("start", 0), end = c.node().attr_int("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, start, r);
  Val v = Val::of_shape(DType::kI64, {end - start});
  std::vector<int64_t> vals;
  for (int64_t i = start; i < end; ++i) vals.push_back(x->dims[i].has_value() ? x->dims[i].value : kUnknownInt);
  if (static_cast<int64_t>(vals.size()) <= kMaxTrackedValues) v.ints = std::move(vals);
  c.out(0) = std::move(v);
  return Status::ok();
}

Status size(NodeCtx& c) {
  c.out(0) = Val::of_shape(DType::kI64, {});
  if (const Val* x = c.in(0))
    if (auto n = x->numel()) c.out(0).ints = std::vector<int64_t>{*n};
  return Status::ok();
}

Status reshape(NodeCtx& c) {
  const Val* x = c.in(0);
  c.out(0).dtype = x ? x->dtype : DType::kUndefined;
  const auto* target = partial_int_values(c, 1);
  if (!target) {
    const Val* s = c.in(1);
    if (s && s->has_rank && s->rank() == 1 && s->dims[0].has_value())
      c.out(0) = Val::of_rank(c.out(0).dtype, static_cast<size_t>(s->dims[0].value));
    return Status::ok();
  }
  const bool allowzero = c.node().attr_int("allowzero", 0) != 0;
  Val v = Val::of_rank(c.out(0).dtype, target->size());
  int infer_at = -1;
  int64_t known_product = 1;
  bool product_known = true;
  for (size_t i = 0; i < target->size(); ++i) {
    const int64_t t = (*target)[i];
    if (t == kUnknownInt) {
      product_known = false;
      continue;
    }
    if (t == -1) {
      if (infer_at >= 0) return c.fail("shape has more than one -1");
      infer_at = static_cast<int>(i);
      continue;
    }
    if (t < -1) return c.fail("shape value " + std::to_string(t) + " is invalid");
    if (t == 0 && !allowzero) {
      if (!x || !x->has_rank) {
        product_known = false;
        continue;
      }
      if (i >= x->dims.size()) return c.fail("shape value 0 copies a dim the input does not have");
      v.dims[i] = x->dims[i];
    } else {
      v.dims[i] = known_dim(t);
    }
    if (v.dims[i].has_value())
      known_product *= v.dims[i].value;
    else
      product_known = false;
  }
  const auto n = x ? x->numel() : std::nullopt;
  if (infer_at >= 0 && n && product_known) {
    if (known_product == 0 || *n % known_product != 0)
      return c.fail("cannot reshape " + std::to_string(*n) + " elements to " + val_str(v));
    v.dims[infer_at] = known_dim(*n / known_product);
  } else if (infer_at < 0 && n && product_known && *n != known_product) {
    return c.fail("cannot reshape " + std::to_string(*n) + " elements to " + val_str(v));
  }
  if (x && x->ints) v.ints = x->ints;
  c.out(0) = std::move(v);
  return Status::ok();
}

Status flatten(NodeCtx& c) {
  const Val* x = c.in(0);
  if (!x) return Status::ok();
  Val v = Val::of_rank(x->dtype, 2);
  if (x->has_rank) {
    // axis in [-rank, rank]; negative counts from the end (so -1 keeps the last dim apart).
    int64_t a_attr = c.node().attr_int("axis", 1);
    if (a_attr < 0) a_attr += x->rank();
    if (a_attr < 0 || a_attr > x->rank()) return c.fail("axis out of range");
    const std::optional<int> axis = static_cast<int>(a_attr);
    int64_t a = 1, b = 1;
    bool ka = true, kb = true;
    for (int d = 0; d < x->rank(); ++d) {
      const bool k = x->dims[d].has_value();
      if (d < *axis) {
        ka = ka && k;
        if (k) a *= x->dims[d].value;
      } else {
        kb = kb && k;
        if (k) b *= x->dims[d].value;
      }
    }
    if (ka) v.dims[0] = known_dim(a);
    if (kb) v.dims[1] = known_dim(b);
  }
  c.out(0) = std::move(v);
  return Status::ok();
}

Status transpose(NodeCtx& c) {
  const Val* x = c.in(0);
  if (!x) return Status::ok();
  c.out(0).dtype = x->dtype;
  if (!x->has_rank) return Status::ok();
  std::vector<int64_t> perm = c.node().attr_ints("perm");
  if (perm.empty())
    for (int d = x->rank() - 1; d >= 0; --d) perm.push_back(d);
  if (static_cast<int>(perm.size()) != x->rank()) return c.fail("perm has the wrong length");
  Val v = Val::of_rank(x->dtype, perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    auto p = normalize_axis(perm[i], x->rank());
    if (!p) return c.fail("perm value out of range");
    v.dims[i] = x->dims[*p];
  }
  c.out(0) = std::move(v);
  return Status::ok();
}

Status squeeze(NodeCtx& c) {
  const Val* x = c.in(0);
  if (!x) return Status::ok();
  c.out(0).dtype = x->dtype;
  if (!x->has_rank) return Status::ok();
  const auto axes = axes_of(c, 13, 1);
  if (!axes) return Status::ok();
  std::vector<bool> drop(x->dims.size(), false);
  if (axes->empty()) {
    for (size_t d = 0; d < x->dims.size(); ++d) {
      if (!x->dims[d].has_value()) return Status::ok();  // which dims are 1 is unknown
      drop[d] = x->dims[d].value == 1;
    }
  }
  for (int64_t a : *axes) {
    auto ax = normalize_axis(a, x->rank());
    if (!ax) return c.fail("axis " + std::to_string(a) + " out of range");
    if (x->dims[*ax].has_value() && x->dims[*ax].value != 1)
      return c.fail("cannot squeeze dim " + std::to_string(*ax) + " of size " + std::to_string(x->dims[*ax].value));
    drop[*ax] = true;
  }
  Val v = Val::of_rank(x->dtype, 0);
  for (size_t d = 0; d < x->dims.size(); ++d)
    if (!drop[d]) v.dims.push_back(x->dims[d]);
  v.ints = x->ints;
  v.reals = x->reals;
  c.out(0) = std::move(v);
  return Status::ok();
}

Status unsqueeze(NodeCtx& c) {
  const Val* x = c.in(0);
  if (!x) return Status::ok();
  c.out(0).dtype = x->dtype;
  if (!x->has_rank) return Status::ok();
  const auto axes = axes_of(c, 13, 1);
  if (!axes) return Status::ok();
  const int out_rank = x->rank() + static_cast<int>(axes->size());
  std::vector<bool> inserted(out_rank, false);
  for (int64_t a : *axes) {
    auto ax = normalize_axis(a, out_rank);
    if (!ax || inserted[*ax]) return c.fail("axis " + std::to_string(a) + " out of range or repeated");
    inserted[*ax] = true;
  }
  Val v = Val::of_rank(x->dtype, 0);
  size_t k = 0;
  for (int d = 0; d < out_rank; ++d) v.dims.push_back(inserted[d] ? known_dim(1) : x->dims[k++]);
  v.ints = x->ints;
  v.reals = x->reals;
  c.out(0) = std::move(v);
  return Status::ok();
}

Status concat(NodeCtx& c) {
  const Val* first = nullptr;
  for (size_t i = 0; i < c.num_inputs(); ++i)
    if (c.in(i) && c.in(i)->has_rank) {
      first = c.in(i);
      break;
    }
  c.out(0).dtype = c.in(0) ? c.in(0)->dtype : DType::kUndefined;
  if (!first) return Status::ok();
  const auto axis = normalize_axis(c.node().attr_int("axis", 0), first->rank());
  if (!axis) return c.fail("axis out of range");
  Val v = Val::of_rank(c.out(0).dtype, first->dims.size());
  int64_t total = 0;
  bool total_known = true;
  bool all_ints = true;
  std::vector<int64_t> ints;
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    const Val* x = c.in(i);
    if (!x) continue;
    if (!x->has_rank) {
      total_known = false;
      all_ints = false;
      continue;
    }
    if (x->rank() != first->rank()) return c.fail("inputs have different ranks");
    for (int d = 0; d < x->rank(); ++d) {
      if (d == *axis) continue;
      Dim& o = v.dims[d];
      const Dim& in = x->dims[d];
      if (in.has_value()) {
        if (o.has_value() && o.value != in.value)
          return c.fail("dim " + std::to_string(d) + " differs between inputs (" + std::to_string(o.value) + " vs " +
                        std::to_string(in.value) + ")");
        o = in;
      } else if (!o.has_value() && o.param.empty()) {
        o = in;
      }
    }
    if (x->dims[*axis].has_value())
      total += x->dims[*axis].value;
    else
      total_known = false;
    if (x->ints)
      ints.insert(ints.end(), x->ints->begin(), x->ints->end());
    else
      all_ints = false;
  }
  if (total_known) v.dims[*axis] = known_dim(total);
  if (all_ints && v.rank() == 1) v.ints = std::move(ints);
  c.out(0) = std::move(v);
  return Status::ok();
}

Status split(NodeCtx& c) {
  const Val* x = c.in(0);
  if (!x) return Status::ok();
  const size_t n_out = c.num_outputs();
  for (size_t o = 0; o < n_out; ++o) c.out(o).dtype = x->dtype;
  if (!x->has_rank) return Status::ok();
  const auto axis = normalize_axis(c.node().attr_int("axis", 0), x->rank());
  if (!axis) return c.fail("axis out of range");
  std::optional<std::vector<int64_t>> sizes;
  if (c.opset() < 13)
    sizes = c.node().attr_ints("split");
  else if (c.in(1))
    sizes = int_values(c, 1) ? std::optional(*int_values(c, 1)) : std::nullopt;
  else
    sizes = std::vector<int64_t>{};
  const Dim& total = x->dims[*axis];
  if (sizes && sizes->empty() && total.has_value() && n_out > 0) {
    const int64_t chunk = (total.value + static_cast<int64_t>(n_out) - 1) / static_cast<int64_t>(n_out);
    for (size_t o = 0; o < n_out; ++o)
      sizes->push_back(std::min(chunk, std::max<int64_t>(0, total.value - chunk * static_cast<int64_t>(o))));
  }
  for (size_t o = 0; o < n_out; ++o) {
    Val v = shape_of(*x);
    v.dims[*axis] = sizes && sizes->size() == n_out ? known_dim((*sizes)[o]) : Dim{};
    c.out(o) = std::move(v);
  }
  if (sizes && sizes->size() == n_out && total.has_value()) {
    int64_t sum = 0;
    for (int64_t s : *sizes) sum += s;
    if (sum != total.value)
      return c.fail("split sizes sum to " + std::to_string(sum) + ", the axis has " + std::to_string(total.value));
  }
  return Status::ok();
}

// Slice on one axis: ONNX's clamping rules. Returns the output length.
int64_t slice_len(int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    return end > start ? (end - start + step - 1) / step : 0;
  }
  start = std::clamp<int64_t>(start, 0, dim - 1);
  end = std::clamp<int64_t>(end, -1, dim - 1);
  return start > end ? (start - end + (-step) - 1) / (-step) : 0;
}

Status slice(NodeCtx& c) {
  const Val* x = c.in(0);
  if (!x) return Status::ok();
  c.out(0).dtype = x->dtype;
  if (!x->has_rank) return Status::ok();
  std::vector<int64_t> starts, ends, axes, steps;
  if (c.opset() < 10) {
    starts = c.node().attr_ints("starts");
    ends = c.node().attr_ints("ends");
    axes = c.node().attr_ints("axes");
  } else {
    const auto *s = int_values(c, 1), *e = int_values(c, 2);
    const auto* a = c.in(3) ? int_values(c, 3) : nullptr;
    const auto* st = c.in(4) ? int_values(c, 4) : nullptr;
    if (!s || !e || (c.in(3) && !a) || (c.in(4) && !st)) {
      c.out(0) = Val::of_rank(x->dtype, x->dims.size());
      return Status::ok();
    }
    starts = *s;
    ends = *e;
    if (a) axes = *a;
    if (st) steps = *st;
  }
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    return c.fail("starts, ends, axes and steps have different lengths");
  Val v = shape_of(*x);
  std::vector<int64_t> value_range;  // for 1-D tracked values: [start, end, step]
  for (size_t i = 0; i < starts.size(); ++i) {
    auto ax = normalize_axis(axes[i], x->rank());
    if (!ax) return c.fail("axis " + std::to_string(axes[i]) + " out of range");
    if (steps[i] == 0) return c.fail("step 0");
    const Dim& d = x->dims[*ax];
    if (!d.has_value()) {
      v.dims[*ax] = Dim{};
      continue;
    }
    v.dims[*ax] = known_dim(slice_len(d.value, starts[i], ends[i], steps[i]));
    if (x->rank() == 1 && x->ints) {
      int64_t s = starts[i] < 0 ? starts[i] + d.value : starts[i];
      s = steps[i] > 0 ? std::clamp<int64_t>(s, 0, d.value) : std::clamp<int64_t>(s, 0, d.value - 1);
      std::vector<int64_t> r;
      for (int64_t k = 0; k < v.dims[*ax].value; ++k) r.push_back((*x->ints)[s + k * steps[i]]);
      v.ints = std::move(r);
    }
  }
  c.out(0) = std::move(v);
  return Status::ok();
}

Status gather(NodeCtx& c) {
  const Val* x = c.in(0);
  const Val* idx = c.in(1);
  if (!x) return Status::ok();
  c.out(0).dtype = x->dtype;
  if (!x->has_rank || !idx || !idx->has_rank) return Status::ok();
  const auto axis = normalize_axis(c.node().attr_int("axis", 0), x->rank());
  if (!axis) return c.fail("axis out of range");
  Val v = Val::of_rank(x->dtype, 0);
  for (int d = 0; d < *axis; ++d) v.dims.push_back(x->dims[d]);
  for (const Dim& d : idx->dims) v.dims.push_back(d);
  for (int d = *axis + 1; d < x->rank(); ++d) v.dims.push_back(x->dims[d]);
  if (x->ints && x->rank() == 1 && idx->ints) {
    std::vector<int64_t> r;
    const int64_t n = static_cast<int64_t>(x->ints->size());
    for (int64_t i : *idx->ints) {
      const int64_t k = i < 0 ? i + n : i;
      if (k < 0 || k >= n) return c.fail("index " + std::to_string(i) + " out of range for " + std::to_string(n));
      r.push_back((*x->ints)[k]);
    }
    v.ints = std::move(r);
  }
  c.out(0) = std::move(v);
  return Status::ok();
}

Status gather_elements(NodeCtx& c) {
  if (const Val* idx = c.in(1)) {
    c.out(0) = shape_of(*idx);
  }
  c.out(0).dtype = c.in(0) ? c.in(0)->dtype : DType::kUndefined;
  return Status::ok();
}

Status constant_of_shape(NodeCtx& c) {
  DType t = DType::kF32;
  double value = 0;
  if (const Attribute* a = c.node().find_attr("value"); a && a->t.defined()) {
    t = a->t.dtype();
    const Val tv = val_of_tensor(a->t);
    if (tv.ints && !tv.ints->empty()) value = static_cast<double>((*tv.ints)[0]);
    if (tv.reals && !tv.reals->empty()) value = (*tv.reals)[0];
  }
  const auto* s = partial_int_values(c, 0);
  if (!s) {
    const Val* sv = c.in(0);
    c.out(0).dtype = t;
    if (sv && sv->has_rank && sv->rank() == 1 && sv->dims[0].has_value())
      c.out(0) = Val::of_rank(t, static_cast<size_t>(sv->dims[0].value));
    return Status::ok();
  }
  Val v = Val::of_rank(t, 0);
  v.dims = dims_from_values(*s);
  if (auto n = v.numel(); n && *n <= kMaxTrackedValues && (t == DType::kI64 || t == DType::kI32 || t == DType::kF32 || t == DType::kF64)) {
    if (t == DType::kI64 || t == DType::kI32) v.ints = std::vector<int64_t>(*n, static_cast<int64_t>(value));
    if (t == DType::kF32 || t == DType::kF64) v.reals = std::vector<double>(*n, value);
  }
  c.out(0) = std::move(v);
  return Status::ok();
}

Status expand(NodeCtx& c) {
  const Val* x = c.in(0);
  c.out(0).dtype = x ? x->dtype : DType::kUndefined;
  const auto* s = partial_int_values(c, 1);
  if (!x || !s) return Status::ok();
  Val target = Val::of_rank(x->dtype, 0);
  for (int64_t d : *s) target.dims.push_back(d == kUnknownInt ? Dim{} : known_dim(d));
  BS_ASSIGN_OR_RETURN(Val v, broadcast_shapes(c, {x, &target}));
  v.dtype = x->dtype;
  c.out(0) = std::move(v);
  return Status::ok();
}

Status tile(NodeCtx& c) {
  const Val* x = c.in(0);
  if (!x) return Status::ok();
  c.out(0).dtype = x->dtype;
  const auto* r = int_values(c, 1);
  if (!x->has_rank) return Status::ok();
  Val v = Val::of_rank(x->dtype, x->dims.size());
  if (r) {
    if (static_cast<int>(r->size()) != x->rank()) return c.fail("repeats length differs from the input rank");
    for (int d = 0; d < x->rank(); ++d)
      if (x->dims[d].has_value()) v.dims[d] = known_dim(x->dims[d].value * (*r)[d]);
  }
  c.out(0) = std::move(v);
  return Status::ok();
}

Status range(NodeCtx& c) {
  const Val* s = c.in(0);
  Val v = Val::of_rank(s ? s->dtype : DType::kUndefined, 1);
  const auto *a = int_values(c, 0), *b = int_values(c, 1), *d = int_values(c, 2);
  if (a && b && d && a->size() == 1 && b->size() == 1 && d->size() == 1 && (*d)[0] != 0) {
    const int64_t n = std::max<int64_t>(0, ((*b)[0] - (*a)[0] + (*d)[0] + ((*d)[0] > 0 ? -1 : 1)) / (*d)[0]);
    v.dims[0] = known_dim(n);
    if (n <= kMaxTrackedValues) {
      std::vector<int64_t> r;
      for (int64_t i = 0; i < n; ++i) r.push_back((*a)[0] + i * (*d)[0]);
      v.ints = std::move(r);
    }
  } else if (c.in(0) && c.in(1) && c.in(2) && c.in(0)->reals && c.in(1)->reals && c.in(2)->reals) {
    const double st = (*c.in(0)->reals)[0], li = (*c.in(1)->reals)[0], de = (*c.in(2)->reals)[0];
    if (de != 0) v.dims[0] = known_dim(std::max<int64_t>(0, static_cast<int64_t>(std::ceil((li - st) / de))));
  }
  c.out(0) = std::move(v);
  return Status::ok();
}

Status pad(NodeCtx& c) {
  const Val* x = c.in(0);
  if (!x) return Status::ok();
  c.out(0).dtype = x->dtype;
  if (!x->has_rank) return Status::ok();
  std::vector<int64_t> pads;
  if (c.opset() < 11) {
    pads = c.node().attr_ints("pads");
  } else if (const auto* p = int_values(c, 1)) {
    pads = *p;
  } else {
    c.out(0) = Val::of_rank(x->dtype, x->dims.size());
    return Status::ok();
  }
  std::vector<int64_t> axes;
  if (c.in(3)) {
    const auto* a = int_values(c, 3);
    if (!a) {
      c.out(0) = Val::of_rank(x->dtype, x->dims.size());
      return Status::ok();
    }
    axes = *a;
  } else {
    for (int d = 0; d < x->rank(); ++d) axes.push_back(d);
  }
  if (pads.size() != 2 * axes.size()) return c.fail("pads has " + std::to_string(pads.size()) + " values");
  Val v = shape_of(*x);
  for (size_t i = 0; i < axes.size(); ++i) {
    auto ax = normalize_axis(axes[i], x->rank());
    if (!ax) return c.fail("axis out of range");
    if (v.dims[*ax].has_value()) v.dims[*ax] = known_dim(v.dims[*ax].value + pads[i] + pads[i + axes.size()]);
  }
  c.out(0) = std::move(v);
  return Status::ok();
}

Status resize(NodeCtx& c) {
  const Val* x = c.in(0);
  if (!x) return Status::ok();
  c.out(0).dtype = x->dtype;
  if (!x->has_rank) return Status::ok();
  Val v = Val::of_rank(x->dtype, x->dims.size());
  const bool upsample = c.node().op_type == "Upsample";
  // Resize-10 / Upsample-9: (X, scales); Resize-11+: (X, roi, scales, sizes).
  const size_t scales_at = (upsample || c.opset() < 11) ? 1 : 2;
  const auto* sizes = (!upsample && c.opset() >= 11 && c.in(3)) ? int_values(c, 3) : nullptr;
  const Val* sc = c.in(scales_at);
  const bool has_axes = c.node().find_attr("axes") != nullptr;
  if (!has_axes && sizes && static_cast<int>(sizes->size()) == x->rank()) {
    v.dims = dims_from_values(*sizes);
  } else if (!has_axes && sc && sc->reals && static_cast<int>(sc->reals->size()) == x->rank()) {
    for (int d = 0; d < x->rank(); ++d)
      if (x->dims[d].has_value())
        v.dims[d] = known_dim(static_cast<int64_t>(std::floor(static_cast<double>(x->dims[d].value) *
                                                              static_cast<float>((*sc->reals)[d]))));
  } else if (upsample && c.opset() < 9) {
    const auto scales = c.node().attr_floats("scales");
    if (static_cast<int>(scales.size()) == x->rank())
      for (int d = 0; d < x->rank(); ++d)
        if (x->dims[d].has_value())
          v.dims[d] = known_dim(static_cast<int64_t>(std::floor(static_cast<double>(x->dims[d].value) * scales[d])));
  }
  c.out(0) = std::move(v);
  return Status::ok();
}

Status depth_space(NodeCtx& c) {
  const Val* x = c.in(0);
  if (!x) return Status::ok();
  c.out(0).dtype = x->dtype;
  if (!x->has_rank) return Status::ok();
  if (x->rank() != 4) return c.fail("input must have rank 4");
  const int64_t b = c.node().attr_int("blocksize", 1);
  const bool to_space = c.node().op_type == "DepthToSpace";
  Val v = Val::of_rank(x->dtype, 4);
  v.dims[0] = x->dims[0];
  if (x->dims[1].has_value()) v.dims[1] = known_dim(to_space ? x->dims[1].value / (b * b) : x->dims[1].value * b * b);
  for (int d = 2; d < 4; ++d)
    if (x->dims[d].has_value()) v.dims[d] = known_dim(to_space ? x->dims[d].value * b : x->dims[d].value / b);
  c.out(0) = std::move(v);
  return Status::ok();
}

Status same_as_data(NodeCtx& c) {  // ScatterND, ScatterElements
  if (const Val* x = c.in(0)) {
    c.out(0) = shape_of(*x);
  }
  return Status::ok();
}

Status non_zero(NodeCtx& c) {
  c.out(0) = Val::of_rank(DType::kI64, 2);
  if (const Val* x = c.in(0); x && x->has_rank) c.out(0).dims[0] = known_dim(x->rank());
  return Status::ok();
}

}  // namespace

void add_shape_op_rules(std::unordered_map<std::string_view, Rule>& t) {
  t["Constant"] = constant;
  t["Shape"] = shape;
  t["Size"] = size;
  t["Reshape"] = reshape;
  t["Flatten"] = flatten;
  t["Transpose"] = transpose;
  t["Squeeze"] = squeeze;
  t["Unsqueeze"] = unsqueeze;
  t["Concat"] = concat;
  t["Split"] = split;
  t["Slice"] = slice;
  t["Gather"] = gather;
  t["GatherElements"] = gather_elements;
  t["ConstantOfShape"] = constant_of_shape;
  t["Expand"] = expand;
  t["Tile"] = tile;
  t["Range"] = range;
  t["Pad"] = pad;
  t["Resize"] = t["Upsample"] = resize;
  t["DepthToSpace"] = t["SpaceToDepth"] = depth_space;
  t["ScatterND"] = t["ScatterElements"] = t["Scatter"] = same_as_data;
  t["NonZero"] = non_zero;
}

}  // namespace bitsmith::shape_inference_detail
