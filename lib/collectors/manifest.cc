#include "collectors/manifest.h"

#include <cerrno>
#include <cstring>

#include "common/logging.h"
#include "common/metric_catalog.h"

namespace kvip {
ManifestCollector::ManifestCollector(std::string manifest_path) : path_(std::move(manifest_path)) {}

bool ManifestCollector::Collect(std::vector<prometheus::MetricFamily>& out) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string error;
  std::optional<FileStamp> stamp = StampOf(path_);
  if (!stamp) {
    error = path_ + ": cannot stat: " + std::strerror(errno);
    stamp_.reset();
    parsed_.reset();
  } else {
    if (stamp != stamp_) {
      stamp_ = stamp;
      parsed_ = manifest::ReadManifest(path_, error);
    } else if (!parsed_) {
      error = last_error_;  // unchanged and still broken
    }
  }
  if (error != last_error_) {
    if (!error.empty())
      LogWarn("cannot read the kube-vip manifest", {{"err", error}});
    else
      LogInfo("kube-vip manifest readable again", {{"path", path_}});
    last_error_ = error;
  }
  if (!parsed_) return false;
  out.push_back(
      MakeFamily(Spec("kubevip_manifest_info"), 1, {parsed_->image, parsed_->image_ref.tag}));
  return true;
}

}  // namespace kvip
