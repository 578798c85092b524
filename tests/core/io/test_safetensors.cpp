// safetensors: round trips, the exact byte layout, PyTorch-written files,
// and corrupt files — each gets an nl::Error saying what is wrong.
#include <catch2/catch.hpp>
#include <cstring>
#include <random>

#include "normlab.h"
#include "tests/core/io/io_test_helpers.h"

using namespace normlab_test;

namespace {
std::string u64_le(uint64_t n) {
  std::string s(8, '\0');
  std::memcpy(s.data(), &n, 8);
  return s;
}
// A file with a given header text and data buffer.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  return u64_le(header.size()) + header + data;
}
std::string floats(std::initializer_list<float> values) {
  std::string s(values.size() * 4, '\0');
  std::memcpy(s.data(), values.begin(), s.size());
  return s;
}
std::string load_error(const std::string& path) {
  try {
    nl::io::load_safetensors(path);
  } catch (const nl::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("safetensors: round trip of every dtype, 0-d, empty and strided tensors", "[io][safetensors]") {
  TempDir dir;
  nl::manual_seed(1);
  auto base = nl::randn({4, 6}, nl::f64);
  nl::StateDict tensors{{"a.f32", nl::randn({2, 3})},
                        {"b.f64", base.t()},  // non-contiguous: written as its row-major values
                        {"c.i64", nl::from_vector<int64_t>({-1, 0, INT64_MAX})},
                        {"d.scalar", nl::scalar_tensor(3.5, nl::f64)},
                        {"e.empty", nl::zeros({0, 5})}};
  std::string path = dir.file("t.safetensors");
  nl::io::save_safetensors(path, tensors, {{"step", "12"}});
  auto loaded = nl::io::load_safetensors(path);
  REQUIRE(loaded.size() == tensors.size());
  for (auto& [name, t] : tensors) {
    INFO(name);
    CHECK(loaded.at(name).dtype() == t.dtype());
    CHECK(loaded.at(name).shape() == t.shape());
    CHECK(loaded.at(name).to_vector<double>() == t.to_vector<double>());
  }
  CHECK(loaded.at("c.i64").to_vector<int64_t>()[2] == INT64_MAX);
  CHECK(nl::io::load_safetensors_metadata(path) == nl::io::Metadata{{"step", "12"}});
}

TEST_CASE("safetensors: the written bytes follow the format exactly", "[io][safetensors]") {
  TempDir dir;
  std::string path = dir.file("tiny.safetensors");
  nl::io::save_safetensors(path, {{"w", nl::from_vector<float>({1.0f, 2.0f})}});
  std::string header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  CHECK(read_bytes(path) == safetensors_bytes(header, floats({1.0f, 2.0f})));
}

TEST_CASE("safetensors: reads a hand-made file with metadata and any key order", "[io][safetensors]") {
  TempDir dir;
  std::string path = dir.file("hand.safetensors");
  write_bytes(
      path, safetensors_bytes(R"({"__metadata__":{"format":"pt"},"b":{"data_offsets":[8,12],"shape":[],"dtype":"F32"},)"
                              R"("a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}})",
                              floats({1.5f, -2.0f, 7.0f})));
  auto t = nl::io::load_safetensors(path);
  CHECK(t.at("a").shape() == nl::Shape{1, 2});
  CHECK(t.at("a").to_vector<float>() == std::vector<float>{1.5f, -2.0f});
  CHECK(t.at("b").dim() == 0);
  CHECK(t.at("b").item<float>() == 7.0f);
  CHECK(nl::io::load_safetensors_metadata(path).at("format") == "pt");
}

TEST_CASE("safetensors: reads the file PyTorch's fixture script wrote", "[io][safetensors]") {
  auto t = nl::io::load_safetensors(NORMLAB_FIXTURES_DIR "/layers.safetensors");
  CHECK(t.at("model.4.num_batches_tracked").dtype() == nl::i64);
  CHECK(t.at("model.4.num_batches_tracked").dim() == 0);
  CHECK(t.at("model.4.num_batches_tracked").item<int64_t>() == 2);
  CHECK(t.at("linear.weight").shape() == nl::Shape{3, 5});
}

TEST_CASE("safetensors: save refuses undefined tensors, the old file survives", "[io][safetensors]") {
  TempDir dir;
  std::string path = dir.file("keep.safetensors");
  nl::io::save_safetensors(path, {{"x", nl::ones({2})}});
  std::string before = read_bytes(path);
  REQUIRE_THROWS_WITH(nl::io::save_safetensors(path, {{"x", nl::ones({2})}, {"y", nl::Tensor()}}),
                      Catch::Contains("\"y\" is undefined"));
  CHECK(read_bytes(path) == before);
  CHECK(dir.count_entries() == 1);  // no temporary left behind
}

TEST_CASE("safetensors: missing file", "[io][safetensors][errors]") {
  TempDir dir;
  CHECK_THAT(load_error(dir.file("nope.safetensors")), Catch::Contains("cannot open"));
}

TEST_CASE("safetensors: corrupt files are refused with a reason", "[io][safetensors][errors]") {
  TempDir dir;
  std::string path = dir.file("bad.safetensors");
  std::string good_header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  struct Case {
    const char* what;
    std::string bytes;
    const char* expected;
  };
  std::vector<Case> cases{
      {"empty file", "", "too short"},
      {"truncated length", std::string(5, '\0'), "too short"},
      {"header longer than the file", u64_le(1000) + good_header, "exceeds the"},
      {"huge header length", u64_le(uint64_t(1) << 63) + good_header, "exceeds the"},
      {"invalid JSON", safetensors_bytes("{\"a\": [", ""), "not valid JSON"},
      {"JSON not an object", safetensors_bytes("[1, 2]", ""), "not a JSON object"},
      {"unknown dtype", safetensors_bytes(R"({"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})", "abcd"),
       "unsupported dtype \"BF16\""},
      {"negative shape",
       safetensors_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", floats({1, 2})),
       "not a list of sizes"},
      {"fractional shape",
       safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,8]}})", floats({1, 2})),
       "not a list of sizes"},
      {"absurd shape",
       safetensors_bytes(R"({"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,8]}})",
                         floats({1, 2})),
       "too many elements"},
      {"offsets past the data", safetensors_bytes(good_header, floats({1})), "outside the data buffer"},
      {"offsets reversed",
       safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", floats({1, 2})),
       "outside the data buffer"},
      {"size mismatch", safetensors_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", floats({1, 2})),
       "needs 12"},
      {"overlapping tensors",
       safetensors_bytes(
           R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
           floats({1, 2})),
       "overlap"},
      {"metadata not strings", safetensors_bytes(R"({"__metadata__":{"k":1}})", ""), "not a string"},
      {"missing data_offsets", safetensors_bytes(R"({"a":{"dtype":"F32","shape":[2]}})", floats({1, 2})),
       "data_offsets must be"},
  };
  for (auto& c : cases) {
    INFO(c.what);
    write_bytes(path, c.bytes);
    std::string err = load_error(path);
    CHECK_THAT(err, Catch::Contains(c.expected));
    CHECK_THAT(err, Catch::StartsWith("load_safetensors: " + path));
  }
}

TEST_CASE("safetensors: random bytes never crash", "[io][safetensors][errors]") {
  TempDir dir;
  std::string path = dir.file("noise.safetensors");
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200; ++i) {
    std::string bytes(size_t(rng() % 200), '\0');
    for (char& c : bytes) c = char(rng());
    write_bytes(path, bytes);
    CHECK_THROWS_AS(nl::io::load_safetensors(path), nl::Error);
  }
}

TEST_CASE("safetensors: fuzzing a valid file: every mutation loads or throws nl::Error", "[io][safetensors][fuzz]") {
  TempDir dir;
  std::string path = dir.file("fuzz.safetensors");
  nl::io::save_safetensors(
      path, {{"w", nl::randn({3, 4})}, {"b", nl::zeros({4}, nl::f64)}, {"n", nl::zeros({}, nl::i64)}}, {{"k", "v"}});
  const std::string valid = read_bytes(path);
  std::mt19937_64 rng(2026);
  int loaded = 0, refused = 0;
  for (int i = 0; i < 2000; ++i) {
    std::string bytes = valid;
    switch (rng() % 4) {
      case 0:  // flip a few bytes anywhere
        for (int k = 0, n = int(1 + rng() % 4); k < n; ++k) bytes[rng() % bytes.size()] ^= char(1 + rng() % 255);
        break;
      case 1:  // truncate
        bytes.resize(rng() % bytes.size());
        break;
      case 2:  // lie about the header length
        bytes.replace(0, 8, u64_le(rng() % 2 ? rng() : rng() % (bytes.size() + 16)));
        break;
      case 3:  // change a digit inside the header (shapes, offsets)
        for (size_t at = 8 + rng() % 100; at < bytes.size() && at < 200; ++at)
          if (std::isdigit(static_cast<unsigned char>(bytes[at]))) {
            bytes[at] = char('0' + rng() % 10);
            break;
          }
        break;
    }
    write_bytes(path, bytes);
    try {
      nl::io::load_safetensors(path);
      ++loaded;
    } catch (const nl::Error&) {
      ++refused;
    }
  }
  CHECK(loaded + refused == 2000);
  CHECK(refused > 500);
}
