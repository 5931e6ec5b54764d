#include "child/program_stderr.h"

#include "common/message_table.h"
#include "common/wire.h"

namespace gatehouse {
namespace {

// Output messages (up to 16 KiB each) queued towards the supervisor before the
// pipes wait: a short backlog, so what a program writes after a flood is not
// held up behind it, and far below the channel's bound, so exit reports fit.
constexpr size_t kMaxQueuedOutput = 16;
constexpr double kResumeCheckSeconds = 0.01;
// At exit, as much as a full pipe holds; more is a writer that never stops.
constexpr size_t kExitReadBytes = 64 * 1024;

}  // namespace

ProgramStderr::ProgramStderr(event_base* base, MessageChannel* channel)
    : base_(base), channel_(channel) {
  resume_timer_.reset(evtimer_new(base_, OnResumeTimer, this));
}

void ProgramStderr::Watch(pid_t pid, UniqueFd read_end) {
  auto pipe = std::make_unique<OutputPipe>(
      base_, std::move(read_end),
      [this, pid](std::vector<std::string>& lines) { Send(pid, lines); });
  if (paused_) pipe->Pause();
  pipes_[pid] = std::move(pipe);
}

void ProgramStderr::ProgramExited(pid_t pid) {
  auto found = pipes_.find(pid);
  if (found != pipes_.end()) found->second->ReadAvailable(kExitReadBytes);
  // Forget every pipe that has ended (this one, and earlier ones kept open by
  // a program's own children).
  for (auto it = pipes_.begin(); it != pipes_.end();) {
    it = it->second->ended() ? pipes_.erase(it) : std::next(it);
  }
}

void ProgramStderr::DrainAll() {
  for (auto& [pid, pipe] : pipes_) {
    pipe->ReadAvailable(kExitReadBytes);
    pipe->Close();
  }
  pipes_.clear();
}

void ProgramStderr::Send(pid_t pid, std::vector<std::string>& lines) {
  std::string batch;
  for (std::string& line : lines) {
    if (batch.size() + line.size() + 1 > kMaxWireString) SendBatch(pid, batch);
    batch += line;
    batch += '\n';
  }
  SendBatch(pid, batch);
  PauseIfBehind();
}

void ProgramStderr::SendBatch(pid_t pid, std::string& batch) {
  if (batch.empty()) return;
  for (char& c : batch) {
    if (c == '\0') c = '?';  // the wire refuses NUL in strings; the log shows '?' anyway
  }
  channel_->Send(MessageType::kProgramOutput, EncodePayload(ProgramOutput{pid, batch}));
  batch.clear();
}

void ProgramStderr::PauseIfBehind() {
  if (paused_ || channel_->queued() < kMaxQueuedOutput) return;
  paused_ = true;
  for (auto& [pid, pipe] : pipes_) pipe->Pause();
  timeval delay = Seconds(kResumeCheckSeconds);
  event_add(resume_timer_.get(), &delay);
}

void ProgramStderr::OnResumeTimer(evutil_socket_t, short, void* self) {
  auto* output = static_cast<ProgramStderr*>(self);
  if (output->channel_->queued() >= kMaxQueuedOutput) {
    timeval delay = Seconds(kResumeCheckSeconds);
    event_add(output->resume_timer_.get(), &delay);
    return;
  }
  output->paused_ = false;
  for (auto& [pid, pipe] : output->pipes_) pipe->Resume();
}

}  // namespace gatehouse
