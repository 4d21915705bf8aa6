package vfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"testing"
)

// TestFS runs the same checks against the OS and the in-memory FS.
func TestFS(t *testing.T) {
	t.Parallel()
	for name, mk := range map[string]func(t *testing.T) (FS, string){
		"os":  func(t *testing.T) (FS, string) { return OS, t.TempDir() },
		"mem": func(t *testing.T) (FS, string) { return NewMem(), "/d" },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fsys, dir := mk(t)
			if err := fsys.MkdirAll(dir); err != nil {
				t.Fatal(err)
			}
			a := filepath.Join(dir, "a")
			f, err := fsys.Create(a)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte("hello world"), 0); err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte("HELLO"), 0); err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(8); err != nil {
				t.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			if n, err := f.Size(); err != nil || n != 8 {
				t.Fatalf("Size = %d, %v", n, err)
			}
			buf := make([]byte, 10)
			n, err := f.ReadAt(buf, 0)
			if n != 8 || !errors.Is(err, io.EOF) || string(buf[:n]) != "HELLO wo" {
				t.Fatalf("ReadAt = %d %q %v", n, buf[:n], err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			b := filepath.Join(dir, "b")
			if err := fsys.Rename(a, b); err != nil {
				t.Fatal(err)
			}
			if _, err := fsys.Open(a); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Open of a renamed file: %v", err)
			}
			r, err := fsys.Open(b)
			if err != nil {
				t.Fatal(err)
			}
			if err := fsys.Remove(b); err != nil {
				t.Fatal(err)
			}
			// A removed file stays readable through an open handle.
			if n, _ := r.ReadAt(buf[:5], 0); n != 5 || string(buf[:5]) != "HELLO" {
				t.Fatalf("read after remove = %q", buf[:n])
			}
			r.Close()
			if names, err := fsys.List(dir); err != nil || len(names) != 0 {
				t.Fatalf("List = %v, %v", names, err)
			}
			if err := fsys.SyncDir(dir); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMemCrashClone(t *testing.T) {
	t.Parallel()
	m := NewMem()
	m.MkdirAll("/d")
	write := func(name, data string, sync bool) File {
		f, err := m.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt([]byte(data), 0)
		if sync {
			f.Sync()
		}
		return f
	}
	write("/d/synced", "durable", true)
	f := write("/d/partly", "first", true)
	f.WriteAt([]byte(" second"), 5) // not synced
	write("/d/unsynced-data", "lost", false)
	m.SyncDir("/d")
	write("/d/unsynced-name", "synced data, unsynced name", true)
	m.Rename("/d/synced", "/d/renamed") // rename not synced

	c := m.CrashClone()
	names, _ := c.List("/d")
	if want := []string{"partly", "synced", "unsynced-data"}; !slices.Equal(names, want) {
		t.Fatalf("after crash: %v, want %v", names, want)
	}
	for name, want := range map[string]string{"/d/synced": "durable", "/d/partly": "first", "/d/unsynced-data": ""} {
		if got, _ := c.ReadFile(name); string(got) != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	// The original keeps its live state.
	if got, _ := m.ReadFile("/d/partly"); string(got) != "first second" {
		t.Errorf("live file = %q", got)
	}
}

func TestFault(t *testing.T) {
	t.Parallel()
	m := NewMem()
	m.MkdirAll("/d")
	var armed bool
	f := NewFault(m, func(op Op, path string) error {
		if !armed {
			return nil
		}
		switch op {
		case OpWrite:
			return &ShortWrite{N: 3}
		case OpSync:
			return ErrInjected
		}
		return nil
	})
	file, err := f.Create("/d/x")
	if err != nil {
		t.Fatal(err)
	}
	armed = true
	n, err := file.WriteAt([]byte("abcdef"), 0)
	if n != 3 || !errors.Is(err, ErrInjected) {
		t.Fatalf("short write = %d, %v", n, err)
	}
	if err := file.Sync(); !errors.Is(err, ErrInjected) {
		t.Fatalf("Sync = %v", err)
	}
	if got, _ := m.ReadFile("/d/x"); string(got) != "abc" {
		t.Fatalf("after short write the file holds %q", got)
	}
	inj, count := FailAfter(2, OpRemove)
	f.SetInjector(inj)
	for i, want := range []bool{true, true, false} {
		m.WriteFile("/d/y", nil)
		err := f.Remove("/d/y")
		if (err == nil) != want {
			t.Fatalf("remove %d: %v", i, err)
		}
	}
	if count.Load() != 3 {
		t.Fatalf("FailAfter counted %d", count.Load())
	}
}

// WriteVAt puts every buffer in order at its offset, also past IOV_MAX
// buffers and with empty ones among them, on each implementation.
func TestWriteVAt(t *testing.T) {
	t.Parallel()
	var bufs [][]byte
	var want []byte
	for i := range 2500 {
		b := []byte(fmt.Sprintf("<%d>", i))
		if i%7 == 0 {
			b = nil
		}
		bufs = append(bufs, b)
		want = append(want, b...)
	}
	dir := t.TempDir()
	for name, fsys := range map[string]FS{"os": OS, "mem": NewMem(), "fault": NewFault(NewMem(), nil)} {
		path := dir + "/" + name
		if name != "os" {
			path = "/" + name
		}
		f, err := fsys.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte("head"), 0); err != nil {
			t.Fatal(err)
		}
		n, err := WriteVAt(f, bufs, 4)
		if err != nil || n != len(want) {
			t.Fatalf("%s: WriteVAt = %d, %v; want %d bytes", name, n, err, len(want))
		}
		got := make([]byte, 4+len(want))
		if _, err := f.ReadAt(got, 0); err != nil {
			t.Fatal(err)
		}
		if string(got) != "head"+string(want) {
			t.Fatalf("%s: file holds %.60q…, want %.60q…", name, got, "head"+string(want))
		}
		f.Close()
	}
}
