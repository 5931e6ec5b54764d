// The fd budget's arithmetic: what each service can hold in the supervisor, the
// shared pools, and the verdict against soft and hard RLIMIT_NOFILE.
#include "supervisor/fd_budget.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

namespace gatehouse {
namespace {

ServicePort Tcp(const std::string& host) {
  ServicePort port;
  port.spec.protocol = Protocol::kTcp;
  port.spec.host = host;
  port.spec.socket_type = SOCK_STREAM;
  return port;
}

ServicePort Udp(const std::string& host) {
  ServicePort port = Tcp(host);
  port.spec.protocol = Protocol::kUdp;
  port.spec.socket_type = SOCK_DGRAM;
  return port;
}

ServiceConfig Service(const std::string& name, int max_servers, std::vector<ServicePort> ports) {
  ServiceConfig service;
  service.name = name;
  service.where = "services.d/" + name + ".conf:1";
  service.max_servers = max_servers;
  service.ports = std::move(ports);
  return service;
}

TEST(FdBudget, EachServiceCountsListenersConnectionsAndItsChildren) {
  Config config;
  config.services.push_back(Service("web", 100, {Tcp("*"), Tcp("127.0.0.1")}));
  config.services.push_back(Service("echo", 10, {Tcp("[::1]")}));
  FdBudget budget = ComputeFdBudget(config, 100000);
  ASSERT_EQ(budget.services.size(), 2u);
  const ServiceFdNeed& web = budget.services[0];  // the largest first
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.listeners, 3u);  // "*" binds IPv4 and IPv6
  EXPECT_EQ(web.connections, 100u);
  EXPECT_EQ(web.child_links, 2 * kFdsPerChild);  // a reload's draining child too
  EXPECT_EQ(budget.services[1].listeners, 1u);
  EXPECT_EQ(budget.pending_headers, 0u);
  EXPECT_EQ(budget.pending_lookups, 0u);
  EXPECT_EQ(budget.total, (3 + 100 + 8) + (1 + 10 + 8) + kFdReserve);
}

TEST(FdBudget, ConnectionsAreBoundedByTheQueueForAChildThatIsBehind) {
  Config config;
  config.services.push_back(Service("big", 65535, {Tcp("127.0.0.1")}));
  FdBudget budget = ComputeFdBudget(config, 100000);
  EXPECT_EQ(budget.services[0].connections, kMaxQueuedConnections);
}

TEST(FdBudget, WaitAndDatagramServicesHoldNoConnections) {
  Config config;
  ServiceConfig wait = Service("wait", 1, {Tcp("127.0.0.1")});
  wait.program.mode = ServiceMode::kWait;
  ServiceConfig datagram = Service("dns", 500, {Udp("127.0.0.1")});
  datagram.program.mode = ServiceMode::kDatagram;
  ServiceConfig udp_builtin = Service("echo-udp", 500, {Udp("127.0.0.1")});
  udp_builtin.program.mode = ServiceMode::kBuiltin;
  config.services = {wait, datagram, udp_builtin};
  FdBudget budget = ComputeFdBudget(config, 100000);
  for (const ServiceFdNeed& need : budget.services) {
    EXPECT_EQ(need.connections, 0u) << need.name;
    EXPECT_EQ(need.total(), 1 + 2 * kFdsPerChild) << need.name;
  }
}

TEST(FdBudget, SharedPoolsCountOnceAndScaleWithTheHardLimit) {
  EXPECT_EQ(SharedPoolBound(1024), 128u);
  EXPECT_EQ(SharedPoolBound(64), 64u);
  EXPECT_EQ(SharedPoolBound(1u << 20), 1024u);
  Config config;
  config.services.push_back(Service("a", 1, {Tcp("127.0.0.1")}));
  config.services.push_back(Service("b", 1, {Tcp("127.0.0.1")}));
  config.services[0].proxy_protocol = ProxyProtocol::kV2;
  config.services[1].proxy_protocol = ProxyProtocol::kV1;
  config.services[1].reverse_lookups = true;
  FdBudget budget = ComputeFdBudget(config, 2048);
  EXPECT_EQ(budget.pending_headers, 256u);
  EXPECT_EQ(budget.pending_lookups, 256u);
  EXPECT_EQ(budget.total, 2 * (1 + 1 + 8) + 256 + 256 + kFdReserve);
}

TEST(FdBudget, OverTheHardLimitIsAnErrorNamingTheNumbersAndTheLine) {
  Config config;
  config.services.push_back(Service("web", 1000, {Tcp("127.0.0.1")}));
  config.services[0].max_servers_where = "services.d/web.conf:4";
  config.services[0].program.stderr_target = StderrTarget::kNull;  // its child needs 1016
  config.services.push_back(Service("echo", 10, {Tcp("127.0.0.1")}));
  std::vector<std::string> errors, warnings;
  CheckFdBudget(config, FileLimits{1024, 1024}, &errors, &warnings);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].rfind("services.d/web.conf:4: max_servers: services need up to 1060 fds at "
                            "once, the hard limit is 1024 (ulimit -Hn); lower max_servers or "
                            "raise LimitNOFILE= (web 1009: ",
                            0),
            0u)
      << errors[0];
  EXPECT_NE(errors[0].find("echo 19: 1 listeners + 10 connections"), std::string::npos)
      << errors[0];
  // One fd more and it fits.
  errors.clear();
  CheckFdBudget(config, FileLimits{1060, 1060}, &errors, &warnings);
  EXPECT_TRUE(errors.empty()) << errors[0];
  EXPECT_TRUE(warnings.empty()) << warnings[0];
}

TEST(FdBudget, OverTheSoftLimitOnlyIsAWarning) {
  Config config;
  config.services.push_back(Service("web", 1000, {Tcp("127.0.0.1")}));
  std::vector<std::string> errors, warnings;
  CheckFdBudget(config, FileLimits{1024, 4096}, &errors, &warnings);
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("services.d/web.conf:1: max_servers: services need up to 1041 fds at "
                             "once, more than the soft limit 1024"),
            std::string::npos)
      << warnings[0];
}

TEST(FdBudget, AChildThatCanNeedMoreThanTheHardLimitIsAWarning) {
  Config config;
  config.services.push_back(Service("web", 600, {Tcp("127.0.0.1")}));  // stderr = log
  std::vector<std::string> errors, warnings;
  CheckFdBudget(config, FileLimits{1024, 1024}, &errors, &warnings);
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("the child of web can need up to " +
                             std::to_string(kChildFdReserve + 1200) + " fds"),
            std::string::npos)
      << warnings[0];
}

}  // namespace
}  // namespace gatehouse
