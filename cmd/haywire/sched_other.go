//go:build !linux

package main

// batchScheduling does nothing outside Linux (see the Linux version).
func batchScheduling() (int, error) { return 0, nil }
