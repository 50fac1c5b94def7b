//go:build !linux

package main

/*
#include <stdlib.h>
#include "capi.h"
*/
import "C"

import (
	"errors"
	"io"
	"net/netip"
	"runtime/cgo"
	"time"
	"unsafe"

	"github.com/haywireowin/haywire/bridge/host"
	"github.com/haywireowin/haywire/bridge/wire"
	"github.com/haywireowin/haywire/region"
)

// The host side of the C API where hostlib/ does not build (it needs Linux
// futexes): the C structs and the request accessors are in host_other.c;
// these exports take requests, read streamed bodies, send responses (whole
// or streamed) and detach over the Go host, bridge/host. The C hw_host
// holds a cgo.Handle of its *host.Host. On Linux, hostlib.c compiles
// hostlib/ into the library instead and none of this is built.

// hostAttachTimeout is how long hw_host_attach waits for a free lane.
const hostAttachTimeout = 5 * time.Second

// init puts the Go host's errors first in codes, as some wrap region
// errors that map differently.
func init() {
	codes = append([]errorCode{
		{host.ErrDrained, C.HW_EDRAINED},
		{host.ErrInFlight, C.HW_ESTATE},
		{host.ErrEnded, C.HW_EINVAL},
		{host.ErrCancelled, C.HW_ECANCELED},
		{host.ErrBodyTooLong, C.HW_EINVAL},
		{host.ErrBodyTooShort, C.HW_ESTATE},
		{host.ErrStreaming, C.HW_ESTATE},
		{host.ErrNotStreaming, C.HW_ESTATE},
		{wire.ErrResponse, C.HW_EINVAL},
	}, codes...)
}

func hostOf(handle C.uintptr_t) *host.Host {
	return cgo.Handle(handle).Value().(*host.Host)
}

// cAlloc and cFree keep the copies of multi-chunk views in C memory: C
// may hold pointers to them, which cgo forbids for Go memory.
func cAlloc(n int) []byte {
	p := C.malloc(C.size_t(max(n, 1)))
	if p == nil {
		return nil
	}
	return unsafe.Slice((*byte)(p), n)
}

func cFree(b []byte) { C.free(unsafe.Pointer(unsafe.SliceData(b))) }

// hw__host_attach_go is hw_host_attach (host_other.c) without const, which cgo
// cannot declare; out is not NULL.
//
//export hw__host_attach_go
func hw__host_attach_go(name, dir *C.char, out **C.hw_host) (rc C.int) {
	defer guard(&rc)
	if name == nil {
		return fail(errNil("hw_host_attach", "region_name"))
	}
	h, err := host.Attach(C.GoString(name), region.Options{Dir: goString(dir), AttachTimeout: hostAttachTimeout})
	if err != nil {
		return status(err)
	}
	h.SetAllocator(cAlloc, cFree)
	handle := cgo.NewHandle(h)
	ch := C.hw__host_new(C.uintptr_t(handle))
	if ch == nil {
		handle.Delete()
		h.Close()
		return fail(errNoMemory)
	}
	*out = ch
	return C.HW_OK
}

// timeoutOf converts a C timeout in milliseconds: negative waits without
// limit.
func timeoutOf(ms C.int) time.Duration {
	if ms < 0 {
		return -1
	}
	return time.Duration(ms) * time.Millisecond
}

// cBytes views n bytes of C memory at p.
func cBytes(p *C.char, n C.size_t) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

// requestOf returns the host's request id if it is handed out and not
// ended, else nil.
func requestOf(handle C.uintptr_t, id C.uint64_t) *host.Request {
	return hostOf(handle).Request(uint64(id))
}

//export hw__host_next_go
func hw__host_next_go(handle C.uintptr_t, timeoutMS C.int, req *C.hw_host_request) (rc C.int) {
	defer guard(&rc)
	r, err := hostOf(handle).Next(timeoutOf(timeoutMS))
	if err != nil {
		return status(err)
	}
	raw := r.Raw() // the engine's arena or C memory: C may keep it
	req.view = (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(raw)))
	req.view_len = C.size_t(len(raw))
	req.id = C.uint64_t(r.ID())
	v := r.View()
	req.remote_len, req.remote_port = addrText(&req.remote_addr, v.Remote())
	req.local_len, req.local_port = addrText(&req.local_addr, v.Local())
	return C.HW_OK
}

// addrText writes a's address as text into buf and returns its length and
// the port; 0, 0 when the engine did not know the address.
func addrText(buf *[48]C.char, a netip.AddrPort) (C.size_t, C.int) {
	if a.Addr().IsUnspecified() && a.Port() == 0 {
		return 0, 0
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), len(buf))
	return C.size_t(len(a.Addr().AppendTo(b[:0]))), C.int(a.Port())
}

//export hw__host_end_go
func hw__host_end_go(handle C.uintptr_t, id C.uint64_t, msg *C.char, n C.size_t) (rc C.int) {
	defer guard(&rc)
	r := hostOf(handle).Request(uint64(id))
	if r == nil {
		return fail(host.ErrEnded)
	}
	return status(r.Send(cBytes(msg, n)))
}

// maxRead bounds one body read: a C size_t may exceed what a Go slice
// holds.
const maxRead = 1 << 30

//export hw__host_read_go
func hw__host_read_go(handle C.uintptr_t, id C.uint64_t, buf *C.char, capacity C.size_t, timeoutMS C.int, n *C.size_t) (rc C.int) {
	defer guard(&rc)
	r := requestOf(handle, id)
	if r == nil {
		return fail(host.ErrEnded)
	}
	k, err := r.ReadBody(cBytes(buf, min(capacity, maxRead)), timeoutOf(timeoutMS))
	*n = C.size_t(k)
	if k > 0 || err == io.EOF {
		return C.HW_OK
	}
	return status(err)
}

//export hw__host_begin_go
func hw__host_begin_go(handle C.uintptr_t, id C.uint64_t, msg *C.char, n C.size_t) (rc C.int) {
	defer guard(&rc)
	r := requestOf(handle, id)
	if r == nil {
		return fail(host.ErrEnded)
	}
	return status(r.StartStream(cBytes(msg, n)))
}

//export hw__host_write_go
func hw__host_write_go(handle C.uintptr_t, id C.uint64_t, data *C.char, n C.size_t) (rc C.int) {
	defer guard(&rc)
	r := requestOf(handle, id)
	if r == nil {
		return fail(host.ErrEnded)
	}
	_, err := r.WriteBody(cBytes(data, n))
	return status(err)
}

//export hw__host_finish_go
func hw__host_finish_go(handle C.uintptr_t, id C.uint64_t) (rc C.int) {
	defer guard(&rc)
	r := requestOf(handle, id)
	if r == nil {
		return fail(host.ErrEnded)
	}
	return status(r.EndResponse())
}

//export hw__host_abort_go
func hw__host_abort_go(handle C.uintptr_t, id C.uint64_t) (rc C.int) {
	defer guard(&rc)
	r := requestOf(handle, id)
	if r == nil {
		return fail(host.ErrEnded)
	}
	return status(r.Abort())
}

//export hw__host_cancelled_go
func hw__host_cancelled_go(handle C.uintptr_t, id C.uint64_t) (rc C.int) {
	defer guard(&rc)
	if r := hostOf(handle).Request(uint64(id)); r != nil && r.Cancelled() {
		return 1
	}
	return 0
}

//export hw__host_leave_go
func hw__host_leave_go(handle C.uintptr_t) (rc C.int) {
	defer guard(&rc)
	return status(hostOf(handle).Leave())
}

//export hw__host_detach_go
func hw__host_detach_go(handle C.uintptr_t) (rc C.int) {
	defer guard(&rc)
	err := hostOf(handle).Close()
	if errors.Is(err, host.ErrInFlight) {
		return fail(err)
	}
	cgo.Handle(handle).Delete()
	return C.HW_OK // detached, whatever unmapping said
}
