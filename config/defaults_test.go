package config_test

import (
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/haywireowin/haywire/config"
	"github.com/haywireowin/haywire/engine"
	"github.com/haywireowin/haywire/lifecycle"
	"github.com/haywireowin/haywire/region"
	"github.com/haywireowin/haywire/supervisor"
)

// The table's defaults are true: setting an [http] key to its Default
// gives the engine hw_config_set and hw_init_from_config start from
// (lifecycle.HaywireDefaults) the same configuration, once the engine has
// filled in its defaults, as leaving it unset. Defaults that are phrases
// (listen_backlog: "the system's SOMAXCONN") are not values and are skipped.
func TestHTTPDefaultsAreTheEngines(t *testing.T) {
	resolved := func(s config.Settings) engine.Config {
		srv, err := engine.New(s.Engine)
		if err != nil {
			t.Fatal(err)
		}
		return srv.Config()
	}
	base := resolved(lifecycle.HaywireDefaults())
	for _, k := range config.Keys() {
		if k.Section != config.SectionHTTP {
			continue
		}
		s := lifecycle.HaywireDefaults()
		if err := config.Set(&s, k.Name, k.Default); err != nil {
			t.Logf("%s: default %q is a phrase, not a value", k.Name, k.Default)
			continue
		}
		if got := resolved(s); !reflect.DeepEqual(got, base) {
			t.Errorf("%s = %q (its Default) gives %+v\nunset gives %+v", k.Name, k.Default, got, base)
		}
	}
}

// The [bridge] defaults the region package exports agree with the table.
// (The bridge's own defaults are literals inside bridge.New.)
func TestBridgeDefaultsAreTheRegions(t *testing.T) {
	for key, want := range map[string]string{
		"region_chunk_size": strconv.Itoa(region.DefaultChunkSize),
		"region_chunks":     strconv.Itoa(region.DefaultChunks),
		"region_slots":      strconv.Itoa(region.DefaultDataSlots),
		"host_timeout_ms":   strconv.Itoa(int(region.DefaultPeerTimeout / time.Millisecond)),
	} {
		if k, _ := config.Lookup(key); k.Default != want {
			t.Errorf("%s: table default %q; the region package's %q", key, k.Default, want)
		}
	}
	if region.DefaultDir != "" { // Windows has no directory
		if k, _ := config.Lookup("region_dir"); k.Default != region.DefaultDir {
			t.Errorf("region_dir: table default %q; region.DefaultDir %q", k.Default, region.DefaultDir)
		}
	}
}

// The [host] defaults are the supervisor's.
func TestHostDefaultsAreTheSupervisors(t *testing.T) {
	for key, want := range map[string]time.Duration{
		"host_restart_min_ms":   supervisor.DefaultRestartMin,
		"host_restart_max_ms":   supervisor.DefaultRestartMax,
		"host_restart_reset_ms": supervisor.DefaultRestartReset,
		"host_ready_timeout_ms": supervisor.DefaultReadyTimeout,
		"host_stop_timeout_ms":  supervisor.DefaultStopTimeout,
		"host_watch_quiet_ms":   supervisor.DefaultWatchQuiet,
	} {
		if k, _ := config.Lookup(key); k.Default != strconv.Itoa(int(want/time.Millisecond)) {
			t.Errorf("%s: table default %q; the supervisor's %v", key, k.Default, want)
		}
	}
}
