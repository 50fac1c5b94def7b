package ringbuf

import "testing"

// TestZeroAllocs is the allocation budget of the hot path: producing and
// consuming, single and batched, must not allocate.
func TestZeroAllocs(t *testing.T) {
	p, c, _ := newPair(t, 32, 64)
	msg := make([]byte, 32)
	batch := make([]byte, 32*8)
	tests := []struct {
		name string
		f    func()
	}{
		{"Offer+Available+Consume", func() {
			p.Offer(msg)
			n, _ := c.Available(1)
			_ = c.Slot(0)
			c.Consume(n)
		}},
		{"Reserve+Slot+Commit batch", func() {
			n, _ := p.Reserve(8)
			for i := range n {
				p.Slot(i)[0] = byte(i)
			}
			p.Commit(n)
			n, _ = c.Available(8)
			c.Consume(n)
		}},
		{"Write+Read", func() {
			p.Write(batch)
			c.Read(batch)
		}},
		{"full and empty", func() {
			for {
				if ok, _ := p.Offer(msg); !ok {
					break
				}
			}
			for {
				if n, _ := c.Read(batch); n == 0 {
					break
				}
			}
		}},
	}
	for _, tt := range tests {
		if got := testing.AllocsPerRun(1000, tt.f); got != 0 {
			t.Errorf("%s: AllocsPerRun = %v; want 0", tt.name, got)
		}
	}
}
