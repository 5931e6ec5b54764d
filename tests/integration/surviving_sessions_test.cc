// Sessions that survive their gatehouse-child: a child that dies (killed, or
// ended by the stall watchdog) ends no running program. Its programs run on in
// their namespace as the supervisor's, under their dropped privileges, still
// counted against max_servers, their stderr logged and their timeout kept, and
// gatehouse's stop still ends them. New connections go to the next child.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

bool Alive(pid_t pid) {
  std::string state = ProcStatusField(pid, "State");
  return !state.empty() && state[0] != 'Z';
}

// The pid the "SERVICE: ready (child pid N)" line after `mark` names; 0 if none yet.
pid_t ReadyChild(GatehouseProcess& gatehouse, const std::string& service, LogMark mark) {
  std::string log = gatehouse.Log(mark);
  std::string ready = service + ": ready (child pid ";
  size_t at = log.find(ready);
  return at == std::string::npos ? 0 : std::stoi(log.substr(at + ready.size()));
}

bool Echoes(int fd, const std::string& line) {
  if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return false;
  return ReadUntil(fd, line, 10) == line;
}

class SurvivingSessions : public GatehouseTest {
 protected:
  void TearDown() override {
    for (int fd : connections_) close(fd);
  }
  int Connect(const std::string& service) {
    int fd = ConnectTcp("127.0.0.1", Port(service));
    if (fd >= 0) connections_.push_back(fd);
    return fd;
  }
  std::vector<int> connections_;
};

constexpr int kSessions = 200;

TEST_F(SurvivingSessions, TwoHundredCatSessionsOutliveTheirKilledChild) {
  if (!IsRoot()) GTEST_SKIP() << "namespaces and user = nobody need root";
  const int max_servers = kSessions + 2;
  ASSERT_TRUE(Start("log_level = 3\nshutdown_timeout = 1\n",
                    {{"cat.conf",
                      "[cat]\nport = 127.0.0.1:0\nexec = /bin/cat\nuser = nobody\n"
                      "max_servers = " +
                          std::to_string(max_servers) + "\n"}}));
  std::vector<pid_t> children = ChildPids(gatehouse_->pid());
  ASSERT_EQ(children.size(), 1u);
  pid_t child = children[0];
  for (int i = 0; i < kSessions; ++i) {
    ASSERT_GE(Connect("cat"), 0) << i;
    ASSERT_TRUE(Echoes(connections_[i], "before " + std::to_string(i) + "\n")) << i;
  }
  std::vector<pid_t> programs;  // by the log's start lines, whatever the process tree
  for (int fd : connections_) {
    programs.push_back(ProgramPid(*gatehouse_, fd, "cat"));
    ASSERT_GT(programs.back(), 1) << gatehouse_->Log();
  }

  LogMark mark = gatehouse_->MarkLog();
  ASSERT_EQ(kill(child, SIGKILL), 0);
  ASSERT_TRUE(gatehouse_->WaitForLog("cat: child ended unexpectedly (signal Killed)", mark))
      << gatehouse_->Log(mark);
  EXPECT_TRUE(gatehouse_->WaitForLog(
      "cat: " + std::to_string(kSessions) + " programs run on without their child", mark))
      << gatehouse_->Log(mark);

  // Every session still echoes, its program still runs in its namespace under
  // its dropped privileges, now the supervisor's.
  for (int i = 0; i < kSessions; ++i) {
    EXPECT_TRUE(Echoes(connections_[i], "after " + std::to_string(i) + "\n")) << i;
  }
  for (pid_t program : programs) {
    ASSERT_TRUE(Alive(program)) << "program " << program;
    EXPECT_EQ(ParentPid(program), gatehouse_->pid()) << program;
    EXPECT_EQ(ProcStatusField(program, "Uid"), "65534\t65534\t65534\t65534") << program;
    EXPECT_EQ(ProcStatusField(program, "CapEff"), "0000000000000000") << program;
    EXPECT_NE(ProcStatusField(program, "NSpid").find_first_of(" \t"), std::string::npos)
        << program << " is not in a PID namespace";
  }

  // New connections go to the next child.
  ASSERT_TRUE(WaitUntil([&] { return ReadyChild(*gatehouse_, "cat", mark) > 0; }, 15))
      << gatehouse_->Log(mark);
  pid_t next = ReadyChild(*gatehouse_, "cat", mark);
  EXPECT_NE(next, child);
  int fresh = Connect("cat");
  ASSERT_GE(fresh, 0);
  ASSERT_TRUE(Echoes(fresh, "fresh\n")) << gatehouse_->Log(mark);
  pid_t fresh_program = ProgramPid(*gatehouse_, fresh, "cat");
  EXPECT_EQ(ParentPid(fresh_program), next);

  // Still counted: USR1 says so, and max_servers holds (the last one waits).
  int second = Connect("cat");
  ASSERT_GE(second, 0);
  ASSERT_TRUE(Echoes(second, "second\n"));
  LogMark status = gatehouse_->MarkLog();
  ASSERT_EQ(kill(gatehouse_->pid(), SIGUSR1), 0);
  ASSERT_TRUE(gatehouse_->WaitForLog("status: cat: ", status)) << gatehouse_->Log(status);
  EXPECT_NE(gatehouse_->Log(status).find("programs " + std::to_string(max_servers) + " of " +
                                         std::to_string(max_servers)),
            std::string::npos)
      << gatehouse_->Log(status);
  int waiting = Connect("cat");
  ASSERT_GE(waiting, 0);
  ASSERT_EQ(write(waiting, "waited\n", 7), 7);
  EXPECT_EQ(ReadUntil(waiting, "\n", 1), "") << "served past max_servers";
  // One orphaned session ends: its slot goes to the waiting client.
  LogMark ended = gatehouse_->MarkLog();
  shutdown(connections_[0], SHUT_WR);
  EXPECT_EQ(ReadUntil(connections_[0], "\x01never"), "");
  EXPECT_EQ(ReadUntil(waiting, "\n"), "waited\n") << gatehouse_->Log(ended);
  EXPECT_TRUE(gatehouse_->WaitForLog("cat: exit 127.0.0.1:",
                                     ended))  // with its pid, status and "(its child had ended)"
      << gatehouse_->Log(ended);
  EXPECT_NE(gatehouse_->Log(ended).find(" pid " + std::to_string(programs[0]) + " exit 0 after "),
            std::string::npos)
      << gatehouse_->Log(ended);
  EXPECT_NE(gatehouse_->Log(ended).find("(its child had ended)"), std::string::npos);

  // gatehouse's stop still ends them all.
  EXPECT_EQ(gatehouse_->Stop(SIGTERM, 30), 0) << gatehouse_->Log(mark);
  for (pid_t program : programs) EXPECT_FALSE(Alive(program)) << "program " << program;
  EXPECT_FALSE(Alive(fresh_program));
}

// An ordinary user's gatehouse has no namespaces; a dead child's programs are
// followed the same way: counted, logged, ended at stop.
TEST_F(SurvivingSessions, WithoutNamespacesADeadChildsProgramsAreStillCounted) {
  if (!IsRoot()) GTEST_SKIP() << "setpriv needs root";
  TempDir world("/tmp");
  CopyExecutable(Runfile("supervisor/gatehouse"), world.path() + "/gatehouse");
  CopyExecutable(Runfile("child/gatehouse-child"), world.path() + "/gatehouse-child");
  std::string config = WriteConfig(world, "log_level = 3\nshutdown_timeout = 1\n",
                                   {{"cat.conf",
                                     "[cat]\nport = 127.0.0.1:0\nexec = /bin/cat\n"
                                     "max_servers = 3\n"}});
  log_path_ = world.path() + "/gatehouse.log";
  GatehouseProcess::Launch launch;
  launch.wrapper = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"};
  launch.binary = world.path() + "/gatehouse";
  ASSERT_TRUE(StartWithArgs({"--config", config}, {"cat"}, launch));
  pid_t child = ChildPids(gatehouse_->pid()).at(0);
  std::vector<pid_t> programs;
  for (int i = 0; i < 3; ++i) {
    ASSERT_GE(Connect("cat"), 0);
    ASSERT_TRUE(Echoes(connections_[i], "before\n"));
    programs.push_back(ProgramPid(*gatehouse_, connections_[i], "cat"));
  }
  LogMark mark = gatehouse_->MarkLog();
  ASSERT_EQ(kill(child, SIGKILL), 0);
  EXPECT_TRUE(gatehouse_->WaitForLog("cat: 3 programs run on without their child", mark))
      << gatehouse_->Log(mark);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Echoes(connections_[i], "after\n")) << i;
  ASSERT_TRUE(WaitUntil([&] { return ReadyChild(*gatehouse_, "cat", mark) > 0; }, 15));
  // max_servers = 3 holds across the death: a fourth client waits.
  int waiting = Connect("cat");
  ASSERT_GE(waiting, 0);
  ASSERT_EQ(write(waiting, "fourth\n", 7), 7);
  EXPECT_EQ(ReadUntil(waiting, "\n", 1), "") << "served past max_servers";
  shutdown(connections_[0], SHUT_WR);
  EXPECT_EQ(ReadUntil(waiting, "\n"), "fourth\n") << gatehouse_->Log(mark);
  EXPECT_EQ(gatehouse_->Stop(SIGTERM, 30), 0) << gatehouse_->Log(mark);
  for (pid_t program : programs) EXPECT_FALSE(Alive(program)) << "program " << program;
}

// An orphaned program's stderr is still read and labelled, and its timeout still
// ends it.
TEST_F(SurvivingSessions, AnOrphansStderrIsLoggedAndItsTimeoutKept) {
  if (!IsRoot()) GTEST_SKIP() << "namespaces need root";
  ASSERT_TRUE(Start("log_level = 3\nshutdown_timeout = 1\n",
                    {{"talk.conf",
                      "[talk]\nport = 127.0.0.1:0\ntimeout = 4\nexec = /bin/sh\n"
                      "args = -c 'while read l; do echo \"said $l\" >&2; "
                      "echo \"$l\"; done'\n"}}));
  pid_t child = ChildPids(gatehouse_->pid()).at(0);
  int fd = Connect("talk");
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(Echoes(fd, "one\n"));
  pid_t program = ProgramPid(*gatehouse_, fd, "talk");
  ASSERT_GT(program, 1) << gatehouse_->Log();
  ASSERT_TRUE(gatehouse_->WaitForLog("talk[" + std::to_string(program) + "]: said one"))
      << gatehouse_->Log();

  LogMark mark = gatehouse_->MarkLog();
  ASSERT_EQ(kill(child, SIGKILL), 0);
  ASSERT_TRUE(gatehouse_->WaitForLog("talk: 1 programs run on without their child", mark))
      << gatehouse_->Log(mark);
  ASSERT_TRUE(Echoes(fd, "two\n"));
  EXPECT_TRUE(gatehouse_->WaitForLog("talk[" + std::to_string(program) + "]: said two", mark))
      << gatehouse_->Log(mark);
  // Within its timeout of 4 s from its start, it is ended (TERM) as before.
  EXPECT_EQ(ReadUntil(fd, "\x01never", 15), "");
  EXPECT_TRUE(gatehouse_->WaitForLog(
      "talk: program " + std::to_string(program) + " ran past its timeout of 4 s; TERM", mark))
      << gatehouse_->Log(mark);
  EXPECT_TRUE(gatehouse_->WaitForLog("signal Terminated", mark)) << gatehouse_->Log(mark);
  EXPECT_FALSE(Alive(program));
}

// The stall watchdog ends a stopped child alone: no session is reset.
TEST_F(SurvivingSessions, AStoppedChildEndedByTheWatchdogResetsNoSession) {
  if (!IsRoot()) GTEST_SKIP() << "namespaces need root";
  ASSERT_TRUE(Start("log_level = 3\nshutdown_timeout = 1\n",
                    {{"cat.conf",
                      "[cat]\nport = 127.0.0.1:0\nexec = /bin/cat\n"
                      "child_stall_timeout = 1\n"}}));
  pid_t child = ChildPids(gatehouse_->pid()).at(0);
  constexpr int kHeld = 20;
  for (int i = 0; i < kHeld; ++i) {
    ASSERT_GE(Connect("cat"), 0);
    ASSERT_TRUE(Echoes(connections_[i], "before\n")) << i;
  }
  // A program can echo before its child's report reaches the supervisor: the
  // supervisor must have counted all of them before the child stops (under ASan
  // the last report was still on its way).
  auto started = [&] {
    std::string log = gatehouse_->Log();
    int count = 0;
    for (size_t at = log.find("cat: start "); at != std::string::npos;
         at = log.find("cat: start ", at + 1)) {
      ++count;
    }
    return count;
  };
  ASSERT_TRUE(WaitUntil([&] { return started() >= kHeld; })) << gatehouse_->Log();
  LogMark mark = gatehouse_->MarkLog();
  ASSERT_EQ(kill(child, SIGSTOP), 0);
  int unserved = Connect("cat");  // handed over, never taken: the watchdog ends the child
  ASSERT_GE(unserved, 0);
  ASSERT_EQ(write(unserved, "late\n", 5), 5);
  ASSERT_TRUE(gatehouse_->WaitForLog("cat: child stalled: a connection not reported started", mark))
      << gatehouse_->Log(mark);
  ASSERT_TRUE(gatehouse_->WaitForLog("cat: child ended unexpectedly (signal Killed)", mark))
      << gatehouse_->Log(mark);
  for (int i = 0; i < kHeld; ++i) EXPECT_TRUE(Echoes(connections_[i], "after\n")) << i;
  // The connection it never took is the next child's.
  EXPECT_EQ(ReadUntil(unserved, "late\n", 20), "late\n") << gatehouse_->Log(mark);
  EXPECT_NE(gatehouse_->Log(mark).find("cat: " + std::to_string(kHeld) +
                                       " programs run on without their child"),
            std::string::npos)
      << gatehouse_->Log(mark);
  EXPECT_EQ(gatehouse_->Stop(SIGTERM, 30), 0) << gatehouse_->Log(mark);
}

// The local port of a connection of ours: its peer as gatehouse logs it.
int LocalPort(int fd) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

// A connection handed to a child as it dies is never reset and never run twice:
// what the child never took (still in its socket, or in our queue) goes to the
// next child. Ten services, each killed twice (the restart back-off doubles per
// service): once stopped with connections queued for it, once with clients
// connecting within a millisecond of the kill.
TEST_F(SurvivingSessions, ConnectionsHandedToADyingChildAreServedOnceByTheNext) {
  constexpr int kServices = 10;
  constexpr int kClients = 2;
  std::map<std::string, std::string> services;
  for (int i = 0; i < kServices; ++i) {
    std::string name = "c" + std::to_string(i);
    services[name + ".conf"] = "[" + name + "]\nport = 127.0.0.1:0\nexec = /bin/cat\n";
  }
  ASSERT_TRUE(Start("log_level = 3\nshutdown_timeout = 1\n", services));
  std::map<std::string, pid_t> child;
  for (int i = 0; i < kServices; ++i) {
    std::string name = "c" + std::to_string(i);
    child[name] = ReadyChild(*gatehouse_, name, LogMark());
    ASSERT_GT(child[name], 0) << gatehouse_->Log();
  }
  struct Client {
    std::string service;
    int fd;
    std::string line;
  };
  std::vector<Client> clients;
  for (int round = 0; round < 2; ++round) {
    LogMark mark = gatehouse_->MarkLog();
    for (int i = 0; i < kServices; ++i) {
      std::string name = "c" + std::to_string(i);
      auto connect = [&](int c) {
        int fd = Connect(name);
        ASSERT_GE(fd, 0);
        std::string line =
            name + " round " + std::to_string(round) + " client " + std::to_string(c) + "\n";
        ASSERT_EQ(write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
        clients.push_back(Client{name, fd, line});
      };
      if (round == 0) {
        // Stopped: the connections are handed over and wait, untaken, in its socket.
        ASSERT_EQ(kill(child[name], SIGSTOP), 0);
        for (int c = 0; c < kClients; ++c) connect(c);
        ASSERT_TRUE(WaitUntil(
            [&] {
              LogMark status = gatehouse_->MarkLog();
              kill(gatehouse_->pid(), SIGUSR1);
              if (!gatehouse_->WaitForLog("status: " + name + ": ", status, 5)) return false;
              return gatehouse_->Log(status).find("programs " + std::to_string(kClients) + " of") !=
                     std::string::npos;
            },
            10))
            << gatehouse_->Log(mark);
        ASSERT_EQ(kill(child[name], SIGKILL), 0);
      } else {
        ASSERT_EQ(kill(child[name], SIGKILL), 0);
        for (int c = 0; c < kClients; ++c) connect(c);
      }
    }
    // Every client is served, by the next child.
    for (const Client& client : clients) {
      if (client.line.find(" round " + std::to_string(round) + " ") == std::string::npos) continue;
      EXPECT_EQ(ReadUntil(client.fd, client.line, 20), client.line)
          << client.line << gatehouse_->Log(mark);
    }
    for (int i = 0; i < kServices; ++i) {
      std::string name = "c" + std::to_string(i);
      ASSERT_TRUE(WaitUntil([&] { return ReadyChild(*gatehouse_, name, mark) > 0; }, 20))
          << gatehouse_->Log(mark);
      child[name] = ReadyChild(*gatehouse_, name, mark);
    }
  }
  // Each ran once: one start line per client's address. (A program can echo
  // before its child's report of its start reaches the supervisor: wait for
  // every line first.)
  auto start_of = [](const Client& client) {
    return client.service + ": start 127.0.0.1:" + std::to_string(LocalPort(client.fd)) + " pid ";
  };
  WaitUntil([&] {
    std::string log = gatehouse_->Log();
    return std::all_of(clients.begin(), clients.end(),
                       [&](const Client& client) { return Count(log, start_of(client)) > 0; });
  });
  std::string log = gatehouse_->Log();
  for (const Client& client : clients) {
    EXPECT_EQ(Count(log, start_of(client)), 1u) << client.line << log;
  }
  EXPECT_EQ(log.find("refused"), std::string::npos) << log;
  EXPECT_NE(log.find("connections handed to the child it never took; they wait for the next"),
            std::string::npos)
      << log;
  EXPECT_EQ(gatehouse_->Stop(SIGTERM, 30), 0) << gatehouse_->Log();
}

}  // namespace
}  // namespace gatehouse::testing
