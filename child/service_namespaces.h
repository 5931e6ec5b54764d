// A service's own namespaces (nsjail's contain step, one concern per function):
// a PID namespace whose init is the serving gatehouse-child, a mount namespace
// with a private /proc that shows only that namespace (hidepid=invisible), and
// with private_network an empty network namespace. Programs then cannot address
// the supervisor, any other service's processes, or anything outside a chroot;
// the kernel protects init from its namespace's SIGKILL/SIGSTOP, and ChildLoop
// ignores the signals a program may still send it.
#pragma once

#include <sys/types.h>

#include <string>

namespace gatehouse {

// Unshares the namespaces and forks. `*init` is 0 in the new namespace's init
// (pid 1 there), which goes on to serve; in the calling process, which stays
// outside as the holder, it is init's pid: the holder drops its privileges like
// init and then calls HoldNamespace(). False with the reason when the kernel
// refuses: nothing changed then.
bool EnterServiceNamespaces(bool private_network, pid_t* init, std::string* error);

// The holder's whole life: forwards the supervisor's TERM to init (its handler
// takes TERM only from outside its namespace) and exits with init's status.
[[noreturn]] void HoldNamespace(pid_t init);

// In init, before the chroot: /proc (or CHROOT/proc when the chroot has that
// directory) becomes a proc of this PID namespace, mounted hidepid=invisible.
// False with the reason when it cannot be done.
bool MountPrivateProc(const std::string& chroot, std::string* error);

// In init, after the privilege drop: die with the holder (SIGKILL to the holder
// ends the whole namespace), and keep programs of the same uid from tracing or
// reading this process (not dumpable: /proc/1 is root's and hidden).
bool SealInit(std::string* error);

}  // namespace gatehouse
