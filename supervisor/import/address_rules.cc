#include "supervisor/import/address_rules.h"

#include "common/access_rules.h"

namespace gatehouse {
namespace {

bool AllDigitsAndDots(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!(c == '.' || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

// "10.1" or "10.1.0.0": the given components, zeros on the right as wildcards.
bool DottedToBlock(const std::string& text, std::string* block) {
  std::vector<int> parts;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('.', start);
    if (end == std::string::npos) end = text.size();
    std::string part = text.substr(start, end - start);
    if (part.empty() || part.size() > 3) return false;
    int value = std::stoi(part);
    if (value > 255) return false;
    parts.push_back(value);
    start = end + 1;
  }
  if (parts.size() > 4) return false;
  size_t significant = parts.size();
  if (parts.size() == 4) {
    while (significant > 0 && parts[significant - 1] == 0) --significant;
  }
  while (parts.size() < 4) parts.push_back(0);
  *block = std::to_string(parts[0]) + "." + std::to_string(parts[1]) + "." +
           std::to_string(parts[2]) + "." + std::to_string(parts[3]) + "/" +
           std::to_string(8 * significant);
  return true;
}

std::string EscapeRegex(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_';
    if (!plain) escaped += '\\';
    escaped += c;
  }
  return escaped;
}

bool HostNameBytes(const std::string& text) {
  if (text.empty() || text.size() > 253) return false;
  for (char c : text) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

bool ConvertAddressEntry(const std::string& entry, bool deny,
                         std::vector<ImportedAddressRule>* rules, std::string* error) {
  const std::string block_key = deny ? "cidr_deny" : "cidr_allow";
  const std::string regex_key = deny ? "deny" : "allow";
  size_t brace = entry.find('{');
  if (brace != std::string::npos) {
    if (entry.back() != '}' || brace == 0 || entry[brace - 1] != '.') {
      *error = "\"" + entry + "\" is not a factorized address (a.b.{c,d})";
      return false;
    }
    std::string head = entry.substr(0, brace);
    std::string list = entry.substr(brace + 1, entry.size() - brace - 2) + ",";
    size_t start = 0;
    for (size_t comma; (comma = list.find(',', start)) != std::string::npos; start = comma + 1) {
      std::string expanded = head + list.substr(start, comma - start);
      std::string block;
      if (!AllDigitsAndDots(expanded) || !DottedToBlock(expanded, &block)) {
        *error = "\"" + entry + "\" is not a factorized address (a.b.{c,d})";
        return false;
      }
      // Each member names its whole subnet, as xinetd reads it.
      size_t components = 1;
      for (char c : expanded) components += c == '.';
      block = block.substr(0, block.find('/')) + "/" + std::to_string(8 * components);
      rules->push_back({block_key, block});
    }
    return true;
  }
  if (entry.find(':') != std::string::npos || entry.find('/') != std::string::npos) {
    CidrBlock parsed;
    std::string why;
    if (!ParseCidr(entry, &parsed, &why)) {
      *error = "\"" + entry + "\": " + why;
      return false;
    }
    rules->push_back({block_key, entry});
    return true;
  }
  if (AllDigitsAndDots(entry)) {
    std::string block;
    if (!DottedToBlock(entry, &block)) {
      *error = "\"" + entry + "\" is not an address";
      return false;
    }
    rules->push_back({block_key, block});
    // xinetd's 0.0.0.0 is every address; gatehouse's blocks keep IPv6 apart.
    if (block == "0.0.0.0/0") rules->push_back({block_key, "::/0"});
    return true;
  }
  if (!HostNameBytes(entry)) {
    *error = "\"" + entry + "\" is neither an address nor a host name";
    return false;
  }
  if (entry[0] == '.') {
    rules->push_back({regex_key, ".*" + EscapeRegex(entry)});
  } else {
    rules->push_back({regex_key, EscapeRegex(entry)});
  }
  return true;
}

}  // namespace gatehouse
