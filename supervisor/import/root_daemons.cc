#include "supervisor/import/root_daemons.h"

#include <string>

namespace gatehouse {
namespace {

// The recipes of docs/migrating.md, each tested in tests/integration/real_programs_test.cc.
struct RootDaemon {
  const char* program;       // exec's base name
  const char* capabilities;  // the `capabilities` value
  bool new_privileges;       // no_new_privs = no (a login's su and sudo)
  const char* why;
};

constexpr RootDaemon kRootDaemons[] = {
    {"vsftpd", "CAP_SYS_CHROOT CAP_SETUID CAP_SETGID", false,
     "vsftpd chroots each session and changes to its ftp user"},
    {"rsync", "CAP_SYS_CHROOT CAP_SETUID CAP_SETGID", false,
     "rsyncd as root changes to the module's uid and gid and chroots into it"},
    {"in.tftpd", "CAP_SYS_CHROOT CAP_SETUID CAP_SETGID", false,
     "in.tftpd --secure chroots and changes to its --user"},
    {"sshd", "all", true, "sshd chroots for privilege separation and becomes the user who logs in"},
};

std::string KeyValue(const ImportedService& out, const std::string& key) {
  for (const auto& [name, value] : out.keys) {
    if (name == key) return value;
  }
  return "";
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

void ImportRootPrivileges(ImportedService* out) {
  std::string user = KeyValue(*out, "user");
  if (user != "root" && user != "0") return;
  std::string program = BaseName(KeyValue(*out, "exec"));
  for (const RootDaemon& daemon : kRootDaemons) {
    if (program != daemon.program) continue;
    // A group of root's, as the recipes say (else root's primary group: the same).
    if (KeyValue(*out, "group").empty()) out->Key("group", "root");
    out->Key("capabilities", daemon.capabilities);
    if (daemon.new_privileges) out->Key("no_new_privs", "no");
    out->Note(std::string("user = root keeps no capability by itself: ") + daemon.why +
              ", so it keeps these (docs/migrating.md, " + daemon.program + ")");
    return;
  }
  out->Note("user = root: the program gets root's file access but none of root's capabilities.");
  out->Note("A daemon that changes user or chroots needs capabilities = CAP_SETUID CAP_SETGID");
  out->Note(
      "(and CAP_SYS_CHROOT; CAP_NET_BIND_SERVICE to bind a port below 1024 itself); one that");
  out->Note("does neither is better run as a user of its own (no user key). See docs/migrating.md");
}

}  // namespace gatehouse
