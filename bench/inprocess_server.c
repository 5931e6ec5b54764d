/* inprocess_server: the smallest in-process server: one blocking accept loop
 * that answers each connection itself, one after the other, no process and no
 * thread per connection. The benchmark's limit for the built-ins.
 *   daytime: the ctime line and close; echo: back what comes until EOF, then close.
 * usage: inprocess_server PORT daytime|echo   (binds 127.0.0.1) */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void serve_daytime(int fd) {
  char line[64];
  time_t now = time(NULL);
  struct tm local;
  size_t n = strftime(line, sizeof line, "%a %b %e %H:%M:%S %Y\r\n", localtime_r(&now, &local));
  ssize_t sent = send(fd, line, n, MSG_NOSIGNAL);
  (void)sent;
}

static void serve_echo(int fd) {
  char buffer[16384];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) {
    if (send(fd, buffer, (size_t)n, MSG_NOSIGNAL) != n) return;
  }
}

int main(int argc, char** argv) {
  if (argc != 3 || (strcmp(argv[2], "daytime") != 0 && strcmp(argv[2], "echo") != 0)) {
    fprintf(stderr, "usage: inprocess_server PORT daytime|echo\n");
    return 2;
  }
  int echo = strcmp(argv[2], "echo") == 0;
  signal(SIGPIPE, SIG_IGN);
  tzset();
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
    int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) continue;
    struct timeval timeout = {10, 0}; /* a stuck client cannot hold the loop for ever */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (echo) {
      serve_echo(fd);
    } else {
      serve_daytime(fd);
    }
    close(fd);
  }
}
