#include "common/config/foreign_keys.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace gatehouse {
namespace {

struct ForeignKey {
  const char* name;
  const char* hint;
};

// xinetd's keys, one line each; the ones that depend on their value are below.
constexpr ForeignKey kForeignKeys[] = {
    {"server", "xinetd's; use exec (an absolute path)"},
    {"server_args", "xinetd's; use args (without argv[0]: gatehouse passes exec's base name)"},
    {"only_from", "xinetd's; use cidr_allow (or allow, a regex, for host names)"},
    {"no_access", "xinetd's; use cidr_deny (or deny, a regex, for host names)"},
    {"bind", "xinetd's; use host"},
    {"interface", "xinetd's; use host"},
    {"protocol", "xinetd's; use proto, or /tcp in port"},
    {"instances", "xinetd's; use max_servers"},
    {"disable", "xinetd's; remove the file or comment the section out"},
    {"id", "xinetd's; the [section] name names the service"},
    {"passenv", "xinetd's; nothing is inherited: set each variable with env = NAME=value"},
    {"groups", "xinetd's; a program gets group alone, no supplementary groups"},
    {"flags", "xinetd's; no equivalent"},
    {"log_type", "xinetd's; use log_file (a path or Sys::Syslog) in the main file"},
    {"log_on_success",
     "xinetd's; no equivalent: log_level = 3 logs every start and exit, with pid and duration"},
    {"log_on_failure",
     "xinetd's; no equivalent: denied peers and failed programs are logged at notice"},
    {"rpc_version", "xinetd's; RPC services have no equivalent"},
    {"rpc_number", "xinetd's; RPC services have no equivalent"},
    {"redirect", "xinetd's; no equivalent"},
    {"access_times", "xinetd's; no equivalent"},
    {"max_load", "xinetd's; no equivalent"},
};

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

std::string ForeignKeyHint(const std::string& key, const std::string& value) {
  std::string given = Lower(value);
  if (key == "wait") {
    return given == "yes" ? "xinetd's; wait = yes is gatehouse's mode = wait (the program gets "
                            "the listening socket and takes its clients itself)"
                          : "xinetd's; wait = no is gatehouse's default mode = fork (mode = "
                            "datagram for a dgram service): remove the line";
  }
  if (key == "socket_type") {
    if (given == "dgram") {
      return "xinetd's; use port = HOST:PORT/udp with mode = datagram (a program per datagram) "
             "or mode = wait (wait = yes: the program reads the socket itself)";
    }
    return "xinetd's; use port = HOST:PORT/tcp or PATH|unix, or proto (stream is the default)";
  }
  if (key == "type") {
    if (given.find("internal") != std::string::npos) {
      return "xinetd's; type = INTERNAL is gatehouse's mode = builtin with builtin = echo, "
             "discard, daytime, chargen or time";
    }
    return "xinetd's; no equivalent: name the port with port";
  }
  if (key.compare(0, 7, "rlimit_") == 0) {
    return "gatehouse has rlimit_as, rlimit_cpu, rlimit_nofile, rlimit_nproc, rlimit_fsize and "
           "rlimit_core";
  }
  for (const ForeignKey& foreign : kForeignKeys) {
    if (key == foreign.name) return foreign.hint;
  }
  return "";
}

}  // namespace gatehouse
