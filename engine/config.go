package engine

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/haywireowin/haywire/http1"
)

// Balancer names how connections are spread over listeners.
type Balancer string

// Balancers, named as in Haywire's configuration.
const (
	// BalancerIPC accepts on one listener; Go's scheduler spreads the
	// connections' goroutines over all cores (Haywire's "ipc" handed
	// accepted sockets to loop threads over pipes to the same effect).
	BalancerIPC Balancer = "ipc"
	// BalancerReusePort opens Listeners sockets bound to the same port with
	// SO_REUSEPORT, so the kernel spreads incoming connections (Linux).
	BalancerReusePort Balancer = "reuseport"
)

// Config configures a Server. The zero value of every field means its
// default, given in the field's comment.
type Config struct {
	Address   string   // listen address; default "0.0.0.0"
	Port      int      // listen port; 0 picks a free port (see Server.Addr); default 0
	Listeners int      // listeners under BalancerReusePort (Haywire's thread_count); default 1
	Balancer  Balancer // default BalancerIPC
	Backlog   int      // listen backlog; default the system's SOMAXCONN

	// MaxRequestSize bounds a request body in bytes (Haywire's
	// max_request_size); a larger one is answered 413. Default 1 MiB.
	MaxRequestSize int64
	// Limits bounds the request head (target → 414, fields → 431); zero
	// fields take http1.DefaultLimits.
	Limits http1.Limits

	// HeaderTimeout bounds the time from a request's first byte to the end
	// of its head, against slowloris clients; 408 on expiry. Default 10 s.
	HeaderTimeout time.Duration
	// BodyTimeout bounds each wait for more bytes of a request body that
	// has begun; 408 on expiry. Default 30 s.
	BodyTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a keep-alive
	// connection; the connection is closed on expiry. Default 60 s.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write to a client; the connection is closed
	// on expiry. Default 30 s.
	WriteTimeout time.Duration

	// LingerTime bounds the lingering close that follows an answer closing
	// the connection (400, 408, 413, 414, 431, a "Connection: close"
	// response): the engine half-closes, then reads and discards what the
	// client still sends before closing. Closing with input unread would
	// make the kernel reset the connection, which fails a client still
	// sending and can destroy the answer before it is read (nginx's
	// lingering_close). Default 2 s, counted from the half-close. Stop
	// waits for lingering connections too, unless its context ends first.
	LingerTime time.Duration
	// LingerBytes bounds the bytes a lingering close discards. A client
	// that reads only once it has sent its whole body needs about that
	// body's size. Default 8 MiB.
	LingerBytes int64

	// ServerName is the Server header's value; "-" omits the header.
	// Default "haywire".
	ServerName string
	// NoTCPNoDelay leaves Nagle's algorithm on. By default TCP_NODELAY is set
	// on every accepted socket: the engine batches its own writes, so Nagle
	// would only add delay (with delayed ACKs, up to 40 ms per response).
	NoTCPNoDelay bool
}

// Defaults for the Config fields.
const (
	DefaultMaxRequestSize = 1 << 20
	DefaultHeaderTimeout  = 10 * time.Second
	DefaultBodyTimeout    = 30 * time.Second
	DefaultIdleTimeout    = 60 * time.Second
	DefaultWriteTimeout   = 30 * time.Second
	DefaultLingerTime     = 2 * time.Second
	DefaultLingerBytes    = 8 << 20
	DefaultServerName     = "haywire"
)

// withDefaults returns a copy of c with defaults filled in, or an error
// wrapping ErrConfig that names the bad field and value.
func (c Config) withDefaults() (Config, error) {
	bad := func(field string, v any) (Config, error) {
		return c, fmt.Errorf("%w: %s = %v", ErrConfig, field, v)
	}
	if c.Address == "" {
		c.Address = "0.0.0.0"
	}
	if net.ParseIP(c.Address) == nil && c.Address != "localhost" {
		return bad("address", c.Address)
	}
	if c.Port < 0 || c.Port > 65535 {
		return bad("port", c.Port)
	}
	switch c.Balancer {
	case "":
		c.Balancer = BalancerIPC
	case BalancerIPC, BalancerReusePort:
	default:
		return bad("balancer", strconv.Quote(string(c.Balancer)))
	}
	if c.Listeners < 0 || c.Listeners > 1024 {
		return bad("listeners", c.Listeners)
	}
	if c.Listeners == 0 || c.Balancer == BalancerIPC {
		c.Listeners = 1
	}
	if c.Backlog < 0 {
		return bad("backlog", c.Backlog)
	}
	if c.MaxRequestSize < 0 {
		return bad("max_request_size", c.MaxRequestSize)
	}
	if c.MaxRequestSize == 0 {
		c.MaxRequestSize = DefaultMaxRequestSize
	}
	if c.LingerBytes < 0 {
		return bad("lingering_bytes", c.LingerBytes)
	}
	if c.LingerBytes == 0 {
		c.LingerBytes = DefaultLingerBytes
	}
	if c.Limits.MaxTargetBytes < 0 || c.Limits.MaxHeaderBytes < 0 || c.Limits.MaxHeaderCount < 0 {
		return bad("limits", c.Limits)
	}
	def := http1.DefaultLimits
	if c.Limits.MaxTargetBytes == 0 {
		c.Limits.MaxTargetBytes = def.MaxTargetBytes
	}
	if c.Limits.MaxHeaderBytes == 0 {
		c.Limits.MaxHeaderBytes = def.MaxHeaderBytes
	}
	if c.Limits.MaxHeaderCount == 0 {
		c.Limits.MaxHeaderCount = def.MaxHeaderCount
	}
	for _, t := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"header_timeout", &c.HeaderTimeout, DefaultHeaderTimeout},
		{"body_timeout", &c.BodyTimeout, DefaultBodyTimeout},
		{"idle_timeout", &c.IdleTimeout, DefaultIdleTimeout},
		{"write_timeout", &c.WriteTimeout, DefaultWriteTimeout},
		{"lingering_time", &c.LingerTime, DefaultLingerTime},
	} {
		if *t.v < 0 {
			return bad(t.name, *t.v)
		}
		if *t.v == 0 {
			*t.v = t.def
		}
	}
	if c.ServerName == "" {
		c.ServerName = DefaultServerName
	}
	for i := 0; i < len(c.ServerName); i++ {
		if b := c.ServerName[i]; b < 0x20 || b == 0x7f {
			return bad("server_name", strconv.Quote(c.ServerName))
		}
	}
	return c, nil
}
