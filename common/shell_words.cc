#include "common/shell_words.h"

namespace gatehouse {

bool SplitShellWords(const std::string& text, std::vector<std::string>* words, std::string* error) {
  words->clear();
  std::string word;
  bool in_word = false;
  enum { kPlain, kSingle, kDouble } state = kPlain;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    switch (state) {
      case kPlain:
        if (c == ' ' || c == '\t' || c == '\n') {
          if (in_word) words->push_back(word);
          word.clear();
          in_word = false;
        } else if (c == '\'') {
          state = kSingle;
          in_word = true;
        } else if (c == '"') {
          state = kDouble;
          in_word = true;
        } else if (c == '\\') {
          if (i + 1 == text.size()) {
            *error = "trailing backslash";
            return false;
          }
          word += text[++i];
          in_word = true;
        } else {
          word += c;
          in_word = true;
        }
        break;
      case kSingle:
        if (c == '\'') {
          state = kPlain;
        } else {
          word += c;
        }
        break;
      case kDouble:
        if (c == '"') {
          state = kPlain;
        } else if (c == '\\' && i + 1 < text.size() &&
                   std::string("\"\\$`").find(text[i + 1]) != std::string::npos) {
          word += text[++i];
        } else {
          word += c;
        }
        break;
    }
  }
  if (state != kPlain) {
    *error = std::string("unterminated ") + (state == kSingle ? "single" : "double") + " quote";
    return false;
  }
  if (in_word) words->push_back(word);
  return true;
}

std::string QuoteShellWord(const std::string& word) {
  if (!word.empty() && word.find_first_of(" \t\n'\"\\$`;&|<>*?()[]{}#~") == std::string::npos) {
    return word;
  }
  std::string quoted = "'";
  for (char c : word) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

}  // namespace gatehouse
