package ringbuf

import (
	"testing"

	"github.com/edsrzf/mmap-go"
)

// TestMmap runs the concurrent test over an anonymous shared mapping, the
// kind of memory the region package hands to rings. The race detector does
// not track such memory, so this checks the behaviour, not the ordering;
// the cross-process tests in package region do the same between processes.
func TestMmap(t *testing.T) {
	g := Geometry{SlotSize: 16, SlotCount: 128}
	m, err := mmap.MapRegion(nil, g.Length(), mmap.RDWR, mmap.ANON, 0)
	if err != nil {
		t.Skipf("anonymous mmap unavailable: %v", err)
	}
	defer m.Unmap()
	if err := Init(m, g); err != nil {
		t.Fatalf("Init(mmap) = %v", err)
	}
	n := uint64(2_000_000)
	if raceEnabled || testing.Short() {
		n = 300_000
	}
	runConcurrent(t, m, n)
}
