package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/client/credentials"
)

// defaultAddr is where client commands find the server unless told otherwise.
const defaultAddr = "http://localhost:8080"

// clientFlags are the flags every command that talks to a server shares:
// the address, the output format, and the TLS settings and credentials
// (client_auth.go), each also from the environment.
type clientFlags struct {
	addr   string
	output string
	// What the TLS and credential flags said; validate resolves them
	// with the environment into the fields below.
	tlsCA, tlsCert, tlsKey string
	user, password, token  string

	fs     *flag.FlagSet       // the command's flags: which were given
	getenv func(string) string // the environment; nil reads nothing
	stderr io.Writer           // where a warning goes; nil drops it

	// Set by validate.
	base  string                  // the server's URL (baseURL)
	creds credentials.Credentials // what every request carries
	// credsFrom is where creds came from: "--user", "--token",
	// "$SLUICE_USER", "$SLUICE_TOKEN", or "" for none.
	credsFrom string
	tls       *tls.Config  // nil: system roots, no client certificate
	hc        *http.Client // built once by httpClient
}

// register adds --addr, --output, the TLS flags and the credential flags
// to fs; the default address comes from $SLUICE_ADDR when set, the TLS
// settings and credentials from theirs once parsed (validate), so that
// --help never prints a secret.
func (c *clientFlags) register(fs *flag.FlagSet, e *env) {
	def := defaultAddr
	if v := e.getenv("SLUICE_ADDR"); v != "" {
		def = v
	}
	c.fs, c.getenv, c.stderr = fs, e.getenv, e.stderr
	fs.StringVar(&c.addr, "addr", def, "server `URL` (also $SLUICE_ADDR); a bare host:port is https:// when a TLS setting is given, else http://")
	fs.StringVar(&c.output, "output", "text", "output format: text or json")
	c.registerAuth(fs)
}

// baseURL normalises --addr: a bare host:port gets http://, or https://
// when TLS settings are given; no trailing slash.
func (c *clientFlags) baseURL() string {
	if c.base != "" {
		return c.base
	}
	a := strings.TrimRight(c.addr, "/")
	if !strings.Contains(a, "://") {
		a = "http://" + a
	}
	return a
}

// validate checks the shared flags and resolves the TLS settings and
// credentials (client_auth.go): a file that does not load, a user without
// a password, or TLS settings for an http:// address are errors naming the
// flag or the environment variable.
func (c *clientFlags) validate() error {
	if c.output != "text" && c.output != "json" {
		return fmt.Errorf("--output %q: want text or json", c.output)
	}
	return c.resolveAuth()
}

// json reports whether machine output was asked for.
func (c *clientFlags) json() bool { return c.output == "json" }

// httpClient is the client commands' HTTP client without TLS settings or
// credentials: HTTP/1.1 and h2c, no overall timeout (streams may be long),
// a dial timeout so a missing server is reported quickly. Commands use
// clientFlags.httpClient, which adds --tls-* and the credentials.
func httpClient() *http.Client { return credentials.HTTPClient(nil) }

// writeJSON prints v as one indented JSON document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// plural counts n of noun: "1 record", "2 records". noun is a regular
// English noun (its plural adds s).
func plural[N ~int | ~int32 | ~int64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// newFlagSet returns the flag set of command name ("sluice topic") with
// output to stderr and usage (the command's help, ending in "Flags:\n")
// followed by the flag list as its Usage. Parsed with parseArgs, help
// and errors go where a user looks for them: -h/--help prints the help
// on stdout and ends the command with exit 0 (so `sluice topic --help |
// less` works); a flag error prints the error and the help on stderr,
// exit 2.
func newFlagSet(e *env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprint(out, usage)
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(out)
		// -h is listed once, in -help's line.
		fmt.Fprint(out, strings.Replace(b.String(), "  -h\t"+helpUsage+"\n", "", 1))
	}
	h := &helpFlag{show: func() {
		fs.SetOutput(e.stdout)
		fs.Usage()
		fs.SetOutput(e.stderr)
	}}
	fs.Var(h, "help", helpUsage+" (also -h)")
	fs.Var(h, "h", helpUsage)
	return fs
}

// helpUsage describes -h and --help in flag lists.
const helpUsage = "print this help on stdout"

// helpFlag is the -h/--help flag newFlagSet adds. Setting it only records
// the request; helpAsked prints the help once parsing is done, so that
// the help goes to stdout rather than to the flag set's error output.
type helpFlag struct {
	asked bool
	show  func()
}

func (h *helpFlag) String() string   { return "" }
func (h *helpFlag) IsBoolFlag() bool { return true }

// Set records the request; "--help=false" takes it back.
func (h *helpFlag) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	h.asked = v
	return nil
}

// showHelp prints the help of fs (from newFlagSet) on stdout, as -h does:
// for commands whose subcommand may be "help" (`sluice group help`).
func showHelp(fs *flag.FlagSet) {
	if f := fs.Lookup("help"); f != nil {
		if h, ok := f.Value.(*helpFlag); ok {
			h.show()
		}
	}
}

// helpAsked reports whether fs (from newFlagSet) was given -h or --help,
// and if so prints the help on stdout. Flag sets built otherwise never
// ask: the flag package handles their -h itself (ErrHelp).
func helpAsked(fs *flag.FlagSet) bool {
	f := fs.Lookup("help")
	if f == nil {
		return false
	}
	h, ok := f.Value.(*helpFlag)
	if !ok || !h.asked {
		return false
	}
	h.show()
	return true
}

// checkPartition checks a --partition flag: a partition number (an int32
// on the wire, so a larger one must not wrap to another partition), or -1
// for none chosen.
func checkPartition(n int) error {
	if n < -1 || n > math.MaxInt32 {
		return fmt.Errorf("--partition %d: want a partition number from 0 to %d, or -1", n, math.MaxInt32)
	}
	return nil
}
