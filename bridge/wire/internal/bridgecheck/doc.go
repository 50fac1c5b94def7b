// Package bridgecheck exposes the numeric macros of
// include/haywire_bridge.h to Go, through cgo, so that a test can compare
// the C contract with the layout constants of package bridge/wire (cgo is
// not allowed in _test.go files). It exists for that test only; without
// cgo it is empty and the comparison is skipped. It needs the header's
// macros only, not its reference C code.
package bridgecheck
