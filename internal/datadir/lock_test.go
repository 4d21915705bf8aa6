package datadir

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSecondOpenerRefused: a second Acquire of a held directory, in the same
// process, fails with a LockedError naming the directory, the pid and the
// addresses, and leaves the holder's record intact.
func TestSecondOpenerRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	l, err := Acquire(dir, "127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	_, err = Acquire(dir, "127.0.0.1:8081")
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("second Acquire = %v, want a *LockedError", err)
	}
	for _, want := range []string{"data directory " + dir + " is in use", fmt.Sprintf("pid %d", os.Getpid()), "serving 127.0.0.1:8080", "stop that process or use another data directory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	h, err := ReadHolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if h.PID != os.Getpid() || len(h.Addrs) != 1 || h.Addrs[0] != "127.0.0.1:8080" {
		t.Errorf("record after a refused Acquire = %+v, want the holder's", h)
	}
}

// TestReleaseFrees: after Release the directory can be taken again, and
// Release is idempotent.
func TestReleaseFrees(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		l, err := Acquire(dir)
		if err != nil {
			t.Fatalf("Acquire %d: %v", i, err)
		}
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
		if err := l.Release(); err != nil {
			t.Fatalf("second Release: %v", err)
		}
	}
}

// TestSetAddrs: addresses recorded after Acquire show in a refusal.
func TestSetAddrs(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if _, err := Acquire(dir); err == nil || strings.Contains(err.Error(), "serving") {
		t.Fatalf("Acquire before SetAddrs = %v, want a refusal naming no address", err)
	}
	if err := l.SetAddrs("127.0.0.1:8080", "127.0.0.1:9092"); err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(dir); err == nil || !strings.Contains(err.Error(), "serving 127.0.0.1:8080, 127.0.0.1:9092") {
		t.Fatalf("Acquire after SetAddrs = %v, want both addresses named", err)
	}
	l.Release()
	if err := l.SetAddrs("x"); err == nil {
		t.Error("SetAddrs after Release succeeded")
	}
}

// TestUnwritableDir: a directory that cannot be created is an error naming
// it, not a LockedError.
func TestUnwritableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Acquire(filepath.Join(file, "data"))
	if err == nil || errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), file) {
		t.Fatalf("Acquire under a file = %v, want an error naming the path", err)
	}
}

// holderEnv makes the test binary, re-executed, hold the lock of the
// directory it names until it is killed.
const holderEnv = "SLUICE_DATADIR_TEST_HOLDER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(holderEnv); dir != "" {
		if _, err := Acquire(dir, "127.0.0.1:7777"); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Hour)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestKilledHolderFreesLock: another process holds the lock; Acquire names
// its pid; once it is killed with SIGKILL (no chance to clean up) the lock
// is free again.
func TestKilledHolderFreesLock(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holderEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("holder said %q, %v", line, err)
	}

	_, err = Acquire(dir)
	if want := fmt.Sprintf("pid %d serving 127.0.0.1:7777", cmd.Process.Pid); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Acquire while held = %v, want a refusal naming %q", err, want)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after the holder was killed: %v", err)
	}
	l.Release()
}
