// mode = wait (inetd wait, systemd Accept=no): the program gets the listening
// sockets and accepts itself. Served over TCP (two ports: two fds in order) and
// UDP (tftpd-style on stdin); LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES as
// sd_listen_fds() checks them; restarted when it dies while clients wait in the
// backlog; a reload ends the old program before the new one starts; the
// program's privileges and fds from /proc; a Python socketserver as a real program.
#include <dirent.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <tuple>
#include <vector>

#include "tests/integration/harness.h"

namespace gatehouse::testing {
namespace {

// One line from a TCP port (the program writes it and closes); "" on failure.
std::string LineFrom(int port) {
  int fd = ConnectTcp("127.0.0.1", port);
  if (fd < 0) return "";
  std::string line = ReadUntil(fd, "\n");
  close(fd);
  return line;
}

class WaitTest : public GatehouseTest {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "services drop to their own uid: needs root";
    // Where the service's own uid can run the program and write its journal
    // (Bazel's tree is root's).
    world_ = std::make_unique<TempDir>("/tmp");
    chmod(world_->path().c_str(), 0777);
    server_ = world_->path() + "/listen_fds_server";
    CopyExecutable(Runfile("tests/programs/listen_fds_server"), server_);
    journal_ = world_->path() + "/journal";
  }

  // The host pid of the wait program of `service` started after `since`, from
  // the supervisor's "SERVICE: start listeners pid N" line; 0 if none comes.
  pid_t ProgramStartedAfter(const std::string& service, LogMark since, double timeout = 10) {
    std::string needle = " " + service + ": start listeners pid ";
    if (!gatehouse_->WaitForLog(needle, since, timeout)) return 0;
    std::string log = gatehouse_->Log(since);
    return static_cast<pid_t>(std::atol(log.c_str() + log.find(needle) + needle.size()));
  }

  // The port of `service`'s listener on `ip` ("/tcp", or "/udp").
  int PortOn(const std::string& service, const std::string& ip, const std::string& proto = "/tcp") {
    const std::string needle = " " + service + ": listening on " + ip + ":";
    std::string log = gatehouse_->Log();
    size_t at = log.find(needle);
    while (at != std::string::npos) {
      size_t port = at + needle.size();
      size_t end = log.find('\n', port);
      if (log.substr(port, end - port).find(proto) != std::string::npos) {
        return std::atoi(log.c_str() + port);
      }
      at = log.find(needle, port);
    }
    return 0;
  }

  std::unique_ptr<TempDir> world_;
  std::string server_;
  std::string journal_;
};

TEST_F(WaitTest, TheProgramAcceptsOnBothPortsWithTheirFdsInOrder) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"w.conf",
                                         "[w]\nmode = wait\nport = 127.0.0.1:0\n"
                                         "port = 127.0.0.2:0\nexec = " +
                                             server_ + "\n"}}));
  pid_t program = ProgramStartedAfter("w", LogMark{});
  ASSERT_GT(program, 1) << gatehouse_->Log();
  int first = PortOn("w", "127.0.0.1");
  int second = PortOn("w", "127.0.0.2");
  ASSERT_GT(first, 0);
  ASSERT_GT(second, 0);

  // The program checked LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES (it exits 3
  // otherwise) and answers each port on its own fd, in the order of the ports.
  for (auto [ip, port, fd] : {std::tuple<const char*, int, const char*>{"127.0.0.1", first, "3"},
                              {"127.0.0.2", second, "4"}}) {
    int client = ConnectTcp(ip, port);
    ASSERT_GE(client, 0) << ip;
    std::string line = ReadUntil(client, "\n");
    close(client);
    ASSERT_EQ(line.rfind("pid ", 0), 0u) << line << gatehouse_->Log();
    EXPECT_EQ(line.substr(line.find(" fd ")), " fd " + std::string(fd) + " of 2 names w:w\n");
  }

  // The supervisor handed nothing over itself: no connection was logged, one program ran.
  std::string after = gatehouse_->Log();
  EXPECT_EQ(after.find(" w: start 127."), std::string::npos) << after;
  EXPECT_EQ(after.find("start listeners"), after.rfind("start listeners")) << after;
  EXPECT_EQ(after.find("listen_fds_server:"), std::string::npos) << after;  // no complaint
}

TEST_F(WaitTest, AUdpServiceAnswersFromStdinLikeTftpd) {
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"u.conf", "[u]\nmode = wait\nport = 127.0.0.1:0/udp\nexec = " + server_ +
                                    "\nargs = --stdin\n"}}));
  ASSERT_GT(ProgramStartedAfter("u", LogMark{}), 1) << gatehouse_->Log();
  int port = PortOn("u", "127.0.0.1", "/udp");
  ASSERT_GT(port, 0) << gatehouse_->Log();
  CommandResult result =
      RunCommand({"socat", "-T", "3", "-", "UDP:127.0.0.1:" + std::to_string(port)}, "hello\n", 10);
  // Blocking recvfrom on stdin worked (exit 4 if it were non-blocking), the reply
  // came from the same socket.
  ASSERT_NE(result.out.find(" stdin: HELLO\n"), std::string::npos)
      << result.out << result.err << gatehouse_->Log();
}

TEST_F(WaitTest, AKilledProgramIsRestartedAndServesTheClientsThatWaitedInTheBacklog) {
  ASSERT_TRUE(
      Start("log_level = 3\n",
            {{"w.conf", "[w]\nmode = wait\nport = 127.0.0.1:0\nexec = " + server_ + "\n"}}));
  pid_t first = ProgramStartedAfter("w", LogMark{});
  ASSERT_GT(first, 1) << gatehouse_->Log();
  int port = Port("w");
  ASSERT_NE(LineFrom(port), "");

  LogMark before_kill = gatehouse_->MarkLog();
  ASSERT_EQ(kill(first, SIGKILL), 0);
  ASSERT_TRUE(gatehouse_->WaitForLog(
      " w: exit listeners pid " + std::to_string(first) + " signal Killed", before_kill))
      << gatehouse_->Log(before_kill);
  // No program runs now (the back-off is 1 s): these clients wait in the backlog.
  int clients[3];
  for (int& client : clients) {
    client = ConnectTcp("127.0.0.1", port);
    ASSERT_GE(client, 0);
  }
  EXPECT_EQ(gatehouse_->Log(before_kill).find("start listeners"), std::string::npos)
      << "the program restarted before the clients connected: the test proves nothing";
  for (int client : clients) {
    std::string line = ReadUntil(client, "\n");
    close(client);
    EXPECT_EQ(line.rfind("pid ", 0), 0u) << line;
  }
  pid_t second = ProgramStartedAfter("w", before_kill);
  EXPECT_GT(second, 1);
  EXPECT_NE(second, first);
  EXPECT_NE(kill(first, 0), 0);  // gone
  std::string log = gatehouse_->Log(before_kill);
  EXPECT_EQ(log.find("refused"), std::string::npos) << log;
}

// Seconds of the day in a log line's timestamp ("2026-11-27T15:41:43.316Z ...").
double LogTime(const std::string& line) {
  size_t t = line.find('T');
  if (t == std::string::npos || line.size() < t + 13) return -1;
  return std::atoi(line.c_str() + t + 1) * 3600.0 + std::atoi(line.c_str() + t + 4) * 60.0 +
         std::atof(line.c_str() + t + 7);
}

// The lines of `log` that hold `needle`.
std::vector<std::string> LinesWith(const std::string& log, const std::string& needle) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < log.size()) {
    size_t end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    std::string line = log.substr(start, end - start);
    if (line.find(needle) != std::string::npos) lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

TEST_F(WaitTest, AProgramThatKeepsFailingIsRestartedAfterADoublingDelay) {
  ASSERT_TRUE(Start("log_level = 3\n",
                    {{"f.conf", "[f]\nmode = wait\nport = 127.0.0.1:0\nexec = /bin/false\n"}}));
  ASSERT_TRUE(WaitUntil(
      [&] { return LinesWith(gatehouse_->Log(), " f: start listeners").size() >= 3; }, 10))
      << gatehouse_->Log();
  std::string log = gatehouse_->Log();
  std::vector<std::string> starts = LinesWith(log, " f: start listeners");
  std::vector<std::string> exits = LinesWith(log, " f: exit listeners");
  ASSERT_GE(exits.size(), 2u) << log;
  EXPECT_NE(exits[0].find(" notice: f: exit listeners pid "), std::string::npos) << exits[0];
  EXPECT_NE(exits[0].find(" exit 1 after "), std::string::npos) << exits[0];
  double first_delay = LogTime(starts[1]) - LogTime(exits[0]);
  double second_delay = LogTime(starts[2]) - LogTime(exits[1]);
  EXPECT_GT(first_delay, 0.9) << log;
  EXPECT_LT(first_delay, 1.6) << log;
  EXPECT_GT(second_delay, 1.9) << log;
  EXPECT_LT(second_delay, 2.6) << log;
}

TEST_F(WaitTest, AReloadEndsTheOldProgramBeforeTheNewOneStarts) {
  ASSERT_TRUE(Start("log_level = 3\n", {{"w.conf",
                                         "[w]\nmode = wait\nport = 127.0.0.1:0\n"
                                         "kill_grace = 5\nexec = " +
                                             server_ + "\nargs = " + journal_ + "\n"}}));
  pid_t old_program = ProgramStartedAfter("w", LogMark{});
  ASSERT_GT(old_program, 1) << gatehouse_->Log();
  int port = Port("w");
  std::string old_line = LineFrom(port);
  ASSERT_EQ(old_line.rfind("pid ", 0), 0u) << old_line;

  // Another argument: a changed service, a new child, a new program.
  dir_.Write("services.d/w.conf",
             "[w]\nmode = wait\nport = 127.0.0.1:0\nkill_grace = 5\n"
             "exec = " +
                 server_ + "\nargs = " + journal_ + " changed\n");
  LogMark before_reload = gatehouse_->MarkLog();
  ASSERT_EQ(kill(gatehouse_->pid(), SIGHUP), 0);
  pid_t new_program = ProgramStartedAfter("w", before_reload);
  ASSERT_GT(new_program, 1) << gatehouse_->Log(before_reload);
  EXPECT_NE(new_program, old_program);
  EXPECT_NE(kill(old_program, 0), 0);

  // The old program ended (it logged its stop) before the new one started, as
  // the supervisor saw it too: its exit line precedes the new start line.
  std::string log = gatehouse_->Log(before_reload);
  size_t exit_at = log.find(" w: exit listeners pid " + std::to_string(old_program));
  size_t start_at = log.find(" w: start listeners pid " + std::to_string(new_program));
  ASSERT_NE(exit_at, std::string::npos) << log;
  EXPECT_LT(exit_at, start_at) << log;
  // The supervisor logs the start at fork; the program writes its own line
  // only once it runs, which on a loaded machine can take a moment.
  std::string journal;
  auto second_start_of = [](const std::string& text) {
    size_t first = text.find("start ");
    return first == std::string::npos ? first : text.find("start ", first + 1);
  };
  WaitUntil([&] { return second_start_of(journal = ReadFile(journal_)) != std::string::npos; }, 10);
  size_t first_start = journal.find("start ");
  size_t stop = journal.find("stop ");
  size_t second_start = second_start_of(journal);
  ASSERT_NE(second_start, std::string::npos) << journal;
  EXPECT_LT(first_start, stop) << journal;
  EXPECT_LT(stop, second_start) << journal;
  EXPECT_EQ(journal.find("start ", second_start + 1), std::string::npos) << journal;
  // The same socket still serves, now through the new program.
  EXPECT_EQ(LineFrom(port).rfind("pid ", 0), 0u);
}

TEST_F(WaitTest, StopEndsTheProgramAtOnceNotAfterShutdownTimeout) {
  ASSERT_TRUE(Start("log_level = 3\nshutdown_timeout = 60\n",
                    {{"w.conf", "[w]\nmode = wait\nport = 127.0.0.1:0\nexec = " + server_ +
                                    "\nargs = " + journal_ + "\n"}}));
  ASSERT_GT(ProgramStartedAfter("w", LogMark{}), 1) << gatehouse_->Log();
  // Its own "start" line: from then on it handles TERM (and journals "stop").
  ASSERT_TRUE(WaitUntil([&] { return ReadFile(journal_).find("start ") != std::string::npos; }))
      << ReadFile(journal_);
  double started = static_cast<double>(time(nullptr));
  EXPECT_EQ(gatehouse_->Stop(SIGTERM, 20), 0) << gatehouse_->Log();
  EXPECT_LT(static_cast<double>(time(nullptr)) - started, 10);
  EXPECT_NE(ReadFile(journal_).find("stop "), std::string::npos) << ReadFile(journal_);
}

TEST_F(WaitTest, CheckAndStatusShowTheModeAndTheProgram) {
  ASSERT_TRUE(
      Start("log_level = 3\n",
            {{"w.conf", "[w]\nmode = wait\nport = 127.0.0.1:0\nexec = " + server_ + "\n"}}));
  pid_t program = ProgramStartedAfter("w", LogMark{});
  ASSERT_GT(program, 1);
  CommandResult check = RunCommand({Gatehouse(), "--check", "--config", config_});
  EXPECT_NE(check.out.find("mode     wait"), std::string::npos) << check.out;
  LogMark mark = gatehouse_->MarkLog();
  ASSERT_EQ(kill(gatehouse_->pid(), SIGUSR1), 0);
  ASSERT_TRUE(gatehouse_->WaitForLog("status: w: ", mark));
  std::string status = gatehouse_->Log(mark);
  EXPECT_NE(status.find("status: w: mode wait, "), std::string::npos) << status;
  EXPECT_NE(status.find(", program " + std::to_string(program) + " running"), std::string::npos)
      << status;
}

TEST_F(WaitTest, TheProgramRunsDroppedInItsChrootWithExactlyItsSocketsOpen) {
  // Not in world_: a chroot in a folder others may write is refused.
  TempDir jail_parent("/tmp");
  std::string jail = jail_parent.path() + "/jail";
  mkdir(jail.c_str(), 0755);
  CopyExecutable(server_, jail + "/server");
  char real[PATH_MAX];
  jail = realpath(jail.c_str(), real) ? real : jail;
  ASSERT_TRUE(Start("log_level = 3\n", {{"w.conf",
                                         "[w]\nmode = wait\nport = 127.0.0.1:0\n"
                                         "port = 127.0.0.1:0/udp\nchroot = " +
                                             jail + "\nexec = /server\nenv = LISTEN_FDS=7\n"}}));
  pid_t program = ProgramStartedAfter("w", LogMark{});
  ASSERT_GT(program, 1) << gatehouse_->Log();
  ASSERT_EQ(LineFrom(Port("w")).rfind("pid ", 0), 0u) << gatehouse_->Log();

  std::string uid = ProcStatusField(program, "Uid");
  EXPECT_NE(uid.rfind("0\t", 0), 0u) << uid;  // not root: the service's own uid
  EXPECT_EQ(ProcStatusField(program, "Gid").rfind("0\t", 0), std::string::npos);
  for (const char* caps : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
    EXPECT_EQ(ProcStatusField(program, caps), "0000000000000000") << caps;
  }
  EXPECT_EQ(ProcStatusField(program, "NoNewPrivs"), "1");
  std::string proc = "/proc/" + std::to_string(program);
  EXPECT_TRUE(SameFile(proc + "/root/", jail));
  // The client it just served may still be open for a moment; nothing else may be.
  const std::set<std::string> expected{"0", "1", "2", "3", "4"};
  EXPECT_TRUE(WaitUntil([&] { return OpenFds(program) == expected; }, 2));
  EXPECT_EQ(OpenFds(program), expected);
  EXPECT_EQ(Link(proc + "/fd/0").rfind("socket:[", 0), 0u) << Link(proc + "/fd/0");
  EXPECT_EQ(Link(proc + "/fd/0"), Link(proc + "/fd/1"));
  EXPECT_EQ(Link(proc + "/fd/0"), Link(proc + "/fd/3"));
  EXPECT_EQ(Link(proc + "/fd/4").rfind("socket:[", 0), 0u);
  EXPECT_NE(Link(proc + "/fd/4"), Link(proc + "/fd/3"));
  EXPECT_EQ(Link(proc + "/fd/2").rfind("pipe:[", 0), 0u) << Link(proc + "/fd/2");
  // LISTEN_PID is its pid as it sees itself: inside the service's PID namespace.
  std::string environ = ReadFile(proc + "/environ");
  std::string own_pid = ProcStatusField(program, "NSpid");
  own_pid = own_pid.substr(own_pid.rfind('\t') + 1);
  EXPECT_NE(environ.find(std::string("LISTEN_PID=") + own_pid + '\0'), std::string::npos)
      << own_pid;
  // gatehouse's own, whatever env= says (a second entry would mislead getenv).
  EXPECT_NE(environ.find(std::string("LISTEN_FDS=2") + '\0'), std::string::npos);
  EXPECT_EQ(environ.find("LISTEN_FDS="), environ.rfind("LISTEN_FDS=")) << environ;
  EXPECT_NE(environ.find(std::string("LISTEN_FDNAMES=w:w") + '\0'), std::string::npos);
  EXPECT_EQ(environ.find("PROTO="), std::string::npos);  // no connection: no UCSPI variables
}

TEST_F(WaitTest, APythonSocketserverTakesItsSocketFromListenFds) {
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "python3 missing";
  std::string script =
      world_->path() + "/activated.py";  // not socketserver.py: it would shadow the module
  CopyExecutable(Runfile("tests/programs/listen_fds_socketserver.py"), script);
  ASSERT_TRUE(Start("log_level = 3\n", {{"py.conf",
                                         "[py]\nmode = wait\nport = 127.0.0.1:0\n"
                                         "exec = /usr/bin/python3\nargs = " +
                                             script + "\n"}}));
  ASSERT_GT(ProgramStartedAfter("py", LogMark{}), 1) << gatehouse_->Log();
  int port = Port("py");
  for (const char* word : {"one", "two"}) {
    CommandResult result =
        RunCommand({"nc", "-q", "1", "-w", "5", "127.0.0.1", std::to_string(port)},
                   std::string(word) + "\n", 10);
    std::string upper = word;
    for (char& c : upper) c = static_cast<char>(toupper(c));
    EXPECT_NE(result.out.find("names py: " + upper + "\n"), std::string::npos)
        << result.out << result.err << gatehouse_->Log();
    EXPECT_EQ(result.out.rfind("socketserver pid ", 0), 0u) << result.out;
  }
  EXPECT_EQ(gatehouse_->Log().find("not socket-activated"), std::string::npos) << gatehouse_->Log();
}

// A wait program's stdout is the listening socket (inetd's convention), not a
// log: what a daemon logs there (gunicorn's --access-logfile -) is lost, and
// /dev/stderr is where such a log belongs (docs/configuration.md, mode = wait).
TEST_F(WaitTest, StdoutIsTheListeningSocketAndDevStderrReachesTheLog) {
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "python3 missing";
  std::string script = world_->path() + "/logs.py";
  std::ofstream(script) << "import os, socket\n"
                           "same = os.fstat(1).st_ino == os.fstat(3).st_ino\n"
                           "try:\n"
                           "    os.write(1, b'access line via stdout\\n')\n"
                           "    stdout = 'written'\n"
                           "except OSError as e:\n"
                           "    stdout = 'refused: ' + e.strerror\n"
                           "with open('/dev/stderr', 'w') as log:\n"
                           "    print('stdout is fd 3:', same, '- stdout write', stdout,\n"
                           "          file=log, flush=True)\n"
                           "    print('access line via /dev/stderr', file=log, flush=True)\n"
                           "listener = socket.socket(fileno=3)\n"
                           "while True:\n"
                           "    conn, _ = listener.accept()\n"
                           "    conn.sendall(b'served\\n')\n"
                           "    conn.close()\n";
  ASSERT_TRUE(Start("log_level = 3\n", {{"gun.conf",
                                         "[gun]\nmode = wait\nport = 127.0.0.1:0\n"
                                         "exec = /usr/bin/python3\nargs = " +
                                             script + "\n"}}));
  pid_t pid = ProgramStartedAfter("gun", LogMark{});
  ASSERT_GT(pid, 1) << gatehouse_->Log();
  std::string label = "gun[" + std::to_string(pid) + "]: ";
  EXPECT_TRUE(gatehouse_->WaitForLog(label + "access line via /dev/stderr")) << gatehouse_->Log();
  EXPECT_TRUE(
      gatehouse_->WaitForLog(label + "stdout is fd 3: True - stdout write refused: Broken pipe"))
      << gatehouse_->Log();
  EXPECT_EQ(LineFrom(Port("gun")), "served\n");
  EXPECT_EQ(gatehouse_->Log().find("access line via stdout"), std::string::npos);
}

// A daemon that double-forks and keeps the socket: its program ends at once, so
// it is restarted with back-off, and each time what it left in the service's
// namespace must end before the next start. Each copy appends its pid to the
// journal once it holds the socket (its program waits for that before it exits);
// after three starts at most one copy runs.
TEST_F(WaitTest, WhatAnEndedProgramLeftInItsNamespaceEndsBeforeTheNextStart) {
  std::string script = world_->path() + "/daemon.py";
  std::ofstream(script) << "import os, socket, sys\n"
                           "r, w = os.pipe()\n"
                           "if os.fork() == 0:\n"
                           "    os.setsid()\n"
                           "    if os.fork() == 0:\n"
                           "        listener = socket.socket(fileno=0)\n"
                           "        with open('" +
                               journal_ +
                               "', 'a') as journal:\n"
                               "            journal.write('%d\\n' % os.getpid())\n"
                               "        os.write(w, b'x')\n"
                               "        while True:\n"
                               "            c, _ = listener.accept()\n"
                               "            c.sendall(b'daemon %d\\n' % os.getpid())\n"
                               "            c.close()\n"
                               "    os._exit(0)\n"
                               "os.read(r, 1)\n"
                               "sys.exit(0)\n";
  chmod(script.c_str(), 0644);
  ASSERT_TRUE(Start("log_level = 3\n", {{"d.conf",
                                         "[d]\nmode = wait\nport = 127.0.0.1:0\n"
                                         "exec = /usr/bin/python3\nargs = " +
                                             script + "\n"}}));
  std::vector<pid_t> daemons;
  ASSERT_TRUE(WaitUntil(
      [&] {
        daemons.clear();
        std::istringstream lines(ReadFile(journal_));
        std::string line;
        while (std::getline(lines, line)) daemons.push_back(std::atoi(line.c_str()));
        return daemons.size() >= 3;
      },
      30))
      << daemons.size() << " daemons\n"
      << gatehouse_->Log();
  // Its copies, by their command line (the journal has the pids they see inside
  // the namespace): each start's copy ends before the next start, so they never add up.
  auto copies = [&] {
    std::vector<pid_t> found;
    DIR* proc = opendir("/proc");
    while (dirent* entry = readdir(proc)) {
      if (!isdigit(static_cast<unsigned char>(entry->d_name[0]))) continue;
      pid_t pid = std::atoi(entry->d_name);
      std::string state = ProcStatusField(pid, "State");
      if (state.empty() || state[0] == 'Z') continue;
      if (ReadFile("/proc/" + std::string(entry->d_name) + "/cmdline").find(script) !=
          std::string::npos) {
        found.push_back(pid);
      }
    }
    closedir(proc);
    return found;
  };
  std::vector<pid_t> left;
  EXPECT_TRUE(WaitUntil([&] { return (left = copies()).size() <= 1; }, 10))
      << left.size() << " copies after " << daemons.size() << " starts\n"
      << gatehouse_->Log();
  for (pid_t pid : copies()) kill(pid, SIGKILL);  // never left behind by the test
}

}  // namespace
}  // namespace gatehouse::testing
