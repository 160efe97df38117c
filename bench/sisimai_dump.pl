#!/usr/bin/perl
# Reads e-mail file paths on standard input, prints one JSON object per line:
# {"file": PATH, "results": [{"recipient", "reason", "softbounce", "smtpcommand", "feedbacktype", "action"}]}
# Used by bench/track.py to put Sisimai's answers (Debian libsisimai-perl) next to ours.
use strict;
use warnings;
use JSON::PP;
use Sisimai;

my $json = JSON::PP->new->canonical(1);
binmode STDOUT, ':encoding(UTF-8)';
while( my $path = <STDIN> ) {
    chomp $path;
    my $results = [];
    my $parsed = eval { Sisimai->make($path) } || [];
    for my $e ( @$parsed ) {
        push @$results, {
            'recipient'    => $e->recipient->address,
            'reason'       => $e->reason,
            'softbounce'   => int($e->softbounce),
            'smtpcommand'  => $e->smtpcommand,
            'feedbacktype' => $e->feedbacktype,
            'action'       => $e->action,
        };
    }
    print $json->encode({ 'file' => $path, 'results' => $results }), "\n";
}
