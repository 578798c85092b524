// tiny_op_chain_1000: y = a; 1000 times y = y + b on 64-element vectors (a
// requires grad, b does not); y.sum().backward(). Measures what one op and
// one graph node cost when the arithmetic is nothing: allocation, graph
// bookkeeping, dispatch.
#include "bench/workloads/common.h"

namespace bench {
namespace {

Register tiny_chain({"tiny_op_chain_1000", "1000 adds on 64-element vectors, then sum().backward()", {0, 0}, [] {
                       nl::Tensor a = nl::randn({64}).requires_grad_(true);
                       nl::Tensor b = nl::randn({64});
                       return std::function<void()>([a, b] {
                         a.set_grad(nl::Tensor());
                         nl::Tensor y = a;
                         for (int i = 0; i < 1000; ++i) y = y + b;
                         y.sum().backward();
                       });
                     }});

}  // namespace
}  // namespace bench
