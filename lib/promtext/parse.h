#pragma once
// A strict parser for the Prometheus text exposition format 0.0.4, producing the
// prometheus-cpp metric model, so that prometheus::TextSerializer re-emits what it read.
//
// Strict: any line that the format does not allow is an error naming the line and the
// reason; nothing is silently skipped. Bounded: body size, line length, sample count and
// labels per sample are capped by Limits. Pure (no I/O, no exceptions, no global state),
// so it is directly testable and fuzzable.

#include <prometheus/metric_family.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kvip::promtext {

struct Limits {
  size_t max_body_bytes = 4 * 1024 * 1024;
  size_t max_line_bytes = 64 * 1024;
  size_t max_samples = 20000;  // sample lines, i.e. series
  size_t max_families = 5000;  // a HELP or TYPE line alone makes one, so this bounds them too
  size_t max_labels_per_sample = 64;
};

struct ParseError {
  size_t line = 0;  // 1-based; 0 when it concerns the body as a whole
  std::string reason;

  // "line 12: <reason>", or just the reason when line is 0.
  std::string ToString() const;
};

struct ParseResult {
  // One family per metric in order of appearance; histogram and summary samples
  // (_bucket/_sum/_count, quantiles) are grouped into their family. A HELP or TYPE line
  // without samples yields a family with no metrics. Empty when error is set.
  std::vector<prometheus::MetricFamily> families;
  std::optional<ParseError> error;

  bool ok() const { return !error.has_value(); }
};

ParseResult Parse(std::string_view text, const Limits& limits = {});

// Escapes a docstring for a HELP line (backslash and line feed).
std::string EscapeHelp(std::string_view help);

// The text format's name of `type` (TYPE lines): "counter", "gauge", ...; "untyped" for a
// type the text format has no name for.
std::string_view TypeName(prometheus::MetricType type);

// Makes a parsed family safe to hand to prometheus-cpp 1.0's TextSerializer, which
// writes MetricFamily::help verbatim (so it gets EscapeHelp) and prints doubles with 16
// significant digits (so finite values beyond +-1.797693134862315e308 would print as
// out-of-range numbers that fail the whole scrape; they are clamped to that bound).
void PrepareForTextSerializer(prometheus::MetricFamily& family);

}  // namespace kvip::promtext
