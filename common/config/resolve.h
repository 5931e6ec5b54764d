// The Resolve steps: keys that depend on each other or on the system (the
// passwd database, the file system) turned into a service's fields. Each adds
// "file:line: key: message" errors and leaves the field unset on error.
#pragma once

#include <string>

#include "common/config.h"
#include "common/config/settings.h"

namespace gatehouse {

// port with host and proto: the listeners.
void ResolveNetwork(const Settings& settings, const std::string& where, ServiceConfig* service,
                    ConfigErrors* errors);

// user, group and chroot: who the programs run as, and where.
// Two services whose names hash to one dynamic uid: the later one (in name
// order) takes the next free uid of the range, skipping uids in /etc/passwd.
void DistinctDynamicUids(std::vector<ServiceConfig>* services);

// mode = single is max_servers = 1; another max_servers beside it is an error.
void ResolveMode(const Settings& settings, ServiceConfig* service, ConfigErrors* errors);

// proxy_protocol against the service's ports: the header exists only on TCP.
void ResolveProxyProtocol(const Settings& settings, ServiceConfig* service, ConfigErrors* errors);

// tls_cert, tls_key and the other tls_ keys: the service's TlsConfig; an error
// for a mode or port TLS cannot serve (the files are read by CheckTlsFiles).
void ResolveTls(const Settings& settings, ServiceConfig* service, ConfigErrors* errors);

// unix_owner and unix_group as ids; an error for these keys and unix_mode in a
// service's own section (`own`) when it has no UNIX port; a warning for a
// unix_owner that is root under another name.
void ResolveUnixSocket(const Settings& settings, const Settings& own, ServiceConfig* service,
                       ConfigErrors* errors, std::vector<std::string>* warnings);

void ResolveIdentity(const Settings& settings, const std::string& where, ServiceConfig* service,
                     ConfigErrors* errors);

// exec and args, checked against the identity and chroot (resolve those first).
void ResolveProgram(const Settings& settings, const std::string& where, ServiceConfig* service,
                    ConfigErrors* errors);

// USER, LOGNAME, HOME and SHELL for the program, as systemd gives a User=
// service, from the final uid (run after DistinctDynamicUids), unless env= set them.
void ResolveLoginEnvironment(ServiceConfig* service);

// chdir, checked against the chroot (resolve identity first): an absolute path
// that, as far as gatehouse can see, is a directory inside the chroot.
void ResolveWorkingDirectory(const Settings& settings, ServiceConfig* service,
                             ConfigErrors* errors);

}  // namespace gatehouse
