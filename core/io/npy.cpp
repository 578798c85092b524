#include "core/io/npy.h"

#include <bit>
#include <cctype>
#include <cstring>
#include <map>
#include <optional>
#include <variant>
#include <vector>

#include "core/io/atomic_file.h"

namespace nl::io {

static_assert(std::endian::native == std::endian::little, "npy I/O assumes a little-endian machine");

namespace {
constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLength = 6;
constexpr uint64_t kMaxHeaderBytes = 1 << 20;

std::string_view npy_descr(DType d) {
  switch (d) {
    case DType::float32: return "<f4";
    case DType::float64: return "<f8";
    case DType::int64: return "<i8";
  }
  return "?";
}

// The header's values: a string, a bool, or a tuple of integers.
using Value = std::variant<std::string, bool, std::vector<int64_t>>;

// A strict parser for the one dict literal .npy headers contain; no eval.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const InputFile& file) : s_(text), file_(file) {}

  std::map<std::string, Value> parse_dict() {
    std::map<std::string, Value> out;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      std::string key = parse_string();
      expect(':');
      skip_space();
      out[key] = parse_value();
      skip_space();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() != '}') error("expected ',' or '}'");
    }
    expect('}');
    skip_space();
    if (i_ != s_.size()) error("trailing characters after the dict");
    return out;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    file_.fail_with(fmt::format("malformed header at character {}: {}", i_, what));
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip_space() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) error(fmt::format("expected '{}'", c));
    ++i_;
  }
  std::string parse_string() {
    skip_space();
    char quote = peek();
    if (quote != '\'' && quote != '"') error("expected a quoted string");
    size_t end = s_.find(quote, ++i_);
    if (end == std::string_view::npos) error("unterminated string");
    std::string out(s_.substr(i_, end - i_));
    i_ = end + 1;
    return out;
  }
  int64_t parse_integer() {
    skip_space();
    size_t start = i_;
    int64_t value = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      if (value > (int64_t(1) << 50)) error("dimension too large");
      value = value * 10 + (s_[i_++] - '0');
    }
    if (i_ == start) error("expected a dimension (an integer >= 0)");
    if (peek() == 'L') ++i_;  // Python 2 long suffix
    return value;
  }
  Value parse_value() {
    char c = peek();
    if (c == '\'' || c == '"') return parse_string();
    if (s_.substr(i_, 4) == "True") return i_ += 4, true;
    if (s_.substr(i_, 5) == "False") return i_ += 5, false;
    if (c != '(') error("expected a string, True, False or a tuple");
    ++i_;
    std::vector<int64_t> dims;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      dims.push_back(parse_integer());
      skip_space();
      if (peek() == ',')
        ++i_;
      else if (peek() != ')')
        error("expected ',' or ')' in the shape");
    }
    ++i_;
    return dims;
  }

  std::string_view s_;
  const InputFile& file_;
  size_t i_ = 0;
};
}  // namespace

void save_npy(const std::string& path, const Tensor& t) {
  if (!t.defined()) fail("save_npy: {}: tensor is undefined", path);
  Tensor c = t.contiguous();
  std::string shape;  // Python tuple syntax: "3, 4", "5," or ""
  for (int i = 0; i < c.dim(); ++i) shape += (i ? ", " : "") + std::to_string(c.shape()[i]);
  if (c.dim() == 1) shape += ",";
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", npy_descr(c.dtype()), shape);
  size_t unpadded = kMagicLength + 2 + 2 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  write_file_atomically(path, [&](std::FILE* f) {
    std::fwrite(kMagic, 1, kMagicLength, f);
    const unsigned char version[2] = {1, 0};
    std::fwrite(version, 1, 2, f);
    uint16_t n = uint16_t(header.size());
    std::fwrite(&n, 2, 1, f);
    std::fwrite(header.data(), 1, header.size(), f);
    if (c.numel() > 0)
      std::fwrite(static_cast<const char*>(c.storage()->data()) + c.offset() * itemsize(c.dtype()), itemsize(c.dtype()),
                  size_t(c.numel()), f);
  });
}

Tensor load_npy(const std::string& path) {
  InputFile file(path, "load_npy");
  if (file.size() < kMagicLength + 4)
    file.fail_with(fmt::format("file of {} bytes is too short for .npy", file.size()));
  char prefix[kMagicLength + 2];
  file.read(0, sizeof prefix, prefix, "magic");
  if (std::memcmp(prefix, kMagic, kMagicLength) != 0) file.fail_with("not a .npy file (bad magic)");
  int major = static_cast<unsigned char>(prefix[kMagicLength]);
  if (major < 1 || major > 3) file.fail_with(fmt::format("unsupported .npy version {}", major));
  uint64_t header_offset = major == 1 ? 10 : 12, header_length = 0;
  if (major == 1) {
    uint16_t n = 0;
    file.read(8, 2, &n, "header length");
    header_length = n;
  } else {
    uint32_t n = 0;
    file.read(8, 4, &n, "header length");
    header_length = n;
  }
  if (header_length > kMaxHeaderBytes) file.fail_with(fmt::format("header length {} is implausible", header_length));
  std::string text(size_t(header_length), '\0');
  file.read(header_offset, header_length, text.data(), "header");

  auto dict = HeaderParser(text, file).parse_dict();
  auto get = [&]<typename T>(const char* key) -> const T& {
    auto it = dict.find(key);
    if (it == dict.end()) file.fail_with(fmt::format("header has no '{}'", key));
    if (!std::holds_alternative<T>(it->second)) file.fail_with(fmt::format("header '{}' has the wrong type", key));
    return std::get<T>(it->second);
  };
  const std::string& descr = get.template operator()<std::string>("descr");
  bool fortran = get.template operator()<bool>("fortran_order");
  const auto& dims = get.template operator()<std::vector<int64_t>>("shape");
  if (dict.size() != 3) file.fail_with("header has keys besides descr, fortran_order and shape");

  std::optional<DType> dtype;
  if (descr == "<f4" || descr == "=f4") dtype = DType::float32;
  if (descr == "<f8" || descr == "=f8") dtype = DType::float64;
  if (descr == "<i8" || descr == "=i8") dtype = DType::int64;
  if (!dtype) file.fail_with(fmt::format("unsupported dtype '{}' (normlab reads <f4, <f8, <i8)", descr));
  if (dims.size() > size_t(Shape::kMaxDims))
    file.fail_with(fmt::format("{} dims (at most {})", dims.size(), Shape::kMaxDims));
  Shape shape;
  for (int64_t d : fortran ? std::vector<int64_t>(dims.rbegin(), dims.rend()) : dims) shape.push_back(d);
  int64_t numel = 0;
  try {
    numel = checked_numel("load_npy", shape);
  } catch (const Error&) {
    file.fail_with(fmt::format("shape {} has too many elements", shape));
  }
  uint64_t data_offset = header_offset + header_length, bytes = uint64_t(numel) * itemsize(*dtype);
  if (file.size() - data_offset != bytes)
    file.fail_with(fmt::format("shape {} of {} needs {} bytes of data, the file has {}", shape, *dtype, bytes,
                               file.size() - data_offset));
  Tensor t = Tensor::make(shape, *dtype, "load_npy");
  file.read(data_offset, bytes, t.storage()->data(), "data");
  if (!fortran) return t;
  // Fortran order is the row-major layout of the reversed shape: reverse the dims back.
  Shape reverse;
  for (int d = t.dim() - 1; d >= 0; --d) reverse.push_back(d);
  return t.permute(reverse).contiguous();
}

}  // namespace nl::io
