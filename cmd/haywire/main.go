// Command haywire is the standalone engine: it serves HTTP and forwards
// every request to the application host attached to its shared region.
//
//	haywire --port 8080 [--threads N] [--region NAME] [--config FILE] [--region-dir DIR] ...
//
// The first line on stdout is "region: NAME", the name hosts attach to
// (build/c_host --region NAME, Sample.exe --region NAME). With
// --host-command "CMD ARGS" it runs the host itself (package supervisor):
// it starts CMD with HAYWIRE_REGION and HAYWIRE_REGION_DIR in its
// environment, restarts it when it exits, and stops it when it stops;
// --host-processes N runs N at once, and SIGHUP replaces them by a new
// generation (a hot swap of the application). --admin ADDR (default
// 127.0.0.1:9901, off for none) serves the admin console, status API and
// metrics (package admin; docs/admin.md); the third line on stdout names it.
// SIGTERM or SIGINT stops it gracefully: it stops accepting, lets requests
// in flight finish (up to --shutdown-timeout), removes the region and
// stops its hosts.
//
// Its flags and the keys of its --config file come from package config's
// table of keys (config.Keys). Its defaults are the library's but where a
// key's LauncherDefault says otherwise: max_request_size, 30000000 bytes
// (Kestrel's and IIS's; Haywire's 1 MiB suits C routes that get a body
// whole, while bridged bodies stream to the host with bounded memory),
// tcp_nodelay and bridge, on.
//
// HAYWIRE_SCHED=batch in the environment runs the engine's threads under
// SCHED_BATCH (Linux): more throughput under load when the host shares
// the engine's CPU, more latency for a lone request (see batchScheduling).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/haywireowin/haywire/config"
	"github.com/haywireowin/haywire/lifecycle"
	"github.com/haywireowin/haywire/region"
	"github.com/haywireowin/haywire/supervisor"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("haywire", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "INI `file` to read first; flags override it")
	shutdown := fs.Duration("shutdown-timeout", 10*time.Second, "how long a stop waits for requests in flight")
	withParent := fs.Bool("exit-with-parent", false, "stop gracefully when the process that started this one exits (for hosts that launch their engine)")
	stats := fs.Bool("stats", false, "print the transport counters of the running engine named by --region (and --region-dir), then exit")
	values := map[string]*string{} // by key name
	for _, k := range config.Keys() {
		if k.Flag != "" {
			values[k.Name] = fs.String(k.Flag, "", k.Doc+"; default "+k.LauncherValue()+" (key "+k.Name+")")
		}
	}
	fs.Usage = func() { usage(fs, stderr) }
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
		return printStats(*values["region_name"], *values["region_dir"], stdout, stderr)
	}

	set, err := settings(*configFile, values)
	if err != nil {
		fmt.Fprintln(stderr, "haywire:", err)
		if errors.As(err, new(flagError)) {
			return 2
		}
		return 1
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
	// HAYWIRE_SCHED=batch trades a lone request's latency for throughput
	// under load when the host shares the engine's CPU (batchScheduling).
	if set.Bridge && os.Getenv("HAYWIRE_SCHED") == "batch" {
		if _, err := batchScheduling(); err != nil {
			fmt.Fprintln(stderr, "haywire: SCHED_BATCH not set:", err)
		}
	}
	if err := eng.Start(); err != nil {
		fmt.Fprintln(stderr, "haywire:", err)
		return 1
	}
	fmt.Fprintf(stdout, "region: %s\n", eng.RegionName())
	fmt.Fprintf(stdout, "listening: %s\n", eng.Server().Addr())
	adm := eng.Admin()
	if adm != nil {
		// The token once, in the console's address (the page reads it from
		// the fragment, which no request carries); a configured one is
		// not repeated.
		if adm.Generated() {
			fmt.Fprintf(stdout, "admin: %s#token=%s\n", adm.URL(), adm.Token())
		} else {
			fmt.Fprintf(stdout, "admin: %s\n", adm.URL())
		}
	}
	if f, ok := stdout.(*os.File); ok {
		f.Sync()
	}
	var sup *supervisor.Supervisor
	if len(set.Host.Command) > 0 {
		if sup, err = superviseHosts(&eng, set.Host, stderr); err != nil {
			fmt.Fprintln(stderr, "haywire:", err)
			eng.Stop(*shutdown)
			return 1
		}
		if adm != nil {
			adm.SetSupervisor(sup)
		}
	}
	hup := make(chan os.Signal, 1)
	if sup != nil {
		signal.Notify(hup, syscall.SIGHUP) // a swap; without hosts of its own, SIGHUP stops as ever
	}
	var sig os.Signal
	for sig == nil {
		select {
		case sig = <-sigs:
		case <-hup:
			go sup.SwapFor("signal") // logs how it went; swaps run one at a time
		}
	}
	fmt.Fprintf(stderr, "haywire: %v: stopping (up to %v)\n", sig, *shutdown)
	// The hosts keep serving while the requests in flight finish; the
	// bridge's close then tells them the engine is gone, and whichever
	// host still runs gets SIGTERM, then SIGKILL.
	if sup != nil {
		sup.Hold()
	}
	err = eng.Stop(*shutdown)
	if sup != nil {
		sup.Stop()
	}
	if err != nil {
		fmt.Fprintln(stderr, "haywire:", err)
		return 1
	}
	return 0
}

// superviseHosts starts the hosts of opts (--host-command) with the
// engine's region in their environment; a host is ready once it is
// attached to a lane (the C# host attaches once its Startup ran). SIGHUP
// then swaps them for a new generation (supervisor.Swap).
func superviseHosts(eng *lifecycle.Engine, opts supervisor.Options, log io.Writer) (*supervisor.Supervisor, error) {
	b := eng.Bridge()
	opts.Env = append(opts.Env, "HAYWIRE_REGION="+b.Name(), "HAYWIRE_REGION_DIR="+b.Dir())
	opts.Log = log
	// The supervisor says which hosts serve: those of its current
	// generation, together; a host attached by hand waits unserved.
	opts.Changed = func(s *supervisor.Supervisor) { b.SetAdmit(s.Serving) }
	opts.Ready = func(pid int) bool {
		for _, l := range b.Lanes() {
			if l.HostState == "alive" && supervisor.InGroup(l.HostPID, pid) {
				return true
			}
		}
		return false
	}
	return supervisor.Start(opts)
}

// usage prints the flags, then every configuration key by section, with
// the launcher's default and the flag that sets it.
func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintln(w, "usage: haywire [flags]\n\nServes HTTP on --port and forwards requests to the host attached to\nthe region whose name it prints first (\"region: NAME\").\n\nflags:")
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nconfiguration keys, by section of the --config file (a flag overrides its key):")
	var sec config.Section
	for _, k := range config.Keys() {
		if k.Section != sec {
			sec = k.Section
			fmt.Fprintf(w, "  [%s]\n", sec)
		}
		if k.Flag != "" { // its doc is the flag's, above
			fmt.Fprintf(w, "  %-22s --%-22s default %s\n", k.Name, k.Flag, k.LauncherValue())
		} else {
			fmt.Fprintf(w, "  %-22s %-24s %s; default %s\n", k.Name, "", k.Doc, k.LauncherValue())
		}
	}
}

// A flagError is a bad flag value (exit status 2).
type flagError struct {
	flag string
	err  error
}

func (e flagError) Error() string { return "--" + e.flag + ": " + e.err.Error() }

// settings returns the launcher's configuration: the library's defaults
// with the launcher's own (config.Key.LauncherDefault), then the INI file,
// then the flags given (values, by key name; "" for a flag not given).
func settings(configFile string, values map[string]*string) (config.Settings, error) {
	set := lifecycle.HaywireDefaults()
	for _, k := range config.Keys() {
		if k.LauncherDefault != "" {
			if err := config.Set(&set, k.Name, k.LauncherDefault); err != nil {
				panic(err) // the table's own value
			}
		}
	}
	defaultAdmin := set.Admin.Address
	if configFile != "" {
		if err := config.LoadFile(&set, configFile); err != nil {
			return set, err
		}
		set.Bridge = true // the launcher exists to bridge
	}
	for _, k := range config.Keys() {
		if v := values[k.Name]; v != nil && *v != "" {
			if err := config.Set(&set, k.Name, *v); err != nil {
				return set, flagError{k.Flag, err}
			}
		}
	}
	// On its default address, a launcher whose port is taken (another
	// launcher's) runs without an admin listener, and says so.
	adminFlag := values["admin_address"]
	set.Admin.BestEffort = set.Admin.Address == defaultAdmin && (adminFlag == nil || *adminFlag == "")
	if set.Host.Watch != "" && len(set.Host.Command) == 0 {
		return set, errors.New("host_watch (--host-watch) needs host_command (--host-command)")
	}
	if len(set.Host.Command) > 0 {
		// Two lanes per host: during a swap both generations are attached.
		lanes := set.BridgeOptions.Lanes
		if lanes == 0 {
			lanes = 2 // the bridge's default
		}
		set.BridgeOptions.Lanes = max(lanes, 2*max(1, set.Host.Processes))
	}
	if set.Engine.MaxRequestSize == 0 { // set to 0: the default, the launcher's
		k, _ := config.Lookup("max_request_size")
		config.Set(&set, k.Name, k.LauncherValue())
	}
	return set, nil
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
