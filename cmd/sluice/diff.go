package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicehq/sluice/evolution"
	"github.com/sluicehq/sluice/srclient"
)

// This file is `sluice schema diff OLD NEW`: flags onto evolution.Diff.

const diffUsage = `Show every change between two schemas, breaking or safe.

Usage:
  sluice schema diff OLD NEW [--level LEVEL] [--registry URL]

OLD and NEW are schema files, or, with --registry, versions of subjects in
that registry: SUBJECT:VERSION (a number or latest) or just SUBJECT (its
latest version). A file may be compared with a registered version:
  sluice schema diff --registry http://sr:8081 orders-value:1 orders-value:3
  sluice schema diff --registry http://sr:8081 orders-value:latest ./order.avsc
A file that references other schemas (an Avro named type, a Protobuf
import) is parsed with the references of the registered version it is
compared with.

Each change is marked "breaking" when the compatibility rules of the level
report a violation at or under its path, else "safe". Violations that match
no structural change are listed as breaking too. The level is --level, else
(with --registry) the subject's effective level in the registry, else
BACKWARD. Avro and JSON Schema are compared as JSON documents (fields matched
by name); Protobuf by messages, fields (by number) and enum values, with
paths as the rules name them ("pkg.Msg.field (field 2)").
A registry with TLS or authentication takes --tls-ca and --user/--password
or --token, as "sluice schema check" does.
Exit codes: 0 no breaking change, 1 breaking changes, 2 usage or I/O error,
3 the registry refused the credentials, 4 permission denied.
`

func runSchemaDiff(ctx context.Context, e *env, args []string) int {
	f := newSchemaFlags(e, "diff", diffUsage)
	levelName := f.String("level", "", "compatibility `LEVEL` that decides what is breaking (default: the subject's, else BACKWARD)")
	user := f.String("registry-user", "", "basic auth `user` for --registry (also $SLUICE_REGISTRY_USER)")
	password := f.String("registry-password", "", "basic auth `password` for --registry (also $SLUICE_REGISTRY_PASSWORD)")
	pos, code, ok := f.parse(args, "OLD NEW", 2, 2)
	if !ok {
		return code
	}
	registrySet := f.given("registry", "addr")
	level, err := evolution.ParseLevel(*levelName)
	if err != nil {
		return f.usageError("--level: %v", err)
	}
	var reader *srclient.Reader
	if registrySet {
		cl, err := f.client.registryClient(f.client.addr, *user, *password)
		if err != nil {
			return f.usageError("%v", err)
		}
		reader = srclient.NewReader(cl)
	}
	sides, level, err := evolution.ResolveOperands(ctx, reader, [2]string{pos[0], pos[1]}, level)
	if err != nil {
		var ae *evolution.ArgumentError
		if errors.As(err, &ae) {
			return f.usageError("%v", err)
		}
		if code, ok := authExit(e.stderr, "schema diff", err); ok {
			return code
		}
		fmt.Fprintf(e.stderr, "%s: %v\n", f.Name(), err)
		if h := tlsHint(err); h != "" {
			fmt.Fprintf(e.stderr, "  %s\n", h)
		}
		return 2
	}
	rep, err := evolution.Diff(level, sides[0], sides[1])
	if err != nil {
		fmt.Fprintf(e.stderr, "%s: %v\n", f.Name(), err)
		return 2
	}
	rep.Write(e.stdout, f.client.json())
	if rep.Breaking > 0 {
		return 1
	}
	return 0
}
