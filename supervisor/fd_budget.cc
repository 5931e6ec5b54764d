#include "supervisor/fd_budget.h"

#include <arpa/inet.h>
#include <sys/resource.h>

#include <algorithm>

namespace gatehouse {
namespace {

FileLimits start_limits;

// Whether the supervisor accepts on the service's ports and hands each connection
// over as an fd: then up to max_servers of them can wait in its child's queue.
// A wait service's program accepts itself; datagrams travel as bytes.
bool HandsOverConnections(const ServiceConfig& service) {
  if (service.program.mode == ServiceMode::kWait ||
      service.program.mode == ServiceMode::kDatagram) {
    return false;
  }
  return std::any_of(service.ports.begin(), service.ports.end(),
                     [](const ServicePort& port) { return !port.spec.datagram(); });
}

// What one program costs its gatehouse-child: the stderr pipe it reads (stderr =
// log) and the pidfd its start report carries; a built-in holds the connection.
uint64_t ChildFdsPerProgram(const ServiceConfig& service) {
  if (service.program.mode == ServiceMode::kBuiltin) return 1;
  return 1 + (service.program.stderr_target == StderrTarget::kLog ? 1 : 0);
}

std::string NeedOf(const ServiceFdNeed& need) {
  return need.name + " " + std::to_string(need.total()) + ": " + std::to_string(need.listeners) +
         " listeners + " + std::to_string(need.connections) + " connections + " +
         std::to_string(need.child_links) + " for its children";
}

// "web 1030: 2 listeners + 1024 connections + 4 for its children; echo ...": the
// largest first, at most a few.
std::string Breakdown(const FdBudget& budget) {
  constexpr size_t kShown = 4;
  std::string text;
  for (size_t i = 0; i < budget.services.size() && i < kShown; ++i) {
    text += (i ? "; " : "") + NeedOf(budget.services[i]);
  }
  if (budget.services.size() > kShown) {
    uint64_t rest = 0;
    for (size_t i = kShown; i < budget.services.size(); ++i) rest += budget.services[i].total();
    text += "; " + std::to_string(budget.services.size() - kShown) + " more services " +
            std::to_string(rest);
  }
  if (budget.pending_headers) {
    text += "; PROXY headers " + std::to_string(budget.pending_headers);
  }
  if (budget.pending_lookups) {
    text += "; reverse lookups " + std::to_string(budget.pending_lookups);
  }
  return text + "; reserve " + std::to_string(budget.reserve);
}

}  // namespace

uint64_t SharedPoolBound(uint64_t hard_limit) {
  return std::clamp<uint64_t>(hard_limit / 8, 64, 1024);
}

uint64_t ListenerSockets(const PortSpec& spec) {
  if (spec.protocol == Protocol::kUnix) return 1;
  if (spec.host.empty() || spec.host == "*") return 2;
  unsigned char address[16];
  std::string literal = spec.host;
  if (literal.size() > 2 && literal.front() == '[' && literal.back() == ']') {
    literal = literal.substr(1, literal.size() - 2);
  }
  if (inet_pton(AF_INET, literal.c_str(), address) == 1 ||
      inet_pton(AF_INET6, literal.c_str(), address) == 1) {
    return 1;
  }
  std::vector<SocketAddress> addresses;
  std::string error;
  if (!ResolvePortSpec(spec, &addresses, &error) || addresses.empty()) return 2;
  return addresses.size();
}

FdBudget ComputeFdBudget(const Config& config, uint64_t hard_limit) {
  FdBudget budget;
  bool proxy = false, lookups = false;
  for (const ServiceConfig& service : config.services) {
    ServiceFdNeed need;
    need.name = service.name;
    need.where = service.max_servers_where.empty() ? service.where : service.max_servers_where;
    for (const ServicePort& port : service.ports) need.listeners += ListenerSockets(port.spec);
    uint64_t max_servers = static_cast<uint64_t>(std::max(service.max_servers, 1));
    if (HandsOverConnections(service)) {
      need.connections = std::min(max_servers, kMaxQueuedConnections);
    }
    // A reload that changes the service starts a new child while the old one drains.
    need.child_links = 2 * kFdsPerChild;
    need.child_fds = kChildFdReserve + max_servers * ChildFdsPerProgram(service);
    budget.services.push_back(need);
    proxy = proxy || service.proxy_protocol != ProxyProtocol::kOff;
    lookups = lookups || service.reverse_lookups;
  }
  std::stable_sort(
      budget.services.begin(), budget.services.end(),
      [](const ServiceFdNeed& a, const ServiceFdNeed& b) { return a.total() > b.total(); });
  if (proxy) budget.pending_headers = SharedPoolBound(hard_limit);
  if (lookups) budget.pending_lookups = SharedPoolBound(hard_limit);
  budget.reserve = kFdReserve;
  budget.total = budget.pending_headers + budget.pending_lookups + budget.reserve;
  for (const ServiceFdNeed& need : budget.services) budget.total += need.total();
  return budget;
}

void CheckFdBudget(const Config& config, const FileLimits& limits, std::vector<std::string>* errors,
                   std::vector<std::string>* warnings) {
  if (config.services.empty() || limits.hard == 0 || limits.hard == RLIM_INFINITY) return;
  for (const ServiceConfig& service : config.services) {
    uint64_t asked = service.program.rlimit_nofile;
    if (asked == ProgramSpec::kUnchanged || asked <= limits.hard) continue;
    warnings->push_back(service.where + ": rlimit_nofile: " +
                        (asked == ProgramSpec::kUnlimited ? "unlimited" : std::to_string(asked)) +
                        " is above the hard limit " + std::to_string(limits.hard) +
                        " (ulimit -Hn); programs of " + service.name + " get " +
                        std::to_string(limits.hard));
  }
  FdBudget budget = ComputeFdBudget(config, limits.hard);
  const std::string& where = budget.services.front().where;
  std::string needed = "services need up to " + std::to_string(budget.total) + " fds at once";
  if (budget.total > limits.hard) {
    errors->push_back(where + ": max_servers: " + needed + ", the hard limit is " +
                      std::to_string(limits.hard) + " (ulimit -Hn); lower max_servers or raise " +
                      "LimitNOFILE= (" + Breakdown(budget) + ")");
    return;
  }
  if (budget.total > limits.soft) {
    warnings->push_back(where + ": max_servers: " + needed + ", more than the soft limit " +
                        std::to_string(limits.soft) + " gatehouse was started with (ulimit -Sn); " +
                        "it raises its own to the hard limit " + std::to_string(limits.hard) +
                        " (" + Breakdown(budget) + ")");
  }
  for (const ServiceFdNeed& need : budget.services) {
    if (need.child_fds <= limits.hard) continue;
    warnings->push_back(
        need.where + ": max_servers: the child of " + need.name + " can need up to " +
        std::to_string(need.child_fds) + " fds for its programs, more than the hard limit " +
        std::to_string(limits.hard) + "; beyond it, connections wait for a program to end");
  }
}

void RememberStartFileLimits() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0) return;
  start_limits = FileLimits{files.rlim_cur, files.rlim_max};
}

FileLimits CurrentFileLimits() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) != 0) return start_limits;
  return FileLimits{std::min<uint64_t>(start_limits.soft, files.rlim_max), files.rlim_max};
}

}  // namespace gatehouse
