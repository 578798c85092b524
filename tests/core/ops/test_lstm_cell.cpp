// lstm_cell and lstm_cell_state, one fused LSTM step: against the step
// composed from primitives, gradcheck, errors. lstm_cell's h and c are
// compared side by side as [h | c]. The LSTM module is tested in
// tests/layers/test_lstm.cpp, the whole-sequence op in test_lstm_sequence.cpp.
#include <catch2/catch.hpp>

#include "normlab.h"
#include "tests/core/ops/norm_test_helpers.h"

using namespace normlab_test;

namespace {
nl::Tensor packed(const nl::LSTMState& s) { return nl::cat({s.h, s.c}, 1); }  // [h | c], (N, 2H)
}  // namespace

TEST_CASE("lstm_cell: fused step equals the step composed from primitives", "[ops][lstm]") {
  nl::manual_seed(1);
  int64_t N = 3, H = 5;
  auto gates = nl::randn({N, 4 * H}, nl::f64), c_prev = nl::randn({N, H}, nl::f64);
  NormFn fused = [&](const std::vector<nl::Tensor>& in) { return packed(nl::lstm_cell(in[0], in[1])); };
  NormFn composed = [&](const std::vector<nl::Tensor>& in) {
    auto a = in[0];
    auto i = nl::sigmoid(a.slice(1, 0, H)), f = nl::sigmoid(a.slice(1, H, 2 * H)),
         g = nl::tanh(a.slice(1, 2 * H, 3 * H)), o = nl::sigmoid(a.slice(1, 3 * H, 4 * H));
    auto c = f * in[1] + i * g;
    return nl::cat({o * nl::tanh(c), c}, 1);
  };
  require_fused_equals_reference(fused, composed, {gates, c_prev}, 1e-12);
  NormFn state_only = [&](const std::vector<nl::Tensor>& in) { return nl::lstm_cell_state(in[0], in[1]); };
  NormFn state_composed = [&](const std::vector<nl::Tensor>& in) { return composed(in).slice(1, H, 2 * H); };
  require_fused_equals_reference(state_only, state_composed, {gates, c_prev}, 1e-12);
}

TEST_CASE("lstm_cell: gradcheck of both fused steps", "[ops][lstm][gradcheck]") {
  nl::manual_seed(2);
  auto gates = nl::randn({2, 12}, nl::f64), c_prev = nl::randn({2, 3}, nl::f64);
  require_gradcheck([](const std::vector<nl::Tensor>& in) { return packed(nl::lstm_cell(in[0], in[1])); },
                    {gates, c_prev});
  require_gradcheck([](const std::vector<nl::Tensor>& in) { return nl::lstm_cell_state(in[0], in[1]); },
                    {gates, c_prev});
}

TEST_CASE("lstm_cell: errors name the op and the shapes", "[ops][lstm][errors]") {
  REQUIRE_THROWS_WITH(nl::lstm_cell(nl::zeros({2, 7}), nl::zeros({2, 2})),
                      Catch::Contains("lstm_cell") && Catch::Contains("[2,7]"));
}
