// Every configuration key gatehouse knows: where it may stand, whether it
// repeats, and one line saying what it means. The command line, the files and
// the misplaced-key messages all read this one table.
#pragma once

#include <string>
#include <vector>

namespace gatehouse {

enum class KeyScope { kGlobal, kService };  // main file before any section / [defaults], [name]
enum class KeyKind { kScalar, kList };      // a list key may repeat; a scalar once per section

struct ConfigKey {
  const char* name;
  KeyScope scope;
  KeyKind kind;
  const char* doc;
};

const std::vector<ConfigKey>& ConfigKeys();

// The row for `name`, or nullptr.
const ConfigKey* FindConfigKey(const std::string& name);

}  // namespace gatehouse
