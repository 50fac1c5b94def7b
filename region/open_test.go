//go:build linux

package region

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/uuid"
)

// TestOpenErrors writes broken region files and opens them: each must
// fail with its sentinel and a message that carries the values.
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	src, err := Create(Options{Dir: dir, DataSlots: 16, ChunkSize: 64, Chunks: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	image, err := os.ReadFile(src.Path())
	if err != nil {
		t.Fatal(err)
	}
	// write stores a copy of the image under a fresh name (with its uuid
	// fixed up to match) after mutate, and returns the name.
	write := func(mutate func(b []byte) []byte, mode os.FileMode) string {
		name := NewName()
		id, _ := ParseName(name)
		b := append([]byte(nil), image...)
		copy(b[UUIDOffset:], id[:])
		binary.LittleEndian.PutUint64(b[sideOffset(1)+SideClaimOffset:], 0)
		if mutate != nil {
			b = mutate(b)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return name
	}
	tests := []struct {
		name  string
		open  string
		want  error
		inMsg string
	}{
		{"bad name", "not-a-region", ErrName, "not-a-region"},
		{"missing", NewName(), ErrNotFound, "not in"},
		{"group readable", write(nil, 0o640), ErrPermission, "mode 0640"},
		{"world writable", write(nil, 0o606), ErrPermission, "mode 0606"},
		{"short file", write(func(b []byte) []byte { return b[:100] }, 0o600), ErrTruncated, "100 bytes"},
		{"cut file", write(func(b []byte) []byte { return b[:HeaderSize+4096] }, 0o600), ErrTruncated, "header says"},
		{"magic", write(func(b []byte) []byte { b[0] = 'X'; return b }, 0o600), ErrMagic, "want 0x314d485357594148"},
		{"version", write(func(b []byte) []byte { b[VersionOffset] = 9; return b }, 0o600), ErrVersion, "version 9"},
		{"ring block", write(func(b []byte) []byte {
			off := binary.LittleEndian.Uint64(b[ringEntryOffset(0):])
			b[off] = 0
			return b
		}, 0o600), ErrLayout, "ring 0"},
		{"renamed region", write(func(b []byte) []byte { u := uuid.New(); copy(b[UUIDOffset:], u[:]); return b }, 0o600), ErrLayout, "holds region"},
	}
	type test = struct {
		name  string
		open  string
		want  error
		inMsg string
	}
	dirName, fifoName, linkName := NewName(), NewName(), NewName()
	os.Mkdir(filepath.Join(dir, dirName), 0o700)
	syscall.Mkfifo(filepath.Join(dir, fifoName), 0o600)
	os.Symlink(filepath.Join(dir, write(nil, 0o600)), filepath.Join(dir, linkName))
	tests = append(tests,
		test{"directory", dirName, ErrLayout, "not a regular file"},
		test{"symlink", linkName, ErrPermission, "symbolic link"},
	)
	// A FIFO opened read-write does not block; it is refused by the check.
	tests = append(tests, test{"fifo", fifoName, ErrLayout, "not a regular file"})
	// A file beyond MaxTotalSize is refused before it is mapped (a sparse
	// file: nothing is written).
	hugeName := write(nil, 0o600)
	if err := os.Truncate(filepath.Join(dir, hugeName), MaxTotalSize+4096); err != nil {
		t.Fatal(err)
	}
	tests = append(tests, test{"larger than the limit", hugeName, ErrLayout, "17179873280 bytes, more than 17179869184"})
	if os.Geteuid() != 0 { // root reads anything
		tests = append(tests, test{"unreadable", write(nil, 0o000), ErrPermission, "permission denied"})
	}
	for _, tt := range tests {
		r, err := Open(tt.open, Options{Dir: dir})
		if err == nil {
			r.Close()
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Open = %v; want %v", tt.name, err, tt.want)
		} else if !strings.Contains(err.Error(), tt.inMsg) {
			t.Errorf("%s: Open = %q; want it to mention %q", tt.name, err, tt.inMsg)
		}
	}
	// The untouched copy opens.
	r, err := Open(write(nil, 0o600), Options{Dir: dir})
	if err != nil {
		t.Fatalf("Open(valid copy) = %v", err)
	}
	r.Close()
}

func TestOpenSideBusy(t *testing.T) {
	a, b := newPair(t)
	if _, err := Open(a.Name(), Options{Dir: a.opts.Dir}); !errors.Is(err, ErrSideBusy) || !strings.Contains(err.Error(), "side 1 is active") {
		t.Fatalf("second Open = %v; want %v", err, ErrSideBusy)
	}
	if _, err := OpenSide(a.Name(), 0, Options{Dir: a.opts.Dir}); !errors.Is(err, ErrSideBusy) {
		t.Fatalf("OpenSide(0) while the creator holds it = %v; want %v", err, ErrSideBusy)
	}
	if _, err := OpenSide(a.Name(), 2, Options{Dir: a.opts.Dir}); !errors.Is(err, ErrConfig) {
		t.Fatalf("OpenSide(2) = %v; want %v", err, ErrConfig)
	}
	_ = b
}
