package supervisor

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Shadow copies: with Watch set (and NoShadowCopy not), each generation
// runs from a private copy of the watched files, made when it starts and
// removed once it has ended. A deploy then never overwrites a file a host
// has open or mapped (on Windows it could not; elsewhere a process that
// maps a file being rewritten may crash), a restart within a generation
// loads the same files as its siblings, and a swap loads the files as
// they were when the swap began.

// newGeneration returns generation id with its command, and its shadow
// copy when there is one.
func (s *Supervisor) newGeneration(id int) (*generation, error) {
	g := &generation{id: id, retired: make(chan struct{}), command: s.opts.Command}
	if s.opts.Watch == "" || s.opts.NoShadowCopy {
		return g, nil
	}
	if s.shadowBase == "" {
		removeStaleShadows()
		base, err := os.MkdirTemp("", fmt.Sprintf("haywire-shadow-%d-", os.Getpid()))
		if err != nil {
			return g, fmt.Errorf("shadow copy: %w", err)
		}
		s.shadowBase = base
	}
	dir := filepath.Join(s.shadowBase, "gen-"+strconv.Itoa(id))
	root, err := filepath.Abs(s.opts.Watch)
	if err == nil {
		err = copyTree(root, dir)
	}
	if err != nil {
		os.RemoveAll(dir)
		return g, fmt.Errorf("shadow copy of %s: %w", s.opts.Watch, err)
	}
	g.dir = dir
	g.command = shadowCommand(s.opts.Command, root, dir)
	return g, nil
}

// removeStaleShadows removes the shadow copies of launchers that are
// gone without removing them (killed): haywire-shadow-PID-* in the
// temporary directory whose PID no longer runs.
func removeStaleShadows() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "haywire-shadow-*-*"))
	for _, d := range dirs {
		f := strings.SplitN(strings.TrimPrefix(filepath.Base(d), "haywire-shadow-"), "-", 2)
		if pid, err := strconv.Atoi(f[0]); err == nil && pid != os.Getpid() && processGone(pid) {
			os.RemoveAll(d)
		}
	}
}

// dropShadow removes g's shadow copy, once none of its hosts runs.
func (s *Supervisor) dropShadow(g *generation) {
	if g.dir == "" {
		return
	}
	if err := os.RemoveAll(g.dir); err != nil {
		s.log.printf("haywire: removing the shadow copy of generation %d: %v", g.id, err)
	}
}

// shadowCommand rewrites each word of command that names an existing file
// or directory under root (a file: root itself), alone or after "=" as in
// --app=PATH, to name its copy under dir. The program word is rewritten
// only if it is a path (has a separator), not a name looked up in $PATH.
func shadowCommand(command []string, root, dir string) []string {
	info, err := os.Stat(root)
	if err != nil {
		return command
	}
	shadow := func(p string) (string, bool) {
		if p == "" {
			return "", false
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", false
		}
		if _, err := os.Stat(abs); err != nil {
			return "", false
		}
		rel, err := filepath.Rel(root, abs)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return "", false
		}
		if !info.IsDir() {
			return filepath.Join(dir, filepath.Base(root)), rel == "."
		}
		return filepath.Join(dir, rel), true
	}
	out := make([]string, len(command))
	for i, w := range command {
		out[i] = w
		if i == 0 && !strings.ContainsRune(w, filepath.Separator) && !strings.ContainsRune(w, '/') {
			continue
		}
		if p, ok := shadow(w); ok {
			out[i] = p
		} else if k := strings.IndexByte(w, '='); k > 0 && i > 0 {
			if p, ok := shadow(w[k+1:]); ok {
				out[i] = w[:k+1] + p
			}
		}
	}
	return out
}

// copyTree copies the file or directory root to dir (a file: into dir),
// keeping modes and symbolic links.
func copyTree(root, dir string) error {
	info, err := os.Stat(root)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		return copyFile(root, filepath.Join(dir, filepath.Base(root)), info.Mode())
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dir, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o700)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			return copyFile(p, to, info.Mode())
		}
		return nil // sockets, devices: not an application's files
	})
}

func copyFile(from, to string, mode fs.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm()|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
