// PyTorch-like text for tensors:
//   tensor([[ 0.1000, -1.5000],
//           [ 2.0000,  3.0000]], dtype=float64, requires_grad=true)
// Tensors over 1000 elements show the first and last 3 entries of each dim.
#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/tensor.h"

namespace nl {

namespace {
constexpr int64_t kSummarizeAbove = 1000;
constexpr int64_t kEdgeItems = 3;

struct Printer {
  const std::vector<double>& values;
  const std::vector<int64_t>& integers;  // int64 tensors print these (exact beyond 2^53)
  const Shape& shape;
  bool integer;
  bool scientific;
  bool summarize;
  size_t width = 0;

  // Calls fn(flat_index) for each element that will be shown.
  template <typename Fn>
  void visit(int d, int64_t base, Fn&& fn) const {
    if (d == shape.size()) return fn(base);
    int64_t stride = 1;
    for (int k = d + 1; k < shape.size(); ++k) stride *= shape[k];
    int64_t n = shape[d];
    for (int64_t i = 0; i < n; ++i) {
      if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) i = n - kEdgeItems;
      visit(d + 1, base + i * stride, fn);
    }
  }

  // The text of flat element i.
  std::string number(int64_t i) const {
    if (integer) return fmt::format("{}", integers[size_t(i)]);
    double v = values[size_t(i)];
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    return scientific ? fmt::format("{:.4e}", v) : fmt::format("{:.4f}", v);
  }

  // Appends dim d of the block starting at flat index `base` with row-major `stride`.
  void append(std::string& out, int d, int64_t base, int indent) const {
    if (d == shape.size()) {
      std::string s = number(base);
      out += std::string(width - std::min(width, s.size()), ' ') + s;
      return;
    }
    int64_t stride = 1;
    for (int k = d + 1; k < shape.size(); ++k) stride *= shape[k];
    int64_t n = shape[d];
    out += '[';
    bool elide = summarize && n > 2 * kEdgeItems;
    bool last_dim = d == shape.size() - 1;
    std::string separator = ",";
    if (last_dim) {
      separator += ' ';
    } else {  // a blank line per dim below, then align under the bracket
      separator.append(size_t(shape.size() - d - 1), '\n');
      separator.append(size_t(indent + 1), ' ');
    }
    for (int64_t i = 0; i < n; ++i) {
      if (elide && i == kEdgeItems) {
        out += "..." + separator;
        i = n - kEdgeItems;
      }
      append(out, d + 1, base + i * stride, indent + 1);
      if (i + 1 < n) out += separator;
    }
    out += ']';
  }
};
}  // namespace

std::string to_string(const Tensor& t) {
  if (!t.defined()) return "tensor(undefined)";
  bool integer = t.dtype() == DType::int64;
  std::vector<double> values = integer ? std::vector<double>() : t.to_vector<double>();
  std::vector<int64_t> integers = integer ? t.to_vector<int64_t>() : std::vector<int64_t>();
  Printer printer{values, integers, t.shape(), integer, false, t.numel() > kSummarizeAbove};
  // PyTorch's rule: scientific notation when the shown non-zero magnitudes
  // span more than 10^3, exceed 10^8, or go below 10^-4
  double max_abs = 0, min_abs = INFINITY;
  if (!integer)
    printer.visit(0, 0, [&](int64_t i) {
      double v = std::abs(values[size_t(i)]);
      if (std::isfinite(v) && v != 0) {
        max_abs = std::max(max_abs, v);
        min_abs = std::min(min_abs, v);
      }
    });
  printer.scientific = !printer.integer && max_abs > 0 && (max_abs / min_abs > 1e3 || max_abs > 1e8 || min_abs < 1e-4);
  printer.visit(0, 0, [&](int64_t i) { printer.width = std::max(printer.width, printer.number(i).size()); });

  std::string out = "tensor(";
  if (t.numel() == 0) {
    out += "[]";
  } else if (t.dim() == 0) {
    out += printer.number(0);
  } else {
    printer.append(out, 0, 0, int(out.size()));
  }
  if (t.numel() == 0 && t.dim() != 1) out += fmt::format(", size={}", t.shape());
  if (t.dtype() != DType::float32) out += fmt::format(", dtype={}", t.dtype());
  if (t.grad_fn())
    out += fmt::format(", grad_fn=<{}>", t.grad_fn()->name());
  else if (t.requires_grad())
    out += ", requires_grad=true";
  out += ')';
  return out;
}

}  // namespace nl
