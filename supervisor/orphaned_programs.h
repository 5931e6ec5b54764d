// OrphanedPrograms: the running programs of a service whose gatehouse-child
// died (crashed, killed, ended by the stall watchdog). They are the
// supervisor's children now (the subreaper's), and they run on: still counted
// against max_servers and per_source, their stderr read and labelled
// "SERVICE[PID]:", their `timeout` kept (TERM, KILL after kill_grace), their
// exit logged when we reap them, ended like any program when gatehouse stops.
// The service's namespace they run in lives while its lifeline (the write end of
// the pipe its keeper watches) is held: it is let go with the last of them.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/event_loop.h"
#include "common/output_pipe.h"
#include "common/unique_fd.h"
#include "supervisor/process_tree.h"
#include "supervisor/program_output_log.h"
#include "supervisor/source_slots.h"

namespace gatehouse {

struct ServiceCounters;

class OrphanedPrograms {
 public:
  // One program whose child has died.
  struct Program {
    pid_t pid = 0;  // ours
    std::string peer;
    std::string source;      // its client, as its stderr lines are throttled (SourceOf)
    double started = 0;      // MonotonicSeconds() when its start was reported
    SourceSlots::Slot slot;  // its place in per_source
    UniqueFd stderr_read;    // a copy of its stderr pipe's read end (may be empty)
  };
  // What the dead child ran them with.
  struct Terms {
    uint32_t uid = 0;
    uint32_t timeout = 0;  // seconds; 0: none
    uint32_t kill_grace = 0;
  };

  OrphanedPrograms(event_base* base, std::string service, ServiceCounters* counters);
  ~OrphanedPrograms();

  // Takes the programs of one dead child and its namespace's lifeline (empty
  // without a namespace); with no program the lifeline is let go at once.
  void Adopt(std::vector<Program> programs, UniqueFd lifeline, const Terms& terms);
  // We reaped `pid`: true (logged, counted, forgotten) when it was one of them.
  bool Reaped(pid_t pid, int wait_status);
  size_t size() const { return programs_.size(); }
  // The programs and whatever descends from them.
  size_t ProcessesOf(const ProcessCensus& census) const;
  bool HasProgramsAs(uint32_t uid) const;

 private:
  // The namespace a dead child's programs share: let go when they have all ended.
  struct Generation {
    UniqueFd lifeline;
    Terms terms;
    size_t running = 0;
  };
  struct Entry {
    OrphanedPrograms* owner = nullptr;
    Program program;
    std::shared_ptr<Generation> generation;
    std::unique_ptr<OutputPipe> output;
    EventPtr deadline;
    bool terminated = false;  // TERM sent for its timeout; KILL next
  };
  static void OnDeadline(evutil_socket_t, short, void* self);

  event_base* base_;
  std::string service_;
  ServiceCounters* counters_;
  ProgramOutputLog output_log_;
  std::map<pid_t, std::unique_ptr<Entry>> programs_;
};

}  // namespace gatehouse
