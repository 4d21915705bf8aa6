// Command sluice is the one Sluice binary: the server (registry and broker on
// one port) and the client commands that talk to it.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand. run gets the arguments after the command name.
type command struct {
	summary string
	run     func(ctx context.Context, env *env, args []string) int
}

// commands is the table of subcommands; each lives in its own file.
var commands = map[string]command{
	"serve":   {"run the registry and broker server", runServe},
	"version": {"print the version", runVersion},
	"schema":  {"register, inspect, test and delete schemas", runSchema},
	"topic":   {"create, list, describe, alter and delete topics", runTopic},
	"produce": {"append records to a topic", runProduce},
	"consume": {"read records from a topic", runConsume},
	"group":   {"list, describe, reset and delete consumer groups", runGroup},
	"acl":     {"create, list and delete access-control rules", runACL},
	"cluster": {"status of the cluster: nodes, database, object store, partitions", runCluster},
	"bench":   {"load generator: produce, consume, e2e", runBench},
	"gen":     {"generate Go bindings for the typed clients", runGen},
	"apply":   {"create topics and register schemas to match sluice.yaml", runApply},
	"connect": {"run PostgreSQL sink and source connectors; their status", runConnect},
}

// env is what a command may touch: its streams and environment.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the exit code: 0 success,
// 1 failure (or an incompatible schema), 2 usage error, 3 authentication
// failed, 4 permission denied (client_auth.go).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	case "-version", "--version":
		args[0] = "version"
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "sluice: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(ctx, e, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Sluice is a schema-registry-centric event streaming platform.

Usage:
  sluice <command> [flags] [arguments]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, `
Run "sluice <command> --help" for a command's flags.
Client commands talk to --addr (default http://localhost:8080, or $SLUICE_ADDR).
`+authHelp)
}
