#include "core/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "core/io/atomic_file.h"

namespace nl::io {

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian machine");

namespace {
constexpr uint64_t kMaxHeaderBytes = 100 << 20;  // the reference implementation's limit

std::string_view safetensors_dtype(DType d) {
  switch (d) {
    case DType::float32: return "F32";
    case DType::float64: return "F64";
    case DType::int64: return "I64";
  }
  return "?";
}

std::optional<DType> dtype_from_safetensors(const std::string& s) {
  if (s == "F32") return DType::float32;
  if (s == "F64") return DType::float64;
  if (s == "I64") return DType::int64;
  return std::nullopt;
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

struct Header {
  std::vector<Entry> entries;
  Metadata metadata;
  uint64_t data_start = 0;
};

// Reads and validates everything but the tensor bytes.
Header read_header(const InputFile& file) {
  if (file.size() < 8)
    file.fail_with(fmt::format("file of {} bytes is too short for a safetensors header", file.size()));
  uint64_t n = 0;
  file.read(0, 8, &n, "header length");
  if (n > file.size() - 8)
    file.fail_with(fmt::format("header length {} exceeds the {} bytes after the length field", n, file.size() - 8));
  if (n > kMaxHeaderBytes)
    file.fail_with(fmt::format("header length {} exceeds the limit of {} bytes", n, kMaxHeaderBytes));
  std::string text(size_t(n), '\0');
  file.read(8, n, text.data(), "header");

  nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) file.fail_with("header is not valid JSON");
  if (!json.is_object()) file.fail_with("header is not a JSON object");

  Header header;
  header.data_start = 8 + n;
  uint64_t buffer_size = file.size() - header.data_start;
  for (auto& item : json.items()) {
    // (not a structured binding: clang before 16 cannot capture one in the lambda below)
    const std::string& name = item.key();
    auto& info = item.value();
    if (name == "__metadata__") {
      if (!info.is_object()) file.fail_with("__metadata__ is not an object");
      for (auto& [key, value] : info.items()) {
        if (!value.is_string()) file.fail_with(fmt::format("__metadata__ value of \"{}\" is not a string", key));
        header.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& what) { file.fail_with(fmt::format("tensor \"{}\": {}", name, what)); };
    if (!info.is_object()) bad("entry is not an object");
    if (!info.contains("dtype") || !info["dtype"].is_string()) bad("missing dtype string");
    auto dtype = dtype_from_safetensors(info["dtype"].get<std::string>());
    if (!dtype)
      bad(fmt::format("unsupported dtype \"{}\" (normlab reads F32, F64, I64)", info["dtype"].get<std::string>()));
    if (!info.contains("shape") || !info["shape"].is_array()) bad("missing shape array");
    if (info["shape"].size() > size_t(Shape::kMaxDims))
      bad(fmt::format("shape has {} dims (at most {})", info["shape"].size(), Shape::kMaxDims));
    Shape shape;
    for (auto& d : info["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0)
        bad(fmt::format("shape {} is not a list of sizes >= 0", info["shape"].dump()));
      shape.push_back(d.get<int64_t>());
    }
    int64_t numel = 0;
    try {
      numel = checked_numel("load_safetensors", shape);
    } catch (const Error&) {
      bad(fmt::format("shape {} has too many elements", shape));
    }
    auto& offsets = info["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
      bad("data_offsets must be two integers >= 0");
    uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    if (begin > end || end > buffer_size)
      bad(fmt::format("data_offsets [{}, {}] outside the data buffer of {} bytes", begin, end, buffer_size));
    uint64_t expected = uint64_t(numel) * itemsize(*dtype);
    if (end - begin != expected)
      bad(fmt::format("data_offsets cover {} bytes but shape {} of {} needs {}", end - begin, shape, *dtype, expected));
    header.entries.push_back({name, *dtype, shape, begin, end});
  }
  // The format requires the ranges to tile the buffer without overlap.
  std::vector<const Entry*> sorted;
  for (auto& e : header.entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i]->begin < sorted[i - 1]->end)
      file.fail_with(fmt::format("tensors \"{}\" and \"{}\" overlap", sorted[i - 1]->name, sorted[i]->name));
  return header;
}
}  // namespace

void save_safetensors(const std::string& path, const StateDict& tensors, const Metadata& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<Tensor> contiguous;
  uint64_t offset = 0;
  for (auto& [name, t] : tensors) {
    if (name == "__metadata__") fail("save_safetensors: {}: \"__metadata__\" is reserved", path);
    if (!t.defined()) fail("save_safetensors: {}: tensor \"{}\" is undefined", path, name);
    Tensor c = t.contiguous();
    uint64_t bytes = uint64_t(c.numel()) * itemsize(c.dtype());
    header[name] = {{"dtype", safetensors_dtype(c.dtype())},
                    {"shape", std::vector<int64_t>(c.shape().begin(), c.shape().end())},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(c);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // pad so the data starts 8-byte aligned
  write_file_atomically(path, [&](std::FILE* f) {
    uint64_t n = text.size();
    std::fwrite(&n, 8, 1, f);
    std::fwrite(text.data(), 1, text.size(), f);
    for (const Tensor& c : contiguous)
      if (c.numel() > 0)
        std::fwrite(static_cast<const char*>(c.storage()->data()) + c.offset() * itemsize(c.dtype()),
                    itemsize(c.dtype()), size_t(c.numel()), f);
  });
}

StateDict load_safetensors(const std::string& path) {
  InputFile file(path, "load_safetensors");
  Header header = read_header(file);
  StateDict out;
  for (const Entry& e : header.entries) {
    Tensor t = Tensor::make(e.shape, e.dtype, "load_safetensors");
    file.read(header.data_start + e.begin, e.end - e.begin, t.storage()->data(), e.name.c_str());
    out[e.name] = t;
  }
  return out;
}

Metadata load_safetensors_metadata(const std::string& path) {
  InputFile file(path, "load_safetensors");
  return read_header(file).metadata;
}

}  // namespace nl::io
