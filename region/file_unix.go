//go:build unix

package region

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/edsrzf/mmap-go"
	"golang.org/x/sys/unix"
)

// DefaultDir is where regions live on Linux: tmpfs, so the memory is never
// written back to a disk.
const DefaultDir = "/dev/shm"

// mapping is a mapped region file.
type mapping struct {
	mem  mmap.MMap
	path string
}

// defaultDir is DefaultDir, a variable so that tests can make it unusable
// and see the os.TempDir fallback.
var defaultDir = DefaultDir

// dirs returns the directories to search: dir if set, else /dev/shm (when
// it exists and is writable) and os.TempDir().
func dirs(dir string) []string {
	if dir != "" {
		return []string{dir}
	}
	var ds []string
	if st, err := os.Stat(defaultDir); err == nil && st.IsDir() && unix.Access(defaultDir, unix.W_OK) == nil {
		ds = append(ds, defaultDir)
	}
	if t := os.TempDir(); len(ds) == 0 || t != ds[0] {
		ds = append(ds, t)
	}
	return ds
}

// createMapping creates the file name in the first usable directory with
// O_EXCL and mode 0600, sizes it and maps it read-write. The file is
// removed again if anything fails.
func createMapping(dir, name string, size int64) (*mapping, error) {
	d := dirs(dir)[0]
	path := filepath.Join(d, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrExist):
			return nil, fmt.Errorf("%w: %s", ErrExists, path)
		case errors.Is(err, fs.ErrPermission):
			return nil, fmt.Errorf("%w: %w", ErrPermission, err)
		}
		return nil, fmt.Errorf("region: create %s: %w", path, err)
	}
	defer f.Close() // the mapping outlives the descriptor
	fail := func(err error) (*mapping, error) {
		os.Remove(path)
		return nil, err
	}
	// The umask can only clear bits; chmod anyway so the mode is exactly
	// 0600 whatever the umask.
	if err := f.Chmod(0o600); err != nil {
		return fail(fmt.Errorf("region: chmod %s: %w", path, err))
	}
	if err := f.Truncate(size); err != nil {
		return fail(fmt.Errorf("region: size %s to %d bytes: %w", path, size, err))
	}
	m, err := mmap.Map(f, mmap.RDWR, 0)
	if err != nil {
		return fail(fmt.Errorf("region: map %s: %w", path, err))
	}
	return &mapping{mem: m, path: path}, nil
}

// openMapping opens an existing region file read-write and maps all of it.
// It refuses files that are not regular, are shorter than a header, or
// grant any access to group or others.
func openMapping(dir, name string) (*mapping, int64, error) {
	var f *os.File
	var path string
	var err error
	for _, d := range dirs(dir) {
		path = filepath.Join(d, name)
		// O_NOFOLLOW: /dev/shm is world-writable, so a symlink planted
		// under a region's name must not lead us to another file.
		f, err = os.OpenFile(path, os.O_RDWR|unix.O_NOFOLLOW, 0)
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, 0, fmt.Errorf("%w: %s not in %v", ErrNotFound, name, dirs(dir))
	case errors.Is(err, fs.ErrPermission):
		return nil, 0, fmt.Errorf("%w: %w", ErrPermission, err)
	case errors.Is(err, syscall.ELOOP):
		return nil, 0, fmt.Errorf("%w: %s is a symbolic link", ErrPermission, path)
	case errors.Is(err, syscall.EISDIR):
		return nil, 0, fmt.Errorf("%w: %s is not a regular file (a directory)", ErrLayout, path)
	case err != nil:
		return nil, 0, fmt.Errorf("region: open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("region: stat %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%w: %s is not a regular file (%v)", ErrLayout, path, st.Mode())
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, 0, fmt.Errorf("%w: %s has mode %#o, want 0600 (regions are private to their user)", ErrPermission, path, perm)
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() && os.Geteuid() != 0 {
		return nil, 0, fmt.Errorf("%w: %s belongs to uid %d, not %d", ErrPermission, path, sys.Uid, os.Geteuid())
	}
	size := st.Size()
	if size < HeaderSize {
		return nil, 0, fmt.Errorf("%w: %s is %d bytes, the header alone needs %d", ErrTruncated, path, size, HeaderSize)
	}
	if size > MaxTotalSize {
		return nil, 0, fmt.Errorf("%w: %s is %d bytes, more than %d", ErrLayout, path, size, int64(MaxTotalSize))
	}
	m, err := mmap.Map(f, mmap.RDWR, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("region: map %s: %w", path, err)
	}
	return &mapping{mem: m, path: path}, size, nil
}

func (m *mapping) bytes() []byte { return m.mem }

func (m *mapping) close() error { return m.mem.Unmap() }

// remove unlinks the file; processes that mapped it keep their mapping.
func (m *mapping) remove() error {
	if err := os.Remove(m.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// removeName removes the region file name from dir (or the default dirs).
func removeName(dir, name string) error {
	for _, d := range dirs(dir) {
		err := os.Remove(filepath.Join(d, name))
		if err == nil {
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return fmt.Errorf("%w: %s", ErrNotFound, name)
}
