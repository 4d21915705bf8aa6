package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/srclient"
)

// This file is `sluice schema`: register, get, list, test, delete and config,
// over the Confluent REST API (so they work against any Confluent-compatible
// registry). The subcommands live in schema_commands.go, the REST client in
// schema_client.go.

// schemaCommand is one `sluice schema` subcommand.
type schemaCommand struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) int
}

// schemaCommands is the table of subcommands.
var schemaCommands = map[string]schemaCommand{
	"register": {"register a schema file under a subject", runSchemaRegister},
	"get":      {"show a version of a subject, or a schema by id", runSchemaGet},
	"list":     {"list subjects, or the versions of one subject", runSchemaList},
	"test":     {"check a schema file against a subject without registering it", runSchemaTest},
	"delete":   {"delete a subject or one version (soft, or --permanent)", runSchemaDelete},
	"config":   {"show or set the compatibility level of a subject or the global one", runSchemaConfig},
	"check":    {"check schemas against a registry, a folder or a git ref", runSchemaCheck},
	"diff":     {"show every change between two schemas (files or registry versions), breaking or safe", runSchemaDiff},
}

func runSchema(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		schemaUsage(e.stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		schemaUsage(e.stdout)
		return 0
	}
	c, ok := schemaCommands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "sluice schema: unknown command %q\n\n", args[0])
		schemaUsage(e.stderr)
		return 2
	}
	return c.run(ctx, e, args[1:])
}

func schemaUsage(w io.Writer) {
	fmt.Fprint(w, `Register, inspect, test and delete schemas in the registry.

Usage:
  sluice schema <command> [flags] [arguments]

Commands:
`)
	names := make([]string, 0, len(schemaCommands))
	for n := range schemaCommands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, schemaCommands[n].summary)
	}
	fmt.Fprint(w, `
Every command talks to the registry's Confluent-compatible REST API at
--registry (alias --addr; default http://localhost:8080, or $SLUICE_ADDR),
and prints human-readable text, or JSON with --output json.
A registry with TLS or authentication takes --tls-ca, --tls-cert/--tls-key,
--user with --password (or $SLUICE_PASSWORD; Confluent's
basic.auth.user.info), or --token; exit 3 means authentication failed, 4
permission denied.
Run "sluice schema <command> --help" for its arguments, flags and examples.
`)
}

// schemaFlags is the flag set of one subcommand with the shared client flags.
type schemaFlags struct {
	*flag.FlagSet
	client         clientFlags
	usage          string    // help text printed before the flag list
	stdout, stderr io.Writer // where help, and errors, go
}

// newSchemaFlags builds the flag set of `sluice schema name`.
func newSchemaFlags(e *env, name, usage string) *schemaFlags {
	f := &schemaFlags{
		FlagSet: flag.NewFlagSet("sluice schema "+name, flag.ContinueOnError),
		usage:   usage,
		stdout:  e.stdout,
		stderr:  e.stderr,
	}
	// parse reports errors itself: one line and a pointer to --help, not
	// the whole flag list after every typo.
	f.SetOutput(io.Discard)
	f.Usage = func() {}
	f.client.register(f.FlagSet, e)
	// The issue asked for --registry; it is the same setting as --addr.
	f.StringVar(&f.client.addr, "registry", f.client.addr, "registry `URL`, same as --addr")
	return f
}

// parse parses args, letting flags and positional arguments mix (flags may
// follow the subject, as in `register orders-value order.avsc --type avro`);
// "--" ends the flags. want names the positional arguments for messages
// ("SUBJECT FILE"); their count must be within [min, max]. ok is false when
// the command must stop with code: 0 after --help (printed to stdout), 2
// after a usage error (printed to stderr).
func (f *schemaFlags) parse(args []string, want string, min, max int) (pos []string, code int, ok bool) {
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.SetOutput(f.stdout)
				fmt.Fprint(f.stdout, f.usage, "\nFlags:\n")
				f.PrintDefaults()
				return nil, 0, false
			}
			return nil, f.usageError("%v", err), false
		}
		rest := f.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < min:
		return nil, f.usageError("missing arguments: want %s", want), false
	case len(pos) > max:
		return nil, f.usageError("unexpected argument %q: want %s", pos[max], want), false
	}
	if err := f.client.validate(); err != nil {
		return nil, f.usageError("%v", err), false
	}
	return pos, 0, true
}

// registry returns the REST client for the parsed flags, with their TLS
// settings and credentials.
func (f *schemaFlags) registry() *srclient.Client {
	return f.client.registry()
}

// fail prints err for the subcommand and returns exit code 1, or 3 and 4
// for a refusal of the credentials or the permission (client_auth.go). An
// incompatible-schema refusal lists its violations one per line: Sluice
// separates them with "; " in the message.
func (f *schemaFlags) fail(err error) int {
	if code, ok := authExit(f.stderr, strings.TrimPrefix(f.Name(), "sluice "), err); ok {
		return code
	}
	var se *srclient.Error
	if errors.As(err, &se) && (se.Code == 409 || se.Code == 40901) && strings.Contains(se.Message, "; ") {
		parts := strings.Split(se.Message, "; ")
		fmt.Fprintf(f.stderr, "%s: %s (error code %d)\n", f.Name(), parts[0], se.Code)
		for _, p := range parts[1:] {
			fmt.Fprintf(f.stderr, "  - %s\n", p)
		}
		return 1
	}
	fmt.Fprintf(f.stderr, "%s: %v\n", f.Name(), err)
	if h := tlsHint(err); h != "" {
		fmt.Fprintf(f.stderr, "  %s\n", h)
	}
	return 1
}

// usageError prints a usage problem with a pointer to --help and returns
// exit code 2.
func (f *schemaFlags) usageError(format string, args ...any) int {
	fmt.Fprintf(f.stderr, "%s: %s\nRun \"%s --help\" for usage.\n", f.Name(), fmt.Sprintf(format, args...), f.Name())
	return 2
}

// refFlag collects --ref name=subject:version flags.
type refFlag []srclient.Reference

func (r *refFlag) String() string {
	var parts []string
	for _, x := range *r {
		parts = append(parts, fmt.Sprintf("%s=%s:%d", x.Name, x.Subject, x.Version))
	}
	return strings.Join(parts, ",")
}

// Set parses name=subject:version; the version is a number, -1 or latest.
// The subject is split at the last colon, so qualified subjects
// (":.ctx:name") work.
func (r *refFlag) Set(s string) error {
	name, sv, ok := strings.Cut(s, "=")
	i := strings.LastIndexByte(sv, ':')
	if !ok || name == "" || i <= 0 {
		return fmt.Errorf("want name=subject:version, e.g. com.acme.Address=address-value:1")
	}
	subject, vs := sv[:i], sv[i+1:]
	v := -1
	if !strings.EqualFold(vs, "latest") {
		n, err := strconv.Atoi(vs)
		if err != nil || (n < 1 && n != -1) {
			return fmt.Errorf("version %q: want a positive number, -1 or latest", vs)
		}
		v = n
	}
	*r = append(*r, srclient.Reference{Name: name, Subject: subject, Version: v})
	return nil
}

// schemaTypeOf picks the schema type: --type when given, otherwise the file
// extension (.avsc/.avro: AVRO, .proto: PROTOBUF, .json: JSON).
func schemaTypeOf(flagType, file string) (string, error) {
	if flagType != "" {
		switch strings.ToLower(flagType) {
		case "avro":
			return "AVRO", nil
		case "protobuf", "proto":
			return "PROTOBUF", nil
		case "json", "jsonschema":
			return "JSON", nil
		}
		return "", fmt.Errorf("--type %q: want avro, protobuf or json", flagType)
	}
	switch strings.ToLower(filepath.Ext(file)) {
	case ".avsc", ".avro":
		return "AVRO", nil
	case ".proto":
		return "PROTOBUF", nil
	case ".json":
		return "JSON", nil
	}
	return "", fmt.Errorf("cannot tell the schema type of %q from its extension (.avsc, .avro, .proto or .json); pass --type avro, protobuf or json", file)
}

// readSchemaFile reads a schema file; "-" is standard input.
func readSchemaFile(e *env, file string) (string, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(e.stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(string(data)) == "" {
		return "", fmt.Errorf("%s: the schema file is empty", file)
	}
	return string(data), nil
}
