#pragma once
// Helpers for the tests under tests/data/: IDX files made byte by byte (so
// they can lie), gzip through zlib, and a tiny MNIST-format directory.
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "normlab.h"
#include "tests/core/core_test_helpers.h"
#include "tests/core/io/io_test_helpers.h"

namespace data_test {

// An IDX file's bytes: magic 0 0 <type> <dims.size()>, big-endian dims, then data.
inline std::string idx_bytes(const std::vector<uint32_t>& dims, const std::string& data, uint8_t type = 0x08) {
  std::string out = {0, 0, char(type), char(dims.size())};
  for (uint32_t d : dims)
    for (int shift : {24, 16, 8, 0}) out += char(uint8_t(d >> shift));
  return out + data;
}

// One gzip member holding bytes.
inline std::string gzip(const std::string& bytes) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, uLong(bytes.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = uInt(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// A tiny MNIST-format dataset: `train` and `test` images of 2×3 pixels with
// pixel (i, p) = (7·i + 3·p) mod 256 and label i mod 3 (so 3 classes).
inline uint8_t tiny_pixel(int64_t i, int64_t p) { return uint8_t((7 * i + 3 * p) % 256); }
inline void write_tiny_mnist(const std::string& dir, int64_t train, int64_t test, bool gzip_files = true) {
  for (auto [split, n] : {std::pair<std::string, int64_t>{"train", train}, {"t10k", test}}) {
    std::vector<uint8_t> pixels, labels;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t p = 0; p < 6; ++p) pixels.push_back(tiny_pixel(i, p));
      labels.push_back(uint8_t(i % 3));
    }
    std::string suffix = gzip_files ? ".gz" : "";
    nl::data::write_idx(dir + "/" + split + "-images-idx3-ubyte" + suffix, {n, 2, 3}, pixels, gzip_files);
    nl::data::write_idx(dir + "/" + split + "-labels-idx1-ubyte" + suffix, {n}, labels, gzip_files);
  }
}

}  // namespace data_test
