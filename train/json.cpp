#include "train/json.h"

#include "core/io/atomic_file.h"

namespace nl::train {

std::string json_text(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

void write_json(const std::string& path, const nlohmann::json& j) {
  io::write_file_atomically(path, json_text(j, 2) + "\n");
}

}  // namespace nl::train
