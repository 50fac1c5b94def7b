// Package config reads haywire's configuration: the INI file of
// hw_init_from_config and the key/value pairs of hw_config_set, both
// applied onto an engine.Config. Every key Haywire's configuration struct
// has can be set, plus the engine's own limits and timeouts.
//
// Keys of section [http]:
//
//	listen_address    string   0.0.0.0
//	listen_port       int      8000
//	thread_count      int      listeners with balancer=reuseport; 0 or 1 also
//	                           serialises C callbacks as Haywire's single loop did
//	balancer          string   ipc | reuseport
//	parser            string   accepted for compatibility ("http_parser"); ignored
//	tcp_nodelay       bool     1 sets TCP_NODELAY on accepted sockets, 0 leaves
//	                           Nagle's algorithm on (engine.Config.NoTCPNoDelay);
//	                           default 0 for hw_init_from_config and hw_config_set, as
//	                           in Haywire (lifecycle.HaywireDefaults); 1 for the launcher
//	listen_backlog    int      0 = system default
//	max_request_size  bytes    largest request body; default 1048576 (Haywire's), 30000000
//	                           for the launcher (build/haywire, Kestrel's and IIS's default:
//	                           bridged bodies stream with bounded memory)
//	max_target_bytes  bytes    longest request-target; default 8192
//	max_header_bytes  bytes    largest request head; default 32768
//	max_header_count  int      most header fields; default 100
//	header_timeout_ms int      default 10000
//	body_timeout_ms   int      default 30000
//	idle_timeout_ms   int      default 60000
//	write_timeout_ms  int      default 30000
//	lingering_time_ms int      after an answer that closes the connection (400, 408, 413,
//	                           414, 431, Connection: close), the engine half-closes and
//	                           discards what the client still sends, this long at most,
//	                           so that its close does not reset the connection and
//	                           destroy the answer; default 2000
//	lingering_bytes   bytes    and this many bytes at most; default 8388608
//	server_name       string   Server header; "-" omits it; default haywire
//
// Keys of section [bridge] (the launcher turns the bridge on):
//
//	bridge               bool     forward requests to host processes
//	host_routes          list     route patterns forwarded, comma-separated; default: all without a native route
//	region_dir           string   directory of the region files; default /dev/shm
//	region_lanes         int      hosts attached at once (2 allow a hot swap); default 2
//	region_chunk_size    bytes    arena chunk size, a power of two; default 4096
//	region_chunks        int      chunks per arena; default 1024
//	region_slots         int      descriptors per ring, a power of two; default 4096
//	host_timeout_ms      int      a silent host is declared dead after this; default 1000
//	host_send_timeout_ms int      a request waits this long for room at the host, then 503; default 5000
//	host_take_timeout_ms int      a request a live host does not take off the ring this long gets 503; default 10000
//	host_wait_ms         int      a request that finds no host waits this long for one, then 503 (0: at once); default 5000
//	region_name          string   the region's name, haywire-<uuid>; default a fresh one
//	body_inline          bytes    request bodies up to this size travel in the view, larger ones stream; default 65536
//	body_window          bytes    of one streamed request body a host may hold unreleased; default a quarter arena
//
// Unknown sections and keys are errors, so a typo is never silently
// ignored. Functions in this package are safe for concurrent use.
package config
