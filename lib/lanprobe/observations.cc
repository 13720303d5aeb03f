#include "lanprobe/observations.h"

namespace kvip::lanprobe {
namespace {

// `mac`, or kOtherMacs once `keys` holds kMaxMacs others.
template <typename Container>
std::string Bounded(const Container& keys, std::string mac) {
  if (keys.count(mac) || keys.size() < Observations::kMaxMacs) return mac;
  return Observations::kOtherMacs;
}

}  // namespace

void Observations::CloseWindow() {
  responders_ = std::move(current_);
  current_.clear();
}

void Observations::Record(const Frame& frame, double now_seconds) {
  switch (frame.kind) {
    case FrameKind::kIgnored:
      return;
    case FrameKind::kMalformed:
      ++malformed_;
      return;
    case FrameKind::kReply:
      current_.insert(Bounded(current_, FormatMac(frame.mac)));
      return;
    case FrameKind::kGratuitous: {
      Gratuitous& seen = gratuitous_[Bounded(gratuitous_, FormatMac(frame.mac))];
      ++seen.count;
      seen.last_seen_seconds = now_seconds;
      return;
    }
  }
}

}  // namespace kvip::lanprobe
