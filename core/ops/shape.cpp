// Views (reshape, transpose, slice, expand, ...), copies (contiguous, clone,
// to) and joins (cat, stack). A view is a new shape/strides/offset over the
// same storage — no data moves — and its gradient rule maps the gradient back
// onto the base's shape.
#include <numeric>

#include "core/autograd.h"
#include "core/kernels/elementwise.h"
#include "core/ops.h"

namespace nl {

namespace {

Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

// The gradient of any view that only regroups elements is the gradient reshaped back.
Tensor regroup_view(const char* op, const Tensor& x, const Shape& shape, const Shape& strides) {
  Tensor y = make_view(x, shape, strides, x.offset());
  if (needs_grad(x))
    attach(y, op, {x}, [in_shape = x.shape()](const Tensor& g) -> Grads { return {g.reshape(in_shape)}; });
  return y;
}

// Resolves one -1 in a requested shape against numel; checks the element count.
Shape infer_shape(const char* op, const Tensor& x, const Shape& requested) {
  Shape shape = requested;
  int infer_at = -1;
  int64_t known = 1;
  for (int i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer_at >= 0) fail("{}: only one dimension can be -1, got {}", op, requested);
      infer_at = i;
    } else if (shape[i] < 0) {
      fail("{}: invalid size {} in shape {}", op, shape[i], requested);
    } else {
      known *= shape[i];
    }
  }
  if (infer_at >= 0) {
    if (known == 0 || x.numel() % known != 0)
      fail("{}: shape {} is invalid for a tensor of shape {} ({} elements)", op, requested, x.shape(), x.numel());
    shape[infer_at] = x.numel() / known;
  }
  if (checked_numel(op, shape) != x.numel())
    fail("{}: shape {} is invalid for a tensor of shape {} ({} elements)", op, requested, x.shape(), x.numel());
  return shape;
}

// Strides that show a tensor of (shape, strides) as new_shape without copying,
// if any exist (the algorithm of PyTorch's computeStride): walk both shapes
// from the right in chunks of dims that are contiguous with each other.
std::optional<Shape> view_strides(const Shape& shape, const Shape& strides, const Shape& new_shape) {
  if (numel_of(shape) == 0 || shape.empty()) return contiguous_strides(new_shape);
  Shape out = Shape::filled(new_shape.size(), 1);
  int view_d = new_shape.size() - 1;
  int64_t chunk_base_stride = strides.back(), tensor_numel = 1, view_numel = 1;
  for (int d = shape.size() - 1; d >= 0; --d) {
    tensor_numel *= shape[d];
    if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

}  // namespace

Tensor Tensor::view(const Shape& requested) const {
  Shape shape = infer_shape("view", *this, requested);
  std::optional<Shape> s = view_strides(this->shape(), strides(), shape);
  if (!s)
    fail("view: a tensor of shape {} with strides {} cannot be viewed as {} without copying; use reshape()",
         this->shape(), strides(), shape);
  return regroup_view("view", *this, shape, *s);
}

Tensor Tensor::reshape(const Shape& requested) const {
  Shape shape = infer_shape("reshape", *this, requested);
  if (std::optional<Shape> s = view_strides(this->shape(), strides(), shape))
    return regroup_view("reshape", *this, shape, *s);
  return contiguous().view(shape);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape(Shape{1});
  int start = normalize_dim("flatten", start_dim, dim()), end = normalize_dim("flatten", end_dim, dim());
  if (start > end) fail("flatten: start_dim {} comes after end_dim {} for shape {}", start_dim, end_dim, shape());
  Shape out;
  for (int d = 0; d < start; ++d) out.push_back(shape()[d]);
  int64_t n = 1;
  for (int d = start; d <= end; ++d) n *= shape()[d];
  out.push_back(n);
  for (int d = end + 1; d < dim(); ++d) out.push_back(shape()[d]);
  return reshape(out);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  int at = normalize_dim("unsqueeze", d, dim() + 1);
  Shape shape = this->shape(), st = strides();
  int64_t stride = at < dim() ? strides()[at] * shape[at] : 1;
  shape.insert(at, 1);
  st.insert(at, stride);
  return regroup_view("unsqueeze", *this, shape, st);
}

Tensor Tensor::squeeze(int64_t d) const {
  if (dim() == 0) return regroup_view("squeeze", *this, shape(), strides());
  int at = normalize_dim("squeeze", d, dim());
  Shape shape = this->shape(), st = strides();
  if (shape[at] == 1) {
    shape.erase(at);
    st.erase(at);
  }
  return regroup_view("squeeze", *this, shape, st);
}

Tensor Tensor::squeeze() const {
  Shape shape, st;
  for (int d = 0; d < dim(); ++d)
    if (this->shape()[d] != 1) {
      shape.push_back(this->shape()[d]);
      st.push_back(strides()[d]);
    }
  return regroup_view("squeeze", *this, shape, st);
}

Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const {
  int a = normalize_dim("transpose", dim0, dim()), b = normalize_dim("transpose", dim1, dim());
  Shape shape = this->shape(), st = strides();
  std::swap(shape[a], shape[b]);
  std::swap(st[a], st[b]);
  Tensor y = make_view(*this, shape, st, offset());
  if (needs_grad(*this))
    attach(y, "transpose", {*this}, [a, b](const Tensor& g) -> Grads { return {g.transpose(a, b)}; });
  return y;
}

Tensor Tensor::t() const {
  if (dim() > 2) fail("t: expects a tensor with at most 2 dims, got shape {} (use transpose)", shape());
  return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::permute(const Shape& dims) const {
  if (dims.size() != dim()) fail("permute: {} dims given for a tensor of shape {}", dims.size(), shape());
  Shape shape, st, inverse = Shape::filled(dim(), -1);
  for (int i = 0; i < dim(); ++i) {
    int d = normalize_dim("permute", dims[i], dim());
    if (inverse[d] != -1) fail("permute: dim {} repeated in {}", d, dims);
    inverse[d] = i;
    shape.push_back(this->shape()[d]);
    st.push_back(strides()[d]);
  }
  Tensor y = make_view(*this, shape, st, offset());
  if (needs_grad(*this))
    attach(y, "permute", {*this}, [inverse](const Tensor& g) -> Grads { return {g.permute(inverse)}; });
  return y;
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  int at = normalize_dim("slice", d, dim());
  if (dim() == 0) fail("slice: cannot slice a 0-dim tensor");
  if (step <= 0) fail("slice: step must be positive, got {}", step);
  int64_t n = shape()[at];
  // Python semantics: negative indices count from the end; out-of-range bounds clamp
  auto clamp_index = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
  start = clamp_index(start);
  end = std::max(start, clamp_index(end));
  Shape shape = this->shape(), st = strides();
  shape[at] = (end - start + step - 1) / step;
  st[at] *= step;
  Tensor y = make_view(*this, shape, st, offset() + start * strides()[at]);
  if (needs_grad(*this))
    attach(y, "slice", {*this}, [in_shape = this->shape(), at, start, end, step](const Tensor& g) -> Grads {
      Tensor gx = zeros(in_shape, g.dtype());
      gx.slice(at, start, end, step).copy_(g);
      return {gx};
    });
  return y;
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  if (dim() == 0) fail("select: cannot select from a 0-dim tensor");
  int at = normalize_dim("select", d, dim());
  int64_t n = shape()[at];
  if (index < -n || index >= n)
    fail("select: index {} out of range for dim {} of size {} (shape {})", index, at, n, shape());
  if (index < 0) index += n;
  Shape shape = this->shape(), st = strides();
  shape.erase(at);
  st.erase(at);
  Tensor y = make_view(*this, shape, st, offset() + index * strides()[at]);
  if (needs_grad(*this))
    attach(y, "select", {*this}, [in_shape = this->shape(), at, index](const Tensor& g) -> Grads {
      Tensor gx = zeros(in_shape, g.dtype());
      gx.select(at, index).copy_(g);
      return {gx};
    });
  return y;
}

Tensor Tensor::expand(const Shape& requested) const {
  if (requested.size() < dim())
    fail("expand: target shape {} has fewer dims than the tensor's shape {}", requested, shape());
  int shift = requested.size() - dim();
  Shape shape = requested, st = Shape::filled(requested.size(), 0);
  for (int i = 0; i < requested.size(); ++i) {
    int src = i - shift;
    if (src < 0) {
      if (requested[i] < 0) fail("expand: new leading dim {} cannot be -1 (target {})", i, requested);
      continue;
    }
    int64_t have = this->shape()[src];
    if (requested[i] == -1 || requested[i] == have) {
      shape[i] = have;
      st[i] = strides()[src];
    } else if (have != 1) {
      fail("expand: dim {} of size {} cannot expand to {} (shape {} to {})", src, have, requested[i], this->shape(),
           requested);
    }
  }
  checked_numel("expand", shape);
  Tensor y = make_view(*this, shape, st, offset());
  if (needs_grad(*this))
    attach(y, "expand", {*this},
           [in_shape = this->shape()](const Tensor& g) -> Grads { return {sum_to(g, in_shape)}; });
  return y;
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::clone() const {
  Tensor y = Tensor::make(shape(), dtype(), "clone");
  {
    NoGradGuard no_grad;
    y.copy_(*this);
  }
  if (needs_grad(*this)) attach(y, "clone", {*this}, [](const Tensor& g) -> Grads { return {g}; });
  return y;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor y = Tensor::make(shape(), target, "to");
  {
    NoGradGuard no_grad;
    y.copy_(*this);
  }
  if (is_floating(target) && needs_grad(*this))
    attach(y, "to", {*this}, [source = dtype()](const Tensor& g) -> Grads { return {g.to(source)}; });
  return y;
}

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  if (tensors.empty()) fail("cat: expected at least one tensor");
  const Tensor& first = tensors[0];
  if (first.dim() == 0) fail("cat: zero-dimensional tensors cannot be concatenated (use stack)");
  int at = normalize_dim("cat", dim, first.dim());
  Shape shape = first.shape();
  shape[at] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    if (t.dtype() != first.dtype()) fail("cat: tensor {} has dtype {}, tensor 0 has {}", i, t.dtype(), first.dtype());
    bool same = t.dim() == first.dim();
    for (int d = 0; same && d < t.dim(); ++d) same = d == at || t.shape()[d] == first.shape()[d];
    if (!same)
      fail("cat: tensor {} has shape {}, incompatible with tensor 0's {} along dim {}", i, t.shape(), first.shape(),
           at);
    shape[at] += t.shape()[at];
  }
  Tensor y = Tensor::make(shape, first.dtype(), "cat");
  std::vector<int64_t> starts;
  {
    NoGradGuard no_grad;
    int64_t start = 0;
    for (const Tensor& t : tensors) {
      starts.push_back(start);
      y.slice(at, start, start + t.shape()[at]).copy_(t);
      start += t.shape()[at];
    }
  }
  if (needs_grad(tensors)) {
    std::vector<int64_t> sizes;
    for (const Tensor& t : tensors) sizes.push_back(t.shape()[at]);
    attach(y, "cat", tensors, [at, starts, sizes](const Tensor& g) -> Grads {
      Grads grads;
      for (size_t i = 0; i < starts.size(); ++i) grads.push_back(g.slice(at, starts[i], starts[i] + sizes[i]));
      return grads;
    });
  }
  return y;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  if (tensors.empty()) fail("stack: expected at least one tensor");
  int at = normalize_dim("stack", dim, tensors[0].dim() + 1);
  std::vector<Tensor> parts;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!(tensors[i].shape() == tensors[0].shape()))
      fail("stack: tensor {} has shape {}, tensor 0 has {}; all must match", i, tensors[i].shape(), tensors[0].shape());
    parts.push_back(tensors[i].unsqueeze(at));
  }
  return cat(parts, at);
}

std::vector<Tensor> unbind(const Tensor& x, int64_t dim) {
  int d = normalize_dim("unbind", dim, x.dim());
  int64_t n = x.shape()[d];
  std::vector<Tensor> slices;
  {
    NoGradGuard no_grad;  // plain views; the graph is built below
    for (int64_t i = 0; i < n; ++i) slices.push_back(x.select(d, i));
  }
  if (!needs_grad(x)) return slices;
  // Gradient: each slice's node writes its gradient into one shared buffer
  // (fresh for every backward); the first to run hands the buffer on, the
  // others return nothing. A hub node between the slices and x keeps the
  // buffer from being mixed with x's other gradients.
  struct Gathered {
    Tensor buffer;
    uint64_t backward_id = 0;
  };
  Tensor hub = x.detach();
  {
    NoGradGuard no_grad;
    hub = hub.view(x.shape());  // a new tensor object to carry the hub node
  }
  auto gathered = std::make_shared<Gathered>();
  attach(hub, "unbind", {x}, [gathered](const Tensor& g) -> Grads {
    gathered->buffer = Tensor();  // g holds it now; the next backward starts a fresh one
    return {g};
  });
  Shape shape = x.shape();
  DType dtype = x.dtype();
  for (int64_t i = 0; i < n; ++i)
    attach(slices[size_t(i)], "unbind_slice", {hub}, [gathered, shape, dtype, d, i](const Tensor& g) -> Grads {
      bool first = gathered->backward_id != current_backward_id() || !gathered->buffer.defined();
      if (first) {
        gathered->buffer = zeros(shape, dtype);
        gathered->backward_id = current_backward_id();
      }
      gathered->buffer.select(d, i).copy_(g);
      return {first ? gathered->buffer : Tensor()};
    });
  return slices;
}

}  // namespace nl
