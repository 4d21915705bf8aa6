package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// helpPending names commands whose help is not yet on stdout, with why.
var helpPending = map[string]string{}

// TestHelpGoesToStdout: every command's -h and --help (and every schema
// subcommand's) prints its help on stdout and exits 0, so `sluice topic
// --help | less` shows it; nothing goes to stderr.
func TestHelpGoesToStdout(t *testing.T) {
	var cases [][]string
	for name := range commands {
		if why, ok := helpPending[name]; ok {
			t.Logf("skipping %s: %s", name, why)
			continue
		}
		cases = append(cases, []string{name, "--help"}, []string{name, "-h"})
	}
	for name := range schemaCommands {
		cases = append(cases, []string{"schema", name, "--help"})
	}
	// Help after positional arguments and other flags.
	cases = append(cases,
		[]string{"topic", "create", "orders", "--partitions", "3", "--help"},
		[]string{"produce", "orders", "v", "-h"},
		[]string{"group", "describe", "g", "--help"},
		[]string{"bench", "produce", "--help"},
		// "help" as the subcommand.
		[]string{"help"},
		[]string{"schema", "help"},
		[]string{"group", "help"},
		[]string{"bench", "help"},
	)
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
			if code != 0 {
				t.Errorf("exit %d, want 0; stderr:\n%s", code, stderr.String())
			}
			if stdout.Len() == 0 {
				t.Errorf("nothing on stdout; stderr:\n%s", stderr.String())
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr is not empty:\n%s", stderr.String())
			}
			if args[0] != "version" && !strings.Contains(stdout.String(), "sage") {
				t.Errorf("stdout has no usage text:\n%s", stdout.String())
			}
		})
	}
}

// TestFlagErrorsGoToStderr: a flag the command does not know is a usage
// error: exit 2, the error and the help on stderr, nothing on stdout.
func TestFlagErrorsGoToStderr(t *testing.T) {
	for name := range commands {
		if name == "version" || helpPending[name] != "" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{name, "--no-such-flag"}, strings.NewReader(""), &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout is not empty:\n%s", stdout.String())
			}
			if !strings.Contains(stderr.String(), "no-such-flag") {
				t.Errorf("stderr does not name the flag:\n%s", stderr.String())
			}
		})
	}
}

// TestHelpFlagListsHOnce: -h is described once, on -help's line.
func TestHelpFlagListsHOnce(t *testing.T) {
	var stdout bytes.Buffer
	run(context.Background(), []string{"topic", "--help"}, nil, &stdout, &bytes.Buffer{})
	if n := strings.Count(stdout.String(), helpUsage); n != 1 {
		t.Errorf("%q appears %d times, want once:\n%s", helpUsage, n, stdout.String())
	}
}

// TestPlural: counts agree with their noun.
func TestPlural(t *testing.T) {
	for _, c := range []struct {
		n    int64
		noun string
		want string
	}{
		{0, "record", "0 records"},
		{1, "record", "1 record"},
		{2, "record", "2 records"},
		{1, "paired run", "1 paired run"},
		{-1, "change", "-1 changes"},
	} {
		if got := plural(c.n, c.noun); got != c.want {
			t.Errorf("plural(%d, %q) = %q, want %q", c.n, c.noun, got, c.want)
		}
	}
}

// TestPartitionFlagBounds: a --partition past int32 (which would wrap to
// another partition on the wire) or below -1 is a usage error, found
// before any request.
func TestPartitionFlagBounds(t *testing.T) {
	for _, args := range [][]string{
		{"produce", "orders", "--partition", "4294967296", "v"},
		{"produce", "orders", "--partition", "-2", "v"},
		{"consume", "orders", "--partition", "4294967296"},
		{"consume", "orders", "--partition", "-3"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append(args, "--addr", "http://127.0.0.1:1"), strings.NewReader(""), &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "--partition "+args[3]+": want a partition number") {
			t.Errorf("sluice %v: exit %d, stderr %q; want 2 and a --partition error", args, code, stderr.String())
		}
	}
}
