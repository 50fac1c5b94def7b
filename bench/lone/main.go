// Command lone measures the latency of single HTTP requests: one at a time
// on one keep-alive connection, each after a pause long enough for every
// process of the server to have gone to sleep. It answers what a request
// costs when there is nothing to batch it with (the bridge's peers asleep
// on their doorbells), which a loaded benchmark never shows.
//
//	lone -addr 127.0.0.1:8000 -n 200 -gap 10ms
//
// prints "p50_us p90_us back_to_back_p50_us": the median and 90th
// percentile of the paced round trips, then the median of as many round
// trips sent back to back (the peers awake).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "server address")
	n := flag.Int("n", 200, "round trips per measurement")
	gap := flag.Duration("gap", 10*time.Millisecond, "pause before each paced request")
	flag.Parse()

	c, err := net.Dial("tcp", *addr) // Go sets TCP_NODELAY
	if err != nil {
		fail(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	// Warm up: JIT compilers (Mono) and lazily grown buffers settle first.
	if _, err := roundTrips(c, r, 50, 0); err != nil {
		fail(err)
	}
	paced, err := roundTrips(c, r, *n, *gap)
	if err != nil {
		fail(err)
	}
	b2b, err := roundTrips(c, r, *n, 0)
	if err != nil {
		fail(err)
	}
	fmt.Printf("%.1f %.1f %.1f\n", percentile(paced, 50), percentile(paced, 90), percentile(b2b, 50))
}

// roundTrips sends n GET / requests one at a time, sleeping gap before
// each, and returns each request's time from write to the response's end.
func roundTrips(c net.Conn, r *bufio.Reader, n int, gap time.Duration) ([]time.Duration, error) {
	req := []byte("GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
	d := make([]time.Duration, 0, n)
	for range n {
		if gap > 0 {
			time.Sleep(gap)
		}
		t0 := time.Now()
		if _, err := c.Write(req); err != nil {
			return nil, err
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return nil, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		d = append(d, time.Since(t0))
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("status %d", resp.StatusCode)
		}
	}
	return d, nil
}

// percentile returns the p-th percentile of d in microseconds (nearest rank).
func percentile(d []time.Duration, p int) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	i = max(i-1, 0)
	return float64(s[i].Nanoseconds()) / 1e3
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "lone:", err)
	os.Exit(1)
}
