// Package console is Sluice's web console, served by `sluice serve` at
// /console/ on the HTTP port: an overview of the node, topics with their
// partitions and configs, a record browser that decodes keys and values
// through the registry (with a live follow over server-sent events),
// subjects with their versions, highlighted schema text, compatibility
// level, the diff between two versions (package evolution's engine, as
// `sluice schema diff`) and a candidate-schema test, consumer groups with
// lag and an offset reset behind a confirmation, and a form to produce a
// test record.
//
// Pages are server-rendered html/template with a few lines of JavaScript
// (the live follow); every template, style sheet and script is embedded, so
// the console works with no network and no build step. Forms work without
// JavaScript, so every action is a plain request a keyboard can reach.
//
// # Where the data comes from
//
// The console reads and writes through the node's public APIs, the same
// Connect services (TopicService, BrokerService, GroupService) and
// Confluent REST API that the CLI and every client use, called with their
// Go clients (the generated Connect clients and srclient) over an
// in-process transport that hands each request to the API's http.Handler
// (Config.API). So limits, validation and authorization apply to the
// console exactly as to any client: the API request carries the browser
// request's context (and with it the principal that authentication put
// there, auth.FromContext) and its Authorization header. The console has no
// login of its own and imports neither the broker nor the registry core.
package console

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/proto/gen/sluice/broker/v1/brokerv1connect"
	"github.com/sluicehq/sluice/srclient"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Prefix is the path the console is served under.
const Prefix = "/console/"

// Config configures a Console. Zero fields take the defaults named.
type Config struct {
	// API serves the node's Connect services and Confluent REST API; the
	// console sends every request it makes there, in process. Required.
	API http.Handler
	// Logger receives the console's logs; nil discards.
	Logger *slog.Logger
	// Version is the server version shown on the overview; "" means the
	// main module's version from the build information.
	Version string
	// Started is when the node started, for its uptime; zero means when
	// New was called.
	Started time.Time
	// Now is the clock; nil means time.Now. Tests fix it.
	Now func() time.Time
	// MaxRecords bounds the records one browser page shows; 0 means 50.
	MaxRecords int
}

// Console is the web console's http.Handler. It is safe for concurrent
// use.
type Console struct {
	cfg    Config
	pages  map[string]*template.Template
	mux    *http.ServeMux
	topics brokerv1connect.TopicServiceClient
	broker brokerv1connect.BrokerServiceClient
	groups brokerv1connect.GroupServiceClient
	sr     *srclient.Client
	hc     *http.Client // the in-process client of the APIs
	static http.Handler
	// assets maps a static file's name to its versioned URL (see asset).
	assets map[string]string
	keeper rateKeeper // the last metrics reading, for rates
}

// base is the URL the in-process clients address; only its path reaches
// the API handler.
const base = "http://sluice.internal"

// New builds a console over cfg.API.
func New(cfg Config) (*Console, error) {
	if cfg.API == nil {
		return nil, errors.New("console: no API handler")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Started.IsZero() {
		cfg.Started = cfg.Now()
	}
	if cfg.Version == "" {
		cfg.Version = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			cfg.Version = bi.Main.Version
		}
	}
	if cfg.MaxRecords <= 0 {
		cfg.MaxRecords = 50
	}
	hc := &http.Client{Transport: inProcess{cfg.API}}
	c := &Console{
		cfg:    cfg,
		topics: brokerv1connect.NewTopicServiceClient(hc, base),
		broker: brokerv1connect.NewBrokerServiceClient(hc, base),
		groups: brokerv1connect.NewGroupServiceClient(hc, base),
		sr:     &srclient.Client{Base: base, HTTP: hc},
		hc:     hc,
	}
	sub, _ := fs.Sub(staticFS, "static")
	assets, err := versionAssets(sub)
	if err != nil {
		return nil, err
	}
	c.assets = assets
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	c.static = http.StripPrefix(Prefix+"static/", http.FileServerFS(sub))
	c.mux = c.routes()
	return c, nil
}

func (c *Console) routes() *http.ServeMux {
	m := http.NewServeMux()
	p := strings.TrimSuffix(Prefix, "/")
	m.Handle("GET "+p+"/static/", c.cacheStatic(c.static))
	m.HandleFunc("GET "+p+"/{$}", c.overview)
	m.HandleFunc("GET "+p+"/topics/{topic}", c.topic)
	m.HandleFunc("POST "+p+"/topics/{topic}/configs", c.alterConfigs)
	m.HandleFunc("GET "+p+"/topics/{topic}/records", c.records)
	m.HandleFunc("GET "+p+"/topics/{topic}/follow", c.follow)
	m.HandleFunc("GET "+p+"/topics/{topic}/produce", c.produceForm)
	m.HandleFunc("POST "+p+"/topics/{topic}/produce", c.produce)
	m.HandleFunc("GET "+p+"/subjects", c.subjects)
	m.HandleFunc("GET "+p+"/subjects/{subject}", c.subject)
	m.HandleFunc("POST "+p+"/subjects/{subject}/config", c.setLevel)
	m.HandleFunc("GET "+p+"/subjects/{subject}/diff", c.diff)
	m.HandleFunc("POST "+p+"/subjects/{subject}/test", c.testCandidate)
	m.HandleFunc("GET "+p+"/groups", c.groupList)
	m.HandleFunc("GET "+p+"/groups/{group}", c.group)
	m.HandleFunc("POST "+p+"/groups/{group}/reset", c.reset)
	m.HandleFunc(p+"/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusNotFound, fmt.Errorf("no console page at %s", r.URL.Path))
	})
	return m
}

// ServeHTTP serves the console's pages and assets. State-changing requests
// (POST) from another origin are refused (http.CrossOriginProtection): a
// browser that holds basic-auth credentials for the node must not be made
// to change it by another site.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, Prefix) {
		if r.URL.Path+"/" == Prefix {
			http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
			return
		}
		http.NotFound(w, r)
		return
	}
	if err := csrf.Check(r); err != nil {
		c.fail(w, r, http.StatusForbidden, fmt.Errorf("refused a cross-origin %s: %w", r.Method, err))
		return
	}
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	r = r.WithContext(withCredentials(r.Context(), r))
	c.mux.ServeHTTP(w, r)
}

var csrf = http.NewCrossOriginProtection()

// versionAssets names each static file by its content: the URL pages use
// carries a hash of the bytes (/console/static/console.css?v=1a2b3c4d5e6f),
// so a browser that cached an older build's style sheet or script for its
// hour asks for the new one as soon as a page names it, and never shows
// new pages with old styles.
func versionAssets(static fs.FS) (map[string]string, error) {
	names, err := fs.Glob(static, "*")
	if err != nil {
		return nil, fmt.Errorf("console: assets: %w", err)
	}
	m := map[string]string{}
	for _, n := range names {
		b, err := fs.ReadFile(static, n)
		if err != nil {
			return nil, fmt.Errorf("console: assets: %w", err)
		}
		sum := sha256.Sum256(b)
		m[n] = Prefix + "static/" + n + "?v=" + hex.EncodeToString(sum[:6])
	}
	return m, nil
}

// asset is the versioned URL of a static file, for templates.
func (c *Console) asset(name string) (string, error) {
	u, ok := c.assets[name]
	if !ok {
		return "", fmt.Errorf("no static file %q", name)
	}
	return u, nil
}

// cacheStatic lets browsers keep the embedded assets for an hour.
func (c *Console) cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// page is what every template gets: the page's data and the chrome.
type page struct {
	Title   string
	Section string // nav entry to mark: overview, topics, subjects, groups
	Data    any
	// Flash is a message shown above the content (an action's result).
	Flash string
	// Err is an error shown above the content.
	Err string
}

// render writes the named page with status.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t, ok := c.pages[name]
	if !ok {
		c.cfg.Logger.Error("console: no template", "template", name)
		http.Error(w, "no template "+name, http.StatusInternalServerError)
		return
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", p); err != nil {
		c.cfg.Logger.Error("console: rendering a page", "template", name, "err", err)
		http.Error(w, "rendering "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	io.WriteString(w, b.String())
}

// fail renders an error page: the status and the error's message.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	c.render(w, r, status, "error", page{Title: http.StatusText(status), Err: err.Error(), Data: status})
}

// apiFail renders an error an API call answered, with the HTTP status that
// matches its Connect code or registry status.
func (c *Console) apiFail(w http.ResponseWriter, r *http.Request, what string, err error) {
	msg := messageOf(err)
	// Most API messages name the topic or subject already.
	if f := strings.Fields(what); len(f) == 0 || !strings.Contains(msg, strconv.Quote(f[len(f)-1])) {
		msg = what + ": " + msg
	}
	c.fail(w, r, statusOf(err), errors.New(msg))
}

// statusOf maps an API error to the HTTP status of the page that shows it.
func statusOf(err error) int {
	var re *requestError
	if errors.As(err, &re) {
		return http.StatusBadRequest
	}
	var se *srclient.Error
	if errors.As(err, &se) && se.Status != 0 {
		return se.Status
	}
	switch connect.CodeOf(err) {
	case connect.CodeNotFound:
		return http.StatusNotFound
	case connect.CodeInvalidArgument, connect.CodeFailedPrecondition, connect.CodeOutOfRange:
		return http.StatusBadRequest
	case connect.CodeUnauthenticated:
		return http.StatusUnauthorized
	case connect.CodePermissionDenied:
		return http.StatusForbidden
	case connect.CodeAlreadyExists, connect.CodeAborted:
		return http.StatusConflict
	case connect.CodeCanceled:
		return 499
	}
	if errors.Is(err, context.Canceled) {
		return 499
	}
	return http.StatusBadGateway
}

// message is an API error's text without Connect's code prefix.
func message(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message()
	}
	return err.Error()
}

// path joins the console prefix and escaped segments.
func path(segs ...string) string {
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(Prefix, "/"))
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(escapeSegment(s))
	}
	return b.String()
}
