// .npy: round trips, files NumPy wrote (C and Fortran order, version 2.0),
// and corrupt files.
#include <catch2/catch.hpp>
#include <cstring>
#include <random>

#include "normlab.h"
#include "tests/core/io/io_test_helpers.h"

using namespace normlab_test;

namespace {
std::string npy_dir() { return NORMLAB_FIXTURES_DIR "/npy/"; }
std::string load_error(const std::string& path) {
  try {
    nl::io::load_npy(path);
  } catch (const nl::Error& e) {
    return e.what();
  }
  return "";
}
// A version 1.0 file around a header dict and raw data.
std::string npy_bytes(std::string header, const std::string& data) {
  header += '\n';
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  uint16_t n = uint16_t(header.size());
  out.append(reinterpret_cast<const char*>(&n), 2);
  return out + header + data;
}
}  // namespace

TEST_CASE("npy: round trip of every dtype, 0-d, 1-d, empty and strided tensors", "[io][npy]") {
  TempDir dir;
  nl::manual_seed(2);
  std::vector<nl::Tensor> tensors{nl::randn({2, 3}), nl::randn({4, 3}, nl::f64).t(), nl::arange(5),
                                  nl::scalar_tensor(1.25, nl::f64), nl::zeros({0, 3})};
  for (size_t i = 0; i < tensors.size(); ++i) {
    INFO("tensor " << i);
    std::string path = dir.file("t" + std::to_string(i) + ".npy");
    nl::io::save_npy(path, tensors[i]);
    auto t = nl::io::load_npy(path);
    CHECK(t.dtype() == tensors[i].dtype());
    CHECK(t.shape() == tensors[i].shape());
    CHECK(t.to_vector<double>() == tensors[i].to_vector<double>());
    CHECK(read_bytes(path).find('\n') % 64 == 63);  // data starts 64-byte aligned
  }
}

TEST_CASE("npy: the header NumPy expects", "[io][npy]") {
  TempDir dir;
  std::string path = dir.file("h.npy");
  nl::io::save_npy(path, nl::zeros({5}, nl::i64));
  std::string bytes = read_bytes(path);
  CHECK(bytes.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  std::string expected = "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }";
  CHECK(bytes.substr(10, expected.size()) == expected);
  nl::io::save_npy(path, nl::zeros({2, 3}));
  expected = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  CHECK(read_bytes(path).substr(10, expected.size()) == expected);
}

TEST_CASE("npy: files written by NumPy", "[io][npy]") {
  auto a = nl::io::load_npy(npy_dir() + "f4_2x3.npy");
  CHECK(a.shape() == nl::Shape{2, 3});
  CHECK(a.to_vector<float>() == std::vector<float>{0, 0.25f, 0.5f, 0.75f, 1, 1.25f});
  auto f = nl::io::load_npy(npy_dir() + "f8_fortran_2x3.npy");  // Fortran order, same logical array
  CHECK(f.shape() == nl::Shape{2, 3});
  CHECK(f.is_contiguous());
  CHECK(f.to_vector<double>() == std::vector<double>{0, 1, 2, 3, 4, 5});
  auto i = nl::io::load_npy(npy_dir() + "i8_5.npy");
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{-2, -1, 0, (int64_t(1) << 53) + 1, int64_t(1) << 62});
  auto s = nl::io::load_npy(npy_dir() + "f8_scalar.npy");
  CHECK(s.dim() == 0);
  CHECK(s.item<double>() == 2.5);
  CHECK(nl::io::load_npy(npy_dir() + "f4_empty_0x4.npy").shape() == nl::Shape{0, 4});
  CHECK(nl::io::load_npy(npy_dir() + "f4_v2_3.npy").to_vector<float>() == std::vector<float>{1.5f, -2.0f, 3.25f});
}

TEST_CASE("npy: unsupported dtypes are named", "[io][npy][errors]") {
  CHECK_THAT(load_error(npy_dir() + "i4_3.npy"), Catch::Contains("unsupported dtype '<i4'"));
}

TEST_CASE("npy: corrupt files are refused with a reason", "[io][npy][errors]") {
  TempDir dir;
  std::string path = dir.file("bad.npy");
  std::string eight_bytes(8, '\0');
  struct Case {
    const char* what;
    std::string bytes;
    const char* expected;
  };
  std::vector<Case> cases{
      {"empty", "", "too short"},
      {"bad magic", "NOTNUMPYATALL", "bad magic"},
      {"version 9", std::string("\x93NUMPY\x09\x00\x10\x00", 10) + std::string(16, ' '), "unsupported .npy version 9"},
      {"header past the end", std::string("\x93NUMPY\x01\x00\xff\x00", 10) + "{}", "outside the file"},
      {"not a dict", npy_bytes("[1, 2]", ""), "malformed header"},
      {"unterminated string", npy_bytes("{'descr: 1", ""), "unterminated string"},
      {"missing shape", npy_bytes("{'descr': '<f8', 'fortran_order': False}", eight_bytes), "no 'shape'"},
      {"shape not a tuple", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': 'x'}", eight_bytes),
       "wrong type"},
      {"negative dim", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}", eight_bytes),
       "expected a dimension"},
      {"big-endian", npy_bytes("{'descr': '>f8', 'fortran_order': False, 'shape': (1,)}", eight_bytes),
       "unsupported dtype '>f8'"},
      {"shape lies (too big)", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}", eight_bytes),
       "needs 16 bytes of data, the file has 8"},
      {"shape lies (too small)", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': ()}", eight_bytes + "x"),
       "needs 8 bytes"},
      {"absurd shape",
       npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999, 99999999999)}", ""),
       "too many elements"},
      {"empty, with absurd other dims (a fuzzer's find)",
       npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (800300784284, 392142, 8, 4, 178284, 0)}", ""),
       "shape [800300784284,392142,8,4,178284,0] has too many elements"},
      {"extra key", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': True}", eight_bytes),
       "keys besides"},
      {"trailing garbage", npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,)} x", eight_bytes),
       "trailing characters"},
  };
  for (auto& c : cases) {
    INFO(c.what);
    write_bytes(path, c.bytes);
    std::string err = load_error(path);
    CHECK_THAT(err, Catch::Contains(c.expected));
    CHECK_THAT(err, Catch::StartsWith("load_npy: " + path));
  }
}

TEST_CASE("npy: fuzzing a valid file: every mutation loads or throws nl::Error", "[io][npy][fuzz]") {
  TempDir dir;
  std::string path = dir.file("fuzz.npy");
  nl::io::save_npy(path, nl::randn({3, 5}, nl::f64));
  const std::string valid = read_bytes(path);
  std::mt19937_64 rng(11);
  int refused = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string bytes = valid;
    if (rng() % 2)
      for (int k = 0, n = int(1 + rng() % 3); k < n; ++k) bytes[rng() % 128] = char(rng());  // the header region
    else
      bytes.resize(rng() % bytes.size());
    write_bytes(path, bytes);
    try {
      nl::io::load_npy(path);
    } catch (const nl::Error&) {
      ++refused;
    }
  }
  CHECK(refused > 500);
}
