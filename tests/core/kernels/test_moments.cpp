// kernels::Moments and merge (Chan et al.): the moments of pieces, merged,
// against the two-pass moments of the whole; empty pieces; any order of merging.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "core/kernels/moments.h"

using nl::kernels::merge;
using nl::kernels::Moments;

namespace {
// The two-pass moments of values[lo, hi): the mean, then Σ(x − mean)².
Moments two_pass(const std::vector<double>& values, size_t lo, size_t hi) {
  Moments m;
  m.count = double(hi - lo);
  if (hi == lo) return m;
  for (size_t i = lo; i < hi; ++i) m.mean += values[i];
  m.mean /= m.count;
  for (size_t i = lo; i < hi; ++i) m.m2 += (values[i] - m.mean) * (values[i] - m.mean);
  return m;
}

// Values far from 0 with a small spread: Σx² − n·mean² would cancel badly here.
std::vector<double> offset_values(size_t n) {
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = 1e6 + std::sin(double(i) * 1.3) + 0.001 * double(i % 17);
  return v;
}

void check_close(const Moments& got, const Moments& want) {
  CHECK(got.count == want.count);
  CHECK(std::abs(got.mean - want.mean) <= 1e-12 * std::abs(want.mean));
  CHECK(std::abs(got.m2 - want.m2) <= 1e-9 * want.m2);
}
}  // namespace

TEST_CASE("Moments: merging pieces gives the two-pass moments of the whole", "[kernels][moments]") {
  std::vector<double> v = offset_values(1000);
  Moments whole = two_pass(v, 0, v.size());
  for (size_t piece : {1, 7, 32, 333, 999}) {
    INFO("pieces of " << piece);
    Moments merged;
    for (size_t lo = 0; lo < v.size(); lo += piece)
      merged = merge(merged, two_pass(v, lo, std::min(v.size(), lo + piece)));
    check_close(merged, whole);
    CHECK(std::abs(merged.variance() - whole.m2 / 1000.0) <= 1e-9 * whole.m2 / 1000.0);
  }
}

TEST_CASE("Moments: an empty piece changes nothing", "[kernels][moments]") {
  std::vector<double> v = offset_values(50);
  Moments a = two_pass(v, 0, 50), empty;
  Moments right = merge(a, empty);  // exactly a
  CHECK(right.count == a.count);
  CHECK(right.mean == a.mean);
  CHECK(right.m2 == a.m2);
  check_close(merge(empty, a), a);  // a, up to the rounding of mean·n/n
  CHECK(merge(empty, a).m2 == a.m2);
  Moments none = merge(empty, empty);
  CHECK(none.count == 0);
  CHECK(none.mean == 0);
  CHECK(none.m2 == 0);
}

TEST_CASE("Moments: the order of merging changes only the rounding", "[kernels][moments]") {
  std::vector<double> v = offset_values(600);
  std::vector<Moments> pieces;
  for (size_t lo = 0; lo < v.size(); lo += 50) pieces.push_back(two_pass(v, lo, lo + 50));
  Moments forward, backward, tree;
  for (const Moments& p : pieces) forward = merge(forward, p);
  for (size_t i = pieces.size(); i-- > 0;) backward = merge(pieces[i], backward);
  std::vector<Moments> level = pieces;  // pairwise, as a reduction tree would
  while (level.size() > 1) {
    std::vector<Moments> next;
    for (size_t i = 0; i + 1 < level.size(); i += 2) next.push_back(merge(level[i], level[i + 1]));
    if (level.size() % 2) next.push_back(level.back());
    level = next;
  }
  tree = level[0];
  Moments whole = two_pass(v, 0, v.size());
  check_close(forward, whole);
  check_close(backward, whole);
  check_close(tree, whole);
  check_close(forward, backward);
}
