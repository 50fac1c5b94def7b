package ringbuf

import (
	"runtime"
	"sync"
	"testing"
)

// In-process benchmarks between two goroutines (two OS threads). The
// cross-process figures that matter are in package region; these isolate
// the ring itself.

func BenchmarkPingPongSameGoroutine(b *testing.B) {
	p, c, _ := newPair(b, 32, 1024)
	msg := make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		p.Offer(msg)
		c.Available(1)
		c.Consume(1)
	}
}

func benchmarkThroughput(b *testing.B, batch int) {
	if runtime.GOMAXPROCS(0) < 2 {
		b.Skip("needs two Ps")
	}
	p, c, _ := newPair(b, 32, 4096)
	n := b.N
	var wg sync.WaitGroup
	wg.Add(1)
	b.ResetTimer()
	go func() {
		defer wg.Done()
		for sent := 0; sent < n; {
			k, _ := p.Reserve(min(batch, n-sent))
			for i := range k {
				p.Slot(i)[0] = byte(sent + i)
			}
			p.Commit(k)
			sent += k
		}
	}()
	for got := 0; got < n; {
		k, _ := c.Available(batch)
		for i := range k {
			_ = c.Slot(i)[0]
		}
		c.Consume(k)
		got += k
	}
	wg.Wait()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds()/1e6, "Mdesc/s")
}

func BenchmarkThroughputSingle(b *testing.B)  { benchmarkThroughput(b, 1) }
func BenchmarkThroughputBatch64(b *testing.B) { benchmarkThroughput(b, 64) }
