package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/haywireowin/haywire/bridge"
	"github.com/haywireowin/haywire/engine"
	"github.com/haywireowin/haywire/supervisor"
	"gopkg.in/ini.v1"
)

// Settings is everything the configuration sets: the engine, and the
// bridge that forwards requests without a native route to host processes.
type Settings struct {
	Engine engine.Config
	// Bridge enables the bridge (key "bridge"); BridgeOptions configures it.
	Bridge        bool
	BridgeOptions bridge.Options
	// HostRoutes are the route patterns forwarded to the host (key
	// "host_routes", comma-separated); empty: every request no native
	// route matches.
	HostRoutes []string
	// Host is the launcher's supervision of its hosts (section [host]):
	// the command it runs them with, restart and stop timing. The
	// library's engine ignores it.
	Host supervisor.Options
	// Admin is the admin listener (section [admin]): console, status API,
	// metrics, actions.
	Admin Admin
}

// Admin configures the admin listener.
type Admin struct {
	// Address is HOST:PORT to listen on; "" for no listener.
	Address string
	// Token is the token actions require (reads too, off loopback); ""
	// has one generated at start.
	Token string
	// BestEffort (no key: the launcher sets it when it listens on its
	// default address) makes a listener that cannot listen a warning on
	// stderr rather than an error of Start: a second launcher on the same
	// machine runs without one.
	BestEffort bool
}

// ErrUnknownKey is wrapped by errors about keys this package does not know.
// Every error about the configuration's content also wraps engine.ErrConfig.
var ErrUnknownKey = errors.New("unknown key")

// Set applies one key=value pair to s. The value is trimmed of spaces.
func Set(s *Settings, key, value string) error {
	if err := set(s, key, value); err != nil {
		return fmt.Errorf("config: %w: %w", engine.ErrConfig, err)
	}
	return nil
}

// set applies the key's apply function from the table (keys.go).
func set(s *Settings, key, value string) error {
	value = strings.TrimSpace(value)
	key = strings.ToLower(strings.TrimSpace(key))
	k := byName[key]
	if k == nil {
		return fmt.Errorf("%w %q", ErrUnknownKey, key)
	}
	if err := k.apply(s, value); err != nil {
		return fmt.Errorf("%s = %q: %v", key, value, err)
	}
	return nil
}

// LoadFile applies the INI file at path onto s. Each key belongs in the
// section the table gives it (Key.Section): engine keys in [http] (keys
// before any section count as [http]), bridge keys in [bridge], the
// launcher's supervision of its hosts in [host].
func LoadFile(s *Settings, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	f, err := ini.LoadSources(ini.LoadOptions{Insensitive: true}, data)
	if err != nil {
		return fmt.Errorf("config: %w: %s: %w", engine.ErrConfig, path, err)
	}
	for _, sec := range f.Sections() {
		name := Section(sec.Name())
		if strings.EqualFold(string(name), ini.DefaultSection) {
			name = Sections()[0]
		}
		if !knownSection(name) {
			if len(sec.Keys()) == 0 {
				continue
			}
			return fmt.Errorf("config: %w: %s: unknown section [%s]", engine.ErrConfig, path, name)
		}
		for _, k := range sec.Keys() {
			key := strings.ToLower(k.Name())
			if known := byName[key]; known != nil && known.Section != name {
				return fmt.Errorf("config: %w: %s: key %q belongs in [%s], not [%s]", engine.ErrConfig, path, key, known.Section, name)
			}
			if err := set(s, key, k.Value()); err != nil {
				return fmt.Errorf("config: %w: %s: [%s] %w", engine.ErrConfig, path, name, err)
			}
		}
	}
	return nil
}

func knownSection(name Section) bool {
	for _, sec := range sections {
		if sec.name == name {
			return true
		}
	}
	return false
}
