package main

/*
#include "capi.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/haywireowin/haywire/engine"
	"github.com/haywireowin/haywire/http1"
)

// A slot pairs a C exchange (request and response in C memory, see
// capi.h) with the engine exchange it serves. Slots are recycled; the C
// side names its slot by index, so no Go pointer is ever stored in C.
type slot struct {
	idx int32
	ex  *C.hw__exchange
	x   *engine.Exchange
	// held is set once ServeExchange has held an exchange whose response
	// is still to come; a response sent from another thread in the instant
	// before waits for it.
	held atomic.Bool
}

var slots struct {
	mu   sync.Mutex
	all  []*slot
	free []*slot
}

func acquireSlot() *slot {
	slots.mu.Lock()
	if n := len(slots.free); n > 0 {
		s := slots.free[n-1]
		slots.free = slots.free[:n-1]
		slots.mu.Unlock()
		return s
	}
	defer slots.mu.Unlock()
	s := &slot{idx: int32(len(slots.all))}
	s.ex = C.hw__exchange_new(C.int32_t(s.idx))
	if s.ex == nil {
		return nil
	}
	slots.all = append(slots.all, s)
	return s
}

func releaseSlot(s *slot) {
	s.x = nil
	slots.mu.Lock()
	slots.free = append(slots.free, s)
	slots.mu.Unlock()
}

func slotAt(idx int32) *slot {
	slots.mu.Lock()
	defer slots.mu.Unlock()
	if idx < 0 || int(idx) >= len(slots.all) {
		return nil
	}
	return slots.all[idx]
}

var (
	// serializeCallbacks makes C callbacks run one at a time, as under
	// Haywire's single event loop (thread_count 0 or 1).
	serializeCallbacks atomic.Bool
	callbackMu         sync.Mutex
)

// cRoute serves a route with a C callback.
type cRoute struct {
	cb       C.http_request_callback
	userData unsafe.Pointer
}

// ServeExchange copies the request into the slot's C memory, calls the C
// callback through a trampoline (Go cannot call a C function pointer), and
// either finishes at once or holds the exchange for a later send.
func (r *cRoute) ServeExchange(x *engine.Exchange) {
	s := acquireSlot()
	if s == nil || !fillRequest(s.ex, x) {
		if s != nil {
			releaseSlot(s)
		}
		eng.CountHandlerError()
		x.SetStatus(500, "")
		return
	}
	s.x = x
	s.held.Store(false)
	serial := serializeCallbacks.Load()
	if serial {
		callbackMu.Lock()
	}
	flags := C.hw__invoke(C.uintptr_t(uintptr(unsafe.Pointer(r.cb))), C.uintptr_t(uintptr(unsafe.Pointer(s.ex))), C.uintptr_t(uintptr(r.userData)))
	if serial {
		callbackMu.Unlock()
	}
	if flags&C.HW__RESPONDED != 0 {
		finish(s)
		return
	}
	x.Hold()
	s.held.Store(true)
}

// hw__go_response_ready is called by hw_http_response_send on the thread
// that sent a response after its callback had returned.
//
//export hw__go_response_ready
func hw__go_response_ready(ex *C.hw__exchange) {
	defer guardVoid("hw_http_response_send")
	s := slotAt(int32(ex.slot))
	if s == nil || s.ex != ex {
		return
	}
	for !s.held.Load() { // ServeExchange is between the callback and Hold
		runtime.Gosched()
	}
	x := s.x
	finish(s)
	x.Done()
}

// fillRequest copies the request head and body into ex and points the C
// request's strings into that copy.
func fillRequest(ex *C.hw__exchange, x *engine.Exchange) bool {
	req, head, body := x.Request(), x.Head(), x.Body()
	n := len(head) + len(body)
	if uintptr(ex.datacap) < uintptr(max(n, 1)) || int(ex.capfields) < len(req.Headers) {
		if C.hw__exchange_reserve(ex, C.size_t(n), C.size_t(len(req.Headers))) != C.HW_OK {
			return false
		}
	}
	data := unsafe.Slice((*byte)(unsafe.Pointer(ex.data)), max(n, 1))
	copy(data, head)
	copy(data[len(head):], body)
	at := func(b []byte) (*C.char, C.size_t) {
		off, ok := http1.Offset(head, b)
		if !ok {
			return ex.data, 0
		}
		return (*C.char)(unsafe.Add(unsafe.Pointer(ex.data), off)), C.size_t(len(b))
	}
	// ex.fields is NULL until a request with fields came: a request
	// without any (HTTP/1.0 "GET / HTTP/1.0") must not make a slice of it.
	fields := unsafe.Slice(ex.fields, len(req.Headers))
	for i, h := range req.Headers {
		fields[i].name.value, fields[i].name.length = at(h.Name)
		fields[i].value.value, fields[i].value.length = at(h.Value)
	}
	ex.nfields = C.size_t(len(req.Headers))
	ex.url.value, ex.url.length = at(req.Target)
	ex.body.value = (*C.char)(unsafe.Add(unsafe.Pointer(ex.data), len(head)))
	ex.body.length = C.size_t(len(body))

	cr := &ex.request
	cr.http_major, cr.http_minor = C.ushort(req.Major), C.ushort(req.Minor)
	cr.method = C.uchar(req.MethodID)
	cr.keep_alive = 0
	if req.KeepAlive {
		cr.keep_alive = 1
	}
	cr.url, cr.body, cr.body_length = &ex.url, &ex.body, ex.body.length
	cr.headers = unsafe.Pointer(ex)
	cr.state = 0 // OK
	return true
}

// finish copies the C response into the engine exchange. The slot goes
// back to the pool now, or after the write when a completion callback must
// run.
func finish(s *slot) {
	x, r := s.x, &s.ex.response
	if r.abandoned != 0 {
		eng.CountHandlerError()
		x.SetStatus(500, "")
	} else {
		if r.minor == 0 && r.major == 1 {
			x.SetHTTPVersion(0)
		}
		if r.status.length > 0 {
			x.SetStatusLine(cbytes(r.status))
		}
		fields := unsafe.Slice(r.fields, int(r.nfields))
		for i := range fields {
			x.AddHeader(cbytes(fields[i].name), cbytes(fields[i].value))
		}
		x.SetBody(cbytes(r.body))
	}
	if r.done == nil {
		releaseSlot(s)
		return
	}
	x.UserData = s
	x.Written = written
}

// written runs a response's completion callback, then frees its slot.
func written(x *engine.Exchange, _ error) {
	s := x.UserData.(*slot)
	r := &s.ex.response
	C.hw__call_done(C.uintptr_t(uintptr(unsafe.Pointer(r.done))), C.uintptr_t(uintptr(r.done_data)))
	releaseSlot(s)
}

func cbytes(s C.hw_string) []byte {
	if s.length == 0 || s.value == nil {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(s.value)), int(s.length))
}
