// IDX files (data/idx.h): plain and gzip round trips, and every way a file can
// be corrupt — each must be an nl::Error naming the file and the problem.
#include <catch2/catch.hpp>

#include "tests/data/data_test_helpers.h"

using Catch::Contains;
using data_test::gzip;
using data_test::idx_bytes;
using nl_test::error_of;
using normlab_test::TempDir;
using normlab_test::write_bytes;

namespace {
std::string read_error(const std::string& path, uint64_t max_bytes = nl::data::kIdxDefaultMaxBytes) {
  return error_of([&] { nl::data::read_idx(path, max_bytes); });
}

// A corrupt file: its name, its bytes, and what the error must say.
struct Corrupt {
  std::string name, bytes, expected;
};
// Each case written to dir/<name><suffix> must fail to read with its message and the path.
void check_corrupt(const TempDir& dir, const std::vector<Corrupt>& cases, const std::string& suffix) {
  for (const Corrupt& c : cases) {
    INFO(c.name);
    std::string path = dir.file(c.name + suffix);
    write_bytes(path, c.bytes);
    std::string error = read_error(path);
    CHECK_THAT(error, Contains(c.expected));
    CHECK_THAT(error, Contains("read_idx: " + path + ": "));
  }
}
}  // namespace

TEST_CASE("idx: write_idx then read_idx, plain and gzip, 1 to 3 dims", "[data][idx]") {
  TempDir dir;
  std::vector<uint8_t> data;
  for (int i = 0; i < 2 * 3 * 4; ++i) data.push_back(uint8_t(i * 11));
  for (bool compressed : {false, true})
    for (std::vector<int64_t> dims : {std::vector<int64_t>{24}, {4, 6}, {2, 3, 4}}) {
      INFO("gzip " << compressed << " dims " << dims.size());
      std::string path = dir.file("a.idx");
      nl::data::write_idx(path, dims, data, compressed);
      CHECK((normlab_test::read_bytes(path).substr(0, 2) == "\x1f\x8b") == compressed);
      nl::data::IdxArray back = nl::data::read_idx(path);
      CHECK(back.dims == dims);
      CHECK(back.data == data);
    }
}

TEST_CASE("idx: a gzip file larger than the first buffer chunk reads back whole", "[data][idx]") {
  // read_idx grows a gzip file's buffer 64 KiB, then doubling: 200000 bytes take 64 KiB + 64 KiB + the rest.
  TempDir dir;
  std::vector<uint8_t> data(200000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t((i * 2654435761u) >> 13);
  std::string path = dir.file("big.gz");
  nl::data::write_idx(path, {200, 1000}, data, /*gzip=*/true);
  nl::data::IdxArray back = nl::data::read_idx(path);
  CHECK(back.dims == std::vector<int64_t>{200, 1000});
  CHECK(back.data == data);
}

TEST_CASE("idx: the bytes written are the IDX layout (big-endian dims)", "[data][idx]") {
  TempDir dir;
  nl::data::write_idx(dir.file("x"), {2, 1}, {5, 6});
  CHECK(normlab_test::read_bytes(dir.file("x")) == idx_bytes({2, 1}, "\x05\x06"));
  nl::data::write_idx(dir.file("y"), {258}, std::vector<uint8_t>(258, 1));
  CHECK(normlab_test::read_bytes(dir.file("y")).substr(0, 8) == std::string("\0\0\x08\x01\0\0\x01\x02", 8));
}

TEST_CASE("idx: gzip is detected by its magic bytes, not by the file name", "[data][idx]") {
  TempDir dir;
  std::string raw = idx_bytes({3}, "abc");
  write_bytes(dir.file("plain.gz"), raw);
  write_bytes(dir.file("compressed"), gzip(raw));
  CHECK(nl::data::read_idx(dir.file("plain.gz")).data == std::vector<uint8_t>{'a', 'b', 'c'});
  CHECK(nl::data::read_idx(dir.file("compressed")).data == std::vector<uint8_t>{'a', 'b', 'c'});
}

TEST_CASE("idx: concatenated gzip members read as one stream", "[data][idx]") {
  TempDir dir;
  std::string raw = idx_bytes({2, 3}, "abcdef");
  write_bytes(dir.file("two.gz"), gzip(raw.substr(0, 7)) + gzip(raw.substr(7)));
  nl::data::IdxArray a = nl::data::read_idx(dir.file("two.gz"));
  CHECK(a.dims == std::vector<int64_t>{2, 3});
  CHECK(a.data == std::vector<uint8_t>{'a', 'b', 'c', 'd', 'e', 'f'});
}

TEST_CASE("idx: corrupt plain files are errors naming the file and the problem", "[data][idx]") {
  TempDir dir;
  std::vector<Corrupt> cases = {
      {"empty", "", "ends inside the IDX header"},
      {"short_header", std::string("\0\0", 2), "ends inside the IDX header"},
      {"wrong_magic", "\x01\x02\x08\x01" + std::string(4, '\0'), "not an IDX file: it starts with bytes 0x01 0x02"},
      {"float_type", idx_bytes({1}, "abcd", 0x0D), "element type 0x0d (float32) is not supported"},
      {"unknown_type", idx_bytes({1}, "a", 0x42), "unknown IDX element type 0x42"},
      {"zero_dims", idx_bytes({}, ""), "declares 0 dims"},
      {"nine_dims", idx_bytes(std::vector<uint32_t>(9, 1), "a"), "declares 9 dims"},
      {"dims_cut", idx_bytes({5, 5}, "").substr(0, 9), "ends inside the IDX dims"},
      {"truncated", idx_bytes({2, 3}, "abcde"), "the header declares 18 bytes in all, but the file has 17"},
      {"too_long", idx_bytes({2, 3}, "abcdefg"), "the header declares 18 bytes in all, but the file has 19"},
      {"dims_lie", idx_bytes({60000, 28, 28}, "abc"), "but the file has 19"},
      {"huge_dims", idx_bytes({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, "abc"),
       "declares dims 4294967295x4294967295x4294967295x4294967295 — more than the limit"},
  };
  check_corrupt(dir, cases, ".idx");
  CHECK_THAT(read_error(dir.file("missing")), Contains("cannot open"));
}

TEST_CASE("idx: max_bytes bounds what a header may declare", "[data][idx]") {
  TempDir dir;
  nl::data::write_idx(dir.file("a"), {10, 10}, std::vector<uint8_t>(100, 7));
  CHECK(nl::data::read_idx(dir.file("a"), 100).data.size() == 100);
  CHECK_THAT(read_error(dir.file("a"), 99), Contains("declares dims 10x10 — more than the limit of 99 bytes"));
}

TEST_CASE("idx: corrupt gzip files are errors, and lying headers allocate nothing big", "[data][idx]") {
  TempDir dir;
  std::string good = gzip(idx_bytes({4, 4}, std::string(16, 'x')));
  std::string flipped_crc = good;
  flipped_crc[flipped_crc.size() - 6] ^= 0x55;  // the CRC-32 in the trailer
  std::vector<Corrupt> cases = {
      {"truncated_half", good.substr(0, good.size() / 2), "the gzip stream is truncated"},
      {"truncated_trailer", good.substr(0, good.size() - 3), "the gzip stream is truncated"},
      {"garbage", "\x1f\x8b" + std::string("\x13\x37garbage that is not deflate data at all"), "corrupt gzip data"},
      {"bad_crc", flipped_crc, "corrupt gzip data after 28 decompressed bytes: incorrect data check"},
      {"trailing_garbage", good + "junk", "corrupt gzip data"},
      {"short_data", gzip(idx_bytes({4, 4}, "abc")), "the decompressed data ends after 15 bytes, inside the IDX data"},
      {"long_data", gzip(idx_bytes({2}, "abc")),
       "the decompressed data is longer than the 10 bytes the header declares"},
      {"short_header", gzip(std::string("\0\0\x08", 3)), "ends after 3 bytes, inside the IDX header"},
      {"wrong_magic", gzip("PK\x03\x04 not idx"), "not an IDX file"},
      // 2 GiB − 1 declared (under the default limit) over 3 real bytes: the
      // buffer grows with the data that arrives, so this fails fast and small
      {"dims_lie", gzip(idx_bytes({0x7fffffff}, "abc")), "the decompressed data ends after 11 bytes"},
      {"huge_dims", gzip(idx_bytes({0xffffffff, 0xffffffff}, "abc")), "more than the limit"},
  };
  check_corrupt(dir, cases, ".gz");
  write_bytes(dir.file("good.gz"), good);
  CHECK(nl::data::read_idx(dir.file("good.gz")).dims == std::vector<int64_t>{4, 4});
}

TEST_CASE("idx: write_idx checks its arguments", "[data][idx]") {
  TempDir dir;
  CHECK_THAT(error_of([&] {
               nl::data::write_idx(dir.file("a"), {2, 2}, {1, 2, 3});
             }),
             Contains("dims 2x2 hold 4 elements but 3 were given"));
  CHECK_THAT(error_of([&] { nl::data::write_idx(dir.file("a"), {}, {}); }), Contains("need 1 to 8 dims"));
  CHECK_THAT(error_of([&] { nl::data::write_idx(dir.file("a"), {int64_t(1) << 33}, {}); }),
             Contains("does not fit an IDX uint32"));
}
