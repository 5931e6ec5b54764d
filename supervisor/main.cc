// gatehouse: the privileged supervisor.
//
// Process flow, top to bottom (`gatehouse import ...` execs gatehouse-import
// first, which holds the converter: none of it is in this binary):
//   1. mark every inherited fd above 2 close-on-exec (none may reach a program)
//   2. read the command line and the configuration, find gatehouse-child, probe
//      whether services can have namespaces, check the fd budget against
//      RLIMIT_NOFILE; --check prints it all and stops
//   3. open the log, say which isolation is in force, raise the soft fd limit and
//      size the shared pools (pending PROXY headers, reverse lookups) from it
//   4. bind every listener (still privileged); after a binary upgrade (SIGUSR2)
//      adopt the listeners the old process handed over instead
//   5. background / setsid, pid_file (an upgrade's successor is detached already)
//   6. become the child subreaper; apply the config to the service and listener
//      tables (one gatehouse-child per service) — SIGHUP applies a new one the same way
//   7. serve: accept, check, hand over; until TERM/INT/QUIT
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <set>

#include "common/config.h"
#include "common/config/key_docs.h"
#include "common/default_signals.h"
#include "common/log.h"
#include "supervisor/daemon.h"
#include "supervisor/fd_budget.h"
#include "supervisor/helper_programs.h"
#include "supervisor/isolation_check.h"
#include "supervisor/listener.h"
#include "supervisor/supervisor.h"
#include "supervisor/upgrade.h"

namespace gatehouse {
namespace {

constexpr const char* kUsage =
    "usage: gatehouse [--config FILE] [--check [FILE]]\n"
    "                 [--key value | --key=value | key=value ...]\n"
    "\n"
    "  --config FILE  main config file (default /etc/gatehouse/gatehouse.conf; without\n"
    "                 one, a built-in echo service runs on 127.0.0.1:20203)\n"
    "  --check        load and validate everything, print the resolved services, exit\n"
    "  --check FILE   the same for FILE, a copy: that others could change it where it\n"
    "                 lies is a warning (as the config, gatehouse refuses such a file)\n"
    "  --key value    any config key; overrides the file (service keys: every service)\n"
    "  --keys         list every key: its scope, default, values and meaning\n"
    "  --keys=man     the same as gatehouse.conf(5), in troff\n"
    "\n"
    "Keys and defaults: gatehouse --keys, gatehouse.conf(5), docs/configuration.md\n";

void MarkInheritedFdsCloseOnExec() {
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
  if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = 3; fd < 1024; ++fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
}

int PrintErrors(const std::vector<std::string>& errors) {
  for (const std::string& error : errors) std::cerr << "gatehouse: " << error << "\n";
  return 1;
}

}  // namespace
}  // namespace gatehouse

int main(int argc, char** argv) {
  using namespace gatehouse;
  MarkInheritedFdsCloseOnExec();
  DefaultSignals();  // what our parent ignored or blocked is not ours
  signal(SIGPIPE, SIG_IGN);
  // What SIGUSR2 starts again, taken before anything can change it.
  ProcessImage image = CurrentProcessImage();
  // `gatehouse import`: the converter is a binary of its own, never in this one.
  if (argc >= 2 && std::string(argv[1]) == "import") return ExecImportProgram(argc - 2, argv + 2);

  CommandLine command_line;
  std::string error;
  if (!ParseCommandLine(argc, argv, &command_line, &error)) {
    std::cerr << "gatehouse: " << error << "\n" << kUsage;
    return 2;
  }
  if (command_line.help) {
    std::cout << kUsage;
    return 0;
  }
  if (!command_line.keys_format.empty()) {
    std::cout << (command_line.keys_format == "man" ? KeysManPage() : KeysText());
    return 0;
  }
  if (command_line.version) {
    std::cout << "gatehouse 0.1\n";
    return 0;
  }

  Config config;
  std::vector<std::string> errors;
  if (!LoadConfig(command_line, &config, &errors)) return PrintErrors(errors);
  std::string child_program = FindChildProgram();
  if (access(child_program.c_str(), X_OK) != 0) {
    return PrintErrors(
        {"gatehouse-child not found: " + child_program + " (it belongs beside gatehouse)"});
  }
  std::string no_namespaces;
  bool namespaces = ServiceNamespacesAvailable(&no_namespaces);
  CheckPrivateNetwork(config, namespaces, no_namespaces, &errors);
  RememberStartFileLimits();
  CheckFdBudget(config, CurrentFileLimits(), &errors, &config.warnings);
  if (!errors.empty()) return PrintErrors(errors);
  if (command_line.check) {
    std::cout << DescribeConfig(config) << "\nchild program: " << child_program << "\n"
              << DescribeIsolation(namespaces, no_namespaces) << "\n";
    for (const std::string& warning : config.warnings) std::cout << "warning: " << warning << "\n";
    std::cout << "config OK\n";
    return 0;
  }

  const GlobalConfig& global = config.global;
  LogTarget log_target{global.log_file, global.log_level, global.syslog_ident,
                       global.syslog_facility, global.syslog_logopt};
  if (!OpenLog(log_target, &error)) return PrintErrors({error});
  for (const std::string& warning : config.warnings) Log(kLogWarning, warning);
  Log(namespaces ? kLogInfo : kLogWarning, DescribeIsolation(namespaces, no_namespaces));
  UseServiceNamespaces(namespaces);
  UseFileLimits();
  if (config.builtin_default) {
    Log(kLogNotice, std::string("no config file (no --config, no ") + kDefaultConfigPath +
                        "): serving the built-in echo service (/bin/cat)");
  }

  ListenerMap listeners;
  std::vector<std::string> warnings;
  pid_t replacing = TakeUpgradingFrom();
  AdoptInheritedListeners(config, TakeInheritedListeners(&warnings), &listeners);
  std::vector<InheritedLink> generations = TakeGenerationLinks(&warnings);
  std::set<std::string> adopted;
  for (const auto& [key, sockets] : listeners) adopted.insert(key);
  if (replacing != 0) {
    Log(kLogNotice, "upgrade: taking over from pid " + std::to_string(replacing) + " with " +
                        std::to_string(adopted.size()) + " inherited listeners");
  }
  bool bound = BindListeners(config, adopted, &listeners, &errors, &warnings);
  for (const std::string& warning : warnings) Log(kLogWarning, warning);
  if (!bound) {
    for (const std::string& e : errors) Log(kLogErr, e);
    return 1;
  }

  if (replacing == 0 && !Daemonize(global.background, global.setsid, &error)) {
    Log(kLogErr, error);
    return 1;
  }
  // Once the pid file names us, a signal (HUP, or USR2 for the next upgrade) may
  // come at once: held until the supervisor's handlers are in place, rather than
  // taking its default action and ending us.
  sigset_t control = ControlSignals(), previous;
  sigprocmask(SIG_BLOCK, &control, &previous);
  if (!WritePidFile(global.pid_file, replacing, &error)) {
    Log(kLogErr, error);
    return 1;
  }

  // Programs whose gatehouse-child dies are reparented to us, not to init.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::string pid_file = global.pid_file;
  int exit_code;
  {
    Supervisor supervisor(command_line, child_program, image);
    sigprocmask(SIG_SETMASK, &previous, nullptr);  // its handlers take what came meanwhile
    supervisor.TakeOlderGenerations(std::move(generations), replacing);
    supervisor.Apply(config, std::move(listeners));
    if (replacing != 0) supervisor.ReportReady();
    exit_code = supervisor.Run();
  }
  RemovePidFile(pid_file);
  return exit_code;
}
