package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/sluicehq/sluice/objstore"
)

// childEnv names the shared directory in a child process of
// TestDirSeveralProcesses; childIDEnv its number.
const (
	childEnv   = "SLUICE_OBJSTORE_TEST_DIR"
	childIDEnv = "SLUICE_OBJSTORE_TEST_CHILD"
)

const (
	mpRounds  = 40
	mpHotSize = 32 << 10
)

// TestDirSeveralProcesses runs three processes (this test binary again) on
// one directory at once: each overwrites one shared key with whole objects
// of its own byte, reads it back (never a torn or mixed object), writes and
// deletes keys of its own under a shared prefix (so directories are made
// and removed under each other's feet), and lists.
func TestDirSeveralProcesses(t *testing.T) {
	if dir := os.Getenv(childEnv); dir != "" {
		id, _ := strconv.Atoi(os.Getenv(childIDEnv))
		if err := mpWorker(dir, id); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if testing.Short() {
		t.Skip("spawns processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for i := range 3 {
		cmd := exec.Command(exe, "-test.run=^TestDirSeveralProcesses$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+dir, childIDEnv+"="+strconv.Itoa(i))
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("process %d: %v\n%s", i, err, outs[i])
		}
	}
	d, err := objstore.NewDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := d.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	// Each process keeps its odd-numbered keys; the hot key remains.
	if want := 1 + 3*mpRounds/2; len(objs) != want {
		t.Errorf("after the processes: %d objects, want %d", len(objs), want)
	}
}

func mpWorker(dir string, id int) error {
	d, err := objstore.NewDir(dir)
	if err != nil {
		return err
	}
	ctx := context.Background()
	mine := bytes.Repeat([]byte{byte('a' + id)}, mpHotSize)
	for i := range mpRounds {
		if err := d.Put(ctx, "hot/key", mine); err != nil {
			return fmt.Errorf("child %d: put hot: %w", id, err)
		}
		got, err := d.GetRange(ctx, "hot/key", 0, -1)
		if err != nil {
			return fmt.Errorf("child %d: get hot: %w", id, err)
		}
		if len(got) != mpHotSize || !bytes.Equal(got, bytes.Repeat(got[:1], mpHotSize)) {
			return fmt.Errorf("child %d: torn object: %d bytes starting %q", id, len(got), got[:min(8, len(got))])
		}
		key := fmt.Sprintf("wal/shared/%d-%03d", id, i)
		if err := d.Put(ctx, key, []byte(key)); err != nil {
			return fmt.Errorf("child %d: %w", id, err)
		}
		if i%2 == 0 {
			if err := d.Delete(ctx, key); err != nil {
				return fmt.Errorf("child %d: %w", id, err)
			}
			if _, err := d.GetRange(ctx, key, 0, -1); !errors.Is(err, objstore.ErrNotFound) {
				return fmt.Errorf("child %d: %s after delete: %v", id, key, err)
			}
		}
		// All processes write into one new directory and delete at once:
		// each Delete removes the directory when it empties it, under
		// the others' Puts.
		for j := range 3 {
			churn := fmt.Sprintf("churn/%03d/%d/%d", i, j, id)
			if err := d.Put(ctx, churn, mine[:100]); err != nil {
				return fmt.Errorf("child %d: %w", id, err)
			}
			if err := d.Delete(ctx, churn); err != nil {
				return fmt.Errorf("child %d: %w", id, err)
			}
		}
		if _, err := d.List(ctx, "wal/"); err != nil {
			return fmt.Errorf("child %d: list: %w", id, err)
		}
	}
	return nil
}
