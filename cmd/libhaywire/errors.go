package main

/*
#include <stdlib.h>
#include "capi.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"syscall"
	"unsafe"

	"github.com/haywireowin/haywire/engine"
	"github.com/haywireowin/haywire/lifecycle"
	"github.com/haywireowin/haywire/region"
)

var (
	errInvalid  = errors.New("invalid argument")
	errNoMemory = errors.New("out of memory")
)

func errNil(fn, arg string) error { return fmt.Errorf("%w: %s: %s is NULL", errInvalid, fn, arg) }

// errorCode pairs an error with its HW_E* code.
type errorCode struct {
	err  error
	code C.int
}

// codes maps errors to HW_E* codes, first match wins; unknown errors are
// HW_EINTERNAL.
var codes = []errorCode{
	{errInvalid, C.HW_EINVAL},
	{os.ErrNotExist, C.HW_ENOENT},
	{lifecycle.ErrState, C.HW_ESTATE},
	{engine.ErrRunning, C.HW_ESTATE},
	{engine.ErrNotRunning, C.HW_ESTATE},
	{engine.ErrConfig, C.HW_ECONFIG},
	{engine.ErrStopTimeout, C.HW_ETIMEDOUT},
	{syscall.EADDRINUSE, C.HW_EADDRINUSE},
	{errNoMemory, C.HW_ENOMEM},
	// The region (the engine's, and the Go host's in host_other.go, which
	// adds its own errors).
	{region.ErrTimeout, C.HW_ETIMEDOUT},
	{region.ErrPeerDead, C.HW_ECLOSED},
	{region.ErrPeerGone, C.HW_ECLOSED},
	{region.ErrClosed, C.HW_ECLOSED},
	{region.ErrFenced, C.HW_ECLOSED},
	{region.ErrName, C.HW_EINVAL},
	{region.ErrNotFound, C.HW_ENOENT},
	{region.ErrSideBusy, C.HW_EBUSY},
	{region.ErrVersion, C.HW_EVERSION},
	{region.ErrMagic, C.HW_EVERSION},
	{region.ErrLayout, C.HW_EVERSION},
	{region.ErrTruncated, C.HW_EVERSION},
	{region.ErrPermission, C.HW_EPERM},
	{os.ErrPermission, C.HW_EPERM},
}

// status maps err to its code and, on failure, records the message for
// hw_last_error on the calling thread (Go exports run on the caller's
// thread, so C thread-local storage is the caller's).
func status(err error) C.int {
	if err == nil {
		return C.HW_OK
	}
	return fail(err)
}

func fail(err error) C.int {
	code := C.int(C.HW_EINTERNAL)
	var opErr *net.OpError
	for _, c := range codes {
		if errors.Is(err, c.err) {
			code = c.code
			break
		}
	}
	if code == C.HW_EINTERNAL && errors.As(err, &opErr) {
		code = C.HW_ELISTEN
	}
	msg := C.CString(err.Error())
	C.hw__set_error(msg)
	C.free(unsafe.Pointer(msg))
	return code
}

// guard turns a panic in an export into HW_EINTERNAL: a Go panic must never
// unwind into C. Every export that returns a code starts with
// "defer guard(&rc)", rc being its named result; exports that return
// nothing start with "defer guardVoid(name)" (TestEveryExportIsGuarded
// checks both).
func guard(rc *C.int) {
	if p := recover(); p != nil {
		*rc = fail(fmt.Errorf("internal error: panic: %v", p))
	}
}

// guardVoid is guard for an export that returns nothing, named fn in the
// C API: the panic is logged to stderr, where a void call can still be
// noticed, and recorded for hw_last_error.
func guardVoid(fn string) {
	if p := recover(); p != nil {
		err := fmt.Errorf("internal error: %s: panic: %v", fn, p)
		log.Printf("libhaywire: %v", err)
		fail(err)
	}
}
