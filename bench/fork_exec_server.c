/* fork_exec_server: the smallest honest inetd: accept, fork, dup2 onto 0 and 1,
 * exec the program. The benchmark's floor for one process per connection.
 * usage: fork_exec_server PORT PROGRAM [ARGS...]   (binds 127.0.0.1) */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: fork_exec_server PORT PROGRAM [ARGS...]\n");
    return 2;
  }
  struct sigaction action = {0};
  action.sa_handler = reap;
  action.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &action, NULL);
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int on = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  struct sockaddr_in address = {0};
  address.sin_family = AF_INET;
  address.sin_port = htons((unsigned short)atoi(argv[1]));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr*)&address, sizeof address) != 0 ||
      listen(listener, SOMAXCONN) != 0) {
    perror("bind/listen");
    return 1;
  }
  for (;;) {
    int connection = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (connection < 0) continue;
    pid_t pid = fork();
    if (pid == 0) {
      dup2(connection, 0);
      dup2(connection, 1);
      execvp(argv[2], argv + 2);
      _exit(127);
    }
    close(connection);
  }
}
