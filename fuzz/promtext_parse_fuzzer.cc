// kube-vip's /metrics body, as the kubevip_scrape collector handles it: parse strictly,
// then (on success) re-export through prometheus-cpp's TextSerializer. Whatever kube-vip
// sends, what we re-export must itself be valid text format, or one bad byte from :2112
// would break the whole scrape of this exporter.

#include <prometheus/text_serializer.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "promtext/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  kvip::promtext::ParseResult parsed = kvip::promtext::Parse(text);
  if (!parsed.ok()) {
    KVIP_FUZZ_CHECK(parsed.families.empty(), "families returned along with an error");
    KVIP_FUZZ_CHECK(!parsed.error->reason.empty(), "an error without a reason");
    return 0;
  }
  std::vector<prometheus::MetricFamily> exported;
  for (auto& family : parsed.families) {
    if (family.metric.empty()) continue;  // as the collector: HELP/TYPE alone is dropped
    family.name = "kubevip_" + family.name;
    kvip::promtext::PrepareForTextSerializer(family);
    exported.push_back(std::move(family));
  }
  std::string body = prometheus::TextSerializer().Serialize(exported);
  kvip::promtext::ParseResult reparsed = kvip::promtext::Parse(body);
  KVIP_FUZZ_CHECK(reparsed.ok(), "re-exported text does not parse",
                  reparsed.ok() ? "" : reparsed.error->ToString() + "\n" + body);
  // A fixed point: serializing what we read back gives the same bytes.
  for (auto& family : reparsed.families) kvip::promtext::PrepareForTextSerializer(family);
  std::string again = prometheus::TextSerializer().Serialize(reparsed.families);
  KVIP_FUZZ_CHECK(again == body, "re-export is not stable", body + "\n---\n" + again);
  return 0;
}
