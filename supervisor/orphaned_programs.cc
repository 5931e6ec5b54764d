#include "supervisor/orphaned_programs.h"

#include <signal.h>

#include <algorithm>
#include <cstdio>

#include "common/log.h"
#include "common/monotonic_clock.h"
#include "supervisor/child_process.h"

namespace gatehouse {
namespace {

// What is read of an ended program's stderr pipe: a full pipe's worth.
constexpr size_t kLastOutputBytes = 64 * 1024;
// Pids named in the line that says programs run on; the rest are counted.
constexpr size_t kPidsNamed = 10;

}  // namespace

OrphanedPrograms::OrphanedPrograms(event_base* base, std::string service, ServiceCounters* counters)
    : base_(base), service_(service), counters_(counters), output_log_(base, std::move(service)) {}

OrphanedPrograms::~OrphanedPrograms() = default;

void OrphanedPrograms::Adopt(std::vector<Program> programs, UniqueFd lifeline, const Terms& terms) {
  if (programs.empty()) return;  // the lifeline closes here: nothing runs in that namespace
  auto generation = std::make_shared<Generation>();
  generation->lifeline = std::move(lifeline);
  generation->terms = terms;
  std::string pids;
  double now = MonotonicSeconds();
  for (size_t i = 0; i < programs.size(); ++i) {
    Program& program = programs[i];
    pid_t pid = program.pid;
    if (i < kPidsNamed) pids += " " + std::to_string(pid);
    auto entry = std::make_unique<Entry>();
    entry->owner = this;
    entry->generation = generation;
    ++generation->running;
    if (program.stderr_read) {
      entry->output = std::make_unique<OutputPipe>(
          base_, std::move(program.stderr_read),
          [this, pid, source = program.source](std::vector<std::string>& lines) {
            std::string text;
            for (const std::string& line : lines) text += line + "\n";
            output_log_.ProgramText(pid, text, source);
          });
    }
    entry->program = std::move(program);
    if (terms.timeout > 0) {
      entry->deadline.reset(evtimer_new(base_, OnDeadline, entry.get()));
      double left = std::max(0.0, entry->program.started + terms.timeout - now);
      timeval delay = Seconds(left);
      event_add(entry->deadline.get(), &delay);
    }
    programs_[pid] = std::move(entry);
  }
  if (programs.size() > kPidsNamed) {
    pids += " and " + std::to_string(programs.size() - kPidsNamed) + " more";
  }
  Log(kLogWarning, service_ + ": " + std::to_string(programs.size()) +
                       " programs run on without their child (pid" + pids +
                       "): still counted, timed and logged until they end");
}

bool OrphanedPrograms::Reaped(pid_t pid, int wait_status) {
  auto found = programs_.find(pid);
  if (found == programs_.end()) return false;
  Entry& entry = *found->second;
  if (entry.output) {
    entry.output->ReadAvailable(kLastOutputBytes);  // its last lines before its exit
    entry.output->Close();
  }
  int level = wait_status == 0 ? kLogInfo : kLogNotice;
  if (LogEnabled(level)) {
    char duration[32];
    snprintf(duration, sizeof duration, "%.3f s", MonotonicSeconds() - entry.program.started);
    Log(level, service_ + ": exit " + entry.program.peer + " pid " + std::to_string(pid) + " " +
                   DescribeWaitStatus(wait_status) + " after " + duration +
                   " (its child had ended)");
  }
  if (wait_status != 0) ++counters_->exit_nonzero;
  if (entry.generation.use_count() == 1) {
    Log(kLogDebug, service_ +
                       ": the last program of an ended child has ended; "
                       "its namespace ends too");
  }
  output_log_.ProgramEnded(pid);
  programs_.erase(found);  // the last one of its namespace lets go of the lifeline
  return true;
}

size_t OrphanedPrograms::ProcessesOf(const ProcessCensus& census) const {
  size_t count = 0;
  for (const auto& [pid, entry] : programs_) count += 1 + census.DescendantsOf(pid);
  return count;
}

bool OrphanedPrograms::HasProgramsAs(uint32_t uid) const {
  return std::any_of(programs_.begin(), programs_.end(), [uid](const auto& entry) {
    return entry.second->generation->terms.uid == uid;
  });
}

void OrphanedPrograms::OnDeadline(evutil_socket_t, short, void* self) {
  auto* entry = static_cast<Entry*>(self);
  pid_t pid = entry->program.pid;  // ours until we reap it: never another process
  const Terms& terms = entry->generation->terms;
  if (!entry->terminated) {
    Log(kLogNotice, entry->owner->service_ + ": program " + std::to_string(pid) +
                        " ran past its timeout of " + std::to_string(terms.timeout) + " s; TERM");
    kill(-pid, SIGTERM);  // it leads its own process group
    kill(pid, SIGTERM);
    entry->terminated = true;
    timeval grace = Seconds(terms.kill_grace);
    event_add(entry->deadline.get(), &grace);
    return;
  }
  kill(-pid, SIGKILL);
  kill(pid, SIGKILL);
}

}  // namespace gatehouse
