// The Ansible group_vars edit (`kubevip_version: "v1.0.3"`). When it succeeds, only the
// value's bytes changed, the file reads back with the new value, and setting the same value
// again changes nothing.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "manifest/ansible_vars.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider provider(data, size);
  static const char* const kValues[] = {"v1.0.4", "v1.0.3", "", "1.2.3 x"};
  std::string value = provider.ConsumeBool()
                          ? kValues[provider.ConsumeIntegralInRange<size_t>(0, 3)]
                          : provider.ConsumeRandomLengthString(24);
  std::string key =
      provider.ConsumeBool() ? "kubevip_version" : provider.ConsumeRandomLengthString(16);
  const std::string text = provider.ConsumeRemainingBytesAsString();

  std::string error;
  auto result = kvip::manifest::SetAnsibleVar(text, "/fuzz/all.yml", key, value, error);
  if (!result) {
    KVIP_FUZZ_CHECK(!error.empty(), "rejected without saying why");
    return 0;
  }
  // Same bytes before and after the changed span.
  size_t prefix = 0;
  while (prefix < text.size() && prefix < result->size() && text[prefix] == (*result)[prefix])
    ++prefix;
  size_t suffix = 0;
  while (suffix < text.size() - prefix && suffix < result->size() - prefix &&
         text[text.size() - 1 - suffix] == (*result)[result->size() - 1 - suffix])
    ++suffix;
  std::string_view inserted =
      std::string_view(*result).substr(prefix, result->size() - prefix - suffix);
  KVIP_FUZZ_CHECK(value.find(inserted) != std::string::npos, "bytes outside the value changed",
                  *result);

  std::string again_error;
  auto again = kvip::manifest::SetAnsibleVar(*result, "/fuzz/all.yml", key, value, again_error);
  KVIP_FUZZ_CHECK(again.has_value(), "setting the same value again fails", again_error);
  KVIP_FUZZ_CHECK(*again == *result, "setting the same value again changes bytes");
  return 0;
}
