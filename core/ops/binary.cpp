// Arithmetic with broadcasting, comparisons, where and masked_fill.
// Broadcasting in the forward pass is a sum in the backward pass: the
// gradient of an input that was broadcast is summed back to its shape (sum_to).
#include "core/ops/helpers.h"

namespace nl {

using ops::check_same_dtype;
using ops::map_any;
using ops::zip;

namespace {
// Gradient for input `x` of a broadcasting op: sum back to x's shape.
Tensor reduce_to(const Tensor& g, const Tensor& x) { return g.shape() == x.shape() ? g : sum_to(g, x.shape()); }
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = zip(
      "add", a, b, [](auto u, auto v) { return u + v; }, true);
  // y = a + b;  da = dy,  db = dy
  if (needs_grad(a, b))
    attach(y, "add", {a, b}, [a_shape = a.shape(), b_shape = b.shape()](const Tensor& g) -> Grads {
      return {sum_to(g, a_shape), sum_to(g, b_shape)};
    });
  return y;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = zip(
      "sub", a, b, [](auto u, auto v) { return u - v; }, true);
  // y = a - b;  da = dy,  db = -dy
  if (needs_grad(a, b))
    attach(y, "sub", {a, b},
           [a_shape = a.shape(), b_shape = b.shape(), b_req = b.requires_grad()](const Tensor& g) -> Grads {
             return {sum_to(g, a_shape), b_req ? sum_to(neg(g), b_shape) : Tensor()};
           });
  return y;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = zip(
      "mul", a, b, [](auto u, auto v) { return u * v; }, true);
  // y = a·b;  da = dy·b,  db = dy·a
  if (needs_grad(a, b))
    attach(y, "mul", {a, b}, save(a, b),
           [a_req = a.requires_grad(), b_req = b.requires_grad()](const Tensor& g, const Tensor& a,
                                                                  const Tensor& b) -> Grads {
             return {a_req ? reduce_to(g * b, a) : Tensor(), b_req ? reduce_to(g * a, b) : Tensor()};
           });
  return y;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = zip(
      "div", a, b, [](auto u, auto v) { return u / v; }, true);
  // y = a/b;  da = dy/b,  db = -dy·a/b²
  if (needs_grad(a, b))
    attach(y, "div", {a, b}, save(a, b),
           [a_req = a.requires_grad(), b_req = b.requires_grad()](const Tensor& g, const Tensor& a,
                                                                  const Tensor& b) -> Grads {
             Tensor ga = g / b;
             Tensor gb;
             if (b_req) gb = reduce_to(zip("div_backward", ga, b, [](auto t, auto v) { return -t / v; }) * a, b);
             return {a_req ? reduce_to(ga, a) : Tensor(), gb};
           });
  return y;
}

namespace {
// maximum/minimum: the gradient goes to the chosen input, split evenly on ties (as PyTorch).
Tensor extremum(const char* op, const Tensor& a, const Tensor& b, bool take_max) {
  Tensor y = zip(
      op, a, b, [take_max](auto u, auto v) { return (take_max ? u > v : u < v) || u != u ? u : v; }, true);
  if (needs_grad(a, b))
    attach(y, op, {a, b}, save(a, b), [take_max](const Tensor& g, const Tensor& a, const Tensor& b) -> Grads {
      Tensor share_a = zip("extremum_backward", a, b, [take_max](auto u, auto v) {
        using T = decltype(u);
        return u == v ? T(0.5) : (take_max ? u > v : u < v) ? T(1) : T(0);
      });
      return {reduce_to(g * share_a, a), reduce_to(g * (1.0 - share_a), b)};
    });
  return y;
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum("maximum", a, b, true); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum("minimum", a, b, false); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }

// ---- scalar forms: the scalar is a constant, so only the tensor gets a gradient ----

Tensor operator+(const Tensor& a, double s) {
  Tensor y = map_any("add", a, [s](auto v) { return v + decltype(v)(s); });
  if (needs_grad(a)) attach(y, "add_scalar", {a}, [](const Tensor& g) -> Grads { return {g}; });
  return y;
}
Tensor operator+(double s, const Tensor& a) { return a + s; }
Tensor operator-(const Tensor& a, double s) { return a + (-s); }

Tensor operator-(double s, const Tensor& a) {
  Tensor y = map_any("sub", a, [s](auto v) { return decltype(v)(s) - v; });
  if (needs_grad(a)) attach(y, "rsub_scalar", {a}, [](const Tensor& g) -> Grads { return {neg(g)}; });
  return y;
}

Tensor operator*(const Tensor& a, double s) {
  Tensor y = map_any("mul", a, [s](auto v) { return v * decltype(v)(s); });
  if (needs_grad(a)) attach(y, "mul_scalar", {a}, [s](const Tensor& g) -> Grads { return {g * s}; });
  return y;
}
Tensor operator*(double s, const Tensor& a) { return a * s; }

Tensor operator/(const Tensor& a, double s) {
  Tensor y = map_any("div", a, [s](auto v) { return v / decltype(v)(s); });
  if (needs_grad(a)) attach(y, "div_scalar", {a}, [s](const Tensor& g) -> Grads { return {g / s}; });
  return y;
}

Tensor operator/(double s, const Tensor& a) {
  // y = s/a;  da = -dy·s/a² = -dy·y/a
  Tensor y = map_any("div", a, [s](auto v) { return decltype(v)(s) / v; });
  if (needs_grad(a))
    attach(y, "rdiv_scalar", {a}, save(a, y),
           [](const Tensor& g, const Tensor& a, const Tensor& y) -> Grads { return {neg(g) * y / a}; });
  return y;
}

// ---- comparisons: 0/1 in the inputs' dtype, no gradient ----------------------------

#define NL_COMPARISON(name, expr)                                                                    \
  Tensor name(const Tensor& a, const Tensor& b) {                                                    \
    return zip(                                                                                      \
        #name, a, b, [](auto u, auto v) { return (expr) ? decltype(u)(1) : decltype(u)(0); }, true); \
  }
NL_COMPARISON(eq, u == v)
NL_COMPARISON(ne, u != v)
NL_COMPARISON(lt, u < v)
NL_COMPARISON(le, u <= v)
NL_COMPARISON(gt, u > v)
NL_COMPARISON(ge, u >= v)
#undef NL_COMPARISON

// ---- selection ------------------------------------------------------------------------

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  check_same_dtype("where", a, b);
  Shape shape = broadcast_shapes("where", condition.shape(), broadcast_shapes("where", a.shape(), b.shape()));
  Tensor y = Tensor::make(shape, a.dtype(), "where");
  dispatch_all(condition.dtype(), [&]<typename C>() {
    dispatch_all(a.dtype(), [&]<typename T>() {
      kernels::map_ternary<T, C, T>(condition, a, b, y, [](C c, T u, T v) { return c != C(0) ? u : v; });
    });
  });
  // da = dy where condition, db = dy elsewhere
  if (needs_grad(a, b))
    attach(y, "where", {a, b}, save(condition),
           [a_shape = a.shape(), b_shape = b.shape()](const Tensor& g, const Tensor& c) -> Grads {
             Tensor zero = zeros(Shape{}, g.dtype());
             return {sum_to(where(c, g, zero), a_shape), sum_to(where(c, zero, g), b_shape)};
           });
  return y;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  if (!(broadcast_shapes("masked_fill", x.shape(), mask.shape()) == x.shape()))
    fail("masked_fill: mask of shape {} does not broadcast to the input's shape {}", mask.shape(), x.shape());
  Tensor y = Tensor::make(x.shape(), x.dtype(), "masked_fill");
  dispatch_all(mask.dtype(), [&]<typename C>() {
    dispatch_all(x.dtype(), [&]<typename T>() {
      Tensor fill = full(Shape{}, value, x.dtype());
      kernels::map_ternary<T, C, T>(mask, fill, x, y, [](C c, T f, T v) { return c != C(0) ? f : v; });
    });
  });
  // dx = dy where the mask is 0; filled positions get no gradient
  if (needs_grad(x))
    attach(y, "masked_fill", {x}, save(mask),
           [](const Tensor& g, const Tensor& mask) -> Grads { return {where(mask, zeros(Shape{}, g.dtype()), g)}; });
  return y;
}

}  // namespace nl
