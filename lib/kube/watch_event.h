#pragma once
// A LIST answer and one WATCH event of any Kubernetes kind, as ObjectWatcher consumes them.

#include <optional>
#include <string>
#include <vector>

namespace kvip::kube {

template <class T>
struct ObjectList {
  std::string resource_version;  // the list's metadata.resourceVersion: where a watch resumes
  std::vector<T> items;
};

template <class T>
struct ObjectEvent {
  std::string type;           // ADDED, MODIFIED, DELETED, BOOKMARK or ERROR
  std::optional<T> object;    // the object of every type but ERROR
  int error_code = 0;         // ERROR: the Status code (410 = resourceVersion too old)
  std::string error_message;  // ERROR: the Status message
};

}  // namespace kvip::kube
