// A service's own namespaces (nsjail's contain step, one concern per function):
// a PID namespace, a mount namespace with a private /proc that shows only that
// namespace (hidepid=invisible), and with private_network an empty network
// namespace. Programs then cannot address the supervisor, any other service's
// processes, or anything outside a chroot.
//
// The namespace's pid 1 is a keeper that serves nothing: it reaps, and it keeps
// the namespace alive until the supervisor lets go of its lifeline. The serving
// gatehouse-child stays in the parent PID namespace (its programs cannot name
// it) and its programs are born in the service's: when the serving process
// dies, its programs run on (the supervisor adopts them as the subreaper) in a
// namespace that lives while they do.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/service_spec.h"
#include "common/unique_fd.h"

namespace gatehouse {

// The namespace's pid 1, as its serving process sees it.
struct NamespaceKeeper {
  pid_t pid = 0;  // in our (the parent) PID namespace; 0: no namespace
  UniqueFd link;  // asks for sweeps; its end tells the keeper the serving process is gone
  explicit operator bool() const { return pid > 0; }
};

// Unshares the namespaces and forks the keeper, which closes `control` (the
// serving process's link to the supervisor), mounts the private /proc (under the
// chroot when it has one), drops every privilege and keeps the namespace until
// `lifeline` (the read end of the supervisor's pipe; -1: none) reaches its end,
// or, without a lifeline, until the serving process is gone. Then the kernel
// ends whatever still runs there. The calling process stays outside the PID
// namespace; its later children are born in it. False with the reason when the
// kernel refuses.
bool EnterServiceNamespaces(const JailSpec& jail, int control, int lifeline,
                            NamespaceKeeper* keeper, std::string* error);

// Ends every process in the namespace but the keeper (KILL) and waits, up to
// `seconds`, until they are gone: what a mode = wait program or a drained
// service left behind (a double-forked daemon) never outlives it. False with
// the reason when the keeper did not confirm in time.
bool SweepNamespace(const NamespaceKeeper& keeper, double seconds, std::string* error);

// In the serving process, after the privilege drop: keep programs of the same
// uid from tracing or reading it (not dumpable).
bool SealServingProcess(std::string* error);

}  // namespace gatehouse
