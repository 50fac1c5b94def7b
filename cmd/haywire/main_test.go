package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/haywireowin/haywire/config"
	"github.com/haywireowin/haywire/engine"
	"github.com/haywireowin/haywire/lifecycle"
)

// --help lists every flag of the table of keys, with its doc and the
// launcher's default, and every key with its section.
func TestHelpListsEveryFlagAndKey(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("run(--help) = %d; want 0\n%s", code, stderr.String())
	}
	help := stderr.String()
	for _, k := range config.Keys() {
		if k.Flag != "" {
			re := regexp.MustCompile(`(?m)^  -` + regexp.QuoteMeta(k.Flag) + ` string\n\s+` +
				regexp.QuoteMeta(k.Doc+"; default "+k.LauncherValue()+" (key "+k.Name+")") + `$`)
			if !re.MatchString(help) {
				t.Errorf("--help lacks flag -%s with its doc and default (%s)", k.Flag, re)
			}
		}
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(k.Name) + ` .*default ` + regexp.QuoteMeta(k.LauncherValue()) + `$`).MatchString(help) {
			t.Errorf("--help lacks key %s with default %s", k.Name, k.LauncherValue())
		}
	}
	for _, s := range config.Sections() {
		if !strings.Contains(help, "\n  ["+string(s)+"]\n") {
			t.Errorf("--help lacks section [%s]", s)
		}
	}
}

// The launcher starts from the library's defaults with each key's
// LauncherDefault applied, which is what it started from before the
// table: port 8000, the bridge and TCP_NODELAY on, max_request_size
// 30000000.
func TestLauncherDefaults(t *testing.T) {
	got, err := settings("", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Settings{Engine: engine.Config{Port: lifecycle.DefaultPort, MaxRequestSize: 30_000_000}, Bridge: true,
		Admin: config.Admin{Address: "127.0.0.1:9901", BestEffort: true}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("settings() = %+v\nwant %+v", got, want)
	}
	// Each LauncherDefault is what the launcher uses.
	for _, k := range config.Keys() {
		if k.LauncherDefault == "" {
			continue
		}
		s := got
		if err := config.Set(&s, k.Name, k.LauncherDefault); err != nil || !reflect.DeepEqual(s, got) {
			t.Errorf("%s = %s (its LauncherDefault) changes the launcher's settings: %v, %+v", k.Name, k.LauncherDefault, err, s)
		}
	}
}

// A --config file cannot turn the bridge off; max_request_size = 0 means
// the launcher's default; tcp_nodelay = 0 is honoured; flags override the
// file; a bad flag value is a flagError naming the flag.
func TestLauncherSettingsFileAndFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "haywire.conf")
	os.WriteFile(path, []byte("[http]\nmax_request_size = 0\ntcp_nodelay = 0\nlisten_port = 9000\n[bridge]\nbridge = 0\n"), 0o600)
	port := "9001"
	got, err := settings(path, map[string]*string{"listen_port": &port})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Bridge || got.Engine.MaxRequestSize != 30_000_000 || !got.Engine.NoTCPNoDelay || got.Engine.Port != 9001 {
		t.Errorf("settings(file, --port 9001) = %+v; want the bridge on, max_request_size 30000000, Nagle on, port 9001", got)
	}
	bad := "eighty"
	_, err = settings("", map[string]*string{"listen_port": &bad})
	if _, ok := err.(flagError); !ok || !strings.HasPrefix(err.Error(), "--port: ") {
		t.Errorf("settings(--port eighty) = %v; want a flagError starting --port: ", err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--port", "eighty"}, &stdout, &stderr); code != 2 || !strings.HasPrefix(stderr.String(), "haywire: --port: ") {
		t.Errorf("run(--port eighty) = %d, %q; want 2 and haywire: --port: ...", code, stderr.String())
	}
}

// Supervising N hosts, the launcher gives the bridge two lanes per host
// (a swap runs two generations) unless more were asked for; --host-watch
// without --host-command is refused.
func TestLauncherHostSettings(t *testing.T) {
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		processes, lanes string
		want             int
	}{{"", "", 2}, {"3", "", 6}, {"3", "8", 8}, {"1", "1", 2}} {
		values := map[string]*string{"host_command": str("build/c_host"), "host_processes": str(tc.processes), "region_lanes": str(tc.lanes)}
		got, err := settings("", values)
		if err != nil || got.BridgeOptions.Lanes != tc.want {
			t.Errorf("host_processes %q, region_lanes %q: lanes %d, %v; want %d", tc.processes, tc.lanes, got.BridgeOptions.Lanes, err, tc.want)
		}
	}
	if _, err := settings("", map[string]*string{"host_watch": str("app/")}); err == nil || !strings.Contains(err.Error(), "needs host_command") {
		t.Errorf("host_watch without host_command: %v; want an error", err)
	}
	if got, _ := settings("", nil); got.BridgeOptions.Lanes != 0 {
		t.Errorf("without hosts of its own the launcher set lanes %d; want the default (0)", got.BridgeOptions.Lanes)
	}
}
