#include "common/ini_file.h"

#include <ini.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/sys_error.h"

namespace gatehouse {
namespace {

struct ParseState {
  std::string shown_path;
  std::vector<std::string> lines;
  size_t next_line = 0;  // lines handed to inih so far == number of the current line
  std::vector<IniSection>* sections;
  std::vector<std::string>* errors;
  bool key_seen = false;  // a key in the current section: indented lines continue it

  std::string Where() const { return shown_path + ":" + std::to_string(next_line); }
};

// fgets-like reader for ini_parse_stream(): counts lines and keeps overlong
// ones away from inih.
// Hands inih an empty line in place of `line` and records why.
char* Reject(ParseState* state, char* buffer, const std::string& why) {
  state->errors->push_back(state->Where() + ": " + why);
  std::strcpy(buffer, "\n");
  return buffer;
}

// fgets-like reader for ini_parse_stream(): counts lines, and keeps lines inih
// would mangle (too long) or stop at (no "=") away from it, so that every bad
// line of a file is reported, not just inih's first.
char* ReadLine(char* buffer, int size, void* stream) {
  auto* state = static_cast<ParseState*>(stream);
  if (state->next_line >= state->lines.size()) return nullptr;
  const std::string& line = state->lines[state->next_line++];
  if (line.size() > kMaxIniLineLength) {
    return Reject(state, buffer,
                  "line is " + std::to_string(line.size()) + " characters long; the limit is " +
                      std::to_string(kMaxIniLineLength) +
                      " (continue a long value on indented lines)");
  }
  size_t first = line.find_first_not_of(" \t");
  bool blank_or_comment = first == std::string::npos || line[first] == ';' || line[first] == '#';
  if (!blank_or_comment && line[first] == '[') {
    size_t close = line.find(']', first);
    if (close == std::string::npos) return Reject(state, buffer, "\"" + line + "\": missing ]");
    std::string name = line.substr(first + 1, close - first - 1);
    state->sections->push_back(IniSection{name, state->Where(), {}});
    state->key_seen = false;
  } else if (!blank_or_comment) {
    // inih: an indented line after a key continues it; anything else needs = or :.
    bool continuation = first > 0 && state->key_seen;
    if (!continuation && line.find_first_of("=:") == std::string::npos) {
      return Reject(state, buffer,
                    "expected \"key = value\" or \"[section]\", found \"" + line + "\"");
    }
    state->key_seen = true;
  }
  std::snprintf(buffer, static_cast<size_t>(size), "%s\n", line.c_str());
  return buffer;
}

int OnEntry(void* user, const char* section, const char* key, const char* value) {
  auto* state = static_cast<ParseState*>(user);
  if (state->sections->empty() || state->sections->back().name != section) {
    state->sections->push_back(IniSection{section, state->Where(), {}});
  }
  const std::string& raw = state->lines[state->next_line - 1];
  bool continuation = !raw.empty() && (raw[0] == ' ' || raw[0] == '\t');
  state->sections->back().entries.push_back(ConfigEntry{key, value, state->Where(), continuation});
  return 1;
}

}  // namespace

bool ReadIniFile(const std::string& path, const std::string& shown_path,
                 std::vector<IniSection>* sections, std::vector<std::string>* errors) {
  std::ifstream file(path);
  if (!file) {
    errors->push_back(ErrnoMessage("open", shown_path, errno));
    return false;
  }
  ParseState state;
  state.shown_path = shown_path;
  state.sections = sections;
  state.errors = errors;
  std::string line;
  while (std::getline(file, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    state.lines.push_back(line);
  }
  size_t errors_before = errors->size();
  int bad_line = ini_parse_stream(ReadLine, &state, OnEntry, &state);
  if (bad_line > 0 && errors->size() == errors_before) {
    // Our reader passes on only lines inih accepts; this would be a gap in it.
    errors->push_back(shown_path + ":" + std::to_string(bad_line) + ": not understood: \"" +
                      state.lines[bad_line - 1] + "\"");
  }
  return errors->size() == errors_before;
}

}  // namespace gatehouse
