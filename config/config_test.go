package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/haywireowin/haywire/bridge"
	"github.com/haywireowin/haywire/engine"
	"github.com/haywireowin/haywire/http1"
	"github.com/haywireowin/haywire/region"
	"github.com/haywireowin/haywire/supervisor"
)

// allKeys sets every key; want is the Config it must produce.
const allKeys = `; every key haywire reads
[http]
listen_address = 127.0.0.1
listen_port = 8123
thread_count = 4
balancer = reuseport
parser = http_parser
tcp_nodelay = yes
listen_backlog = 511
max_request_size = 2048
max_target_bytes = 1000
max_header_bytes = 4000
max_header_count = 20
header_timeout_ms = 1500
body_timeout_ms = 2500
idle_timeout_ms = 3500
write_timeout_ms = 4500
lingering_time_ms = 5500
lingering_bytes = 12345
server_name = test server

[bridge]
bridge = on
host_routes = /app, /api/*
region_dir = /tmp/regions
region_lanes = 3
region_chunk_size = 8192
region_chunks = 64
region_slots = 256
host_timeout_ms = 700
host_send_timeout_ms = 900
host_take_timeout_ms = 1100
host_wait_ms = 1300
region_name = haywire-0b5c8ad4-3c4b-4c9f-9a51-2f1de0a3e1a7
body_inline = 4096
body_window = 65536

[host]
host_command = mono "My App/Host.exe" --flag 'a b'
host_processes = 3
host_watch = /srv/app
host_watch_quiet_ms = 700
host_shadow_copy = off
host_restart_min_ms = 50
host_restart_max_ms = 2000
host_restart_reset_ms = 3000
host_ready_timeout_ms = 4000
host_stop_timeout_ms = 6000
[admin]
admin_address = 127.0.0.1:9911
admin_token = s3cret
`

var want = Settings{Engine: wantEngine, Bridge: true, HostRoutes: []string{"/app", "/api/*"}, BridgeOptions: bridge.Options{
	Region: region.Options{Name: "haywire-0b5c8ad4-3c4b-4c9f-9a51-2f1de0a3e1a7", Dir: "/tmp/regions", ChunkSize: 8192,
		Chunks: 64, DataSlots: 256, PeerTimeout: 700 * time.Millisecond},
	SendTimeout: 900 * time.Millisecond, TakeTimeout: 1100 * time.Millisecond, HostWait: 1300 * time.Millisecond, Lanes: 3,
	BodyInline: 4096, BodyWindow: 65536,
}, Host: supervisor.Options{
	Command: []string{"mono", "My App/Host.exe", "--flag", "a b"}, Processes: 3,
	Watch: "/srv/app", WatchQuiet: 700 * time.Millisecond, NoShadowCopy: true,
	RestartMin: 50 * time.Millisecond, RestartMax: 2 * time.Second, RestartReset: 3 * time.Second,
	ReadyTimeout: 4 * time.Second, StopTimeout: 6 * time.Second,
}, Admin: Admin{Address: "127.0.0.1:9911", Token: "s3cret"}}

var wantEngine = engine.Config{
	Address: "127.0.0.1", Port: 8123, Listeners: 4, Balancer: engine.BalancerReusePort,
	Backlog: 511, MaxRequestSize: 2048,
	Limits:        http1.Limits{MaxTargetBytes: 1000, MaxHeaderBytes: 4000, MaxHeaderCount: 20},
	HeaderTimeout: 1500 * time.Millisecond, BodyTimeout: 2500 * time.Millisecond,
	IdleTimeout: 3500 * time.Millisecond, WriteTimeout: 4500 * time.Millisecond,
	LingerTime: 5500 * time.Millisecond, LingerBytes: 12345,
	ServerName: "test server",
}

func TestLoadFileEveryKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "haywire.conf")
	os.WriteFile(path, []byte(allKeys), 0o600)
	var cfg Settings
	if err := LoadFile(&cfg, path); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("LoadFile = %+v\nwant %+v", cfg, want)
	}
	if _, err := engine.New(cfg.Engine); err != nil {
		t.Fatalf("engine.New refused the loaded configuration: %v", err)
	}
}

func TestSetEveryKeyMatchesFile(t *testing.T) {
	var cfg Settings
	for _, line := range strings.Split(allKeys, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if err := Set(&cfg, k, v); err != nil {
			t.Fatalf("Set(%q, %q) = %v", k, v, err)
		}
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("Set of every key = %+v\nwant %+v", cfg, want)
	}
}

// host_wait_ms = 0 answers 503 at once (bridge.Options: negative).
func TestHostWaitZeroMeansNoWait(t *testing.T) {
	var cfg Settings
	if err := Set(&cfg, "host_wait_ms", "0"); err != nil || cfg.BridgeOptions.HostWait >= 0 {
		t.Fatalf("host_wait_ms = 0: %v, HostWait %v; want no wait (negative)", err, cfg.BridgeOptions.HostWait)
	}
}

func TestSetRejects(t *testing.T) {
	for _, tc := range []struct{ key, value, inMsg string }{
		{"listen_port", "70000", "0 to 65535"},
		{"region_name", "haywire-nope", "region"},
		{"region_name", "haywire-0b5c8ad4-3c4b-4c9f-9a51-2f1de0a3e1a7.1", "lane 1"},
		{"listen_port", "-1", "non-negative"},
		{"thread_count", "many", "non-negative"},
		{"balancer", "roundrobin", `"ipc" or "reuseport"`},
		{"tcp_nodelay", "maybe", "boolean"},
		{"max_request_size", "1MB", "non-negative"},
		{"idle_timeout_ms", "5s", "non-negative"},
		{"lingering_bytes", "-1", "non-negative"},
		{"no_such_key", "1", "unknown key"},
		{"bridge", "perhaps", "boolean"},
		{"region_chunks", "-4", "non-negative"},
		{"region_lanes", "65", "at most 64"},
		{"host_routes", "/a, b", "must start with '/'"},
	} {
		var cfg Settings
		err := Set(&cfg, tc.key, tc.value)
		if err == nil || !errors.Is(err, engine.ErrConfig) || !strings.Contains(err.Error(), tc.inMsg) ||
			!strings.Contains(err.Error(), tc.key) {
			t.Errorf("Set(%q, %q) = %v; want an engine.ErrConfig naming the key and %q", tc.key, tc.value, err, tc.inMsg)
		}
	}
	var cfg Settings
	if err := Set(&cfg, "no_such_key", "1"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Set(unknown) = %v; want ErrUnknownKey", err)
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	var cfg Settings
	if err := LoadFile(&cfg, filepath.Join(dir, "missing.conf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile(missing) = %v; want os.ErrNotExist", err)
	}
	for name, text := range map[string]string{
		"section":       "[server]\nport = 1\n",
		"key":           "[http]\nlisten_prot = 1\n",
		"value":         "[http]\nlisten_port = eighty\n",
		"wrong section": "[http]\nregion_dir = /x\n",
	} {
		path := filepath.Join(dir, name+".conf")
		os.WriteFile(path, []byte(text), 0o600)
		err := LoadFile(&cfg, path)
		if err == nil || !errors.Is(err, engine.ErrConfig) || !strings.Contains(err.Error(), path) {
			t.Errorf("LoadFile(bad %s) = %v; want an engine.ErrConfig naming %s", name, err, path)
		}
	}
	// Keys before any section count as [http], as in Haywire's sample file.
	path := filepath.Join(dir, "nosection.conf")
	os.WriteFile(path, []byte("listen_port = 9\n"), 0o600)
	cfg = Settings{}
	if err := LoadFile(&cfg, path); err != nil || cfg.Engine.Port != 9 {
		t.Errorf("LoadFile(no section) = %v, port %d; want port 9", err, cfg.Engine.Port)
	}
}

func TestEveryKeyDocumented(t *testing.T) {
	for _, line := range strings.Split(allKeys, "\n") {
		if k, _, ok := strings.Cut(line, "="); ok {
			if _, documented := Lookup(strings.TrimSpace(k)); !documented {
				t.Errorf("key %q has no description in Keys()", strings.TrimSpace(k))
			}
		}
	}
	if len(Keys()) != strings.Count(allKeys, "=") {
		t.Errorf("Keys() has %d entries, the every-key file sets %d", len(Keys()), strings.Count(allKeys, "="))
	}
}

// tcp_nodelay was accepted and ignored (TCP_NODELAY always on); it now
// maps onto engine.Config.NoTCPNoDelay as Haywire's field did: true sets
// TCP_NODELAY, false leaves Nagle's algorithm on, omitted keeps the
// caller's default.
func TestTCPNoDelay(t *testing.T) {
	for _, tc := range []struct {
		ini         string
		start       bool // NoTCPNoDelay before the file
		wantNoDelay bool
	}{
		{"tcp_nodelay = 1", true, false},
		{"tcp_nodelay = true", true, false},
		{"tcp_nodelay = on", true, false},
		{"tcp_nodelay = 0", false, true},
		{"tcp_nodelay = no", false, true},
		{"listen_port = 1", true, true}, // omitted: unchanged
		{"listen_port = 1", false, false},
	} {
		path := filepath.Join(t.TempDir(), "hw.conf")
		os.WriteFile(path, []byte("[http]\n"+tc.ini+"\n"), 0o600)
		s := Settings{Engine: engine.Config{NoTCPNoDelay: tc.start}}
		if err := LoadFile(&s, path); err != nil {
			t.Fatal(err)
		}
		if s.Engine.NoTCPNoDelay != tc.wantNoDelay {
			t.Errorf("LoadFile(%q) from NoTCPNoDelay %v: NoTCPNoDelay = %v; want %v", tc.ini, tc.start, s.Engine.NoTCPNoDelay, tc.wantNoDelay)
		}
		k, v, _ := strings.Cut(tc.ini, "=")
		s = Settings{Engine: engine.Config{NoTCPNoDelay: tc.start}}
		if err := Set(&s, k, v); err != nil || s.Engine.NoTCPNoDelay != tc.wantNoDelay {
			t.Errorf("Set(%q) from NoTCPNoDelay %v = %v: NoTCPNoDelay = %v; want %v", tc.ini, tc.start, err, s.Engine.NoTCPNoDelay, tc.wantNoDelay)
		}
	}
}

// sample returns the value allKeys gives each key.
func sample(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(allKeys, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// Every key of the table, through Set and through LoadFile in its
// section, sets the same thing; in any other section LoadFile refuses it
// and names the right one. Keys before any section header are [http].
func TestEveryKeyRoundTripsInItsSection(t *testing.T) {
	values, dir := sample(t), t.TempDir()
	for _, k := range Keys() {
		v, ok := values[k.Name]
		if !ok {
			t.Errorf("key %q has no value in allKeys; add one", k.Name)
			continue
		}
		base := Settings{Engine: engine.Config{NoTCPNoDelay: true}} // so that tcp_nodelay = yes changes it
		bySet := base
		if err := Set(&bySet, k.Name, v); err != nil {
			t.Errorf("Set(%q, %q) = %v", k.Name, v, err)
			continue
		}
		if reflect.DeepEqual(bySet, base) && k.Name != "parser" { // parser is ignored
			t.Errorf("Set(%q, %q) changed nothing", k.Name, v)
		}
		load := func(text string) (Settings, error) {
			path := filepath.Join(dir, k.Name+".conf")
			os.WriteFile(path, []byte(text), 0o600)
			s := base
			err := LoadFile(&s, path)
			return s, err
		}
		line := k.Name + " = " + v + "\n"
		byFile, err := load("[" + string(k.Section) + "]\n" + line)
		if err != nil || !reflect.DeepEqual(byFile, bySet) {
			t.Errorf("[%s] %s: LoadFile = %+v, %v; Set gave %+v", k.Section, line, byFile, err, bySet)
		}
		noHeader, err := load(line)
		if k.Section == Sections()[0] {
			if err != nil || !reflect.DeepEqual(noHeader, bySet) {
				t.Errorf("%s before any section: LoadFile = %v; want it read as [%s]", line, err, k.Section)
			}
		} else if err == nil || !strings.Contains(err.Error(), "belongs in ["+string(k.Section)+"]") {
			t.Errorf("%s before any section: LoadFile = %v; want it refused as not [%s]", line, err, k.Section)
		}
		for _, other := range Sections() {
			if other == k.Section {
				continue
			}
			_, err := load("[" + string(other) + "]\n" + line)
			if err == nil || !errors.Is(err, engine.ErrConfig) || !strings.Contains(err.Error(), "belongs in ["+string(k.Section)+"]") {
				t.Errorf("[%s] %s: LoadFile = %v; want an error saying it belongs in [%s]", other, line, err, k.Section)
			}
		}
	}
}

// Every key has a section of Sections(): the table lists keys inside
// their section, and index refuses a table that could not work.
func TestEveryKeyHasASection(t *testing.T) {
	known := map[Section]bool{}
	for _, s := range Sections() {
		known[s] = true
	}
	for _, k := range Keys() {
		if !known[k.Section] {
			t.Errorf("key %q has section %q, not one of %v", k.Name, k.Section, Sections())
		}
		if got, ok := Lookup(strings.ToUpper(k.Name)); !ok || got.Name != k.Name {
			t.Errorf("Lookup(%q) = %+v, %v", strings.ToUpper(k.Name), got, ok)
		}
	}
	good := Key{Name: "a", Default: "1", Doc: "a key", apply: func(*Settings, string) error { return nil }}
	for name, keys := range map[string][]Key{
		"duplicate name": {good, good},
		"duplicate flag": {func() Key { k := good; k.Flag = "f"; return k }(), func() Key { k := good; k.Name, k.Flag = "b", "f"; return k }()},
		"no apply":       {func() Key { k := good; k.apply = nil; return k }()},
		"no default":     {func() Key { k := good; k.Default = ""; return k }()},
		"upper case":     {func() Key { k := good; k.Name = "A"; return k }()},
		"backquoted doc": {func() Key { k := good; k.Doc = "a `value`"; return k }()},
	} {
		saved := sections
		sections = append(sections[:0:0], sections[0])
		sections[0].keys = keys
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("index accepted a table with a %s", name)
				}
			}()
			index()
		}()
		sections = saved
	}
}
