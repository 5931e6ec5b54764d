// Splits an `args` value into words the way a POSIX shell does, without
// expanding anything: quotes group, backslash escapes, no $vars, no globs.
#pragma once

#include <string>
#include <vector>

namespace gatehouse {

// False (with a message) on an unterminated quote or a trailing backslash.
bool SplitShellWords(const std::string& text, std::vector<std::string>* words, std::string* error);

// The inverse, for showing argv: quotes a word only where it needs it.
std::string QuoteShellWord(const std::string& word);

}  // namespace gatehouse
