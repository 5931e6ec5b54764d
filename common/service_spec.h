// What a service is, as config, wire and child all see it: the jail its programs
// run in and the program itself. One struct each, passed along whole (nsjail's one
// config struct), so a new field is added once, not copied field by field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gatehouse {

// The service's jail: everything the child's privilege drop needs.
struct JailSpec {
  std::string chroot;  // empty: none; else an absolute directory the child enters first
  // False when gatehouse is not root and no user/group was asked for: the
  // programs run as gatehouse's own user and the ids below only describe it.
  bool change_identity = false;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> groups;  // supplementary groups, set before gid and uid
  // The service's own PID and mount namespace with a private /proc (see
  // docs/architecture.md, Isolation). Not a config key: the supervisor sets it
  // when the kernel and gatehouse's privileges allow it.
  bool namespaces = false;
  // An empty network namespace for the programs (private_network = yes): the
  // connection they were handed works, nothing else does.
  bool private_network = false;
  // dev_log =: the programs get a /dev/log of the service's own, read by the
  // child into gatehouse's log (child/dev_log.h). Only with namespaces.
  bool dev_log = true;
  // capabilities =: bit n keeps capability n for the programs (bounding,
  // permitted, effective; ambient too for a user other than root). 0: none.
  uint64_t capabilities = 0;
  // no_new_privs =: exec cannot gain privileges (setuid files, file capabilities).
  bool no_new_privs = true;
};

// capabilities = all: every capability the running kernel has.
inline constexpr uint64_t kAllCapabilities = ~0ull;

// The longest kill_grace the config accepts and the child believes: an hour.
inline constexpr uint32_t kMaxKillGrace = 3600;

// The longest banner, banner_fail or busy_message: one small write, never a stream.
inline constexpr size_t kMaxMessageTextBytes = 4096;

// Where a program's stderr goes (stderr = log | client | null).
enum class StderrTarget : uint8_t {
  kLog,     // a pipe its service child reads: labelled lines in gatehouse's log
  kClient,  // the connection, as stdout (xinetd's behaviour)
  kNull,    // /dev/null
};

// The key's word for `target`: "log", "client" or "null".
inline const char* StderrTargetName(StderrTarget target) {
  switch (target) {
    case StderrTarget::kClient:
      return "client";
    case StderrTarget::kNull:
      return "null";
    default:
      return "log";
  }
}

// How a service runs its programs (mode =).
enum class ServiceMode : uint8_t {
  kFork,      // a program per connection (Net::Server Fork + INET; inetd nowait)
  kSingle,    // one connection at a time; the others wait in the backlog (Net::Server Single)
  kWait,      // one program holds the listening sockets (inetd wait; systemd Accept=no)
  kDatagram,  // a program per UDP / SOCK_DGRAM datagram: request on stdin, reply from stdout
  kBuiltin,   // served inside the child, without a process (builtin =)
};
inline constexpr ServiceMode kLastServiceMode = ServiceMode::kBuiltin;

// The key's word: "fork", "single", "wait", "datagram" or "builtin".
inline const char* ServiceModeName(ServiceMode mode) {
  switch (mode) {
    case ServiceMode::kSingle:
      return "single";
    case ServiceMode::kWait:
      return "wait";
    case ServiceMode::kDatagram:
      return "datagram";
    case ServiceMode::kBuiltin:
      return "builtin";
    default:
      return "fork";
  }
}

// The classic inetd built-ins (builtin =, with mode = builtin).
enum class BuiltinService : uint8_t {
  kNone,
  kEcho,     // RFC 862
  kDiscard,  // RFC 863
  kDaytime,  // RFC 867
  kChargen,  // RFC 864
  kTime,     // RFC 868: 32-bit seconds since 1900, big-endian
};
inline constexpr BuiltinService kLastBuiltinService = BuiltinService::kTime;

inline const char* BuiltinServiceName(BuiltinService builtin) {
  switch (builtin) {
    case BuiltinService::kEcho:
      return "echo";
    case BuiltinService::kDiscard:
      return "discard";
    case BuiltinService::kDaytime:
      return "daytime";
    case BuiltinService::kChargen:
      return "chargen";
    case BuiltinService::kTime:
      return "time";
    default:
      return "none";
  }
}

struct ProgramSpec;
// The mode as --check and USR1 show it: "fork", "builtin (daytime)".
std::string ModeDescription(const ProgramSpec& program);

// What runs for each connection, and how it is ended.
struct ProgramSpec {
  ServiceMode mode = ServiceMode::kFork;
  BuiltinService builtin = BuiltinService::kNone;  // mode = builtin: which one; exec is then empty
  std::string exec;               // absolute path inside the chroot (no PATH search)
  std::vector<std::string> argv;  // argv[0] is exec's base name, then the words of `args`
  std::vector<std::string> env;   // NAME=value from env= keys, before gatehouse's own variables
  std::string working_directory = "/";  // chdir: absolute, inside the chroot
  StderrTarget stderr_target = StderrTarget::kLog;
  // Seconds from TERM to KILL whenever the programs are ended (shutdown,
  // reload_programs = end): the one grace every end of a program honours.
  uint32_t kill_grace = 2;
  // Wall seconds a program may run (timeout); 0: no limit. Then TERM to its
  // process group, KILL after kill_grace.
  uint32_t timeout = 0;
  // Resource limits set (soft and hard) in the exec stage; kUnchanged leaves
  // the one the child has. kUnlimited is RLIM_INFINITY.
  static constexpr uint64_t kUnchanged = ~0ull - 1;
  static constexpr uint64_t kUnlimited = ~0ull;
  uint64_t rlimit_as = kUnchanged;      // bytes of address space
  uint64_t rlimit_cpu = kUnchanged;     // CPU seconds
  uint64_t rlimit_nofile = kUnchanged;  // open files
  uint64_t rlimit_nproc = kUnchanged;   // processes of its uid
  uint64_t rlimit_fsize = kUnchanged;   // bytes of a file it writes
  uint64_t rlimit_core = kUnchanged;    // bytes of a core dump
  int32_t nice = 0;                     // added to its priority (-20..19; below 0 needs root)
  // The soft RLIMIT_NOFILE gatehouse was started with (0: unknown): programs get
  // it back, since gatehouse raises its own to the hard limit. Not a config key.
  uint64_t start_nofile_soft = 0;
  uint32_t umask = 022;  // as systemd's UMask=
  // Written to the connection by the child before the program starts (banner);
  // at most kMaxMessageTextBytes.
  std::string banner;
};

inline constexpr uint32_t kMaxTimeout = 7 * 24 * 3600;

inline std::string ModeDescription(const ProgramSpec& program) {
  std::string mode = ServiceModeName(program.mode);
  if (program.mode == ServiceMode::kBuiltin) {
    mode += std::string(" (") + BuiltinServiceName(program.builtin) + ")";
  }
  return mode;
}

}  // namespace gatehouse
