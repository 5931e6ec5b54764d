// One service read from an xinetd or inetd file, in gatehouse's terms, ready to be
// written as a services.d section.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace gatehouse {

struct ImportedService {
  std::string name;    // the tool's service name; made a valid, unique section name on output
  std::string origin;  // FILE:LINE where it was described
  // Why the section cannot run as gatehouse is today (disabled, RPC, a port an
  // earlier entry took, ...): each one comments the whole section out.
  std::vector<std::string> not_runnable;
  // gatehouse keys in order; a key may repeat for list keys.
  std::vector<std::pair<std::string, std::string>> keys;
  // Lines of explanation written as comments inside the section.
  std::vector<std::string> notes;
  bool datagram = false;  // the UDP twin of a TCP service takes a `-udp` name
  bool wait = false;      // mode = wait: the program accepts by itself, so no access rules

  void Key(const std::string& key, const std::string& value) { keys.emplace_back(key, value); }
  void Note(const std::string& text) { notes.push_back(text); }
};

// An argument word escaped for gatehouse's `args`: a backslash before anything a shell
// would read specially. Quotes are not used, because inih ends a line at " ;" even
// inside them, and a backslash keeps whitespace from ever preceding a ';'.
std::string EscapeArgWord(const std::string& word);

}  // namespace gatehouse
