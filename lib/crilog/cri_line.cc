#include "crilog/cri_line.h"

#include <algorithm>

namespace kvip::crilog {
namespace {

// Splits off the field before the next space; false if there is no space.
bool NextField(std::string_view& rest, std::string_view& field) {
  size_t space = rest.find(' ');
  if (space == std::string_view::npos) return false;
  field = rest.substr(0, space);
  rest.remove_prefix(space + 1);
  return true;
}

bool LooksLikeRfc3339(std::string_view timestamp) {
  // "2026-11-25T15:00:00.123456789Z" or with an offset; the date part is checked.
  if (timestamp.size() < 20 || timestamp[4] != '-' || timestamp[7] != '-' || timestamp[10] != 'T') {
    return false;
  }
  return std::all_of(timestamp.begin(), timestamp.begin() + 4,
                     [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

ParsedCriLine ParseCriLine(std::string_view line) {
  std::string_view rest = line, timestamp, stream, tags;
  if (!NextField(rest, timestamp) || !LooksLikeRfc3339(timestamp)) {
    return {std::nullopt, "no RFC 3339 timestamp"};
  }
  if (!NextField(rest, stream)) return {std::nullopt, "no stream field"};
  CriRecord record;
  record.timestamp = timestamp;
  if (stream == "stdout") {
    record.stream = CriStream::kStdout;
  } else if (stream == "stderr") {
    record.stream = CriStream::kStderr;
  } else {
    return {std::nullopt, "stream is neither stdout nor stderr"};
  }
  if (!NextField(rest, tags)) {
    // An empty F record may come without the separating space.
    tags = rest;
    rest = {};
  }
  std::string_view first_tag = tags.substr(0, tags.find(':'));
  if (first_tag == "P") {
    record.partial = true;
  } else if (first_tag != "F") {
    return {std::nullopt, "tag is neither P nor F"};
  }
  record.content = rest;
  return {record, {}};
}

CriDecoder::CriDecoder(size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

void CriDecoder::Feed(std::string_view bytes, const Sink& sink, DecodeStats& stats) {
  while (!bytes.empty()) {
    size_t newline = bytes.find('\n');
    std::string_view piece = bytes.substr(0, newline);
    if (!skipping_) {
      size_t room = max_line_bytes_ - std::min(max_line_bytes_, physical_.size());
      if (piece.size() > room) physical_truncated_ = true;
      physical_.append(piece.substr(0, room));
    }
    if (newline == std::string_view::npos) return;  // the rest arrives later
    bytes.remove_prefix(newline + 1);
    if (skipping_) {
      skipping_ = false;
      continue;
    }
    EndPhysicalLine(sink, stats);
  }
}

void CriDecoder::EndPhysicalLine(const Sink& sink, DecodeStats& stats) {
  ParsedCriLine parsed = ParseCriLine(physical_);
  if (!parsed.record) {
    ++stats.malformed;
    if (stats.first_malformed_error.empty()) {
      stats.first_malformed_error = std::string(parsed.error);
    }
  } else {
    const CriRecord& record = *parsed.record;
    Pending& pending = PendingFor(record.stream);
    if (record.partial || pending.active) {
      size_t room = max_line_bytes_ - std::min(max_line_bytes_, pending.content.size());
      if (record.content.size() > room || physical_truncated_) pending.truncated = true;
      pending.content.append(record.content.substr(0, room));
      pending.active = true;
    }
    if (!record.partial) {
      LogLine line{record.stream, record.content, physical_truncated_};
      if (pending.active) {
        line.content = pending.content;
        line.truncated = pending.truncated;
      }
      ++stats.lines;
      sink(line);
      pending.content.clear();  // keeps its capacity for the next long line
      pending.active = false;
      pending.truncated = false;
    }
  }
  physical_.clear();
  physical_truncated_ = false;
}

void CriDecoder::SkipToNextNewline() {
  physical_.clear();
  physical_truncated_ = false;
  skipping_ = true;
}

void CriDecoder::Reset() {
  physical_.clear();
  physical_truncated_ = false;
  skipping_ = false;
  stdout_ = Pending{};
  stderr_ = Pending{};
}

}  // namespace kvip::crilog
