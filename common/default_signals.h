// Signal state a process inherits through fork and exec from whoever started it
// (a shell, a Python or Java parent, a service manager): dispositions set to
// SIG_IGN and blocked signals survive exec. gatehouse and gatehouse-child set
// every signal back to its default and block none before setting their own, so
// that, say, a parent that blocked TERM or HUP cannot make gatehouse deaf to them.
#pragma once

namespace gatehouse {

// Every signal (real-time ones included, even glibc's own 32 and 33, through the
// kernel directly) to SIG_DFL, and an empty mask. Call first thing in main().
void DefaultSignals();

}  // namespace gatehouse
