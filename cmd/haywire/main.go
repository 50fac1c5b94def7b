// Command haywire is the standalone engine: it serves HTTP and forwards
// every request to the application host attached to its shared region.
//
//	haywire --port 8080 [--threads N] [--region NAME] [--config FILE] [--region-dir DIR] ...
//
// The first line on stdout is "region: NAME", the name hosts attach to
// (build/c_host --region NAME, Sample.exe --region NAME). SIGTERM or
// SIGINT stops it gracefully: it stops accepting, lets requests in flight
// finish (up to --shutdown-timeout), and removes the region.
//
// Its defaults are the engine's but for max_request_size, 30000000 bytes
// (Kestrel's and IIS's; Haywire's 1 MiB suits C routes that get a body
// whole, while bridged bodies stream to the host with bounded memory), and
// tcp_nodelay, on.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/haywireowin/haywire/config"
	"github.com/haywireowin/haywire/engine"
	"github.com/haywireowin/haywire/lifecycle"
	"github.com/haywireowin/haywire/region"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// maxRequestSize is the launcher's default max_request_size: Kestrel's and
// IIS's default request body limit.
const maxRequestSize = 30_000_000

// flags maps each flag to the configuration key it sets.
var flags = []struct{ flag, key string }{
	{"address", "listen_address"}, {"port", "listen_port"}, {"threads", "thread_count"},
	{"balancer", "balancer"}, {"backlog", "listen_backlog"}, {"max-request-size", "max_request_size"},
	{"header-timeout-ms", "header_timeout_ms"}, {"idle-timeout-ms", "idle_timeout_ms"},
	{"region", "region_name"}, {"region-dir", "region_dir"}, {"lanes", "region_lanes"}, {"chunk-size", "region_chunk_size"}, {"chunks", "region_chunks"},
	{"slots", "region_slots"}, {"host-timeout-ms", "host_timeout_ms"}, {"send-timeout-ms", "host_send_timeout_ms"},
	{"take-timeout-ms", "host_take_timeout_ms"}, {"host-wait-ms", "host_wait_ms"}, {"body-inline", "body_inline"}, {"body-window", "body_window"},
	{"body-timeout-ms", "body_timeout_ms"}, {"write-timeout-ms", "write_timeout_ms"},
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("haywire", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "INI `file` to read first; flags override it")
	shutdown := fs.Duration("shutdown-timeout", 10*time.Second, "how long a stop waits for requests in flight")
	withParent := fs.Bool("exit-with-parent", false, "stop gracefully when the process that started this one exits (for hosts that launch their engine)")
	stats := fs.Bool("stats", false, "print the transport counters of the running engine named by --region (and --region-dir), then exit")
	values := map[string]*string{}
	for _, f := range flags {
		doc := config.Keys()[f.key]
		if f.key == "max_request_size" {
			doc = "largest request body in bytes; default " + strconv.Itoa(maxRequestSize)
		}
		values[f.flag] = fs.String(f.flag, "", doc+" (key "+f.key+")")
	}
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: haywire [flags]\n\nServes HTTP on --port and forwards requests to the host attached to\nthe region whose name it prints first (\"region: NAME\").\n\nflags:")
		fs.PrintDefaults()
		keys := make([]string, 0, len(config.Keys()))
		for k := range config.Keys() {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintln(stderr, "\nconfiguration keys (INI sections [http] and [bridge]):")
		for _, k := range keys {
			fmt.Fprintf(stderr, "  %-22s %s\n", k, config.Keys()[k])
		}
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "haywire: unexpected argument %q\n", fs.Arg(0))
		return 2
	}

	if *stats {
		return printStats(*values["region"], *values["region-dir"], stdout, stderr)
	}

	set := config.Settings{Engine: engine.Config{Port: lifecycle.DefaultPort}, Bridge: true}
	if *configFile != "" {
		if err := config.LoadFile(&set, *configFile); err != nil {
			fmt.Fprintln(stderr, "haywire:", err)
			return 1
		}
		set.Bridge = true // the launcher exists to bridge
	}
	for _, f := range flags {
		if v := *values[f.flag]; v != "" {
			if err := config.Set(&set, f.key, v); err != nil {
				fmt.Fprintf(stderr, "haywire: --%s: %v\n", f.flag, err)
				return 2
			}
		}
	}

	if set.Engine.MaxRequestSize == 0 { // unset, or 0: the default
		set.Engine.MaxRequestSize = maxRequestSize
	}

	var eng lifecycle.Engine
	if err := eng.ConfigureSettings(set); err != nil {
		fmt.Fprintln(stderr, "haywire:", err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	if *withParent {
		go watchParent(os.Getppid(), sigs)
	}
	if err := eng.Start(); err != nil {
		fmt.Fprintln(stderr, "haywire:", err)
		return 1
	}
	fmt.Fprintf(stdout, "region: %s\n", eng.RegionName())
	fmt.Fprintf(stdout, "listening: %s\n", eng.Server().Addr())
	if f, ok := stdout.(*os.File); ok {
		f.Sync()
	}
	sig := <-sigs
	fmt.Fprintf(stderr, "haywire: %v: stopping (up to %v)\n", sig, *shutdown)
	if err := eng.Stop(*shutdown); err != nil {
		fmt.Fprintln(stderr, "haywire:", err)
		return 1
	}
	return 0
}

// printStats prints, one line per lane and side, the counters of the
// engine whose lane-0 region is name: "lane 0 engine wakeups=3 sleeps=5 ...".
func printStats(name, dir string, stdout, stderr io.Writer) int {
	if name == "" {
		fmt.Fprintln(stderr, "haywire: --stats needs --region NAME")
		return 2
	}
	for k := 0; ; k++ {
		c, err := region.ReadCounters(region.LaneName(name, k), dir)
		if err != nil {
			if k > 0 && errors.Is(err, region.ErrNotFound) {
				return 0 // past the last lane
			}
			fmt.Fprintln(stderr, "haywire:", err)
			return 1
		}
		for side, who := range []string{"engine", "host"} {
			fmt.Fprintf(stdout, "lane %d %s", k, who)
			for i, n := range c.Side[side] {
				fmt.Fprintf(stdout, " %s=%d", region.CounterNames[i], n)
			}
			fmt.Fprintln(stdout)
		}
	}
}

// watchParent delivers SIGTERM on sigs once the parent process is gone:
// this process is then re-parented, and its parent id changes. Polling
// rather than PR_SET_PDEATHSIG, which fires when the parent *thread* that
// forked us exits (a runtime's worker thread may, with the parent alive).
func watchParent(ppid int, sigs chan<- os.Signal) {
	for range time.Tick(250 * time.Millisecond) {
		if os.Getppid() != ppid {
			sigs <- syscall.SIGTERM
			return
		}
	}
}
