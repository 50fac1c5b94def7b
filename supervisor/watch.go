package supervisor

import (
	"errors"
	"hash/fnv"
	"io/fs"
	"path/filepath"
	"strconv"
	"time"
)

// watchPoll is how often the watched tree is looked at. Polling rather
// than inotify: portable, no dependency, and a deploy needs no faster
// reaction than the quiet period anyway.
const watchPoll = 100 * time.Millisecond

// watch swaps the hosts when a file under path changes: once the tree has
// stayed unchanged for quiet after a change, so that files copied in
// several writes (or several files copied one by one) make one swap.
// Changes during a swap make another, after it.
func (s *Supervisor) watch(path string, quiet time.Duration) {
	defer s.wg.Done()
	seen, err := fingerprint(path)
	if err != nil {
		s.log.printf("haywire: host watch: %v", err)
	}
	lastErr := errText(err)
	deployed := seen // the tree the running generation was started from
	var changed time.Time
	tick := time.NewTicker(watchPoll)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		now, err := fingerprint(path)
		if e := errText(err); e != lastErr {
			if e != "" {
				s.log.printf("haywire: host watch: %v", err)
			}
			lastErr = e
		}
		if now != seen {
			seen, changed = now, time.Now()
			continue
		}
		if seen == deployed || time.Since(changed) < quiet {
			continue
		}
		s.log.printf("haywire: host watch: %s changed: swapping", path)
		deployed = seen
		s.SwapFor("file change") // logs how it went; a failed swap waits for the next change
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// fingerprint hashes the name, size, modification time and mode of every
// file under path (path itself if it is a file).
func fingerprint(path string) (uint64, error) {
	h := fnv.New64a()
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != path {
				return nil // removed while we walked: the next poll sees it
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		h.Write([]byte(p))
		h.Write([]byte{0})
		h.Write(strconv.AppendInt(nil, info.Size(), 10))
		h.Write(strconv.AppendInt(nil, info.ModTime().UnixNano(), 10))
		h.Write(strconv.AppendUint(nil, uint64(info.Mode()), 10))
		return nil
	})
	return h.Sum64(), err
}
