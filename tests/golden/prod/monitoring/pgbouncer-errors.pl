#!/usr/bin/perl
# pgbouncer-errors.pl: rendered by the Zentoria Pulumi program from the stack plan; edits are overwritten.
# Counts PgBouncer's "pooler error" log lines and serves them to Prometheus.
# Usage: perl pgbouncer-errors.pl <log file> <port> <truncate above bytes> [<metrics file to serve too>]
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;

my ($log_path, $port, $max_bytes, $extra_path) = @ARGV;
die "usage: $0 <log file> <port> <max bytes>\n" unless defined $max_bytes;
$| = 1;
$SIG{PIPE} = 'IGNORE';
$SIG{TERM} = sub { exit 0 };

my $total = 0;
my %by_database;
my $readable = 0;
my ($log, $position);
my $started = 0;

# Database names come from clients: only a plain name becomes a label value, and only so many.
sub label_of {
    my ($name) = @_;
    return 'other' unless defined $name && $name =~ /^[A-Za-z0-9_.()-]{1,63}$/;
    return $name if exists $by_database{$name} || keys(%by_database) < 100;
    return 'other';
}

sub count_line {
    my ($line) = @_;
    return unless $line =~ / pooler error: /;
    $total++;
    my ($database) = $line =~ m{ [CS]-0x[0-9a-f]+: ([^/ ]+)/[^ ]* pooler error: };
    $by_database{label_of($database)}++;
}

sub follow {
    if (!$log) {
        # No file at the first look: everything PgBouncer writes into it from now on is new.
        open($log, '<', $log_path) or do { $readable = 0; $started = 1; return };
        # The first time from the end: what was logged before the counter ran is not counted.
        seek($log, 0, $started ? 0 : 2);
        $position = tell($log);
        $started = 1;
    }
    my $size = -s $log_path;
    if (!defined $size) {
        close($log);
        undef $log;
        $readable = 0;
        return;
    }
    $readable = 1;
    if ($size < $position) {
        seek($log, 0, 0);
        $position = 0;
    }
    seek($log, $position, 0);
    while (defined(my $line = <$log>)) {
        # A line PgBouncer is still writing is read again next time.
        last unless $line =~ /\n\z/;
        $position = tell($log);
        count_line($line);
    }
    if ($position > $max_bytes && (-s $log_path) == $position) {
        if (open(my $writer, '+<', $log_path)) {
            truncate($writer, 0);
            close($writer);
            $position = 0;
        }
    }
}

sub metrics {
    my @lines = (
        '# HELP pgbouncer_pooler_errors_total Errors PgBouncer sent to clients ("pooler error" lines in its log) since this counter started.',
        '# TYPE pgbouncer_pooler_errors_total counter',
        "pgbouncer_pooler_errors_total $total",
        '# HELP pgbouncer_pooler_errors_by_database_total The same, by the database the client asked for ((nodb) before one was known).',
        '# TYPE pgbouncer_pooler_errors_by_database_total counter',
        (map { "pgbouncer_pooler_errors_by_database_total{database=\"$_\"} $by_database{$_}" } sort keys %by_database),
        '# HELP pgbouncer_pooler_errors_log_readable Whether PgBouncer\'s log file could be read at the last look.',
        '# TYPE pgbouncer_pooler_errors_log_readable gauge',
        "pgbouncer_pooler_errors_log_readable $readable",
    );
    return join("\n", @lines) . "\n" . extra_metrics();
}

# The backup sidecar's gauges (a file it replaces whole), served as they are: a textfile collector.
sub extra_metrics {
    return '' unless defined $extra_path;
    my $text = '';
    if (open(my $extra, '<', $extra_path)) {
        local $/;
        $text = <$extra> // '';
        close($extra);
    }
    $text .= "\n" if length($text) && $text !~ /\n\z/;
    my $readable = length($text) ? 1 : 0;
    return $text . "# HELP zentoria_backup_metrics_readable Whether the backup sidecar's metrics file could be read (absent before its first run).\n"
        . "# TYPE zentoria_backup_metrics_readable gauge\nzentoria_backup_metrics_readable $readable\n";
}

sub answer {
    my ($client) = @_;
    my $request = '';
    my $waiting = IO::Select->new($client);
    while ($request !~ /\r?\n\r?\n/ && length($request) < 8192 && $waiting->can_read(2)) {
        my $read = sysread($client, my $chunk, 4096);
        last unless $read;
        $request .= $chunk;
    }
    my ($path) = $request =~ m{^GET (\S+) HTTP/};
    my ($status, $type, $body) = !defined $path ? ('400 Bad Request', 'text/plain', "bad request\n")
        : $path eq '/metrics' ? ('200 OK', 'text/plain; version=0.0.4', metrics())
        : $path eq '/' ? ('200 OK', 'text/plain', "pgbouncer-errors: counts PgBouncer's pooler errors; see /metrics\n")
        : ('404 Not Found', 'text/plain', "not found\n");
    print $client "HTTP/1.0 $status\r\nContent-Type: $type\r\nContent-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
    close($client);
}

my $server = IO::Socket::INET->new(LocalAddr => '0.0.0.0', LocalPort => $port, Listen => 16, ReuseAddr => 1, Proto => 'tcp')
    or die "pgbouncer-errors: cannot listen on port $port: $!\n";
my $listening = IO::Select->new($server);
print "pgbouncer-errors: counting pooler errors in $log_path, serving on port $port\n";
my $next_look = 0;
while (1) {
    if (time >= $next_look) {
        follow();
        $next_look = time + 1;
    }
    if ($listening->can_read(1)) {
        my $client = $server->accept or next;
        follow();
        answer($client);
    }
}
