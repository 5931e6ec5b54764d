#include "child/program_environment.h"

namespace gatehouse {

std::vector<std::string> ServiceEnvironment(const ServiceDefinition& service, size_t room) {
  std::vector<std::string> env;
  env.reserve(service.program.env.size() + 1 + room);
  bool has_path = false;
  for (const std::string& entry : service.program.env) {
    if (entry.rfind("PATH=", 0) == 0) has_path = true;
    env.push_back(entry);
  }
  if (!has_path) env.push_back(kDefaultPath);
  return env;
}

std::vector<std::string> ProgramEnvironment(const ServiceDefinition& service,
                                            const ConnectionInfo& connection) {
  std::vector<std::string> env = ServiceEnvironment(service, 7);
  env.push_back("PROTO=" + connection.proto);
  if (connection.proto == "TCP" || connection.proto == "UDP") {
    // UCSPI names the variables after $PROTO: TCPREMOTEIP, UDPREMOTEIP, ...
    const std::string& prefix = connection.proto;
    env.push_back(prefix + "REMOTEIP=" + connection.peer_ip);
    env.push_back(prefix + "REMOTEPORT=" + std::to_string(connection.peer_port));
    env.push_back(prefix + "LOCALIP=" + connection.local_ip);
    env.push_back(prefix + "LOCALPORT=" + std::to_string(connection.local_port));
    if (!connection.remote_host.empty()) {
      env.push_back(prefix + "REMOTEHOST=" + connection.remote_host);
    }
    env.push_back("REMOTE_HOST=" +
                  (connection.remote_host.empty() ? connection.peer_ip : connection.remote_host));
  } else if (connection.unix_pid > 0) {
    env.push_back("UNIXREMOTEPID=" + std::to_string(connection.unix_pid));
    env.push_back("UNIXREMOTEEUID=" + std::to_string(connection.unix_uid));
    env.push_back("UNIXREMOTEEGID=" + std::to_string(connection.unix_gid));
  }
  return env;
}

}  // namespace gatehouse
