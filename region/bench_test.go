//go:build linux

package region

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
)

// Cross-process benchmarks. Each run re-executes the test binary as the
// peer (start-up is excluded from the timing). On a 2-core machine the two
// processes each take a core, so anything else running skews the figures:
// compare them with the raw spin baseline measured in the same run.
//
//	go test -run '^$' -bench . -benchtime 2s ./region/

func init() {
	peerRoles["bench-sink"] = benchSinkMain
	peerRoles["bench-echo"] = benchEchoMain
	peerRoles["bench-rawspin"] = benchRawSpinMain
}

const benchEnd = math.MaxUint64 // Stream of the NOP that ends a run

func benchOpen() *Region {
	spin := DefaultSpin
	if os.Getenv(envMode) == "sleep" {
		spin = -1
	}
	r, err := Open(os.Getenv(envRegion), Options{Dir: os.Getenv(envDir), Spin: spin})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(1)
	}
	return r
}

// benchSinkMain consumes and validates everything, sleeping on the
// doorbell when idle (after Options.Spin of spinning), until the end
// marker, then reports the count back.
func benchSinkMain() int {
	r := benchOpen()
	rc := r.Receiver()
	var n uint64
	for {
		k, err := rc.Poll(256)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if k == 0 {
			if err := rc.Wait(10*time.Second, nil); err != nil {
				fmt.Fprintln(os.Stderr, "wait:", err)
				return 1
			}
			continue
		}
		for i := range k {
			d, err := rc.Get(i)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			if d.Stream == benchEnd {
				rc.Consume(i + 1)
				if err := mustSend(r.Sender(), &Descriptor{Kind: KindNop, Stream: n}); err != nil {
					fmt.Fprintln(os.Stderr, "reply:", err)
					return 1
				}
				time.Sleep(100 * time.Millisecond) // let the parent read our counters
				return 0
			}
			n++
		}
		rc.Consume(k)
	}
}

// startBench creates a region, starts the peer and waits for it. fail
// reports an error with the peer's output; done waits for the peer.
func startBench(b *testing.B, o Options, role, mode string) (r *Region, done func(), fail func(error)) {
	b.Helper()
	o.Dir = b.TempDir()
	r, err := Create(o)
	if err != nil {
		b.Fatal(err)
	}
	cmd, out := startPeer(b, r, role, envMode+"="+mode)
	if !eventually(30*time.Second, func() bool { return r.Peer().State == PeerAlive }) {
		b.Fatalf("peer never attached: %s", out)
	}
	done = func() {
		if err := cmd.Wait(); err != nil {
			b.Fatalf("peer: %v\n%s", err, out)
		}
		r.Close()
	}
	fail = func(err error) {
		b.Helper()
		time.Sleep(100 * time.Millisecond)
		b.Fatalf("%v; peer said:\n%s", err, out)
	}
	return r, done, fail
}

// mustSend sends d, waiting for room; a full ring makes Send return false.
func mustSend(s *Sender, d *Descriptor) error {
	for {
		ok, err := s.Send(d)
		if ok || err != nil {
			return err
		}
		if err := s.WaitSpace(10*time.Second, nil); err != nil {
			return err
		}
	}
}

// waitReply waits for the peer's answer to the end marker.
func waitReply(r *Region, fail func(error)) Descriptor {
	rc := r.Receiver()
	for {
		if n, _ := rc.Poll(1); n > 0 {
			d, err := rc.Get(0)
			if err != nil {
				fail(err)
			}
			rc.Consume(1)
			return d
		}
		if err := rc.Wait(30*time.Second, nil); err != nil {
			fail(fmt.Errorf("waiting for the reply: %w", err))
		}
	}
}

// BenchmarkThroughput sends b.N payload-less descriptors one way; the peer
// decodes and validates each. single publishes each descriptor with its
// own index store, batch 64 at a time. The consumer spins briefly then
// sleeps on the doorbell when it catches up, so wakeups/Mdesc is the
// number of futex wakes (both directions) per million descriptors.
func BenchmarkThroughput(b *testing.B) {
	for _, batch := range []int{1, 64} {
		name := "single"
		if batch > 1 {
			name = "batch"
		}
		b.Run(name, func(b *testing.B) {
			r, done, fail := startBench(b, Options{DataSlots: 4096, ChunkSize: 64, Chunks: 64}, "bench-sink", "spin")
			s := r.Sender()
			d := Descriptor{Kind: KindNop}
			b.ResetTimer()
			for sent := 0; sent < b.N; {
				k, err := s.Reserve(min(batch, b.N-sent))
				if err != nil {
					fail(err)
				}
				if k == 0 {
					if err := s.WaitSpace(10*time.Second, nil); err != nil {
						fail(err)
					}
					continue
				}
				for i := range k {
					d.Stream = uint64(sent + i)
					s.Put(i, &d)
				}
				s.Commit(k)
				sent += k
			}
			if err := mustSend(s, &Descriptor{Kind: KindNop, Stream: benchEnd}); err != nil {
				fail(err)
			}
			got := waitReply(r, fail)
			b.StopTimer()
			if got.Stream != uint64(b.N) {
				b.Fatalf("peer counted %d; want %d", got.Stream, b.N)
			}
			wakeups := r.Counter(CounterWakeups) + r.PeerCounter(CounterWakeups)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mdesc/s")
			b.ReportMetric(float64(wakeups)/float64(b.N)*1e6, "wakeups/Mdesc")
			done()
		})
	}
}

// benchEchoMain answers each descriptor with one carrying the same stream.
// mode spin: poll without sleeping; doorbell: Wait (spin 20 µs, then the
// futex); sleep: Wait without spinning, so every round trip goes through
// the futex.
func benchEchoMain() int {
	r := benchOpen()
	spin := os.Getenv(envMode) == "spin"
	rc, s := r.Receiver(), r.Sender()
	for {
		k, err := rc.Poll(1)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if k == 0 {
			if spin {
				pause(8) // as short as the raw baseline's: stay hot
				continue
			}
			if err := rc.Wait(10*time.Second, nil); err != nil {
				fmt.Fprintln(os.Stderr, "wait:", err)
				return 1
			}
			continue
		}
		d, err := rc.Get(0)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		rc.Consume(1)
		if err := mustSend(s, &Descriptor{Kind: KindNop, Stream: d.Stream}); err != nil {
			fmt.Fprintln(os.Stderr, "echo:", err)
			return 1
		}
		if d.Stream == benchEnd {
			time.Sleep(100 * time.Millisecond)
			return 0
		}
	}
}

// benchRawSpinMain is the baseline: no ring, no descriptor, two words in
// the shared mapping, each on its own line, and a spinning echo.
func benchRawSpinMain() int {
	r := benchOpen()
	ping, pong := rawWords(r)
	last := uint64(0)
	for {
		v := ping.Load()
		if v == last {
			pause(8)
			continue
		}
		last = v
		pong.Store(v)
		if v == benchEnd {
			time.Sleep(100 * time.Millisecond)
			return 0
		}
	}
}

// rawWords returns two words in arena 1, 128 bytes apart.
func rawWords(r *Region) (ping, pong *atomic.Uint64) {
	off := int(r.layout.Arenas[1].Offset)
	return (*atomic.Uint64)(unsafe.Pointer(&r.mem[off])), (*atomic.Uint64)(unsafe.Pointer(&r.mem[off+BlockLength]))
}

func reportPercentiles(b *testing.B, rtts []time.Duration) {
	slices.Sort(rtts)
	p := func(q float64) float64 { return float64(rtts[int(q*float64(len(rtts)-1))].Nanoseconds()) }
	b.ReportMetric(p(0.50), "p50-ns")
	b.ReportMetric(p(0.99), "p99-ns")
	b.ReportMetric(0, "ns/op") // the percentiles are the result
}

// BenchmarkRoundTrip measures one descriptor there and one back between
// two processes: rawspin is the floor (two shared words, both sides
// spinning), spin the same through the rings, doorbell through Wait (spin
// 20 µs, then futex), sleep with every wait going to the futex.
func BenchmarkRoundTrip(b *testing.B) {
	for _, mode := range []string{"rawspin", "spin", "doorbell", "sleep"} {
		b.Run(mode, func(b *testing.B) {
			role := "bench-echo"
			if mode == "rawspin" {
				role = "bench-rawspin"
			}
			o := Options{DataSlots: 64, ChunkSize: 64, Chunks: 16}
			if mode == "sleep" {
				o.Spin = -1
			}
			r, done, fail := startBench(b, o, role, mode)
			rtts := make([]time.Duration, b.N)
			if mode == "rawspin" {
				ping, pong := rawWords(r)
				b.ResetTimer()
				for i := range b.N {
					v := uint64(i + 1)
					t0 := time.Now()
					ping.Store(v)
					for pong.Load() != v {
						pause(8)
					}
					rtts[i] = time.Since(t0)
				}
				ping.Store(benchEnd)
			} else {
				s, rc := r.Sender(), r.Receiver()
				d := Descriptor{Kind: KindNop}
				b.ResetTimer()
				for i := range b.N {
					d.Stream = uint64(i)
					t0 := time.Now()
					s.Send(&d)
					for {
						if k, _ := rc.Poll(1); k > 0 {
							break
						}
						if mode == "spin" {
							pause(8)
						} else if err := rc.Wait(10*time.Second, nil); err != nil && !errors.Is(err, ErrTimeout) {
							fail(err)
						}
					}
					rtts[i] = time.Since(t0)
					if got, err := rc.Get(0); err != nil || got.Stream != uint64(i) {
						fail(fmt.Errorf("echo %d = %v, %v", i, got, err))
					}
					rc.Consume(1)
				}
				if err := mustSend(s, &Descriptor{Kind: KindNop, Stream: benchEnd}); err != nil {
					fail(err)
				}
				waitReply(r, fail)
			}
			b.StopTimer()
			reportPercentiles(b, rtts)
			if mode != "rawspin" {
				wakeups := r.Counter(CounterWakeups) + r.PeerCounter(CounterWakeups)
				b.ReportMetric(float64(wakeups)/float64(2*b.N)*1e6, "wakeups/Mdesc")
			}
			done()
		})
	}
}
