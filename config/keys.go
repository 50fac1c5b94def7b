package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/haywireowin/haywire/engine"
	"github.com/haywireowin/haywire/region"
	"github.com/haywireowin/haywire/supervisor"
)

// A Section names the INI section a key belongs in.
type Section string

// The sections of the INI file. Keys before any section count as [http].
const (
	SectionHTTP   Section = "http"
	SectionBridge Section = "bridge"
	// SectionHost configures the hosts the launcher starts and supervises
	// (--host-command); the library's engine ignores it.
	SectionHost Section = "host"
	// SectionAdmin configures the admin listener: console, status API,
	// metrics (package admin).
	SectionAdmin Section = "admin"
)

// A Key is one configuration key. The same key is an INI key in its
// section, a name for hw_config_set and Set, and, when Flag is not empty,
// a flag of the launcher (build/haywire).
type Key struct {
	Name    string  // INI key and hw_config_set name, lower case
	Section Section // INI section; set by the table the key is listed in
	Flag    string  // the launcher's flag, without "--"; "" for none
	// Default is the value used when the key is not set, as text: a value
	// Set accepts, or a phrase when the default is computed ("a quarter of
	// the arena"). It is the default of hw_init_from_config and
	// hw_config_set; LauncherDefault is the launcher's where it differs.
	Default         string
	LauncherDefault string
	Doc             string // one line, plain text, for --help and the docs

	// apply parses and validates a trimmed value and stores it into s.
	// Its error says what is wanted; set adds the key and value.
	apply func(s *Settings, value string) error
}

// LauncherValue returns the launcher's default: LauncherDefault, or
// Default when the launcher keeps the library's.
func (k Key) LauncherValue() string {
	if k.LauncherDefault != "" {
		return k.LauncherDefault
	}
	return k.Default
}

// sections is the table of every key, grouped by section: a key can only
// be added inside a section's list, so none is without one. Keep each
// list in the order the docs present it.
var sections = []struct {
	name Section
	keys []Key
}{
	{SectionHTTP, []Key{
		{Name: "listen_address", Flag: "address", Default: "0.0.0.0",
			Doc: "IP literal or localhost to listen on", apply: str(func(s *Settings) *string { return &s.Engine.Address })},
		{Name: "listen_port", Flag: "port", Default: "8000",
			Doc: "port to listen on; 0 picks a free port", apply: applyPort},
		{Name: "thread_count", Flag: "threads", Default: "0",
			Doc:   "listeners under balancer = reuseport; 0 or 1 also serialize C callbacks, as Haywire's single loop did",
			apply: num(func(s *Settings) *int { return &s.Engine.Listeners })},
		{Name: "balancer", Flag: "balancer", Default: "ipc",
			Doc: "ipc (one listener) or reuseport (thread_count listeners, Linux/BSD)", apply: applyBalancer},
		{Name: "parser", Default: "http_parser",
			Doc: "Haywire's choice of parser; accepted and ignored", apply: func(*Settings, string) error { return nil }},
		{Name: "tcp_nodelay", Default: "0", LauncherDefault: "1",
			Doc: "1 sets TCP_NODELAY on accepted sockets; 0 leaves Nagle's algorithm on, as Haywire did", apply: applyTCPNoDelay},
		{Name: "listen_backlog", Flag: "backlog", Default: "the system's SOMAXCONN",
			Doc: "accept queue length (0: the default)", apply: num(func(s *Settings) *int { return &s.Engine.Backlog })},
		{Name: "max_request_size", Flag: "max-request-size", Default: "1048576", LauncherDefault: "30000000",
			Doc:   "largest request body in bytes", // the launcher's, Kestrel's and IIS's default: bridged bodies stream
			apply: num64(func(s *Settings) *int64 { return &s.Engine.MaxRequestSize })},
		{Name: "max_target_bytes", Default: "8192",
			Doc: "longest request-target; longer: 414", apply: num(func(s *Settings) *int { return &s.Engine.Limits.MaxTargetBytes })},
		{Name: "max_header_bytes", Default: "32768",
			Doc: "largest request head; larger: 431", apply: num(func(s *Settings) *int { return &s.Engine.Limits.MaxHeaderBytes })},
		{Name: "max_header_count", Default: "100",
			Doc: "most header fields; more: 431", apply: num(func(s *Settings) *int { return &s.Engine.Limits.MaxHeaderCount })},
		{Name: "header_timeout_ms", Flag: "header-timeout-ms", Default: "10000",
			Doc: "time from the first byte to the end of a request head; then 408 and close", apply: ms(func(s *Settings) *time.Duration { return &s.Engine.HeaderTimeout })},
		{Name: "body_timeout_ms", Flag: "body-timeout-ms", Default: "30000",
			Doc: "longest wait for more of a body; then 408 and close", apply: ms(func(s *Settings) *time.Duration { return &s.Engine.BodyTimeout })},
		{Name: "idle_timeout_ms", Flag: "idle-timeout-ms", Default: "60000",
			Doc: "keep-alive wait for the next request; then close", apply: ms(func(s *Settings) *time.Duration { return &s.Engine.IdleTimeout })},
		{Name: "write_timeout_ms", Flag: "write-timeout-ms", Default: "30000",
			Doc: "longest blocked write; then close", apply: ms(func(s *Settings) *time.Duration { return &s.Engine.WriteTimeout })},
		{Name: "lingering_time_ms", Default: "2000",
			Doc: "after an answer that closes the connection (400, 408, 413, 414, 431, Connection: close), the longest the engine, " +
				"half-closed, reads and discards what the client still sends, so that closing does not reset the connection and lose the answer",
			apply: ms(func(s *Settings) *time.Duration { return &s.Engine.LingerTime })},
		{Name: "lingering_bytes", Default: "8388608",
			Doc:   "the most bytes it discards so; a client that reads only once it has sent its body needs about that body's size",
			apply: num64(func(s *Settings) *int64 { return &s.Engine.LingerBytes })},
		{Name: "server_name", Default: "haywire",
			Doc: "Server header; - omits it", apply: str(func(s *Settings) *string { return &s.Engine.ServerName })},
	}},
	{SectionBridge, []Key{
		{Name: "bridge", Default: "off", LauncherDefault: "on",
			Doc: "forward requests without a native route to host processes", apply: applyBridge},
		{Name: "host_routes", Default: "all without a native route",
			Doc: "comma-separated route patterns sent to the host", apply: applyHostRoutes},
		{Name: "region_name", Flag: "region", Default: "a fresh haywire-<uuid>",
			Doc: "the region's name, which hosts attach to", apply: applyRegionName},
		{Name: "region_dir", Flag: "region-dir", Default: "/dev/shm",
			Doc:   "directory of the region files; os.TempDir() ($TMPDIR, else /tmp) when /dev/shm is missing or not writable; hosts given no directory look in both",
			apply: str(func(s *Settings) *string { return &s.BridgeOptions.Region.Dir })},
		{Name: "region_lanes", Flag: "lanes", Default: "2",
			Doc: "hosts attached at once; 2 allow a hot swap", apply: applyLanes},
		{Name: "region_chunk_size", Flag: "chunk-size", Default: "4096",
			Doc: "arena chunk size in bytes, a power of two", apply: num(func(s *Settings) *int { return &s.BridgeOptions.Region.ChunkSize })},
		{Name: "region_chunks", Flag: "chunks", Default: "1024",
			Doc: "chunks per arena", apply: num(func(s *Settings) *int { return &s.BridgeOptions.Region.Chunks })},
		{Name: "region_slots", Flag: "slots", Default: "4096",
			Doc: "descriptors per ring, a power of two", apply: num(func(s *Settings) *int { return &s.BridgeOptions.Region.DataSlots })},
		{Name: "host_timeout_ms", Flag: "host-timeout-ms", Default: "1000",
			Doc: "a silent host is declared dead after this", apply: ms(func(s *Settings) *time.Duration { return &s.BridgeOptions.Region.PeerTimeout })},
		{Name: "host_send_timeout_ms", Flag: "send-timeout-ms", Default: "5000",
			Doc: "a request waits this long for room at the host, then 503", apply: ms(func(s *Settings) *time.Duration { return &s.BridgeOptions.SendTimeout })},
		{Name: "host_take_timeout_ms", Flag: "take-timeout-ms", Default: "10000",
			Doc: "a request a live host does not take off its ring this long gets 503", apply: ms(func(s *Settings) *time.Duration { return &s.BridgeOptions.TakeTimeout })},
		{Name: "host_wait_ms", Flag: "host-wait-ms", Default: "5000",
			Doc: "a request that finds no host ready (starting, restarting, gone) waits this long for one, then 503; 0: 503 at once", apply: applyHostWait},
		{Name: "body_inline", Flag: "body-inline", Default: "65536",
			Doc:   "request bodies up to this many bytes travel inside the request view; larger, chunked and Expect: 100-continue ones stream",
			apply: num(func(s *Settings) *int { return &s.BridgeOptions.BodyInline })},
		{Name: "body_window", Flag: "body-window", Default: "a quarter of the arena",
			Doc:   "bytes of one streamed request body a host may hold before the engine stops reading that client",
			apply: num(func(s *Settings) *int { return &s.BridgeOptions.BodyWindow })},
	}},
	{SectionHost, []Key{
		{Name: "host_command", Flag: "host-command", Default: "none",
			Doc: "the application host the launcher starts, restarts and stops, as a command line (words split as a shell would, " +
				"nothing expanded); it finds the region in HAYWIRE_REGION and HAYWIRE_REGION_DIR; none: hosts attach by themselves",
			apply: applyHostCommand},
		{Name: "host_processes", Flag: "host-processes", Default: "1",
			Doc:   "how many hosts of host_command serve at once, requests spread over them by fewest in flight; region_lanes grows to twice this (a swap runs two generations)",
			apply: applyHostProcesses},
		{Name: "host_watch", Flag: "host-watch", Default: "none",
			Doc: "a file or directory (the application's) whose change swaps the hosts for new ones, as SIGHUP does", apply: applyHostWatch},
		{Name: "host_watch_quiet_ms", Flag: "host-watch-quiet-ms", Default: "500",
			Doc: "the swap waits until nothing under host_watch changed for this long: files copied in several writes make one swap", apply: ms(func(s *Settings) *time.Duration { return &s.Host.WatchQuiet })},
		{Name: "host_shadow_copy", Flag: "host-shadow-copy", Default: "on",
			Doc:   "with host_watch, each generation of hosts runs from a private copy of it (the command's paths into it rewritten), removed when the generation ends: deployed files are never open or half-read",
			apply: applyHostShadowCopy},
		{Name: "host_restart_min_ms", Flag: "host-restart-min-ms", Default: "100",
			Doc: "delay before restarting a host that exited; doubled at each exit that follows quickly", apply: ms(func(s *Settings) *time.Duration { return &s.Host.RestartMin })},
		{Name: "host_restart_max_ms", Flag: "host-restart-max-ms", Default: "5000",
			Doc: "the longest restart delay", apply: ms(func(s *Settings) *time.Duration { return &s.Host.RestartMax })},
		{Name: "host_restart_reset_ms", Flag: "host-restart-reset-ms", Default: "10000",
			Doc: "a host that served this long before it exited is restarted after host_restart_min_ms again", apply: ms(func(s *Settings) *time.Duration { return &s.Host.RestartReset })},
		{Name: "host_ready_timeout_ms", Flag: "host-ready-timeout-ms", Default: "30000",
			Doc: "a host not attached (its startup done) this long after it started is stopped and restarted", apply: ms(func(s *Settings) *time.Duration { return &s.Host.ReadyTimeout })},
		{Name: "host_stop_timeout_ms", Flag: "host-stop-timeout-ms", Default: "10000",
			Doc: "a host told to stop (SIGTERM) that still runs after this is killed (SIGKILL)", apply: ms(func(s *Settings) *time.Duration { return &s.Host.StopTimeout })},
	}},
	{SectionAdmin, []Key{
		{Name: "admin_address", Flag: "admin", Default: "off", LauncherDefault: "127.0.0.1:9901",
			Doc: "HOST:PORT of the admin listener (console, /api/status, /metrics, /healthz), never the public port; off: none; " +
				"on an address that is not loopback, reads need the token too",
			apply: applyAdminAddress},
		{Name: "admin_token", Flag: "admin-token", Default: "a random one, printed and written next to the region",
			Doc:   "the token the admin listener's actions (POST) require in the Authorization: Bearer or X-Haywire-Token header",
			apply: str(func(s *Settings) *string { return &s.Admin.Token })},
	}},
}

func applyAdminAddress(s *Settings, v string) error {
	if v == "" || strings.EqualFold(v, "off") {
		s.Admin.Address = ""
		return nil
	}
	_, port, err := net.SplitHostPort(v) // an empty host: every address
	if err != nil {
		return fmt.Errorf("want HOST:PORT or off: %v", err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("want a port 0-65535, not %q", port)
	}
	s.Admin.Address = v
	return nil
}

// table is every key in the order of sections; byName indexes it.
var table, byName = index()

// index flattens sections, giving each key its section, and refuses a
// table that could not work: a panic at init, which every test meets.
func index() ([]Key, map[string]*Key) {
	var all []Key
	names, flags := map[string]bool{}, map[string]bool{}
	for _, sec := range sections {
		for _, k := range sec.keys {
			k.Section = sec.name
			switch {
			case k.Name == "" || k.Name != strings.ToLower(strings.TrimSpace(k.Name)):
				panic(fmt.Sprintf("config: key %q: want a lower-case name", k.Name))
			case names[k.Name]:
				panic(fmt.Sprintf("config: key %q listed twice", k.Name))
			case k.Flag != "" && flags[k.Flag]:
				panic(fmt.Sprintf("config: flag %q of key %q used twice", k.Flag, k.Name))
			case k.apply == nil || k.Doc == "" || k.Default == "":
				panic(fmt.Sprintf("config: key %q needs an apply function, a doc and a default", k.Name))
			case strings.Contains(k.Doc, "`"): // the flag package would read it as the value's name
				panic(fmt.Sprintf("config: key %q: its doc must be plain text, without backquotes", k.Name))
			}
			all = append(all, k)
			names[k.Name], flags[k.Flag] = true, k.Flag != ""
		}
	}
	byName := make(map[string]*Key, len(all))
	for i := range all {
		byName[all[i].Name] = &all[i]
	}
	return all, byName
}

// Keys returns every configuration key, section by section, in the order
// of docs/configuration.md. The slice is the caller's.
func Keys() []Key { return append([]Key(nil), table...) }

// Lookup returns the key named name (case-insensitive).
func Lookup(name string) (Key, bool) {
	k := byName[strings.ToLower(strings.TrimSpace(name))]
	if k == nil {
		return Key{}, false
	}
	return *k, true
}

// Sections returns the INI sections in order; the first is the one keys
// before any section header belong to.
func Sections() []Section {
	s := make([]Section, len(sections))
	for i, sec := range sections {
		s[i] = sec.name
	}
	return s
}

// Value parsers shared by the table: each takes where the value goes.

var errNonNegative = errors.New("want a non-negative integer")

func atoi(value string) (int, error) {
	n, err := strconv.Atoi(value)
	if err != nil || n < 0 {
		return 0, errNonNegative
	}
	return n, nil
}

func num(field func(*Settings) *int) func(*Settings, string) error {
	return func(s *Settings, value string) error {
		n, err := atoi(value)
		if err == nil {
			*field(s) = n
		}
		return err
	}
}

func num64(field func(*Settings) *int64) func(*Settings, string) error {
	return func(s *Settings, value string) error {
		n, err := atoi(value)
		if err == nil {
			*field(s) = int64(n)
		}
		return err
	}
}

func ms(field func(*Settings) *time.Duration) func(*Settings, string) error {
	return func(s *Settings, value string) error {
		n, err := atoi(value)
		if err == nil {
			*field(s) = time.Duration(n) * time.Millisecond
		}
		return err
	}
}

func str(field func(*Settings) *string) func(*Settings, string) error {
	return func(s *Settings, value string) error {
		*field(s) = value
		return nil
	}
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

// Apply functions of the keys that validate more than a number.

func applyPort(s *Settings, value string) error {
	n, err := atoi(value)
	if err != nil {
		return err
	}
	if n > 65535 {
		return errors.New("want a port number, 0 to 65535")
	}
	s.Engine.Port = n
	return nil
}

func applyBalancer(s *Settings, value string) error {
	if value != string(engine.BalancerIPC) && value != string(engine.BalancerReusePort) {
		return errors.New(`want "ipc" or "reuseport"`)
	}
	s.Engine.Balancer = engine.Balancer(value)
	return nil
}

func applyTCPNoDelay(s *Settings, value string) error {
	on, err := parseBool(value)
	if err != nil {
		return err
	}
	s.Engine.NoTCPNoDelay = !on // Haywire's tcp_nodelay false leaves Nagle on
	return nil
}

func applyBridge(s *Settings, value string) error {
	on, err := parseBool(value)
	if err != nil {
		return err
	}
	s.Bridge = on
	return nil
}

func applyHostRoutes(s *Settings, value string) error {
	var routes []string
	for _, r := range strings.Split(value, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if r[0] != '/' && r != "*" {
			return fmt.Errorf("route %q must start with '/'", r)
		}
		routes = append(routes, r)
	}
	s.HostRoutes = routes
	return nil
}

func applyRegionName(s *Settings, value string) error {
	if value != "" {
		if _, lane, err := region.ParseLaneName(value); err != nil {
			return err
		} else if lane != 0 {
			return fmt.Errorf("%q names lane %d; give the lane-0 name", value, lane)
		}
	}
	s.BridgeOptions.Region.Name = value
	return nil
}

func applyLanes(s *Settings, value string) error {
	n, err := atoi(value)
	if err != nil {
		return err
	}
	if n > region.MaxLanes {
		return fmt.Errorf("at most %d lanes", region.MaxLanes)
	}
	s.BridgeOptions.Lanes = n
	return nil
}

func applyHostCommand(s *Settings, value string) error {
	if value == "none" {
		value = "" // the default, spelled out
	}
	words, err := supervisor.SplitCommand(value)
	if err != nil {
		return err
	}
	s.Host.Command = words
	return nil
}

func applyHostProcesses(s *Settings, value string) error {
	n, err := atoi(value)
	if err != nil {
		return err
	}
	if n < 1 || 2*n > region.MaxLanes {
		return fmt.Errorf("want 1 to %d (each needs two lanes)", region.MaxLanes/2)
	}
	s.Host.Processes = n
	return nil
}

func applyHostWatch(s *Settings, value string) error {
	if value == "none" {
		value = "" // the default, spelled out
	}
	s.Host.Watch = value
	return nil
}

func applyHostShadowCopy(s *Settings, value string) error {
	on, err := parseBool(value)
	if err != nil {
		return err
	}
	s.Host.NoShadowCopy = !on
	return nil
}

func applyHostWait(s *Settings, value string) error {
	var d time.Duration
	if err := ms(func(*Settings) *time.Duration { return &d })(s, value); err != nil {
		return err
	}
	if d == 0 {
		d = -1 // no wait: bridge.Options reads zero as the default
	}
	s.BridgeOptions.HostWait = d
	return nil
}
