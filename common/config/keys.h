// Every configuration key gatehouse knows, as one declarative table: where it
// may stand, whether it repeats, what values it takes, its default, how its value
// is parsed, and one line saying what it means. The command line, the files, the
// misplaced-key messages, the value checks, `gatehouse --keys` and
// gatehouse.conf(5) all read this table; tests hold each row's default to what
// the code resolves and to docs/configuration.md.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"
#include "common/config/settings.h"

namespace gatehouse {

enum class KeyScope { kGlobal, kService };  // main file before any section / [defaults], [name]
enum class KeyKind { kScalar, kList };      // a list key may repeat; a scalar once per section

// Where a key's parser puts its value.
struct KeyTarget {
  GlobalConfig* global = nullptr;    // for global keys
  ServiceConfig* service = nullptr;  // for service keys
  std::string config_dir;            // the main file's folder (for services_dir)
  // Where a parser notes what is worth a warning; ApplyKeys prefixes each note
  // with the entry's file:line: key (and drops them when it is nullptr).
  std::vector<std::string>* warnings = nullptr;
};

// Parses one value into `target`; false with a message that may quote the value.
using ValueParser = bool (*)(const std::string& value, const KeyTarget& target, std::string* error);

struct ConfigKey {
  const char* name;
  KeyScope scope;
  KeyKind kind;
  const char* type;  // the values it takes, in words: "boolean", "seconds 1-3600", ...
  // The default as docs/configuration.md's `| key | default | meaning |` row
  // states it: a value in backquotes (`10`) is what a config without the key
  // resolves to; plain words (none, unset, required) describe one.
  const char* default_text;
  // nullptr: the key is read by a Resolve step together with the keys it depends
  // on (port with host and proto; user, group and chroot; exec with args).
  ValueParser parse;
  const char* doc;
};

const std::vector<ConfigKey>& ConfigKeys();

// The row for `name`, or nullptr.
const ConfigKey* FindConfigKey(const std::string& name);

// Runs the parser of every key of `scope` that `settings` holds: on a scalar's
// value, on each value of a list. Each bad value is an error of its own.
void ApplyKeys(KeyScope scope, const Settings& settings, const KeyTarget& target,
               ConfigErrors* errors);

}  // namespace gatehouse
