// Settings: the `key = value` entries of one scope (the global section,
// [defaults] or one service) by key, in the order read, and the error list every
// step reports into as "file:line: key: message".
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/control_bytes.h"

namespace gatehouse {

using Settings = std::map<std::string, std::vector<ConfigEntry>>;

// The value a scalar key ends up with (the last given), or nullptr.
inline const ConfigEntry* Last(const Settings& settings, const std::string& key) {
  auto found = settings.find(key);
  if (found == settings.end() || found->second.empty()) return nullptr;
  return &found->second.back();
}

class ConfigErrors {
 public:
  explicit ConfigErrors(std::vector<std::string>* list) : list_(list), start_(list->size()) {}

  // Messages quote config text: escaped, so a value cannot drive the terminal.
  void Add(const ConfigEntry& entry, const std::string& message) {
    list_->push_back(EscapeControlBytes(entry.where + ": " + entry.key + ": " + message));
  }
  void Add(const std::string& where, const std::string& message) {
    list_->push_back(EscapeControlBytes(where + ": " + message));
  }
  // For readers that add their own (escaped) messages, such as ReadIniFile.
  std::vector<std::string>* list() { return list_; }
  // No error since this object was made.
  bool None() const { return list_->size() == start_; }

 private:
  std::vector<std::string>* list_;
  size_t start_;
};

}  // namespace gatehouse
