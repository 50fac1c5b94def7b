//go:build unix

package region

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// List returns the regions in dir, or in the default directories when dir
// is empty, with a verdict on whether each is stale. Each lane file is a
// region of its own. Files whose names are not region names (of any lane)
// are ignored. It only reads headers; it never maps. A region whose
// processes all look gone is read again after two heartbeat periods (at
// most 2 s): if any heartbeat moved, a live process holds it (in another
// pid namespace, say) and it is not stale. Finally the lanes of one engine
// are stale together: while any lane of a uuid is not stale, none is.
func List(dir string) ([]Info, error) {
	infos, suspects, err := scan(dir)
	if err != nil || len(suspects) == 0 {
		keepLanes(infos)
		return infos, err
	}
	wait := time.Duration(0)
	for _, sp := range suspects {
		wait = max(wait, beatWait(sp.hdr))
	}
	time.Sleep(wait)
	for _, sp := range suspects {
		hdr, err := readHeader(infos[sp.index].Path)
		if err != nil {
			continue // gone meanwhile: stale it was
		}
		if heartbeats(hdr) != heartbeats(sp.hdr) {
			infos[sp.index].Stale = false
			infos[sp.index].Reason = "its pids look gone but a heartbeat is moving (another pid namespace?)"
		}
	}
	keepLanes(infos)
	return infos, nil
}

type suspect struct {
	index int    // in infos
	hdr   []byte // the header as first read
}

// openRegular opens path read-only without following a symlink and without
// blocking (a FIFO swapped in under a region name must not hang List), and
// checks that it is a regular file.
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrLayout, path)
	}
	return f, nil
}

func readHeader(path string) ([]byte, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	hdr := make([]byte, HeaderSize)
	if n, err := f.ReadAt(hdr, 0); n < HeaderSize {
		return nil, err
	}
	return hdr, nil
}

// scan reads every region header in dir and judges it once.
func scan(dir string) (infos []Info, suspects []suspect, err error) {
	now := time.Now()
	for _, d := range dirs(dir) {
		ents, err := os.ReadDir(d)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && dir == "" {
				continue
			}
			return infos, nil, err
		}
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), NamePrefix) || !e.Type().IsRegular() {
				continue
			}
			_, lane, err := ParseLaneName(e.Name())
			if err != nil {
				continue
			}
			info := Info{Name: e.Name(), Path: filepath.Join(d, e.Name()), Lane: lane}
			f, err := openRegular(info.Path)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue // removed meanwhile
				}
				info.Err = err
				info.Reason = err.Error()
				infos = append(infos, info)
				continue
			}
			st, err := f.Stat()
			if err == nil {
				info.Size, info.Modified = st.Size(), st.ModTime()
				hdr := make([]byte, HeaderSize)
				n, rerr := f.ReadAt(hdr, 0)
				if rerr != nil && !errors.Is(rerr, io.EOF) {
					err = rerr
				}
				if err == nil {
					judge(&info, hdr[:n], info.Size, now)
					if info.Stale && info.Err == nil {
						suspects = append(suspects, suspect{len(infos), hdr})
					}
				}
			}
			if err != nil {
				info.Err = err
				info.Reason = err.Error()
			}
			f.Close()
			infos = append(infos, info)
		}
	}
	return infos, suspects, nil
}
