#include "manifest/ansible_vars.h"

#include <yaml-cpp/yaml.h>

#include <vector>

namespace kvip::manifest {
namespace {

struct ValueSpan {
  size_t begin = 0;  // first byte of the value, after an opening quote
  size_t end = 0;    // one past the value, before a closing quote
};

// Finds `key: value` at the start of a line (top level, no indent) and the value's bytes.
// Returns every match so the caller can insist on exactly one.
std::vector<std::optional<ValueSpan>> FindKey(std::string_view text, std::string_view key) {
  std::vector<std::optional<ValueSpan>> found;
  size_t line_start = 0;
  while (line_start < text.size()) {
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = text.size();
    std::string_view line = text.substr(line_start, line_end - line_start);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.starts_with(key)) {
      std::string_view rest = line.substr(key.size());
      size_t pos = rest.find_first_not_of(" \t");
      if (pos != std::string_view::npos && rest[pos] == ':' &&
          (pos + 1 == rest.size() || rest[pos + 1] == ' ' || rest[pos + 1] == '\t')) {
        size_t value = rest.find_first_not_of(" \t", pos + 1);
        std::optional<ValueSpan> span;
        if (value != std::string_view::npos && rest[value] != '#') {
          char quote = rest[value];
          size_t offset = line_start + key.size();
          if (quote == '"' || quote == '\'') {
            size_t close = rest.find(quote, value + 1);
            if (close != std::string_view::npos)
              span = ValueSpan{offset + value + 1, offset + close};
          } else {
            size_t stop = rest.find(" #", value);
            if (stop == std::string_view::npos) stop = rest.size();
            while (stop > value && (rest[stop - 1] == ' ' || rest[stop - 1] == '\t')) --stop;
            span = ValueSpan{offset + value, offset + stop};
          }
        }
        found.push_back(span);
      }
    }
    line_start = line_end + 1;
  }
  return found;
}

std::string Emit(const YAML::Node& node) {
  YAML::Emitter out;
  out << node;
  return out.c_str();
}

}  // namespace

std::optional<std::string> SetAnsibleVar(std::string_view text, const std::string& source,
                                         const std::string& key, const std::string& value,
                                         std::string& error) {
  YAML::Node before;
  try {
    before = YAML::Load(std::string(text));
  } catch (const YAML::Exception& err) {
    error = source + ": invalid YAML at line " + std::to_string(err.mark.line + 1) + ": " + err.msg;
    return std::nullopt;
  }
  if (!before.IsMap() || !before[key]) {
    error = source + ": no top-level \"" + key + "\" key";
    return std::nullopt;
  }
  if (!before[key].IsScalar()) {
    error = source + ": \"" + key + "\" is not a scalar; edit it by hand";
    return std::nullopt;
  }
  auto spans = FindKey(text, key);
  if (spans.size() != 1) {
    error = source + ": \"" + key + "\" appears " + std::to_string(spans.size()) +
            " times at the start of a line; expected once";
    return std::nullopt;
  }
  if (!spans.front()) {
    error = source + ": \"" + key + "\" is not a one-line scalar; edit it by hand";
    return std::nullopt;
  }
  if (value.find_first_of("\"'#\n\r\\") != std::string::npos) {
    error = "refusing to write \"" + value + "\" into " + source + ": it needs YAML escaping";
    return std::nullopt;
  }
  std::string result(text);
  result.replace(spans.front()->begin, spans.front()->end - spans.front()->begin, value);
  try {
    YAML::Node after = YAML::Load(result);
    if (!after[key] || after[key].as<std::string>() != value) {
      error = source + ": setting \"" + key + "\" did not give the value \"" + value + "\"";
      return std::nullopt;
    }
    after[key] = before[key];
    if (Emit(after) != Emit(before)) {
      error = source + ": setting \"" + key + "\" would change more than its value";
      return std::nullopt;
    }
  } catch (const YAML::Exception& err) {
    error = source + ": setting \"" + key + "\" breaks the YAML: " + err.msg;
    return std::nullopt;
  }
  return result;
}

}  // namespace kvip::manifest
