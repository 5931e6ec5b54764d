#include "common/config/privileges.h"

#include <sys/capability.h>

#include <sstream>

#include "common/control_bytes.h"

namespace gatehouse {

bool ParseCapabilities(const std::string& value, uint64_t* mask, std::string* error) {
  std::string words = value;
  for (char& c : words) {
    if (c == ',') c = ' ';
  }
  std::istringstream in(words);
  std::string word;
  uint64_t kept = 0;
  int count = 0;
  bool all = false, none = false;
  while (in >> word) {
    ++count;
    if (word == "all") {
      all = true;
      continue;
    }
    if (word == "none") {
      none = true;
      continue;
    }
    cap_value_t capability = 0;
    if (cap_from_name(word.c_str(), &capability) != 0 || capability < 0 || capability >= 64) {
      *error = "\"" + word + "\" is not a capability (CAP_NET_BIND_SERVICE, ...; or all, none)";
      return false;
    }
    kept |= 1ull << capability;
  }
  if ((all || none) && count > 1) {
    *error = "\"" + value + "\": all and none stand alone";
    return false;
  }
  *mask = all ? kAllCapabilities : kept;
  return true;
}

std::string CapabilitiesText(uint64_t mask) {
  if (mask == 0) return "none";
  if (mask == kAllCapabilities) return "all";
  std::string text;
  for (cap_value_t capability = 0; capability < 64; ++capability) {
    if (((mask >> capability) & 1) == 0) continue;
    char* name = cap_to_name(capability);
    std::string upper = name ? name : std::to_string(capability);
    cap_free(name);
    for (char& c : upper) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
    text += (text.empty() ? "" : " ") + upper;
  }
  return text;
}

void WarnPrivileges(Config* config) {
  for (const ServiceConfig& service : config->services) {
    const JailSpec& jail = service.jail;
    bool root = jail.change_identity && jail.uid == 0;
    // Group root opens every file root's group may write (much of /etc, /var).
    bool root_group = jail.change_identity && jail.uid != 0 && jail.gid == 0;
    if (jail.capabilities == 0 && jail.no_new_privs && !root && !root_group) continue;
    std::string what;
    if (jail.capabilities != 0) what = "capabilities = " + CapabilitiesText(jail.capabilities);
    if (!jail.no_new_privs) what += std::string(what.empty() ? "" : ", ") + "no_new_privs = no";
    if (root) what += std::string(what.empty() ? "" : ", ") + "user = root";
    if (root_group) what += std::string(what.empty() ? "" : ", ") + "group = root";
    std::string consequence;
    if (root && jail.capabilities == 0) {
      consequence =
          " (without capabilities it still has root's file access: reads and writes every "
          "file root owns; yet it has none of root's capabilities, so a daemon that "
          "chroots or changes user fails: vsftpd, rsync, sshd and in.tftpd need "
          "capabilities = CAP_SYS_CHROOT CAP_SETUID CAP_SETGID or more, see "
          "docs/migrating.md)";
    } else if (root_group) {
      consequence = " (gid 0: reads and writes every file open to group root)";
    }
    config->warnings.push_back(EscapeControlBytes(
        service.where + ": [" + service.name + "] keeps privileges (" + what + ")" + consequence +
        ": such a service can break the isolation between services"));
  }
}

}  // namespace gatehouse
