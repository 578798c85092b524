// Tensor metadata, autograd entry points and in-place updates.
#include "core/tensor.h"

#include "core/autograd.h"
#include "core/kernels/elementwise.h"
#include "core/ops.h"

namespace nl {

namespace detail {
void throw_dtype_mismatch(std::string_view op, DType have, DType want) {
  fail("{}: tensor has dtype {}, but {} was requested", op, have, want);
}
}  // namespace detail

TensorImpl& Tensor::impl() const {
  if (!impl_) fail("tensor: use of an undefined tensor (default-constructed, or a gradient not computed yet)");
  return *impl_;
}

Tensor Tensor::make(const Shape& shape, DType dtype, std::string_view op) {
  int64_t n = checked_numel(op, shape);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(op, size_t(n) * itemsize(dtype));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

int64_t Tensor::size(int64_t d) const {
  if (dim() == 0) fail("size: a 0-dim tensor has no dims (asked for dim {})", d);
  return shape()[normalize_dim("size", d, dim())];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int d = dim() - 1; d >= 0; --d) {
    if (shape()[d] == 1) continue;
    if (strides()[d] != expected) return false;
    expected *= shape()[d];
  }
  return true;
}

// ---- autograd ----------------------------------------------------------------------

Tensor& Tensor::requires_grad_(bool enabled) {
  if (!is_leaf())
    fail("requires_grad_: only leaf tensors can change requires_grad (this one is the output of '{}', shape {})",
         grad_fn()->name(), shape());
  if (enabled && !is_floating_point())
    fail("requires_grad_: only floating tensors can require grad, got {} of shape {}", dtype(), shape());
  impl().requires_grad = enabled;
  return *this;
}

Tensor Tensor::grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }

void Tensor::set_grad(const Tensor& grad) const {
  if (grad.defined() && (!(grad.shape() == shape()) || grad.dtype() != dtype()))
    fail("set_grad: gradient of shape {} {} does not match tensor of shape {} {}", grad.shape(), grad.dtype(), shape(),
         dtype());
  impl().grad = grad.defined() ? grad.impl_ptr() : nullptr;
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const {
  if (!requires_grad())
    fail(
        "backward: called on a tensor of shape {} that does not require grad "
        "(no input it was computed from had requires_grad_(), or it was computed under NoGradGuard)",
        shape());
  Tensor seed = grad;
  if (!seed.defined()) {
    if (numel() != 1)
      fail("backward: a gradient can be implied only for a one-element output; got shape {}, pass grad explicitly",
           shape());
    seed = ones(shape(), dtype());
  } else if (!(seed.shape() == shape()) || seed.dtype() != dtype()) {
    fail("backward: grad of shape {} {} does not match the output's shape {} {}", seed.shape(), seed.dtype(), shape(),
         dtype());
  }
  run_backward(*this, seed, retain_graph);
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = storage();
  impl->shape = shape();
  impl->strides = strides();
  impl->offset = offset();
  impl->dtype = dtype();
  return Tensor(std::move(impl));
}

void Tensor::register_hook(GradHook hook) const {
  if (!requires_grad())
    fail("register_hook: tensor of shape {} does not require grad, so no gradient will reach the hook", shape());
  if (grad_fn())
    grad_fn()->hooks(impl().output_nr).push_back(std::move(hook));
  else
    impl().leaf_hooks.push_back(std::move(hook));
}

void Tensor::retain_grad() const {
  if (!requires_grad()) fail("retain_grad: tensor of shape {} does not require grad", shape());
  if (is_leaf() || impl().retains_grad) return;  // leaves keep their grad anyway
  impl().retains_grad = true;
  std::weak_ptr<TensorImpl> weak = impl_;
  register_hook([weak](const Tensor& g) {
    if (auto self = weak.lock()) {
      if (self->grad)
        Tensor(self->grad).add_(g);
      else
        self->grad = g.clone().impl_ptr();
    }
    return Tensor();
  });
}

// ---- in-place updates ----------------------------------------------------------------

namespace {
void check_inplace(const char* op, const Tensor& t) {
  if (is_grad_enabled() && t.requires_grad())
    fail(
        "{}: in-place update of a tensor of shape {} that requires grad would not be seen by autograd; "
        "wrap it in NoGradGuard (as optimizers do)",
        op, t.shape());
}
}  // namespace

Tensor& Tensor::fill_(double value) {
  check_inplace("fill_", *this);
  dispatch_all(dtype(), [&]<typename T>() {
    T v = static_cast<T>(value);
    if (is_contiguous()) {
      T* p = data<T>();
      parallel_for(0, numel(), kParallelGrain, [&](int64_t lo, int64_t hi) { std::fill(p + lo, p + hi, v); });
    } else {
      kernels::map_unary<T, T>(*this, *this, [v](T) { return v; });
    }
  });
  return *this;
}

namespace {
// An in-place op reading src while writing dst must not see its own writes:
// when the two share storage (other than as the very same view, where each
// element reads itself before writing it), read from a copy of src.
Tensor unaliased(const Tensor& src, const Tensor& dst) {
  bool same_view = src.offset() == dst.offset() && src.shape() == dst.shape() && src.strides() == dst.strides();
  return src.storage() == dst.storage() && !same_view ? src.clone() : src;
}
}  // namespace

Tensor& Tensor::copy_(const Tensor& source) {
  check_inplace("copy_", *this);
  Tensor src = unaliased(source, *this);
  if (!(broadcast_shapes("copy_", src.shape(), shape()) == shape()))
    fail("copy_: source of shape {} does not broadcast to destination shape {}", src.shape(), shape());
  dispatch_all(dtype(), [&]<typename R>() {
    dispatch_all(src.dtype(),
                 [&]<typename T>() { kernels::map_unary<R, T>(src, *this, [](T v) { return static_cast<R>(v); }); });
  });
  return *this;
}

Tensor& Tensor::add_(const Tensor& addend, double alpha) {
  check_inplace("add_", *this);
  Tensor other = unaliased(addend, *this);
  if (other.dtype() != dtype()) fail("add_: dtype mismatch, {} += {} (convert with .to())", dtype(), other.dtype());
  if (!(broadcast_shapes("add_", shape(), other.shape()) == shape()))
    fail("add_: shape {} does not broadcast to the destination's shape {}", other.shape(), shape());
  dispatch_all(dtype(), [&]<typename T>() {
    T a = static_cast<T>(alpha);
    if (alpha == 1.0)
      kernels::map_binary<T, T>(*this, other, *this, [](T x, T y) { return x + y; });
    else
      kernels::map_binary<T, T>(*this, other, *this, [a](T x, T y) { return x + a * y; });
  });
  return *this;
}

Tensor& Tensor::mul_(double value) {
  check_inplace("mul_", *this);
  dispatch_all(dtype(), [&]<typename T>() {
    T v = static_cast<T>(value);
    kernels::map_unary<T, T>(*this, *this, [v](T x) { return x * v; });
  });
  return *this;
}

// ---- method forms of the free ops ------------------------------------------------------

Tensor Tensor::sum() const { return nl::sum(*this); }
Tensor Tensor::sum(const Shape& dims, bool keepdim) const { return nl::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return nl::mean(*this); }
Tensor Tensor::mean(const Shape& dims, bool keepdim) const { return nl::mean(*this, dims, keepdim); }
Tensor Tensor::var(const Shape& dims, bool unbiased, bool keepdim) const {
  return nl::var(*this, dims, unbiased, keepdim);
}
Tensor Tensor::max() const { return nl::max(*this); }
Tensor Tensor::max(const Shape& dims, bool keepdim) const { return nl::max(*this, dims, keepdim); }
Tensor Tensor::argmax(std::optional<int64_t> d, bool keepdim) const { return nl::argmax(*this, d, keepdim); }
Tensor Tensor::logsumexp(const Shape& dims, bool keepdim) const { return nl::logsumexp(*this, dims, keepdim); }
Tensor Tensor::softmax(int64_t d) const { return nl::softmax(*this, d); }
Tensor Tensor::log_softmax(int64_t d) const { return nl::log_softmax(*this, d); }
Tensor Tensor::exp() const { return nl::exp(*this); }
Tensor Tensor::log() const { return nl::log(*this); }
Tensor Tensor::sqrt() const { return nl::sqrt(*this); }
Tensor Tensor::rsqrt() const { return nl::rsqrt(*this); }
Tensor Tensor::abs() const { return nl::abs(*this); }
Tensor Tensor::tanh() const { return nl::tanh(*this); }
Tensor Tensor::sigmoid() const { return nl::sigmoid(*this); }
Tensor Tensor::relu() const { return nl::relu(*this); }
Tensor Tensor::pow(double exponent) const { return nl::pow(*this, exponent); }
Tensor Tensor::matmul(const Tensor& other) const { return nl::matmul(*this, other); }

}  // namespace nl
