#pragma once
// JSON results (nlohmann::json), as text and as a file written atomically.
// Generated text samples may hold bytes that are not UTF-8; they become
// U+FFFD instead of making the dump throw.
#include <nlohmann/json.hpp>
#include <string>

namespace nl::train {

// j as JSON text: one line (indent < 0) or indented by `indent` spaces.
std::string json_text(const nlohmann::json& j, int indent = -1);

// j indented by 2, with a final newline, into path, atomically.
void write_json(const std::string& path, const nlohmann::json& j);

}  // namespace nl::train
