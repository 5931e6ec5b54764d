// DatagramPrograms: mode = datagram in gatehouse-child. Per datagram it starts
// the service's program (child/program_runner.h) with stdin a pipe that holds
// the datagram and then EOF, written without blocking from the loop (a pipe may
// take less than a whole datagram), and stdout a pipe it reads without blocking,
// bounded to one reply (kMaxDatagramReplyBytes: more is cut, and logged once per
// program). When the program has exited, what it wrote is the reply.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>

#include "common/event_loop.h"
#include "common/unique_fd.h"
#include "common/wire.h"

namespace gatehouse {

class DatagramPrograms {
 public:
  // `service` and `null_fd` (stderr = null) must outlive this.
  DatagramPrograms(event_base* base, const ServiceDefinition* service, int null_fd);
  ~DatagramPrograms();

  // Starts the program for `datagram`: its pid, with `stderr_read` as
  // StartProgram gives it; or -1 with `error` (pipes included: out of fds).
  pid_t Start(const Datagram& datagram, UniqueFd* stderr_read, std::string* error);
  // `pid` has exited: reads what is left of its stdout and returns it in
  // `reply` (what a process of its own still writes later is lost). False when
  // `pid` is none of its programs.
  bool Finish(pid_t pid, std::string* reply);
  size_t running() const { return programs_.size(); }

 private:
  struct Program;
  static void OnStdinWritable(evutil_socket_t fd, short what, void* program);
  static void OnStdoutReadable(evutil_socket_t fd, short what, void* program);
  // Writes what the pipe takes; closes it (EOF for the program) once all is in.
  static void WriteRequest(Program* program);
  // Reads what the pipe holds; false at its end (or an error).
  static bool ReadReply(Program* program);

  event_base* base_;
  const ServiceDefinition* service_;
  int null_fd_;
  std::map<pid_t, std::unique_ptr<Program>> programs_;
};

}  // namespace gatehouse
