#include "kube/lease.h"

#include <cctype>

#include "kube/watch_json.h"

namespace kvip::kube {
namespace {

using detail::ParseDocument;
using rapidjson::Value;

bool LeaseFromValue(const Value& object, Lease& lease, std::string& error) {
  if (!object.IsObject()) {
    error = "the Lease is not a JSON object";
    return false;
  }
  detail::ReadMetadata(object, lease);
  const Value* spec = json::Member(object, "spec");
  if (!spec) return true;  // a BOOKMARK carries metadata only
  lease.holder = json::String(*spec, "holderIdentity");
  lease.duration_seconds = json::Number(*spec, "leaseDurationSeconds");
  lease.transitions = json::Number(*spec, "leaseTransitions");
  for (auto [key, field] :
       {std::pair{"acquireTime", &lease.acquire_time}, std::pair{"renewTime", &lease.renew_time}}) {
    std::string text = json::String(*spec, key);
    if (text.empty()) continue;
    *field = ParseRfc3339(text);
    if (!*field) {
      error = std::string("spec.") + key + " \"" + text + "\" is not an RFC 3339 time";
      return false;
    }
  }
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
long long DaysFromCivil(long long y, unsigned m, unsigned d) {
  y -= m <= 2;
  const long long era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long long>(doe) - 719468;
}

bool Digits(std::string_view text, size_t at, size_t count, int& value) {
  if (at + count > text.size()) return false;
  value = 0;
  for (size_t i = at; i < at + count; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
    value = value * 10 + (text[i] - '0');
  }
  return true;
}

}  // namespace

std::optional<double> ParseRfc3339(std::string_view text) {
  int year, month, day, hour, minute, second;
  if (!Digits(text, 0, 4, year) || text.size() < 20 || text[4] != '-' ||
      !Digits(text, 5, 2, month) || text[7] != '-' || !Digits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't') || !Digits(text, 11, 2, hour) || text[13] != ':' ||
      !Digits(text, 14, 2, minute) || text[16] != ':' || !Digits(text, 17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  size_t at = 19;
  double fraction = 0;
  if (at < text.size() && text[at] == '.') {
    double scale = 0.1;
    size_t digits = 0;
    for (++at; at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])); ++at) {
      fraction += (text[at] - '0') * scale;
      scale /= 10;
      ++digits;
    }
    if (digits == 0) return std::nullopt;
  }
  int offset_seconds = 0;
  if (at < text.size() && (text[at] == 'Z' || text[at] == 'z')) {
    ++at;
  } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    int offset_hours, offset_minutes;
    if (!Digits(text, at + 1, 2, offset_hours) || at + 3 >= text.size() || text[at + 3] != ':' ||
        !Digits(text, at + 4, 2, offset_minutes)) {
      return std::nullopt;
    }
    offset_seconds = (offset_hours * 60 + offset_minutes) * 60 * (text[at] == '-' ? -1 : 1);
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != text.size()) return std::nullopt;
  long long days = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  double seconds =
      static_cast<double>(days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds);
  return seconds + fraction;
}

std::optional<Lease> ParseLease(std::string_view json, std::string& error) {
  rapidjson::Document doc;
  Lease lease;
  if (!ParseDocument(json, doc, error) || !LeaseFromValue(doc, lease, error)) return std::nullopt;
  return lease;
}

std::optional<LeaseList> ParseLeaseList(std::string_view json, std::string& error) {
  return detail::ParseObjectList<Lease>(json, &LeaseFromValue, error);
}

std::optional<WatchEvent> ParseLeaseWatchEvent(std::string_view json, std::string& error) {
  return detail::ParseObjectEvent<Lease>(json, &LeaseFromValue, error);
}

bool LineFramer::Feed(std::string_view bytes,
                      const std::function<void(std::string_view)>& on_line) {
  while (!bytes.empty()) {
    size_t newline = bytes.find('\n');
    if (newline == std::string_view::npos) {
      if (pending_.size() + bytes.size() > max_line_bytes_) return false;
      pending_.append(bytes);
      return true;
    }
    std::string_view line = bytes.substr(0, newline);
    bytes.remove_prefix(newline + 1);
    if (pending_.size() + line.size() > max_line_bytes_) return false;
    if (!pending_.empty()) {
      pending_.append(line);
      line = pending_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") != std::string_view::npos) on_line(line);
    pending_.clear();
  }
  return true;
}

}  // namespace kvip::kube
