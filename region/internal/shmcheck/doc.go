// Package shmcheck exposes the numeric macros of include/haywire_shm.h to
// Go, through cgo, so that a test can compare the C contract with the Go
// layout constants of packages ringbuf, region and region/arena (cgo is not
// allowed in _test.go files). It exists for that test only; without cgo it
// is empty and the test is skipped.
package shmcheck
