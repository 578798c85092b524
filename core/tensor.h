#pragma once
// Tensor: a strided view (shape, strides, offset, dtype) over shared storage,
// plus the autograd metadata that links it into the graph.
//
// A Tensor is a cheap handle (one shared_ptr); copying it aliases the same
// tensor, as in PyTorch. Views (reshape, transpose, slice, ...) share storage
// with their base; writes through a view are seen by the base.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/shape.h"
#include "core/storage.h"

namespace nl {

class Node;
class Tensor;

// A gradient hook sees the gradient flowing into a tensor during backward();
// it may return a replacement gradient, or an undefined Tensor to keep it.
using GradHook = std::function<Tensor(const Tensor& grad)>;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;       // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::float32;

  // autograd
  bool requires_grad = false;
  bool retains_grad = false;
  std::shared_ptr<Node> grad_fn;     // null for leaves
  uint32_t output_nr = 0;            // which of grad_fn's outputs this tensor is
  std::shared_ptr<TensorImpl> grad;  // accumulated by backward()
  std::vector<GradHook> leaf_hooks;  // hooks of a leaf; non-leaf hooks live on grad_fn
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  Tensor(const Tensor&) = default;
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(const Tensor&) = default;
  Tensor& operator=(Tensor&&) noexcept = default;

  // ---- metadata ---------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t offset() const { return impl().offset; }
  int dim() const { return impl().shape.size(); }
  int64_t size(int64_t dim) const;  // negative dims count from the end
  int64_t numel() const { return numel_of(impl().shape); }
  DType dtype() const { return impl().dtype; }
  bool is_contiguous() const;
  bool is_floating_point() const { return is_floating(dtype()); }
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }

  // ---- element access -----------------------------------------------------
  // Pointer to the first element; T must be the tensor's dtype exactly.
  // Walk it with strides() unless is_contiguous().
  template <typename T>
  T* data() const;
  // The single value of a one-element tensor, converted to T.
  template <typename T>
  T item() const;
  // All values in row-major order, converted to T.
  template <typename T>
  std::vector<T> to_vector() const;

  // ---- autograd -------------------------------------------------------------
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& requires_grad_(bool enabled = true);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
  // The accumulated gradient (undefined until a backward() reaches this tensor).
  Tensor grad() const;
  void set_grad(const Tensor& grad) const;
  // Reverse-mode differentiation from this tensor. A scalar needs no grad;
  // otherwise grad has this tensor's shape. The graph is freed afterwards
  // unless retain_graph is true.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;
  // Same data, cut from the graph (shares storage).
  Tensor detach() const;
  // Calls hook with the gradient that flows into this tensor in backward().
  void register_hook(GradHook hook) const;
  // Keep .grad() on a non-leaf tensor too.
  void retain_grad() const;

  // ---- views (no copy; share storage) ---------------------------------------
  Tensor reshape(const Shape& shape) const;  // a view when strides allow, else a copy; one -1 allowed
  Tensor view(const Shape& shape) const;     // always a view; throws when strides don't allow it
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;  // 2-D transpose
  Tensor permute(const Shape& dims) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor expand(const Shape& shape) const;  // -1 keeps a dim
  Tensor expand_as(const Tensor& other) const { return expand(other.shape()); }

  // ---- copies ------------------------------------------------------------------
  Tensor contiguous() const;  // this tensor itself when already contiguous
  Tensor clone() const;
  Tensor to(DType dtype) const;  // this tensor itself when already of dtype

  // ---- in-place (not recorded by autograd; for optimizers, init, no_grad code)
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);                       // src broadcast to this shape, converted to this dtype
  Tensor& add_(const Tensor& other, double alpha = 1.0);  // this += alpha * other
  Tensor& mul_(double value);

  // ---- math, as methods (free functions in ops.h are the same ops) -------------
  Tensor sum() const;
  Tensor sum(const Shape& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const Shape& dims, bool keepdim = false) const;
  Tensor var(const Shape& dims, bool unbiased = true, bool keepdim = false) const;
  Tensor max() const;
  Tensor max(const Shape& dims, bool keepdim = false) const;
  Tensor argmax(std::optional<int64_t> dim = std::nullopt, bool keepdim = false) const;
  Tensor logsumexp(const Shape& dims, bool keepdim = false) const;
  Tensor softmax(int64_t dim) const;
  Tensor log_softmax(int64_t dim) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor rsqrt() const;
  Tensor abs() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  Tensor pow(double exponent) const;
  Tensor matmul(const Tensor& other) const;

  // Marks tensors created by factories/ops; not part of the public contract.
  static Tensor make(const Shape& shape, DType dtype, std::string_view op = "tensor");

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// ---- element access implementations ---------------------------------------------
namespace detail {
[[noreturn]] void throw_dtype_mismatch(std::string_view op, DType have, DType want);
}

template <typename T>
T* Tensor::data() const {
  if (dtype() != dtype_of<T>()) detail::throw_dtype_mismatch("data", dtype(), dtype_of<T>());
  return static_cast<T*>(impl().storage->data()) + impl().offset;
}

template <typename T>
T Tensor::item() const {
  if (numel() != 1) fail("item: expected a tensor with one element, got shape {}", shape());
  return dispatch_all(dtype(), [&]<typename S>() { return static_cast<T>(*data<S>()); });
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor c = contiguous();
  std::vector<T> out(size_t(c.numel()));
  dispatch_all(c.dtype(), [&]<typename S>() {
    const S* p = c.data<S>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(p[i]);
  });
  return out;
}

// ---- factories --------------------------------------------------------------------
Tensor empty(const Shape& shape, DType dtype = f32);
Tensor zeros(const Shape& shape, DType dtype = f32);
Tensor ones(const Shape& shape, DType dtype = f32);
Tensor full(const Shape& shape, double value, DType dtype = f32);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor scalar_tensor(double value, DType dtype = f32);  // shape []
// [start, end) with step, like torch.arange; int64 unless a dtype is given.
Tensor arange(double start, double end, double step = 1.0, DType dtype = i64);
Tensor arange(int64_t end, DType dtype = i64);
Tensor eye(int64_t n, DType dtype = f32);
Tensor eye(int64_t n, int64_t m, DType dtype = f32);
// Uniform on [low, high) and standard normal, from the global generator
// (nl::manual_seed); identical across runs and thread counts.
Tensor rand(const Shape& shape, DType dtype = f32, double low = 0.0, double high = 1.0);
Tensor randn(const Shape& shape, DType dtype = f32);
// Copies values; the shape defaults to 1-D. T picks the dtype (float, double, int64_t).
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape);
template <typename T>
Tensor from_vector(const std::vector<T>& values) {
  return from_vector(values, Shape{int64_t(values.size())});
}

// Readable PyTorch-like text, truncated for big tensors:
// tensor([[ 1.0000, -2.0000], ...], dtype=float64, requires_grad=true)
std::string to_string(const Tensor& t);

}  // namespace nl

template <>
struct fmt::formatter<nl::Tensor> : fmt::formatter<std::string_view> {
  auto format(const nl::Tensor& t, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(nl::to_string(t), ctx);
  }
};
