#pragma once
// Parsing of LIST answers and WATCH events for any kind, given how to read one object from a
// RapidJSON value. Internal to lib/kube (needs RapidJSON's include path).

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_member.h"
#include "kube/watch_event.h"

namespace kvip::kube::detail {

// Reads one object (metadata.name/resourceVersion at least); false with `error` set when the
// value is not one.
template <class T>
using FromValue = bool (*)(const rapidjson::Value& object, T& out, std::string& error);

// The metadata every object carries (name, namespace, resourceVersion), into `out`; the
// metadata object for the kind's own fields, or null when there is none.
template <class T>
const rapidjson::Value* ReadMetadata(const rapidjson::Value& object, T& out) {
  const rapidjson::Value* metadata = json::Member(object, "metadata");
  if (metadata) {
    out.name = json::String(*metadata, "name");
    out.namespace_name = json::String(*metadata, "namespace");
    out.resource_version = json::String(*metadata, "resourceVersion");
  }
  return metadata;
}

inline bool ParseDocument(std::string_view json, rapidjson::Document& doc, std::string& error) {
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) {
    error = std::string("invalid JSON at offset ") + std::to_string(doc.GetErrorOffset()) + ": " +
            rapidjson::GetParseError_En(doc.GetParseError());
    return false;
  }
  if (!doc.IsObject()) {
    error = "expected a JSON object";
    return false;
  }
  return true;
}

// A list's items (null reads as none); false with `error` set when one is not an object of
// the kind.
template <class T>
bool ReadItems(const rapidjson::Document& doc, FromValue<T> from_value, std::vector<T>& out,
               std::string& error) {
  const rapidjson::Value* items = json::Member(doc, "items");
  if (items && items->IsNull()) return true;
  if (!items || !items->IsArray()) {
    error = "the list has no items array";
    return false;
  }
  for (const auto& item : items->GetArray()) {
    T object;
    if (!from_value(item, object, error)) return false;
    out.push_back(std::move(object));
  }
  return true;
}

template <class T>
std::optional<ObjectList<T>> ParseObjectList(std::string_view json, FromValue<T> from_value,
                                             std::string& error) {
  rapidjson::Document doc;
  if (!ParseDocument(json, doc, error)) return std::nullopt;
  ObjectList<T> list;
  if (const rapidjson::Value* metadata = json::Member(doc, "metadata")) {
    list.resource_version = json::String(*metadata, "resourceVersion");
  }
  if (list.resource_version.empty()) {
    error = "the list has no metadata.resourceVersion";
    return std::nullopt;
  }
  if (!ReadItems(doc, from_value, list.items, error)) return std::nullopt;
  return list;
}

// `resource_version` reads the object's metadata.resourceVersion once parsed.
template <class T>
std::optional<ObjectEvent<T>> ParseObjectEvent(std::string_view json, FromValue<T> from_value,
                                               std::string& error) {
  rapidjson::Document doc;
  if (!ParseDocument(json, doc, error)) return std::nullopt;
  ObjectEvent<T> event;
  event.type = json::String(doc, "type");
  const rapidjson::Value* object = json::Member(doc, "object");
  if (event.type.empty() || !object || !object->IsObject()) {
    error = "a watch event needs a type and an object";
    return std::nullopt;
  }
  if (event.type == "ERROR") {
    // The object is a metav1.Status.
    event.error_code = json::Int(*object, "code");  // a Status code; anything else reads as 0
    event.error_message = json::String(*object, "message");
    return event;
  }
  if (event.type != "ADDED" && event.type != "MODIFIED" && event.type != "DELETED" &&
      event.type != "BOOKMARK") {
    error = "unknown watch event type \"" + event.type + "\"";
    return std::nullopt;
  }
  T parsed;
  if (!from_value(*object, parsed, error)) return std::nullopt;
  if (parsed.resource_version.empty()) {
    error = event.type + " event without metadata.resourceVersion";
    return std::nullopt;
  }
  event.object = std::move(parsed);
  return event;
}

}  // namespace kvip::kube::detail
