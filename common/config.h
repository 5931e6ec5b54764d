// Configuration: the main file, services.d/*.conf and the command line, merged in
// Net::Server's order (command line over conf file over built-in defaults) and
// validated into a Config. Every error names file, line and key.
// The pieces live in common/config/: the key table (keys), reading the files and
// layering the command line (sources), and one Resolve step per concern
// (network, identity, program).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "common/access_rules.h"
#include "common/port_spec.h"
#include "common/service_spec.h"
#include "common/tls_config.h"

namespace gatehouse {

// Where gatehouse looks when no --config is given.
inline constexpr const char* kDefaultConfigPath = "/etc/gatehouse/gatehouse.conf";
// Net::Server's default port, used by the built-in echo service.
inline constexpr int kBuiltinEchoPort = 20203;

// One `key = value` as read, with where it was read ("services.d/echo.conf:4" or
// "command line").
struct ConfigEntry {
  std::string key;
  std::string value;
  std::string where;
  bool continuation = false;  // an indented line continuing the previous key
};

struct CommandLine {
  std::string config_path;  // --config; empty: kDefaultConfigPath if it exists
  bool check = false;       // --check: validate, print, exit
  // --check FILE: FILE is a copy being validated; that it lies where others
  // could change it is a warning, not an error (see CheckSourcesTrusted).
  bool check_copy = false;
  bool help = false;
  bool version = false;
  // --keys: the key table as text ("text"); --keys=man: as gatehouse.conf(5) ("man").
  std::string keys_format;
  std::vector<ConfigEntry> overrides;  // --key value, --key=value, key=value
};

bool ParseCommandLine(int argc, const char* const* argv, CommandLine* command_line,
                      std::string* error);

struct GlobalConfig {
  std::string config_file;  // empty when running the built-in default
  std::string services_dir;
  std::string log_file;  // empty: stderr; "Sys::Syslog"; or an absolute path
  int log_level = 2;     // 0 err, 1 warning, 2 notice, 3 info, 4 debug
  std::string syslog_ident = "gatehouse";
  std::string syslog_facility = "daemon";
  std::string syslog_logopt = "pid";
  std::string pid_file;
  bool background = false;
  bool setsid = false;
  int shutdown_timeout = 10;  // seconds running programs get after TERM/INT
  int upgrade_timeout = 30;   // seconds a USR2 successor has to be ready before it is killed
};

// Whether a service's connections start with a PROXY protocol header (a load
// balancer naming the real client), and which versions it takes.
enum class ProxyProtocol { kOff, kV1, kV2, kAny };
const char* ProxyProtocolName(ProxyProtocol protocol);

// What a service does at max_servers (max_servers_action).
enum class MaxServersAction {
  kWait,    // stop accepting: clients wait in the listen backlog
  kReject,  // keep accepting; each extra client gets busy_message and is closed
};

enum class ReloadPrograms {
  kKeep,  // they run on, served by the old child until they end
  kEnd,   // TERM, then KILL after kill_grace
};

struct ServicePort {
  PortSpec spec;
  std::string where;  // file:line of the `port` entry, for bind errors
};

struct ServiceConfig {
  std::string name;
  std::string where;  // file:line of the [section]
  std::vector<ServicePort> ports;
  int listen = SOMAXCONN;  // backlog
  AccessRules access;
  bool reverse_lookups = false;

  // Where and as whom the programs run, and what runs: passed to the child as is.
  JailSpec jail;
  ProgramSpec program;
  // True when no `user` was given and gatehouse runs as root: the service gets a
  // uid (and gid) of its own from the dynamic range (DynamicServiceUid).
  bool dynamic_user = false;
  // The names `user` and `group` resolved to, for --check and the log only.
  std::string user_name;
  std::string group_name;

  // The socket files of its UNIX ports: chmod, and chown when unix_owner or
  // unix_group was given (-1: left as gatehouse created it).
  uint32_t unix_mode = 0666;
  int64_t unix_owner = -1;
  int64_t unix_group = -1;
  // Datagram replies (mode = datagram, UDP built-ins): none to a source port
  // below 1024 or to a port of a UDP built-in, and none longer than a bounded
  // multiple of the request (reflection and loop amplification).
  bool reflection_guard = true;
  // udp_reply_budget = BURST RATE: UDP replies (mode = datagram, UDP built-ins)
  // per source (IPv6 by /64), a token bucket; a loop between two UDP services
  // dies when the burst runs out. Burst 0: off.
  int udp_reply_burst = 256;
  int udp_reply_rate = 128;

  // What a reload does to the running programs of a changed or removed service.
  ReloadPrograms reload_programs = ReloadPrograms::kKeep;
  // A child that leaves a connection unreported this long is ended (ChildWatchdog).
  int child_stall_timeout = 10;
  // Programs running at once (all of the service's children together, a reload's
  // draining ones included); beyond it clients wait in the listen backlog.
  int max_servers = 256;
  std::string max_servers_where;  // file:line of the max_servers entry; empty: the default
  MaxServersAction max_servers_action = MaxServersAction::kWait;
  // Written (best effort, without blocking) to a client closed at max_servers with
  // max_servers_action = reject; empty: banner_fail, if any.
  std::string busy_message;
  // Written the same way to a client refused by the access rules or per_source.
  std::string banner_fail;
  // cps = RATE WAIT (xinetd's): more than RATE new connections in one second
  // pause the service for WAIT seconds (clients wait in the backlog). 0: off.
  int cps_rate = 0;
  int cps_wait = 0;
  // per_source: connections at once from one client address (IPv6 grouped by
  // per_source_prefix6 bits); over it the connection is closed. 0: off.
  int per_source = 0;
  int per_source_prefix6 = 64;

  // PROXY protocol: the header the supervisor reads before anything else, from
  // peers in proxy_from (required with it), within proxy_timeout seconds.
  ProxyProtocol proxy_protocol = ProxyProtocol::kOff;
  std::vector<CidrBlock> proxy_from;
  int proxy_timeout = 3;
  // proxy_local = close: a header that names no client (v2 LOCAL, v1 UNKNOWN: a
  // load balancer's health check) is answered by closing, starting nothing.
  bool proxy_local_close = false;

  // TLS terminated in a relay per connection (tls_cert, tls_key, ...); the
  // files' contents travel to the child separately (TlsMaterial).
  TlsConfig tls;
};

// The range of uids (and gids) gatehouse gives services without a `user`:
// 0x47480000 ("GH") to 0x4748FFFF. No passwd entry is needed or made.
inline constexpr uint32_t kDynamicUidBase = 0x47480000;
inline constexpr uint32_t kDynamicUidCount = 0x10000;
// The preferred uid of a service of that name: a hash of the name into the range,
// so it is the same on every start, reload and upgrade.
uint32_t DynamicServiceUid(const std::string& name);

// True when `a` and `b` define the same service as far as its child and its
// listeners can tell: everything but where it was written (file:line), so that
// editing another part of a file does not count as a change on reload.
bool SameService(const ServiceConfig& a, const ServiceConfig& b);

struct Config {
  GlobalConfig global;
  std::vector<ServiceConfig> services;
  std::vector<std::string> warnings;  // worth logging, not fatal
  bool builtin_default = false;       // no config file: the built-in echo
};

// Reads and validates everything. On failure returns false and fills `errors`
// with one "file:line: key: message" per problem.
bool LoadConfig(const CommandLine& command_line, Config* config, std::vector<std::string>* errors);

// The resolved configuration as `gatehouse --check` prints it.
std::string DescribeConfig(const Config& config);

}  // namespace gatehouse
