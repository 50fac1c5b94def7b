// Command libhaywire is built with -buildmode=c-shared into libhaywire.so
// (haywire.dll, libhaywire.dylib): the C API declared in include/haywire.h.
// Each export converts C types, calls one function of package lifecycle,
// and maps its error to an HW_E* code; the C-only parts of the API are in
// capi.c. The library installs no signal handlers.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../include -O2
#cgo windows CFLAGS: -DBUILDING_HAYWIRE_SHARED
#include <stdlib.h>
#include "capi.h"
*/
import "C"

import (
	"fmt"
	"time"
	"unsafe"

	"github.com/haywireowin/haywire/engine"
	"github.com/haywireowin/haywire/lifecycle"
)

func main() {} // required by -buildmode=c-shared; never runs

// eng is the process's engine: Haywire has one per process.
var eng lifecycle.Engine

//export hw_init_from_config
func hw_init_from_config(name *C.char) (rc C.int) {
	defer guard(&rc)
	if name == nil {
		return fail(errNil("hw_init_from_config", "configuration_filename"))
	}
	return status(eng.ConfigureFile(C.GoString(name)))
}

//export hw_init_with_config
func hw_init_with_config(c *C.configuration) (rc C.int) {
	defer guard(&rc)
	if c == nil {
		return fail(errNil("hw_init_with_config", "config"))
	}
	cfg := engine.Config{
		Address:        goString(c.http_listen_address),
		Port:           int(c.http_listen_port),
		Listeners:      int(c.thread_count),
		Balancer:       engine.Balancer(goString(c.balancer)),
		Backlog:        int(c.listen_backlog),
		MaxRequestSize: int64(c.max_request_size),
		NoTCPNoDelay:   !bool(c.tcp_nodelay), // Haywire: false leaves Nagle on
	}
	return status(eng.Configure(cfg))
}

//export hw__config_set_go
func hw__config_set_go(key, value *C.char) (rc C.int) {
	defer guard(&rc)
	return status(eng.Set(C.GoString(key), C.GoString(value)))
}

//export hw_http_add_route
func hw_http_add_route(route *C.char, cb C.http_request_callback, userData unsafe.Pointer) {
	defer guardVoid("hw_http_add_route")
	if route == nil || cb == nil {
		fail(errNil("hw_http_add_route", "route or callback"))
		return
	}
	status(eng.AddRoute(C.GoString(route), &cRoute{cb: cb, userData: userData}))
}

//export hw_http_open
func hw_http_open() (rc C.int) {
	defer guard(&rc)
	serializeCallbacks.Store(eng.Config().Listeners <= 1)
	return status(eng.Run())
}

//export hw_start
func hw_start() (rc C.int) {
	defer guard(&rc)
	serializeCallbacks.Store(eng.Config().Listeners <= 1)
	return status(eng.Start())
}

//export hw_stop
func hw_stop(timeoutMS C.int) (rc C.int) {
	defer guard(&rc)
	timeout := time.Duration(timeoutMS) * time.Millisecond
	if timeoutMS < 0 {
		timeout = -1
	}
	return status(eng.Stop(timeout))
}

//export hw_stats
func hw_stats(out *C.hw_stats_t, size C.size_t) (rc C.int) {
	defer guard(&rc)
	if out == nil {
		return fail(errNil("hw_stats", "out"))
	}
	st := eng.Stats()
	full := C.hw_stats_t{
		connections_accepted: C.uint64_t(st.ConnectionsAccepted),
		connections_open:     C.uint64_t(st.ConnectionsOpen),
		requests:             C.uint64_t(st.Requests),
		refused:              C.uint64_t(st.Refused),
		timeouts:             C.uint64_t(st.Timeouts),
		handler_errors:       C.uint64_t(st.HandlerPanics),
		bytes_read:           C.uint64_t(st.BytesRead),
		bytes_written:        C.uint64_t(st.BytesWritten),
	}
	if b := eng.Bridge(); b != nil {
		bs := b.Stats()
		full.bridge_forwarded, full.bridge_completed = C.uint64_t(bs.Forwarded), C.uint64_t(bs.Completed)
		full.bridge_no_host, full.bridge_failed = C.uint64_t(bs.NoHost), C.uint64_t(bs.Failed)
		full.bridge_invalid, full.bridge_cancelled = C.uint64_t(bs.Invalid), C.uint64_t(bs.Cancelled)
		full.bridge_aborted, full.bridge_in_flight = C.uint64_t(bs.Aborted), C.uint64_t(bs.InFlight)
		full.bridge_body_in, full.bridge_body_out = C.uint64_t(bs.BodyIn), C.uint64_t(bs.BodyOut)
		full.bridge_host_pid = C.uint64_t(bs.HostPID)
		for _, l := range b.Lanes() {
			full.bridge_queued += C.uint64_t(l.Queued)
			full.bridge_chunks_lent += C.uint64_t(l.ChunksLent)
			full.bridge_chunks += C.uint64_t(l.Chunks)
		}
	}
	n := min(uintptr(size), unsafe.Sizeof(full))
	copy(unsafe.Slice((*byte)(unsafe.Pointer(out)), n), unsafe.Slice((*byte)(unsafe.Pointer(&full)), n))
	return C.HW_OK
}

//export hw_listen_address
func hw_listen_address(buf *C.char, size C.size_t, port *C.int) (rc C.int) {
	defer guard(&rc)
	a := eng.Addr()
	if a == nil {
		return fail(fmt.Errorf("%w: hw_listen_address: the engine is not running", lifecycle.ErrState))
	}
	if buf != nil {
		text := a.IP.String()
		if uintptr(size) < uintptr(len(text))+1 {
			return fail(fmt.Errorf("%w: hw_listen_address: %d bytes needed, buf has %d", errInvalid, len(text)+1, size))
		}
		out := unsafe.Slice((*byte)(unsafe.Pointer(buf)), len(text)+1)
		copy(out, text)
		out[len(text)] = 0
	}
	if port != nil {
		*port = C.int(a.Port)
	}
	return C.HW_OK
}

//export hw_region_name
func hw_region_name(buf *C.char, size C.size_t) (rc C.int) {
	defer guard(&rc)
	name := eng.RegionName()
	switch {
	case buf == nil:
		return fail(errNil("hw_region_name", "buf"))
	case name == "":
		return fail(fmt.Errorf("%w: hw_region_name: the engine is not running with the bridge on", lifecycle.ErrState))
	case uintptr(size) < uintptr(len(name))+1:
		return fail(fmt.Errorf("%w: hw_region_name: %d bytes needed, buf has %d", errInvalid, len(name)+1, size))
	}
	out := unsafe.Slice((*byte)(unsafe.Pointer(buf)), len(name)+1)
	copy(out, name)
	out[len(name)] = 0
	return C.HW_OK
}

func goString(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}
