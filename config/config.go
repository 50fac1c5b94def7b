package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/haywireowin/haywire/bridge"
	"github.com/haywireowin/haywire/engine"
	"github.com/haywireowin/haywire/region"
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
}

// section names the INI section a key belongs in.
func section(key string) string {
	switch key {
	case "bridge", "host_routes", "region_name", "region_dir", "region_lanes", "region_chunk_size", "region_chunks",
		"region_slots", "host_timeout_ms", "host_send_timeout_ms", "host_take_timeout_ms", "host_wait_ms", "body_inline", "body_window":
		return "bridge"
	}
	return "http"
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

func set(s *Settings, key, value string) error {
	cfg, bo := &s.Engine, &s.BridgeOptions
	value = strings.TrimSpace(value)
	key = strings.ToLower(strings.TrimSpace(key))
	bad := func(err error) error {
		return fmt.Errorf("%s = %q: %v", key, value, err)
	}
	num := func(dst *int) error {
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 {
			return bad(errors.New("want a non-negative integer"))
		}
		*dst = n
		return nil
	}
	ms := func(dst *time.Duration) error {
		var n int
		if err := num(&n); err != nil {
			return err
		}
		*dst = time.Duration(n) * time.Millisecond
		return nil
	}
	switch key {
	case "listen_address":
		cfg.Address = value
	case "listen_port":
		if err := num(&cfg.Port); err != nil {
			return err
		}
		if cfg.Port > 65535 {
			return bad(errors.New("want a port number, 0 to 65535"))
		}
	case "thread_count":
		return num(&cfg.Listeners)
	case "balancer":
		if value != string(engine.BalancerIPC) && value != string(engine.BalancerReusePort) {
			return bad(errors.New(`want "ipc" or "reuseport"`))
		}
		cfg.Balancer = engine.Balancer(value)
	case "parser":
		// Haywire chose between parsers; haywire has one.
	case "tcp_nodelay":
		on, err := parseBool(value)
		if err != nil {
			return bad(err)
		}
		cfg.NoTCPNoDelay = !on // Haywire's tcp_nodelay false leaves Nagle on
	case "bridge":
		on, err := parseBool(value)
		if err != nil {
			return bad(err)
		}
		s.Bridge = on
	case "host_routes":
		s.HostRoutes = nil
		for _, r := range strings.Split(value, ",") {
			r = strings.TrimSpace(r)
			if r == "" {
				continue
			}
			if r[0] != '/' && r != "*" {
				return bad(fmt.Errorf("route %q must start with '/'", r))
			}
			s.HostRoutes = append(s.HostRoutes, r)
		}
	case "region_name":
		if value != "" {
			if _, lane, err := region.ParseLaneName(value); err != nil {
				return bad(err)
			} else if lane != 0 {
				return bad(fmt.Errorf("%q names lane %d; give the lane-0 name", value, lane))
			}
		}
		bo.Region.Name = value
	case "region_dir":
		bo.Region.Dir = value
	case "region_lanes":
		if err := num(&bo.Lanes); err != nil {
			return err
		}
		if bo.Lanes > region.MaxLanes {
			return bad(fmt.Errorf("at most %d lanes", region.MaxLanes))
		}
	case "region_chunk_size":
		return num(&bo.Region.ChunkSize)
	case "region_chunks":
		return num(&bo.Region.Chunks)
	case "region_slots":
		return num(&bo.Region.DataSlots)
	case "host_timeout_ms":
		return ms(&bo.Region.PeerTimeout)
	case "host_send_timeout_ms":
		return ms(&bo.SendTimeout)
	case "host_take_timeout_ms":
		return ms(&bo.TakeTimeout)
	case "host_wait_ms":
		if err := ms(&bo.HostWait); err != nil {
			return err
		}
		if bo.HostWait == 0 {
			bo.HostWait = -1 // no wait: bridge.Options reads zero as the default
		}
		return nil
	case "body_inline":
		return num(&bo.BodyInline)
	case "body_window":
		return num(&bo.BodyWindow)
	case "listen_backlog":
		return num(&cfg.Backlog)
	case "max_request_size":
		var n int
		if err := num(&n); err != nil {
			return err
		}
		cfg.MaxRequestSize = int64(n)
	case "max_target_bytes":
		return num(&cfg.Limits.MaxTargetBytes)
	case "max_header_bytes":
		return num(&cfg.Limits.MaxHeaderBytes)
	case "max_header_count":
		return num(&cfg.Limits.MaxHeaderCount)
	case "header_timeout_ms":
		return ms(&cfg.HeaderTimeout)
	case "body_timeout_ms":
		return ms(&cfg.BodyTimeout)
	case "idle_timeout_ms":
		return ms(&cfg.IdleTimeout)
	case "write_timeout_ms":
		return ms(&cfg.WriteTimeout)
	case "lingering_time_ms":
		return ms(&cfg.LingerTime)
	case "lingering_bytes":
		var n int
		if err := num(&n); err != nil {
			return err
		}
		cfg.LingerBytes = int64(n)
	case "server_name":
		cfg.ServerName = value
	default:
		return fmt.Errorf("%w %q", ErrUnknownKey, key)
	}
	return nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, errors.New("want a boolean (1/0, true/false, yes/no, on/off)")
}

// LoadFile applies the INI file at path onto s. Engine keys belong in
// section [http] (keys before any section count as [http]), bridge keys in
// [bridge].
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
		name := sec.Name()
		if strings.EqualFold(name, ini.DefaultSection) {
			name = "http"
		}
		if name != "http" && name != "bridge" {
			if len(sec.Keys()) == 0 {
				continue
			}
			return fmt.Errorf("config: %w: %s: unknown section [%s]", engine.ErrConfig, path, name)
		}
		for _, k := range sec.Keys() {
			key := strings.ToLower(k.Name())
			if want := section(key); want != name {
				if _, known := keyDocs[key]; known {
					return fmt.Errorf("config: %w: %s: key %q belongs in [%s], not [%s]", engine.ErrConfig, path, key, want, name)
				}
			}
			if err := set(s, key, k.Value()); err != nil {
				return fmt.Errorf("config: %w: %s: [%s] %w", engine.ErrConfig, path, name, err)
			}
		}
	}
	return nil
}

// keyDocs lists every key with a one-line description, for usage texts.
var keyDocs = map[string]string{
	"listen_address": "IP literal or localhost to listen on", "listen_port": "port to listen on",
	"thread_count": "listeners (reuseport) and C callback concurrency", "balancer": "ipc or reuseport",
	"parser": "ignored (Haywire)", "tcp_nodelay": "1 sets TCP_NODELAY on accepted sockets, 0 leaves Nagle on", "listen_backlog": "accept queue length",
	"max_request_size": "largest request body in bytes (default 1048576; the launcher's 30000000)", "max_target_bytes": "longest request-target",
	"max_header_bytes": "largest request head", "max_header_count": "most header fields",
	"header_timeout_ms": "time allowed for a request head", "body_timeout_ms": "longest wait for more body",
	"idle_timeout_ms": "keep-alive idle limit", "write_timeout_ms": "longest blocked write",
	"lingering_time_ms": "longest drain of what a client still sends after an answer that closes the connection (default 2000)",
	"lingering_bytes":   "most bytes drained after an answer that closes the connection (default 8388608)",
	"server_name":       "Server header; - omits it",
	"bridge":            "forward requests without a native route to host processes",
	"host_routes":       "comma-separated route patterns sent to the host (default: all without a native route)",
	"region_dir":        "directory of the region files (default /dev/shm)",
	"region_lanes":      "hosts attached at once; 2 allow a hot swap (default 2)",
	"region_chunk_size": "arena chunk size in bytes (power of two)", "region_chunks": "chunks per arena",
	"region_slots": "descriptors per ring (power of two)", "host_timeout_ms": "a silent host is declared dead after this",
	"host_send_timeout_ms": "a request waits this long for room at the host, then 503",
	"host_take_timeout_ms": "a request a live host does not take off the ring this long gets 503",
	"host_wait_ms":         "a request that finds no host waits this long for one, then 503 (0: at once)",
	"region_name":          "the region's name, haywire-<uuid> (default: a fresh one)",
	"body_inline":          "request bodies up to this many bytes travel in the view; larger ones stream",
	"body_window":          "bytes of one streamed request body a host may hold (default a quarter arena)",
}

// Keys returns every configuration key with its description.
func Keys() map[string]string { return keyDocs }
