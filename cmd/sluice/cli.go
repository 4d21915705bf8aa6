package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// defaultAddr is where client commands find the server unless told otherwise.
const defaultAddr = "http://localhost:8080"

// clientFlags are the flags every command that talks to a server shares.
type clientFlags struct {
	addr   string
	output string
}

// register adds --addr and --output to fs; the default address comes from
// $SLUICE_ADDR when set.
func (c *clientFlags) register(fs *flag.FlagSet, e *env) {
	def := defaultAddr
	if v := e.getenv("SLUICE_ADDR"); v != "" {
		def = v
	}
	fs.StringVar(&c.addr, "addr", def, "server `URL` (also $SLUICE_ADDR)")
	fs.StringVar(&c.output, "output", "text", "output format: text or json")
}

// baseURL normalises --addr: a bare host:port gets http://, no trailing slash.
func (c *clientFlags) baseURL() string {
	a := strings.TrimRight(c.addr, "/")
	if !strings.Contains(a, "://") {
		a = "http://" + a
	}
	return a
}

// validate checks the shared flags.
func (c *clientFlags) validate() error {
	if c.output != "text" && c.output != "json" {
		return fmt.Errorf("--output %q: want text or json", c.output)
	}
	return nil
}

// json reports whether machine output was asked for.
func (c *clientFlags) json() bool { return c.output == "json" }

// httpClient is the client commands' HTTP client: HTTP/1.1 and h2c, no
// overall timeout (streams may be long), a dial timeout so a missing server
// is reported quickly.
func httpClient() *http.Client {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Protocols = &p
	t.ResponseHeaderTimeout = 0
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: t}
}

// writeJSON prints v as one indented JSON document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parseFlags parses args with fs, printing usage on -h. It returns the exit
// code to use and false when the command should stop.
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}
