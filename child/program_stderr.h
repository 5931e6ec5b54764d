// ProgramStderr: the child's end of its programs' stderr pipes. It reads them
// in the child's loop and sends their lines to the supervisor as ProgramOutput
// messages (whole lines, batched, each line bounded); the supervisor labels,
// rate-limits and logs them. When the supervisor falls behind it stops reading,
// so the pipes fill and the programs wait: nothing is dropped here.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/event_loop.h"
#include "common/message_channel.h"
#include "common/output_pipe.h"

namespace gatehouse {

class ProgramStderr {
 public:
  ProgramStderr(event_base* base, MessageChannel* channel);

  // Starts reading the stderr of the program `pid`.
  void Watch(pid_t pid, UniqueFd read_end);
  // The program has exited: what it wrote is in the pipe; send it (its partial
  // last line too) before its exit is reported. A pipe some other process still
  // holds open (a program's own child) is read on until it ends.
  void ProgramExited(pid_t pid);
  // Sends what every pipe holds now, for a child about to exit.
  void DrainAll();

 private:
  void Send(pid_t pid, std::vector<std::string>& lines);
  void SendBatch(pid_t pid, std::string& batch);
  void PauseIfBehind();
  static void OnResumeTimer(evutil_socket_t, short, void* self);

  event_base* base_;
  MessageChannel* channel_;
  std::map<pid_t, std::unique_ptr<OutputPipe>> pipes_;
  EventPtr resume_timer_;
  bool paused_ = false;
};

}  // namespace gatehouse
