#!/usr/bin/perl
# netserver_builtin.pl: Net::Server::PreFork serving the built-ins' replies in
# its own processes (a pool, no process per connection): the Perl reference for
# `tools/dev bench`.
#   daytime: the ctime line and close; echo: back what comes until EOF.
# usage: netserver_builtin.pl PORT daytime|echo
use strict;
use warnings;

package BenchServer;
use base qw(Net::Server::PreFork);
use POSIX qw(strftime);

my $mode;

sub process_request {
  my $self = shift;
  if ($mode eq 'daytime') {
    print strftime("%a %b %e %H:%M:%S %Y\r\n", localtime);
    return;
  }
  my $buffer;
  while (sysread(STDIN, $buffer, 16384)) {
    syswrite(STDOUT, $buffer);
  }
}

package main;

my ($port, $which) = @ARGV;
die "usage: $0 PORT daytime|echo\n" unless $port && $which && $which =~ /^(daytime|echo)$/;
$mode = $which;
# A pool sized for 32 concurrent clients on a small machine; requests are cheap,
# so children serve many (max_requests) before they are replaced.
BenchServer->run(
  port => "127.0.0.1:$port", ipv => 4, log_level => 0,
  min_servers => 8, min_spare_servers => 4, max_spare_servers => 16, max_servers => 64,
  max_requests => 100000, listen => 1024,
);
