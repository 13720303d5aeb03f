#include "promtext/parse.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace kvip::promtext {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Label = ClientMetric::Label;

// The text format's TYPE names, for both directions.
constexpr std::pair<std::string_view, MetricType> kTypeNames[] = {
    {"counter", MetricType::Counter},     {"gauge", MetricType::Gauge},
    {"histogram", MetricType::Histogram}, {"summary", MetricType::Summary},
    {"untyped", MetricType::Untyped},
};

std::optional<MetricType> ParseType(std::string_view token) {
  for (const auto& [name, type] : kTypeNames)
    if (name == token) return type;
  return std::nullopt;
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLetterOrUnderscore(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsMetricNameChar(char c) { return IsLetterOrUnderscore(c) || c == ':' || IsDigit(c); }
bool IsLabelNameChar(char c) { return IsLetterOrUnderscore(c) || IsDigit(c); }

// A token as it may appear in an error message (and so in a log line): printable ASCII
// only, at most `max` bytes.
std::string Excerpt(std::string_view text, size_t max = 48) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < max; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  out += text.size() > max ? "\"..." : "\"";
  return out;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    // Runs of ASCII, by far the most common text here, 8 bytes at a time.
    if (uint64_t word; i + sizeof word <= s.size()) {
      std::memcpy(&word, s.data() + i, sizeof word);
      if ((word & 0x8080808080808080ULL) == 0) {
        i += sizeof word;
        continue;
      }
    }
    auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length;
    uint32_t code_point;
    if ((lead & 0xe0) == 0xc0) {
      length = 2;
      code_point = lead & 0x1f;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3;
      code_point = lead & 0x0f;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4;
      code_point = lead & 0x07;
    } else {
      return false;
    }
    if (i + length > s.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      auto next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3f);
    }
    static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < kSmallest[length]) return false;  // overlong encoding
    if (code_point > 0x10ffff || (code_point >= 0xd800 && code_point <= 0xdfff)) return false;
    i += length;
  }
  return true;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

// A sample value: a decimal float ("1", "-2.5e-3", ".5"), or NaN, +Inf, -Inf (any case,
// since Go's ParseFloat, which Prometheus uses, accepts any case and prometheus-cpp
// writes "Nan"). Hex floats, "infinity" and digit separators are rejected.
std::optional<double> ParseFloat(std::string_view token) {
  if (EqualsIgnoreCase(token, "nan")) return std::nan("");
  if (EqualsIgnoreCase(token, "inf") || EqualsIgnoreCase(token, "+inf")) return HUGE_VAL;
  if (EqualsIgnoreCase(token, "-inf")) return -HUGE_VAL;
  size_t i = 0;
  if (i < token.size() && (token[i] == '+' || token[i] == '-')) ++i;
  size_t digits = 0;
  while (i < token.size() && IsDigit(token[i])) ++i, ++digits;
  if (i < token.size() && token[i] == '.') {
    ++i;
    while (i < token.size() && IsDigit(token[i])) ++i, ++digits;
  }
  if (digits == 0) return std::nullopt;
  if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
    ++i;
    if (i < token.size() && (token[i] == '+' || token[i] == '-')) ++i;
    size_t exponent_digits = 0;
    while (i < token.size() && IsDigit(token[i])) ++i, ++exponent_digits;
    if (exponent_digits == 0) return std::nullopt;
  }
  if (i != token.size()) return std::nullopt;
  const char* begin = token.data() + (token[0] == '+' ? 1 : 0);  // from_chars takes no '+'
  const char* end = token.data() + token.size();
  double value = 0;
  auto [ptr, error] = std::from_chars(begin, end, value);
  if (error != std::errc() || ptr != end) return std::nullopt;  // out of range, too
  return value;
}

std::optional<int64_t> ParseTimestamp(std::string_view token) {
  if (token.empty() || token[0] == '+') return std::nullopt;
  int64_t value = 0;
  auto [ptr, error] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (error != std::errc() || ptr != token.data() + token.size()) return std::nullopt;
  return value;
}

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// Series identity: the label set regardless of order, encoded unambiguously.
std::string SeriesKey(const std::vector<Label>& labels) {
  std::vector<const Label*> sorted;
  sorted.reserve(labels.size());
  for (const auto& label : labels) sorted.push_back(&label);
  std::sort(sorted.begin(), sorted.end(), [](const Label* a, const Label* b) { return *a < *b; });
  std::string key;
  for (const Label* label : sorted) {
    key += std::to_string(label->name.size()) + ':' + label->name;
    key += std::to_string(label->value.size()) + ':' + label->value;
  }
  return key;
}

std::string SeriesName(std::string_view name, const std::vector<Label>& labels) {
  std::string out(name);
  if (labels.empty()) return out;
  out += '{';
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += labels[i].name + "=\"" + labels[i].value + '"';
  }
  out += '}';
  return out;
}

// Reads one line left to right.
class Cursor {
 public:
  explicit Cursor(std::string_view line) : line_(line) {}

  bool AtEnd() const { return pos_ >= line_.size(); }
  char Peek() const { return line_[pos_]; }
  void Advance() { ++pos_; }
  std::string_view Rest() const { return line_.substr(pos_); }

  // Returns whether at least one blank was skipped.
  bool SkipBlanks() {
    size_t start = pos_;
    while (!AtEnd() && IsBlank(Peek())) ++pos_;
    return pos_ > start;
  }
  std::string_view TakeToken() {
    size_t start = pos_;
    while (!AtEnd() && !IsBlank(Peek())) ++pos_;
    return line_.substr(start, pos_ - start);
  }
  // [a-zA-Z_:][a-zA-Z0-9_:]*; empty when the cursor is not at one.
  std::string_view TakeMetricName() {
    size_t start = pos_;
    if (AtEnd() || IsDigit(Peek()) || !IsMetricNameChar(Peek())) return {};
    while (!AtEnd() && IsMetricNameChar(Peek())) ++pos_;
    return line_.substr(start, pos_ - start);
  }
  // [a-zA-Z_][a-zA-Z0-9_]*; empty when the cursor is not at one.
  std::string_view TakeLabelName() {
    size_t start = pos_;
    if (AtEnd() || !IsLetterOrUnderscore(Peek())) return {};
    while (!AtEnd() && IsLabelNameChar(Peek())) ++pos_;
    return line_.substr(start, pos_ - start);
  }

 private:
  std::string_view line_;
  size_t pos_ = 0;
};

// What a sample line contributes to its family.
enum class Role { kValue, kQuantile, kBucket, kSum, kCount };

// Per series (one ClientMetric) of the open family.
struct SeriesState {
  size_t first_line = 0;
  int64_t timestamp_ms = 0;
  bool has_sum = false;
  bool has_count = false;
  std::unordered_set<double> bounds;  // le or quantile values seen, to refuse duplicates
};

class Parser {
 public:
  explicit Parser(const Limits& limits) : limits_(limits) {}

  ParseResult Run(std::string_view text) {
    ParseResult result;
    if (text.size() > limits_.max_body_bytes) {
      result.error = ParseError{0, "body is " + std::to_string(text.size()) +
                                       " bytes, more than the limit of " +
                                       std::to_string(limits_.max_body_bytes)};
      return result;
    }
    size_t start = 0;
    while (start < text.size() && !error_) {
      ++line_no_;
      size_t end = text.find('\n', start);
      std::string_view line = text.substr(start, end == std::string_view::npos ? end : end - start);
      if (line.size() > limits_.max_line_bytes) {
        Fail("line is longer than the limit of " + std::to_string(limits_.max_line_bytes) +
             " bytes");
      } else if (end == std::string_view::npos) {
        Fail("last line does not end with a newline (truncated body?)");
      } else {
        ParseLine(line);
      }
      start = end == std::string_view::npos ? text.size() : end + 1;
    }
    if (!error_) CloseOpenFamily();
    if (error_) {
      result.error = std::move(error_);
    } else {
      result.families = std::move(families_);
    }
    return result;
  }

 private:
  struct OpenFamily {
    size_t index = 0;  // into families_
    size_t help_line = 0;
    size_t type_line = 0;
    size_t first_sample_line = 0;
    std::unordered_map<std::string, size_t> series_by_key;  // into family.metric / series
    std::vector<SeriesState> series;
  };

  bool Fail(std::string reason, size_t line = 0) {
    if (!error_) error_ = ParseError{line ? line : line_no_, std::move(reason)};
    return false;
  }

  MetricFamily& Open() { return families_[open_->index]; }

  bool ParseLine(std::string_view line) {
    if (!line.empty() && line.back() == '\r') {
      return Fail("line ends with a carriage return (the format wants \\n line endings)");
    }
    Cursor cursor(line);
    cursor.SkipBlanks();
    if (cursor.AtEnd()) return true;  // empty lines are allowed
    if (cursor.Peek() == '#') {
      cursor.Advance();
      return ParseComment(cursor);
    }
    return ParseSample(cursor);
  }

  // "# HELP name docstring", "# TYPE name type"; any other comment is ignored.
  bool ParseComment(Cursor& cursor) {
    if (!cursor.SkipBlanks()) return true;
    std::string_view keyword = cursor.TakeToken();
    if (keyword != "HELP" && keyword != "TYPE") return true;
    cursor.SkipBlanks();
    std::string_view token = cursor.Rest();
    token = token.substr(0, token.find_first_of(" \t"));
    std::string_view name = cursor.TakeMetricName();
    if (token.empty()) return Fail(std::string(keyword) + " line without a metric name");
    if (name != token) {
      return Fail(std::string(keyword) + " line: invalid metric name " + Excerpt(token));
    }
    cursor.SkipBlanks();
    if (!DeclareFamily(name)) return false;
    return keyword == "HELP" ? SetHelp(name, cursor.Rest()) : SetType(name, cursor);
  }

  bool SetHelp(std::string_view name, std::string_view docstring) {
    if (open_->help_line) {
      return Fail("second HELP line for " + Excerpt(name) + " (first at line " +
                  std::to_string(open_->help_line) + ")");
    }
    std::string help;
    // Most docstrings have no escape: copy them whole.
    const size_t first_escape = docstring.find('\\');
    help.reserve(docstring.size());
    help.append(docstring.substr(0, first_escape));
    for (size_t i = help.size(); i < docstring.size(); ++i) {
      if (docstring[i] != '\\') {
        help += docstring[i];
        continue;
      }
      char next = i + 1 < docstring.size() ? docstring[i + 1] : '\0';
      if (next == '\\') {
        help += '\\';
      } else if (next == 'n') {
        help += '\n';
      } else {
        return Fail("HELP line for " + Excerpt(name) + ": invalid escape " +
                    Excerpt(docstring.substr(i, 2)) + " (only \\\\ and \\n are allowed)");
      }
      ++i;
    }
    if (!IsValidUtf8(help)) return Fail("HELP line for " + Excerpt(name) + " is not valid UTF-8");
    open_->help_line = line_no_;
    Open().help = std::move(help);
    return true;
  }

  bool SetType(std::string_view name, Cursor& cursor) {
    std::string_view token = cursor.TakeToken();
    if (token.empty()) return Fail("TYPE line for " + Excerpt(name) + " has no type");
    cursor.SkipBlanks();
    if (!cursor.AtEnd()) {
      return Fail("TYPE line for " + Excerpt(name) +
                  ": unexpected text after the type: " + Excerpt(cursor.Rest()));
    }
    auto type = ParseType(token);
    if (!type) {
      return Fail("TYPE line for " + Excerpt(name) + ": unknown type " + Excerpt(token) +
                  " (want counter, gauge, histogram, summary or untyped)");
    }
    if (open_->type_line) {
      std::string first(TypeName(Open().type));
      return Fail("second TYPE line for " + Excerpt(name) + " (" +
                  (first == token ? "" : "conflicting with ") + first + " at line " +
                  std::to_string(open_->type_line) + ")");
    }
    if (open_->first_sample_line) {
      return Fail("TYPE line for " + Excerpt(name) + " after its first sample (line " +
                  std::to_string(open_->first_sample_line) + ")");
    }
    if (*type == MetricType::Histogram || *type == MetricType::Summary) {
      for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
        if (suffix == "_bucket" && *type == MetricType::Summary) continue;
        std::string child = std::string(name) + std::string(suffix);
        if (auto it = family_by_name_.find(child); it != family_by_name_.end()) {
          return Fail(std::string(TypeName(*type)) + " " + Excerpt(name) + " clashes with metric " +
                      Excerpt(child) + " at line " + std::to_string(first_line_[it->second]));
        }
      }
    }
    open_->type_line = line_no_;
    Open().type = *type;
    return true;
  }

  bool ParseSample(Cursor& cursor) {
    std::string_view name = cursor.TakeMetricName();
    if (name.empty()) return Fail("expected a metric name or '#', found " + Excerpt(cursor.Rest()));
    bool blank_after_name = cursor.SkipBlanks();
    std::vector<Label> labels;
    if (!cursor.AtEnd() && cursor.Peek() == '{') {
      cursor.Advance();
      if (!ParseLabels(cursor, name, labels)) return false;
      blank_after_name = false;
    }
    if (!cursor.SkipBlanks() && !blank_after_name) {
      if (cursor.AtEnd()) return Fail("sample " + Excerpt(name) + " has no value");
      return Fail("sample " + Excerpt(name) + ": unexpected " + Excerpt(cursor.Rest()) +
                  " after the metric name");
    }
    std::string_view value_token = cursor.TakeToken();
    auto value = ParseFloat(value_token);
    if (!value) return Fail("sample " + Excerpt(name) + ": invalid value " + Excerpt(value_token));
    int64_t timestamp_ms = 0;
    cursor.SkipBlanks();
    if (!cursor.AtEnd()) {
      std::string_view timestamp_token = cursor.TakeToken();
      auto timestamp = ParseTimestamp(timestamp_token);
      if (!timestamp) {
        return Fail("sample " + Excerpt(name) + ": invalid timestamp " + Excerpt(timestamp_token) +
                    " (want integer milliseconds)");
      }
      timestamp_ms = *timestamp;
      cursor.SkipBlanks();
      if (!cursor.AtEnd()) {
        return Fail("sample " + Excerpt(name) + ": unexpected " + Excerpt(cursor.Rest()) +
                    " after the timestamp");
      }
    }
    if (++samples_ > limits_.max_samples) {
      return Fail("more than " + std::to_string(limits_.max_samples) + " samples");
    }
    Role role;
    if (!ResolveFamily(name, role)) return false;
    if (!open_->first_sample_line) open_->first_sample_line = line_no_;
    return AddSample(name, role, std::move(labels), *value, timestamp_ms);
  }

  // After '{': label="value" pairs separated by ',' (a trailing ',' is allowed), then '}'.
  bool ParseLabels(Cursor& cursor, std::string_view name, std::vector<Label>& labels) {
    while (true) {
      cursor.SkipBlanks();
      if (cursor.AtEnd()) return Fail("sample " + Excerpt(name) + ": unterminated label set");
      if (cursor.Peek() == '}') {
        cursor.Advance();
        return true;
      }
      std::string_view label_name = cursor.TakeLabelName();
      if (label_name.empty()) {
        return Fail("sample " + Excerpt(name) + ": invalid label name at " +
                    Excerpt(cursor.Rest()));
      }
      if (label_name.substr(0, 2) == "__") {
        return Fail("sample " + Excerpt(name) + ": label name " + Excerpt(label_name) +
                    " is reserved (starts with __)");
      }
      for (const auto& label : labels) {
        if (label.name == label_name) {
          return Fail("sample " + Excerpt(name) + ": duplicate label " + Excerpt(label_name));
        }
      }
      if (labels.size() == limits_.max_labels_per_sample) {
        return Fail("sample " + Excerpt(name) + " has more than " +
                    std::to_string(limits_.max_labels_per_sample) + " labels");
      }
      cursor.SkipBlanks();
      if (cursor.AtEnd() || cursor.Peek() != '=') {
        return Fail("sample " + Excerpt(name) + ": expected '=' after label " +
                    Excerpt(label_name));
      }
      cursor.Advance();
      cursor.SkipBlanks();
      if (cursor.AtEnd() || cursor.Peek() != '"') {
        return Fail("sample " + Excerpt(name) + ": label " + Excerpt(label_name) +
                    " has no quoted value");
      }
      cursor.Advance();
      std::string value;
      if (!ParseLabelValue(cursor, name, label_name, value)) return false;
      labels.push_back({std::string(label_name), std::move(value)});
      cursor.SkipBlanks();
      if (cursor.AtEnd()) return Fail("sample " + Excerpt(name) + ": unterminated label set");
      if (cursor.Peek() == ',') {
        cursor.Advance();
      } else if (cursor.Peek() != '}') {
        return Fail("sample " + Excerpt(name) + ": expected ',' or '}' after label " +
                    Excerpt(label_name) + ", found " + Excerpt(cursor.Rest()));
      }
    }
  }

  // After the opening quote, up to and including the closing one.
  bool ParseLabelValue(Cursor& cursor, std::string_view name, std::string_view label_name,
                       std::string& value) {
    while (true) {
      if (cursor.AtEnd()) {
        return Fail("sample " + Excerpt(name) + ": unterminated value of label " +
                    Excerpt(label_name));
      }
      char c = cursor.Peek();
      cursor.Advance();
      if (c == '"') break;
      if (c != '\\') {
        value += c;
        continue;
      }
      char next = cursor.AtEnd() ? '\0' : cursor.Peek();
      if (next == '\\' || next == '"') {
        value += next;
      } else if (next == 'n') {
        value += '\n';
      } else {
        return Fail("sample " + Excerpt(name) + ": invalid escape in value of label " +
                    Excerpt(label_name) + " (only \\\\, \\\" and \\n are allowed)");
      }
      cursor.Advance();
    }
    if (!IsValidUtf8(value)) {
      return Fail("sample " + Excerpt(name) + ": value of label " + Excerpt(label_name) +
                  " is not valid UTF-8");
    }
    return true;
  }

  // Finds the family a sample belongs to: the open one when the name fits it (histogram
  // and summary samples carry suffixes), else a new untyped family named after it.
  bool ResolveFamily(std::string_view name, Role& role) {
    if (open_) {
      const MetricFamily& family = Open();
      std::string_view base = family.name;
      bool is_histogram = family.type == MetricType::Histogram;
      bool is_summary = family.type == MetricType::Summary;
      auto is = [&](std::string_view suffix) {
        return name.size() == base.size() + suffix.size() && name.substr(0, base.size()) == base &&
               name.substr(base.size()) == suffix;
      };
      if ((is_histogram || is_summary) && is("_sum")) {
        role = Role::kSum;
        return true;
      }
      if ((is_histogram || is_summary) && is("_count")) {
        role = Role::kCount;
        return true;
      }
      if (is_histogram && is("_bucket")) {
        role = Role::kBucket;
        return true;
      }
      if (name == base) {
        if (is_histogram) {
          return Fail("sample " + Excerpt(name) + " of histogram " + Excerpt(base) +
                      " must end in _bucket, _sum or _count");
        }
        role = is_summary ? Role::kQuantile : Role::kValue;
        return true;
      }
    }
    if (!DeclareFamily(name)) return false;
    role = Role::kValue;
    return true;
  }

  // Makes `name` the open family: keeps it if it is open, else closes the open one and
  // starts `name`, which must not have appeared before (one family, one group of lines).
  bool DeclareFamily(std::string_view name) {
    if (open_ && Open().name == name) return true;
    if (!CloseOpenFamily()) return false;
    std::string key(name);
    if (auto it = family_by_name_.find(key); it != family_by_name_.end()) {
      return Fail("metric " + Excerpt(name) + " appears again after other metrics (first at line " +
                  std::to_string(first_line_[it->second]) +
                  "); the lines of one metric must be contiguous");
    }
    for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (!EndsWith(name, suffix)) continue;
      std::string parent(name.substr(0, name.size() - suffix.size()));
      auto it = family_by_name_.find(parent);
      if (it == family_by_name_.end()) continue;
      MetricType type = families_[it->second].type;
      if (type == MetricType::Histogram || (type == MetricType::Summary && suffix != "_bucket")) {
        return Fail("metric " + Excerpt(name) + " belongs to " + std::string(TypeName(type)) + " " +
                    Excerpt(parent) + " (line " + std::to_string(first_line_[it->second]) +
                    ") but is not with the rest of its lines");
      }
    }
    if (families_.size() == limits_.max_families) {
      return Fail("more than " + std::to_string(limits_.max_families) + " metrics");
    }
    MetricFamily family;
    family.name = key;
    family.type = MetricType::Untyped;
    family_by_name_.emplace(std::move(key), families_.size());
    first_line_.push_back(line_no_);
    families_.push_back(std::move(family));
    open_ = OpenFamily{};  // not emplace(): clang 14 rejects it for this nested aggregate
    open_->index = families_.size() - 1;
    return true;
  }

  // Removes the label `name` from `labels` into `value`; false when absent.
  static bool TakeLabel(std::vector<Label>& labels, std::string_view name, std::string& value) {
    auto it = std::find_if(labels.begin(), labels.end(),
                           [name](const Label& label) { return label.name == name; });
    if (it == labels.end()) return false;
    value = std::move(it->value);
    labels.erase(it);
    return true;
  }

  static bool HasLabel(const std::vector<Label>& labels, std::string_view name) {
    return std::any_of(labels.begin(), labels.end(),
                       [name](const Label& label) { return label.name == name; });
  }

  // Histogram and summary counts are integers in the model (and in every client library).
  bool ToCount(std::string_view name, double value, uint64_t& count) {
    if (!std::isfinite(value) || value < 0 || value != std::floor(value) || value >= 0x1p64) {
      return Fail("sample " + Excerpt(name) + ": count " + std::to_string(value) +
                  " is not a non-negative integer");
    }
    count = static_cast<uint64_t>(value);
    return true;
  }

  bool AddSample(std::string_view name, Role role, std::vector<Label> labels, double value,
                 int64_t timestamp_ms) {
    MetricFamily& family = Open();
    std::string bound_text;  // le or quantile
    double bound = 0;
    if (role == Role::kQuantile || role == Role::kBucket) {
      std::string_view label = role == Role::kQuantile ? "quantile" : "le";
      if (!TakeLabel(labels, label, bound_text)) {
        return Fail("sample " + Excerpt(name) + " has no " + std::string(label) + " label");
      }
      auto parsed = ParseFloat(bound_text);
      if (!parsed || std::isnan(*parsed) ||
          (role == Role::kQuantile && (*parsed < 0 || *parsed > 1))) {
        return Fail("sample " + Excerpt(name) + ": invalid " + std::string(label) + " " +
                    Excerpt(bound_text) +
                    (role == Role::kQuantile ? " (want a number from 0 to 1)" : ""));
      }
      bound = *parsed;
    } else if (role == Role::kSum || role == Role::kCount) {
      std::string_view reserved = family.type == MetricType::Histogram ? "le" : "quantile";
      if (HasLabel(labels, reserved)) {
        return Fail("sample " + Excerpt(name) + ": label " + std::string(reserved) +
                    " is not allowed on _sum and _count");
      }
    }

    std::string key = SeriesKey(labels);
    auto [it, inserted] = open_->series_by_key.emplace(key, family.metric.size());
    if (inserted) {
      ClientMetric metric;
      metric.label = std::move(labels);
      metric.timestamp_ms = timestamp_ms;
      family.metric.push_back(std::move(metric));
      open_->series.push_back(SeriesState{line_no_, timestamp_ms, false, false, {}});
    } else if (role == Role::kValue) {
      return Fail("duplicate sample " + Excerpt(SeriesName(name, labels), 120) +
                  " (first at line " + std::to_string(open_->series[it->second].first_line) + ")");
    }
    ClientMetric& metric = family.metric[it->second];
    SeriesState& series = open_->series[it->second];
    if (series.timestamp_ms != timestamp_ms) {
      return Fail("sample " + Excerpt(name) + ": timestamp differs from the other samples of " +
                  "its series (line " + std::to_string(series.first_line) + ")");
    }
    auto duplicate = [&] {
      std::string what = SeriesName(name, metric.label);
      if (!bound_text.empty()) {
        what += " " + std::string(role == Role::kBucket ? "le=" : "quantile=") + bound_text;
      }
      return Fail("duplicate sample " + Excerpt(what, 120));
    };
    switch (role) {
      case Role::kValue:
        if (family.type == MetricType::Counter) {
          metric.counter.value = value;
        } else if (family.type == MetricType::Gauge) {
          metric.gauge.value = value;
        } else {
          metric.untyped.value = value;
        }
        return true;
      case Role::kQuantile:
        if (!series.bounds.insert(bound).second) return duplicate();
        metric.summary.quantile.push_back({bound, value});
        return true;
      case Role::kBucket: {
        if (!series.bounds.insert(bound).second) return duplicate();
        uint64_t count = 0;
        if (!ToCount(name, value, count)) return false;
        metric.histogram.bucket.push_back({count, bound});
        return true;
      }
      case Role::kSum:
        if (series.has_sum) return duplicate();
        series.has_sum = true;
        (family.type == MetricType::Histogram ? metric.histogram.sample_sum
                                              : metric.summary.sample_sum) = value;
        return true;
      case Role::kCount: {
        if (series.has_count) return duplicate();
        series.has_count = true;
        uint64_t count = 0;
        if (!ToCount(name, value, count)) return false;
        (family.type == MetricType::Histogram ? metric.histogram.sample_count
                                              : metric.summary.sample_count) = count;
        return true;
      }
    }
    return true;
  }

  // A histogram or summary is complete only when its lines have ended; check it then.
  bool CloseOpenFamily() {
    if (!open_) return true;
    MetricFamily& family = Open();
    bool ok = true;
    if (family.type == MetricType::Histogram || family.type == MetricType::Summary) {
      for (size_t i = 0; i < family.metric.size() && ok; ++i) {
        ok = CheckSeries(family, family.metric[i], open_->series[i]);
      }
    }
    open_.reset();
    return ok;
  }

  bool CheckSeries(const MetricFamily& family, ClientMetric& metric, const SeriesState& series) {
    std::string_view kind = TypeName(family.type);
    auto series_name = [&] { return Excerpt(SeriesName(family.name, metric.label), 120); };
    if (!series.has_sum || !series.has_count) {
      return Fail(std::string(kind) + " series " + series_name() + " has no " +
                      (series.has_sum ? "_count" : "_sum") + " sample",
                  series.first_line);
    }
    if (family.type != MetricType::Histogram) return true;
    auto& buckets = metric.histogram.bucket;
    std::sort(buckets.begin(), buckets.end(),
              [](const auto& a, const auto& b) { return a.upper_bound < b.upper_bound; });
    if (buckets.empty() || !std::isinf(buckets.back().upper_bound) ||
        buckets.back().upper_bound < 0) {
      return Fail("histogram series " + series_name() + " has no le=\"+Inf\" bucket",
                  series.first_line);
    }
    if (buckets.back().cumulative_count != metric.histogram.sample_count) {
      return Fail("histogram series " + series_name() + ": le=\"+Inf\" bucket (" +
                      std::to_string(buckets.back().cumulative_count) + ") differs from _count (" +
                      std::to_string(metric.histogram.sample_count) + ")",
                  series.first_line);
    }
    for (size_t i = 1; i < buckets.size(); ++i) {
      if (buckets[i].cumulative_count < buckets[i - 1].cumulative_count) {
        return Fail("histogram series " + series_name() + ": bucket counts are not cumulative",
                    series.first_line);
      }
    }
    return true;
  }

  const Limits& limits_;
  std::vector<MetricFamily> families_;
  std::vector<size_t> first_line_;  // per family
  std::unordered_map<std::string, size_t> family_by_name_;
  std::optional<OpenFamily> open_;
  size_t line_no_ = 0;
  size_t samples_ = 0;
  std::optional<ParseError> error_;
};

}  // namespace

std::string_view TypeName(MetricType type) {
  for (const auto& [name, named_type] : kTypeNames)
    if (named_type == type) return name;
  return "untyped";
}

std::string ParseError::ToString() const {
  return line ? "line " + std::to_string(line) + ": " + reason : reason;
}

ParseResult Parse(std::string_view text, const Limits& limits) { return Parser(limits).Run(text); }

namespace {
// Whether EscapeHelp has anything to do (two memchr scans beat one find_first_of).
bool NeedsHelpEscape(std::string_view help) {
  return help.find('\\') != std::string_view::npos || help.find('\n') != std::string_view::npos;
}
}  // namespace

std::string EscapeHelp(std::string_view help) {
  if (!NeedsHelpEscape(help)) return std::string(help);
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

void ClampToPrintable(double& value) {
  constexpr double kLargestPrintable = 1.797693134862315e308;
  if (std::isfinite(value)) value = std::clamp(value, -kLargestPrintable, kLargestPrintable);
}

}  // namespace

void PrepareForTextSerializer(prometheus::MetricFamily& family) {
  if (NeedsHelpEscape(family.help)) family.help = EscapeHelp(family.help);
  for (auto& metric : family.metric) {
    ClampToPrintable(metric.counter.value);
    ClampToPrintable(metric.gauge.value);
    ClampToPrintable(metric.untyped.value);
    ClampToPrintable(metric.summary.sample_sum);
    for (auto& quantile : metric.summary.quantile) ClampToPrintable(quantile.value);
    ClampToPrintable(metric.histogram.sample_sum);
    for (auto& bucket : metric.histogram.bucket) ClampToPrintable(bucket.upper_bound);
  }
}

}  // namespace kvip::promtext
