// weight_norm: the fused weight normalization (Salimans & Kingma 2016),
// forward and backward side by side, norm_except_dim, and the composed
// reference. The reparametrization of a module's parameter that calls it:
// layers/weight_norm.h.
//
// v viewed as (outer, D, inner), D = v.size(dim); slice i = v[:, i, :], one
// norm and one g per slice (dim = nullopt: one slice, all of v).
// Forward:
//   norm[i] = √(Σ_slice v²)                    (summed in double)
//   w       = g[i] / norm[i] · v               (ŵ = v / norm[i] has unit norm)
// Backward, with dw = ∂loss/∂w and s[i] = Σ_slice dw·ŵ:
//   dg[i]   = s[i]
//   dv      = g[i] / norm[i] · (dw − ŵ·s[i])   (dw less its component along ŵ)
// A zero slice of v has no direction: as in PyTorch, its w is NaN.
#include <cmath>
#include <vector>

#include "core/ops/helpers.h"

namespace nl {

namespace {
struct Slices {
  int64_t outer, D, inner;
};

// v floating and dim in range; g (when given) in v's dtype, of v's shape
// with 1 in every dim but dim (no dim: [] or all ones). Returns the (outer, D, inner) view of v.
Slices check_arguments(const char* op, const Tensor& v, const Tensor* g, std::optional<int64_t> dim) {
  if (!v.defined()) fail("{}: v is undefined", op);
  if (!v.is_floating_point()) fail("{}: expected a floating v, got {} of shape {}", op, v.dtype(), v.shape());
  Shape g_shape = Shape::filled(v.dim(), 1);
  Slices s{1, 1, v.numel()};
  if (dim) {
    if (v.dim() == 0) fail("{}: dim {} given for a 0-dim v; use dim = std::nullopt", op, *dim);
    if (*dim < -v.dim() || *dim >= v.dim())
      fail("{}: dim {} is out of range for v of shape {} (expected {}..{}, or std::nullopt for the whole tensor)", op,
           *dim, v.shape(), -v.dim(), v.dim() - 1);
    int d = normalize_dim(op, *dim, v.dim());
    s.D = v.shape()[d];
    s.outer = 1;
    for (int k = 0; k < d; ++k) s.outer *= v.shape()[k];
    s.inner = 1;
    for (int k = d + 1; k < v.dim(); ++k) s.inner *= v.shape()[k];
    g_shape[d] = s.D;
  }
  if (g) {
    if (!g->defined()) fail("{}: g is undefined (expected shape {} for v {})", op, g_shape, v.shape());
    // one norm over all of v: g is [] as PyTorch's, or v's rank of ones
    bool scalar_ok = !dim && g->dim() == 0;
    if (g->shape() != g_shape && !scalar_ok)
      fail("{}: g must have shape {} (v {} with 1 in every dim but {}), got {}", op, g_shape, v.shape(),
           dim ? fmt::format("{}", *dim) : std::string("none, or []"), g->shape());
    if (g->dtype() != v.dtype())
      fail("{}: g has dtype {} but v has {} (convert with .to())", op, g->dtype(), v.dtype());
  }
  return s;
}

// Visits every element of slice i of a contiguous (outer, D, inner) array.
template <typename F>
void for_slice(const Slices& s, int64_t i, F f) {
  for (int64_t o = 0; o < s.outer; ++o) {
    int64_t base = (o * s.D + i) * s.inner;
    for (int64_t n = 0; n < s.inner; ++n) f(base + n);
  }
}

template <typename T>
void weight_norm_forward(const T* v, const T* g, T* w, T* norm, Slices s) {
  for (int64_t i = 0; i < s.D; ++i) {
    double sq = 0;
    for_slice(s, i, [&](int64_t k) { sq += double(v[k]) * double(v[k]); });
    norm[i] = T(std::sqrt(sq));
    T scale = g[i] / norm[i];
    for_slice(s, i, [&](int64_t k) { w[k] = v[k] * scale; });
  }
}

// dv, dg as in the header comment; either may be null.
template <typename T>
void weight_norm_backward(const T* dw, const T* v, const T* g, const T* norm, T* dv, T* dg, Slices s) {
  for (int64_t i = 0; i < s.D; ++i) {
    double dot = 0;  // Σ dw·v
    for_slice(s, i, [&](int64_t k) { dot += double(dw[k]) * double(v[k]); });
    T inv = T(1) / norm[i];
    T proj = T(dot) * inv;  // s[i] = Σ dw·ŵ
    if (dg) dg[i] = proj;
    if (dv) {
      T scale = g[i] * inv, along = proj * inv;  // ŵ·s[i] = v·(s[i]/norm[i])
      for_slice(s, i, [&](int64_t k) { dv[k] = scale * (dw[k] - v[k] * along); });
    }
  }
}
}  // namespace

Tensor weight_norm(const Tensor& v_in, const Tensor& g_in, std::optional<int64_t> dim) {
  Slices s = check_arguments("weight_norm", v_in, &g_in, dim);
  Tensor v = v_in.detach().contiguous(), g = g_in.detach().contiguous();
  Tensor w = Tensor::make(v.shape(), v.dtype(), "weight_norm");
  Tensor norm = Tensor::make(g.shape(), v.dtype(), "weight_norm");
  dispatch_floating("weight_norm", v.dtype(), [&]<typename T>() {
    weight_norm_forward<T>(v.data<T>(), g.data<T>(), w.data<T>(), norm.data<T>(), s);
  });
  if (!needs_grad(v_in, g_in)) return w;

  bool want_v = needs_grad(v_in), want_g = needs_grad(g_in);
  attach(w, "weight_norm", {v_in, g_in}, save(v, g, norm),
         [s, want_v, want_g](const Tensor& grad, const Tensor& v, const Tensor& g, const Tensor& norm) -> Grads {
           Tensor dw = grad.contiguous();
           Tensor dv = want_v ? Tensor::make(v.shape(), v.dtype(), "weight_norm_backward") : Tensor();
           Tensor dg = want_g ? Tensor::make(g.shape(), g.dtype(), "weight_norm_backward") : Tensor();
           dispatch_floating("weight_norm_backward", v.dtype(), [&]<typename T>() {
             weight_norm_backward<T>(dw.data<T>(), v.data<T>(), g.data<T>(), norm.data<T>(), ops::data_or_null<T>(dv),
                                     ops::data_or_null<T>(dg), s);
           });
           return {dv, dg};
         });
  return w;
}

Tensor norm_except_dim(const Tensor& v, std::optional<int64_t> dim) {
  check_arguments("norm_except_dim", v, nullptr, dim);
  if (!dim) return sqrt(sum(v * v));  // shape [], as PyTorch's v.norm()
  int kept = normalize_dim("norm_except_dim", *dim, v.dim());
  Shape over;  // every dim but dim
  for (int k = 0; k < v.dim(); ++k)
    if (k != kept) over.push_back(k);
  if (over.empty()) return abs(v);  // 1-D v: each slice is one value (an empty list would sum everything)
  return sqrt(sum(v * v, over, /*keepdim=*/true));
}

// ---- the composed reference: the same math from primitive ops; autograd derives its backward

Tensor reference::weight_norm(const Tensor& v, const Tensor& g, std::optional<int64_t> dim) {
  check_arguments("weight_norm", v, &g, dim);
  return g * (v / norm_except_dim(v, dim));
}

}  // namespace nl
