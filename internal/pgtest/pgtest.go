// Package pgtest runs a throwaway PostgreSQL server for tests: initdb into a
// temporary directory, then the postgres server as a child process of the
// test binary, listening on 127.0.0.1 only (and a Unix socket in the same
// directory). Each test gets a database of its own on the shared server.
//
// A package's tests share one server, started on first use and stopped by
// Main:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		url := pgtest.DB(t) // a fresh, empty database; dropped after the test
//		...
//	}
//
// Where PostgreSQL comes from, in order: the environment variable
// SLUICE_TEST_PG (the URL of a running server where the test user may create
// databases; nothing is started), else the binaries of Debian's postgresql
// packages (/usr/lib/postgresql/<major>/bin) or the directory named by
// SLUICE_TEST_PG_BIN. When none is found the test is skipped with a message
// naming what is missing, unless SLUICE_REQUIRE_PG is set (CI sets it): then
// it fails, so that CI cannot skip PostgreSQL tests silently.
//
// The PostgreSQL server refuses to run as root; when the test runs as root,
// initdb and postgres run as the system user "postgres" (Debian creates it),
// which must be able to write the temporary directory (it is chowned).
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names a running server to use instead of starting one.
const EnvURL = "SLUICE_TEST_PG"

// EnvBin names a directory holding initdb and postgres.
const EnvBin = "SLUICE_TEST_PG_BIN"

// EnvRequire, when set to anything but "" or "0", turns a missing PostgreSQL
// into a test failure instead of a skip.
const EnvRequire = "SLUICE_REQUIRE_PG"

// User is the superuser of servers this package starts.
const User = "sluice"

// Options tune a server started by Start.
type Options struct {
	// Durable keeps fsync on. The default turns fsync, synchronous_commit
	// and full_page_writes off: a test's data must survive the server
	// process being killed (the kernel still has it), not the machine
	// losing power, and fsync on a shared test machine is slow.
	Durable bool
	// Settings are extra server settings (name -> value), passed as -c.
	Settings map[string]string
}

// Server is a PostgreSQL server owned by the test process.
type Server struct {
	dir  string // temporary directory: data/, the socket, the log
	bin  string
	port int
	cred *syscall.Credential // nil when not running as root
	opts Options

	mu  sync.Mutex
	cmd *exec.Cmd
	// exited is closed when cmd's process has been waited for.
	exited chan struct{}
}

// Find returns the directory holding initdb and postgres, or an error
// naming what is missing.
func Find() (string, error) {
	if d := os.Getenv(EnvBin); d != "" {
		if err := hasBinaries(d); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvBin, d, err)
		}
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major first ("9.6" sorts after "15" as a string; compare as numbers).
	sort.Slice(dirs, func(i, j int) bool { return majorOf(dirs[i]) > majorOf(dirs[j]) })
	for _, d := range dirs {
		if hasBinaries(d) == nil {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL is not installed: no initdb and postgres under /usr/lib/postgresql/*/bin " +
		"(Debian: apt-get install postgresql-15), and neither " + EnvURL + " (a server URL) nor " + EnvBin + " is set")
}

func majorOf(binDir string) float64 {
	f, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return f
}

func hasBinaries(dir string) error {
	for _, b := range []string{"initdb", "postgres"} {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
			return fmt.Errorf("no %s in %s", b, dir)
		}
	}
	return nil
}

// Start runs initdb in a new temporary directory and starts postgres on a
// free loopback port. The caller stops it with Stop.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sluice-pg-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &Server{dir: dir, bin: bin, opts: opts}
	fail := func(err error) (*Server, error) {
		s.Stop()
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fail(fmt.Errorf("pgtest: running as root, and PostgreSQL refuses root: need the system user \"postgres\" to run it as: %w", err))
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return fail(fmt.Errorf("pgtest: %w", err))
		}
	}
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", s.dataDir(), "-U", User,
		"--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("pgtest: initdb: %w\n%s", err, out))
	}
	// A free port: the kernel picks one, postgres binds it right after. A
	// race with another process is possible; start retries once on a new
	// port.
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			return fail(err)
		}
		err = s.start(ctx)
		if err == nil {
			return s, nil
		}
		if attempt == 2 {
			return fail(err)
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }
func (s *Server) logPath() string { return filepath.Join(s.dir, "postgres.log") }

// start runs the postgres process on s.port and waits until it accepts
// connections.
func (s *Server) start(ctx context.Context) error {
	args := []string{"-D", s.dataDir(), "-p", strconv.Itoa(s.port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200",
		"-c", "shared_buffers=32MB", "-c", "logging_collector=off"}
	if !s.opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	keys := make([]string, 0, len(s.opts.Settings))
	for k := range s.opts.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+s.opts.Settings[k])
	}
	logf, err := os.OpenFile(s.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Pdeathsig: if the test binary dies, so does the postmaster (its
	// backends follow when they notice). Setpgid keeps a ^C of the test
	// from reaching the server before Stop does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	logf.Close()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	deadline := time.Now().Add(60 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, s.url("postgres"))
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("pgtest: postgres exited while starting: %s", s.logTail())
		case <-ctx.Done():
			s.kill()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("pgtest: postgres did not accept connections within 60s: %v; log: %s", err, s.logTail())
		}
	}
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logPath())
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// URL returns the URL of database db on the server.
func (s *Server) URL(db string) string { return s.url(db) }

func (s *Server) url(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User(User), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)), Path: "/" + db}
	u.RawQuery = "sslmode=disable"
	return u.String()
}

// Port is the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// Kill kills the server with SIGKILL (a crash: no shutdown checkpoint),
// the postmaster and its backends, and waits until they are gone. (A
// backend left to notice its postmaster's death on its own could still
// answer a query or commit a transaction meanwhile: a test that kills the
// server and expects the next call to fail would see it succeed.)
func (s *Server) Kill() { s.kill() }

func (s *Server) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	// Stopped, the postmaster cannot fork a backend between the scan of
	// its children and its death.
	cmd.Process.Signal(syscall.SIGSTOP)
	backends := childPIDs(cmd.Process.Pid)
	cmd.Process.Signal(syscall.SIGKILL)
	for _, pid := range backends {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	<-exited
	// The backends are reparented now, not ours to reap: wait until each
	// is a zombie or gone (its sockets then closed), for a few seconds.
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range backends {
		for time.Now().Before(deadline) && processAlive(pid) {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// childPIDs lists the processes whose parent is ppid (Linux /proc; none
// elsewhere).
func childPIDs(ppid int) []int {
	children, _ := eachChild(ppid)
	pids := make([]int, len(children))
	for i, c := range children {
		pids[i] = c.pid
	}
	return pids
}

// child is a process and the CPU time it used (procTicks, its own).
type child struct {
	pid   int
	ticks int64
}

// eachChild lists the live processes whose parent is ppid, from /proc.
func eachChild(ppid int) ([]child, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []child
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == ppid {
			continue
		}
		t, parent, err := procTicks(pid, false)
		if err != nil || parent != ppid {
			continue // exited meanwhile, or not a child
		}
		out = append(out, child{pid, t})
	}
	return out, nil
}

// processAlive says whether pid runs: it exists and is not a zombie.
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

// StartStandby makes a streaming replica of s (pg_basebackup, in a new
// temporary directory, with s's options), starts it on a free loopback
// port, and makes it s's synchronous standby (synchronous_standby_names):
// from then on every commit on s that writes WAL waits until the standby
// has flushed it, as production's synchronous standby makes it wait. The
// caller stops the standby with Stop, before s (a primary waiting for a
// stopped synchronous standby waits for ever).
func (s *Server) StartStandby(ctx context.Context) (*Server, error) {
	dir, err := os.MkdirTemp("", "sluice-pg-standby-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	st := &Server{dir: dir, bin: s.bin, opts: s.opts, cred: s.cred}
	fail := func(err error) (*Server, error) {
		st.Stop()
		return nil, err
	}
	if s.cred != nil {
		if err := os.Chown(dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return fail(fmt.Errorf("pgtest: %w", err))
		}
	}
	// -R writes standby.signal and primary_conninfo; -X stream copies the
	// WAL written meanwhile.
	backup := exec.CommandContext(ctx, filepath.Join(s.bin, "pg_basebackup"), "-D", st.dataDir(), "-R", "-X", "stream",
		"-c", "fast", "-d", fmt.Sprintf("host=127.0.0.1 port=%d user=%s application_name=standby", s.port, User))
	backup.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	if out, err := backup.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("pgtest: pg_basebackup: %w\n%s", err, out))
	}
	for attempt := 0; ; attempt++ {
		if st.port, err = freePort(); err != nil {
			return fail(err)
		}
		if err = st.start(ctx); err == nil {
			break
		}
		if attempt == 2 {
			return fail(err)
		}
	}
	conn, err := pgx.Connect(ctx, s.url("postgres"))
	if err != nil {
		return fail(fmt.Errorf("pgtest: %w", err))
	}
	defer conn.Close(ctx)
	for _, q := range []string{`ALTER SYSTEM SET synchronous_standby_names = 'standby'`, `SELECT pg_reload_conf()`} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fail(fmt.Errorf("pgtest: %s: %w", q, err))
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var state string
		err := conn.QueryRow(ctx, `SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'`).Scan(&state)
		if err == nil && state == "sync" {
			return st, nil
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("pgtest: the standby is not synchronous after 30 s (state %q, %v); its log: %s", state, err, st.logTail()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Restart starts the server again on the same data directory and port
// after Kill or Stop (crash recovery runs if it was killed). Backends of a
// killed postmaster may hold the shared memory for a moment; Restart retries
// for a few seconds.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	running := s.cmd != nil
	s.mu.Unlock()
	if running {
		return errors.New("pgtest: Restart: the server is running")
	}
	var err error
	for i := 0; i < 50; i++ {
		if err = s.start(ctx); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// Stop shuts the server down (fast shutdown, then SIGKILL after 10 s) and
// removes its directory.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd != nil {
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Signal(syscall.SIGKILL)
			<-exited
		}
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// shared is the package-wide server of Main and DB.
var shared struct {
	once    sync.Once
	srv     *Server
	baseURL string // when EnvURL is set
	err     error
	dbs     atomic.Int64
}

// Main runs the package's tests (m.Run) and then stops the shared server,
// if a test started one, and exits with m.Run's code. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.Stop()
	}
	os.Exit(code)
}

// unavailable skips (or, with SLUICE_REQUIRE_PG, fails) t with why.
func unavailable(t testing.TB, why error) {
	t.Helper()
	if v := os.Getenv(EnvRequire); v != "" && v != "0" {
		t.Fatalf("PostgreSQL test cannot run and %s is set: %v", EnvRequire, why)
	}
	t.Skipf("skipping PostgreSQL test: %v", why)
}

// SharedServer returns the package's shared server, starting it on first
// use; it skips t when PostgreSQL is unavailable (see the package doc) and
// returns nil when SLUICE_TEST_PG names an outside server. Tests that kill
// or restart the server must Start their own instead.
func SharedServer(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			shared.baseURL = u
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared.srv, shared.err = Start(ctx, Options{})
	})
	if shared.err != nil {
		unavailable(t, shared.err)
	}
	return shared.srv
}

// NewServer starts a server of the test's own (for tests that kill or
// restart it), stopped when t ends. It skips t when PostgreSQL is not
// installed (see the package doc); SLUICE_TEST_PG does not help here.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if _, err := Find(); err != nil {
		unavailable(t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// DB creates a new, empty database on the package's shared server and
// returns its URL; the database is dropped when t ends. It skips t when
// PostgreSQL is unavailable.
func DB(t testing.TB) string {
	t.Helper()
	srv := SharedServer(t)
	admin := shared.baseURL
	if srv != nil {
		admin = srv.URL("postgres")
	}
	name := fmt.Sprintf("sluice_test_%d_%d", os.Getpid(), shared.dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", redact(admin), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("pgtest: %s is not a URL: %v", EnvURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

// redact hides a password in a URL for messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// CPUTime is the CPU time (user and system) the server has used so far:
// its postmaster's, its live processes' (backends, WAL writer,
// checkpointer…) and that of processes that exited, which the kernel adds
// to the postmaster once it reaps them. Benchmarks read it before and
// after a run. It reads /proc (Linux only).
func (s *Server) CPUTime() (time.Duration, error) {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd == nil {
		return 0, errors.New("pgtest: CPUTime: the server is not running")
	}
	pm := cmd.Process.Pid
	ticks, _, err := procTicks(pm, true)
	if err != nil {
		return 0, err
	}
	children, err := eachChild(pm)
	if err != nil {
		return 0, fmt.Errorf("pgtest: CPUTime: %w", err)
	}
	for _, c := range children {
		ticks += c.ticks
	}
	// USER_HZ is 100 on every Linux this runs on.
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// procTicks reads /proc/pid/stat: utime + stime (+ cutime + cstime when
// children is set), in clock ticks, and the parent pid.
func procTicks(pid int, children bool) (int64, int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("pgtest: CPUTime: %w", err)
	}
	// The command name is in parentheses and may hold spaces: fields
	// start after the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("pgtest: CPUTime: /proc/%d/stat is unreadable", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15,
	// cutime 16, cstime 17.
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("pgtest: CPUTime: /proc/%d/stat has %d fields", pid, len(f)+2)
	}
	ppid, _ := strconv.Atoi(f[1])
	last := 13
	if children {
		last = 15
	}
	var ticks int64
	for _, s := range f[11:last] {
		v, _ := strconv.ParseInt(s, 10, 64)
		ticks += v
	}
	return ticks, ppid, nil
}
