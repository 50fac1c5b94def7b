package main

/*
#include <stdlib.h>
#include "capi.h"
*/
import "C"

import (
	"errors"
	"net/netip"
	"runtime/cgo"
	"time"
	"unsafe"

	"github.com/haywireowin/haywire/bridge"
	"github.com/haywireowin/haywire/region"
)

// The host side of the C API: the C structs and the request accessors are
// in host.c; these exports take requests, send responses and detach. The
// C hw_host holds a cgo.Handle of its *bridge.Host.

// hostAttachTimeout is how long hw_host_attach waits for a free lane.
const hostAttachTimeout = 5 * time.Second

var errNoMemory = errors.New("out of memory")

func hostOf(handle C.uintptr_t) *bridge.Host {
	return cgo.Handle(handle).Value().(*bridge.Host)
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

// hw__host_attach_go is hw_host_attach (host.c) without const, which cgo
// cannot declare; out is not NULL.
//
//export hw__host_attach_go
func hw__host_attach_go(name, dir *C.char, out **C.hw_host) (rc C.int) {
	defer guard(&rc)
	if name == nil {
		return fail(errNil("hw_host_attach", "region_name"))
	}
	h, err := bridge.Attach(C.GoString(name), region.Options{Dir: goString(dir), AttachTimeout: hostAttachTimeout})
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

//export hw__host_next_go
func hw__host_next_go(handle C.uintptr_t, timeoutMS C.int, req *C.hw_host_request) (rc C.int) {
	defer guard(&rc)
	timeout := time.Duration(timeoutMS) * time.Millisecond
	if timeoutMS < 0 {
		timeout = -1
	}
	r, err := hostOf(handle).Next(timeout)
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
		return fail(bridge.ErrEnded)
	}
	return status(r.Send(unsafe.Slice((*byte)(unsafe.Pointer(msg)), int(n))))
}

//export hw__host_cancelled_go
func hw__host_cancelled_go(handle C.uintptr_t, id C.uint64_t) (rc C.int) {
	defer guard(&rc)
	if r := hostOf(handle).Request(uint64(id)); r != nil && r.Cancelled() {
		return 1
	}
	return 0
}

//export hw__host_detach_go
func hw__host_detach_go(handle C.uintptr_t) (rc C.int) {
	defer guard(&rc)
	err := hostOf(handle).Close()
	if errors.Is(err, bridge.ErrInFlight) {
		return fail(err)
	}
	cgo.Handle(handle).Delete()
	return C.HW_OK // detached, whatever unmapping said
}
