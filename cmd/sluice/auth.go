package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/sluicehq/sluice/auth"
)

// The auth command registers itself: main.go's table is shared.
func init() {
	commands["auth"] = command{"make auth file entries: password hashes and API tokens", runAuth}
}

func runAuth(ctx context.Context, e *env, args []string) int {
	const usage = `Usage:
  sluice auth hash-password [--user NAME] [--bcrypt]   hash a password read from stdin or a prompt
  sluice auth new-token --principal NAME               make an API token and its entry

The auth file (sluice serve --auth-file) holds hashes, never passwords or tokens; see docs/security.md.
`
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return 2
	}
	switch args[0] {
	case "hash-password":
		return runHashPassword(e, args[1:])
	case "new-token":
		return runNewToken(e, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, usage)
		return 0
	}
	fmt.Fprintf(e.stderr, "sluice auth: unknown subcommand %q\n\n%s", args[0], usage)
	return 2
}

func runHashPassword(e *env, args []string) int {
	fs := newFlagSet(e, "auth hash-password", `Usage: sluice auth hash-password [--user NAME] [--bcrypt]

Reads a password (a prompt without echo on a terminal, else the first line of stdin) and prints,
with --user, an auth file entry to put under users: (the argon2id or bcrypt hash, and the
SCRAM-SHA-256/512 credentials that Kafka SASL SCRAM logins need); without --user, the hash alone.

Flags:
`)
	name := fs.String("user", "", "user `name`: print a whole users entry, SCRAM credentials included")
	useBcrypt := fs.Bool("bcrypt", false, "hash with bcrypt (cost 12) instead of argon2id")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if helpAsked(fs) {
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "sluice auth hash-password: unexpected argument %q (the password is read from stdin, never from the command line)\n", fs.Arg(0))
		return 2
	}
	password, err := readPassword(e)
	if err != nil {
		fmt.Fprintf(e.stderr, "sluice auth hash-password: %v\n", err)
		return 1
	}
	if *name == "" {
		h, err := auth.HashPassword(password, *useBcrypt)
		if err != nil {
			fmt.Fprintf(e.stderr, "sluice auth hash-password: %v\n", err)
			return 1
		}
		fmt.Fprintln(e.stdout, h)
		return 0
	}
	entry, err := auth.UserEntry(*name, password, *useBcrypt)
	if err != nil {
		fmt.Fprintf(e.stderr, "sluice auth hash-password: %v\n", err)
		return 1
	}
	fmt.Fprint(e.stdout, entry)
	return 0
}

// readPassword prompts twice without echo on a terminal, else reads the
// first line of stdin.
func readPassword(e *env) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, "Password: ")
		p1, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(e.stderr, "Again: ")
		p2, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", err
		}
		if string(p1) != string(p2) {
			return "", errors.New("the passwords differ")
		}
		if len(p1) == 0 {
			return "", errors.New("empty password")
		}
		return string(p1), nil
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no password on stdin (give it on the first line)")
	}
	return line, nil
}

func runNewToken(e *env, args []string) int {
	fs := newFlagSet(e, "auth new-token", `Usage: sluice auth new-token --principal NAME [--description TEXT]

Prints a new random API token (give it to the client: it is shown once and stored nowhere) and the
auth file entry to put under tokens:, which holds only its SHA-256. Clients send it as
Authorization: Bearer TOKEN (the CLI's --token).

Flags:
`)
	principal := fs.String("principal", "", "the `name` the token authenticates as (what ACLs name); required")
	desc := fs.String("description", "", "a note kept in the entry (who holds the token, what for)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if helpAsked(fs) {
		return 0
	}
	if *principal == "" || fs.NArg() > 0 {
		fmt.Fprintln(e.stderr, "sluice auth new-token: want --principal NAME and no arguments")
		return 2
	}
	token, entry, err := auth.NewToken(*principal, *desc)
	if err != nil {
		fmt.Fprintf(e.stderr, "sluice auth new-token: %v\n", err)
		return 2
	}
	fmt.Fprintf(e.stdout, "token: %s\n# auth file entry, under tokens:\n%s", token, entry)
	return 0
}
