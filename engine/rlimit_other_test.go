//go:build !unix

package engine

import "testing"

// raiseFDLimit: no open-file rlimit to raise here.
func raiseFDLimit(testing.TB, uint64) {}
