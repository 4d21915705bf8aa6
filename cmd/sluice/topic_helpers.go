package main

// Helpers shared by the topic, produce, consume and bench commands.

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
)

// parseArgs parses args with fs allowing flags after positional arguments
// ("topic create orders --partitions 3"); "--" ends flag parsing. It returns
// the positional arguments, the exit code and whether to go on.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, int, bool) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0, false
			}
			return nil, 2, false
		}
		if helpAsked(fs) { // flag sets from newFlagSet: help on stdout
			return nil, 0, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, 0, true
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			// Everything after "--" is positional.
			return append(pos, rest...), 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseSubcommand parses the arguments of a command with subcommands
// (acl, group): its flags anywhere, cf's checked, then SUB and SUB's
// arguments. ok is false when the command ends here, with code: a usage
// error (bad flags, no SUB) or help shown ("help", -h).
func parseSubcommand(fs *flag.FlagSet, cf *clientFlags, e *env, args []string) (sub string, rest []string, code int, ok bool) {
	pos, code, ok := parseArgs(fs, args)
	if !ok {
		return "", nil, code, false
	}
	if err := cf.validate(); err != nil {
		fmt.Fprintf(e.stderr, "%s: %v\n", fs.Name(), err)
		return "", nil, 2, false
	}
	if len(pos) == 0 {
		fs.Usage()
		return "", nil, 2, false
	}
	if pos[0] == "help" && len(pos) == 1 {
		showHelp(fs)
		return "", nil, 0, false
	}
	return pos[0], pos[1:], 0, true
}

// kvFlag is a repeatable k=v flag kept in order.
type kvFlag struct {
	keys, values []string
}

func (f *kvFlag) String() string {
	var parts []string
	for i := range f.keys {
		parts = append(parts, f.keys[i]+"="+f.values[i])
	}
	return strings.Join(parts, ",")
}

func (f *kvFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: want key=value", s)
	}
	f.keys = append(f.keys, k)
	f.values = append(f.values, v)
	return nil
}

// asMap returns the pairs as a map; a repeated key keeps its last value.
func (f *kvFlag) asMap() map[string]string {
	m := make(map[string]string, len(f.keys))
	for i, k := range f.keys {
		m[k] = f.values[i]
	}
	return m
}

// listFlag is a repeatable string flag.
type listFlag []string

func (f *listFlag) String() string     { return strings.Join(*f, ",") }
func (f *listFlag) Set(s string) error { *f = append(*f, s); return nil }

// brokerClients builds the Connect clients for --addr, with the command's
// TLS settings and credentials.
func (c *clientFlags) brokerClients() (brokerv1connect.TopicServiceClient, brokerv1connect.BrokerServiceClient) {
	hc, opts := c.httpClient(), c.connectOptions()
	return brokerv1connect.NewTopicServiceClient(hc, c.baseURL(), opts...), brokerv1connect.NewBrokerServiceClient(hc, c.baseURL(), opts...)
}

// groupClient builds the GroupService client for --addr, with the
// command's TLS settings and credentials.
func (c *clientFlags) groupClient() brokerv1connect.GroupServiceClient {
	return brokerv1connect.NewGroupServiceClient(c.httpClient(), c.baseURL(), c.connectOptions()...)
}

// printErr reports a command's failure on stderr as "sluice <cmd>: <what>"
// and returns the exit code: 1, or 3 (authentication failed) and 4
// (permission denied) for a refusal (client_auth.go). Connect errors print
// their code and message; a server that is not running is named as such;
// a TLS failure gets a hint naming the flag that fixes it.
func printErr(w io.Writer, cmd string, err error) int {
	if code, ok := authExit(w, cmd, err); ok {
		return code
	}
	var ce *connect.Error
	if errors.As(err, &ce) && ce.Code() == connect.CodeUnavailable && strings.Contains(ce.Message(), "connection refused") {
		fmt.Fprintf(w, "sluice %s: no server: %s\n", cmd, ce.Message())
		return 1
	}
	fmt.Fprintf(w, "sluice %s: %v\n", cmd, err)
	if h := tlsHint(err); h != "" {
		fmt.Fprintf(w, "  %s\n", h)
	}
	return 1
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// didYouMean returns ` (did you mean "x"?)` when exactly one of words is
// within two edits of s, else "".
func didYouMean(s string, words []string) string {
	best, n := "", 0
	for _, w := range words {
		if editDistance(s, w) <= 2 {
			best, n = w, n+1
		}
	}
	if n != 1 {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b (in bytes;
// subcommand names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
