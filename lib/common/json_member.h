#pragma once
// Reading optional members of Kubernetes API objects with RapidJSON: a missing member or one
// of another type reads as absent, never as an exception or an assertion.

#include <rapidjson/document.h>

#include <optional>
#include <string>

namespace kvip::json {

inline const rapidjson::Value* Member(const rapidjson::Value& object, const char* name) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(name);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

// The member's string, or "" when it is absent or not a string.
inline std::string String(const rapidjson::Value& object, const char* name) {
  const rapidjson::Value* value = Member(object, name);
  return value && value->IsString() ? std::string(value->GetString(), value->GetStringLength())
                                    : std::string();
}

// The member's int, or `fallback` when it is absent or not an int.
inline int Int(const rapidjson::Value& object, const char* name, int fallback = 0) {
  const rapidjson::Value* value = Member(object, name);
  return value && value->IsInt() ? value->GetInt() : fallback;
}

// The member's bool, or `fallback` when it is absent or not a bool.
inline bool Bool(const rapidjson::Value& object, const char* name, bool fallback = false) {
  const rapidjson::Value* value = Member(object, name);
  return value && value->IsBool() ? value->GetBool() : fallback;
}

inline std::optional<double> Number(const rapidjson::Value& object, const char* name) {
  const rapidjson::Value* value = Member(object, name);
  if (!value || !value->IsNumber()) return std::nullopt;
  return value->GetDouble();
}

}  // namespace kvip::json
