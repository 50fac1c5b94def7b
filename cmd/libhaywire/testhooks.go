package main

/*
#include "capi.h"
*/
import "C"

// Hooks for the package's tests, which cannot use cgo themselves (cgo is
// not allowed in _test.go files). Nothing else calls them.

// hwEINTERNAL is HW_EINTERNAL from include/haywire.h.
const hwEINTERNAL = int(C.HW_EINTERNAL)

// callGuarded runs f as an export does, under defer guard(&rc), and
// returns rc: HW_OK, or HW_EINTERNAL when f panicked.
func callGuarded(f func()) (rc C.int) {
	defer guard(&rc)
	f()
	return C.HW_OK
}

// callGuardedVoid runs f under defer guardVoid(fn), as a void export does.
func callGuardedVoid(fn string, f func()) {
	defer guardVoid(fn)
	f()
}

// lastError returns hw_last_error() of the calling thread: the caller
// must have locked its goroutine to the thread (runtime.LockOSThread).
func lastError() string { return C.GoString(C.hw_last_error()) }
